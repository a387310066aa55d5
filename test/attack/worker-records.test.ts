/**
 * A Worker per task on a shared FixedSize pool with JavaScript caches: Workers one after another,
 * each ending by terminate, process.exit or a throw with blocks in its cache. Found by attacking
 * the records the core keeps for those caches (zig/src/sync/js_cache.zig): an ended Worker's
 * record was closed but never used again, so the pool's list, walked by every getStats, grew by
 * one record per Worker for the pool's life (getStats 1.7 us before 600 Workers, 5.3 us after).
 * The next thread to open the pool now takes an ended thread's record, its counters kept (the
 * zig test in js_cache.zig shows the list not growing); here the statistics count every Worker's
 * allocations and frees, and every block comes back. In a child process (Workers that exit).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("Workers that end with cached blocks leave the pool whole, and their counts in its statistics", async () => {
  const workers = 24;
  const run = await runChild("../../fixtures/attack/worker-records-child.ts", [String(workers)]);
  expect(run.exitCode).toBe(0);
  const report = JSON.parse(run.stdout);
  for (const threadSafety of ["mutex", "lockFree"]) {
    expect(report[threadSafety], threadSafety).toEqual({ allocations: workers * 3, frees: workers * 3, live: 0, bytesInUse: 0, blocks: (1 << 20) / 64 });
  }
}, 30_000);
