/**
 * glibc's tst-malloc-thread-exit, read and retold for this library's Workers: Workers start one after
 * another; each makes pools of its own (its thread's alone) and leaves blocks live in them, takes
 * blocks from three shared pools (FixedSize lockFree and mutex + threadLocalCache with JavaScript
 * caches, a sharded Variable lockFree pool), frees three in four into its caches, leaves the rest live
 * for the main thread, and exits without destroying, flushing or freeing anything. In a child process.
 *
 * Checked: its own pools are gone with it (listPools holds only the shared ones, and 4000 new pools
 * fit in the 4096-pool registry), its cached blocks went back with its thread (cachedBytes 0), the
 * blocks it left live are freed by the main thread without an error, and every shared pool balances
 * exactly (bytesInUse and liveAllocations 0, counts and byte totals equal).
 *
 * And tst-malloc_info: the main thread reads a shared pool's statistics (and the manager's JSON and
 * table) as fast as it can while two Workers allocate and free on it; every reading must be one that
 * could be true at one moment (counts and totals agree with the live figures, bytesAllocated >=
 * bytesInUse, nothing past bytesReserved, nothing negative). On sharded Variable pools a quarter of the
 * readings had bytesAllocated < bytesInUse: the shards' free space was summed shard by shard after the
 * counters were read, and allocations were counted outside their shard's lock. (FixedSize pools with
 * JavaScript caches gave bytesAllocated < bytesInUse in about 1 reading in 20,000 until each cache's
 * record was read as of one moment: test/attack/leftovers2-stats-reading.)
 * (tst-mallocfork has no counterpart: Bun cannot fork.) SUITE_SCALE=n multiplies the Workers and the reading time.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;

test("tst-malloc-thread-exit: Workers that exit holding pools, live blocks and cached blocks leave nothing behind", async () => {
  const workers = 12 * scale;
  const run = await runChild("../../fixtures/attack/suite-thread-exit-child.ts", [String(workers), "10"]);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  const outcome = JSON.parse(run.stdout) as {
    leftLive: number; wrong: string[]; pools: string[]; refilled: number;
    figures: { name: string; bytesInUse: number; liveAllocations: number; cachedBytes: number; balanced: boolean; allocationCount: number }[];
  };
  expect(outcome.wrong).toEqual([]);
  expect(outcome.leftLive).toBe(workers * 3 * 50);
  expect(outcome.pools).toEqual(["suite-exit-fixed-lockfree", "suite-exit-fixed-tlc", "suite-exit-variable-lockfree"]);
  expect(outcome.refilled).toBe(4000);
  for (const figures of outcome.figures) {
    expect(figures).toEqual({ name: figures.name, bytesInUse: 0, liveAllocations: 0, cachedBytes: 0, balanced: true, allocationCount: workers * 200 });
  }
}, 30_000);

const readerShapes: [string, object, number][] = [
  ["Variable, mutex", { threadSafety: "mutex" }, 700],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }, 700],
  ["Variable, mutex + threadLocalCache (shards)", { threadSafety: "mutex", threadLocalCache: true }, 700],
  ["FixedSize 1024, lockFree", { allocatorType: "FixedSize", blockSize: 1024, threadSafety: "lockFree" }, 700],
  ["FixedSize 1024, mutex", { allocatorType: "FixedSize", blockSize: 1024, threadSafety: "mutex" }, 700],
  ["FixedSize 1024, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 1024, threadSafety: "mutex", threadLocalCache: true }, 700],
];
for (const [name, config, sizeMax] of readerShapes) {
  test(`tst-malloc_info: statistics read while two Workers allocate are each one moment's (${name})`, async () => {
    const run = await runChild("../../fixtures/attack/suite-stats-reader-child.ts", [JSON.stringify(config), String(sizeMax), String(300 * scale)]);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const outcome = JSON.parse(run.stdout) as { readings: number; broken: Record<string, number>; allocated: number; end: Record<string, number> };
    expect(outcome.readings).toBeGreaterThan(10);
    expect(outcome.broken).toEqual({});
    expect(outcome.end).toEqual({ allocationCount: outcome.allocated, freeCount: outcome.allocated, bytesInUse: 0, liveAllocations: 0, cachedBytes: 0 });
  }, 20_000);
}
