/**
 * Every kind x strategy x threadSafety x debug switch through the operations each pool's Entry
 * table serves (zig/src/pool.zig chooseEntry: the lock, the debug layer, the shared FixedSize and
 * sharded Variable adapters): allocate, copy, free, double free by handle and by pointer, interior
 * and foreign pointers, free by view, statistics, snapshot, check, reset, destroy. Each outcome
 * is the one the README promises for that combination, and the refused combinations are refused
 * when the pool is made. In a child process (test/fixtures/attack/entry-table-child.ts), so a crash
 * fails the test. Pinned pools need a CUDA driver: without one they are skipped, and it says so.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { poolDirectory, runChild } from "../pmem/helpers";

const directory = mkdtempSync(join(poolDirectory, "memory-pool-entry-table-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

test("every combination answers each operation as promised, or is refused when made", async () => {
  const run = await runChild("../../fixtures/attack/entry-table-child.ts", [directory]);
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  // stderr holds the leak reports of the leakReport pools (an allocation is live at destroy), nothing else.
  const reports = run.stderr.split("\n").filter((line) => line.startsWith("bun-memory-pool:"));
  for (const line of reports) expect(line).toMatch(/^bun-memory-pool: leak report for pool '[^']*\/leakReport' \(destroyPool\): 1 allocation still live, 100 B$/);
  const { ran, skipped, mismatches } = JSON.parse(run.stdout) as { ran: number; skipped: string[]; mismatches: string[] };
  expect(mismatches).toEqual([]);
  // cpu: 2 strategies x (2 locked x 8 switches + 2 shared x 4 host-side switches) = 48; pmem: 2 x 2 locked x 4
  // + 2 x 2 shared x 4 = 32; pinned, where a driver answers, as many as cpu but the 4 with
  // guardPages (refused: its pages cannot be protected).
  expect(ran).toBe(skipped.length === 0 ? 124 : 80);
  // Every leakReport pool that ran reported its one live allocation (the shared ones too).
  expect(reports.length).toBe(ran === 124 ? 24 : 16);
  if (skipped.length > 0) console.log(`entry table: skipped ${skipped.join("; ")}`);
});
