/**
 * Two copies of the library in one process (the dual-package hazard: a second copy installed under
 * another path, loading the same core file). Found by attacking main: each copy opened the
 * thread's JavaScript cache of a lockFree FixedSize pool, the core gave both the one record it
 * keeps per pool and thread, and each kept its own count of the record's stack: of 300 live
 * allocations, 85 were blocks already handed out to the other copy. The core now gives the record
 * to one JavaScript cache; the other copy takes the core's path. In a child process.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChild } from "../pmem/helpers";

const root = join(import.meta.dir, "..", "..");
const copy = mkdtempSync(join(tmpdir(), "memory-pool-second-copy-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

for (const pool of ["lockFree FixedSize", "default Variable (JavaScript bins)"]) test(`a second copy of the library on the same core never gets blocks the first holds (${pool})`, async () => {
  cpSync(join(root, "src"), join(copy, "src"), { recursive: true });
  const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");
  const run = await runChild("../../fixtures/attack/two-copies-child.ts", pool.startsWith("default") ? [copy, "variable"] : [copy], { MEMORY_POOL_CORE_PATH: core });
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const result = JSON.parse(run.stdout) as { twice: number; liveInPool: number; held: number; after: number };
  expect(result.twice).toBe(0);
  expect(result.liveInPool).toBe(result.held);
  expect(result.after).toBe(0);
});
