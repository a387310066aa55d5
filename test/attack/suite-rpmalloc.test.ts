/**
 * rpmalloc's test/main.c, read and retold for this library:
 * - test_first_class_heaps (rpmalloc_heap_acquire, rpmalloc_heap_alloc, rpmalloc_heap_free_all, then
 *   the heap used again): a pool is the heap, reset() is heap_free_all. Three cycles on every shape of
 *   CPU pool: blocks through every route (handles, bare pointers, exact views, window views; 1 B to
 *   1 MiB) stamped and checked, then reset(): the statistics balance (bytesInUse and liveAllocations 0,
 *   frees = allocations, bytes freed = bytes allocated, resetCount counts), no leak listed, every
 *   handle refuses use (UseAfterFreeError), every view is detached, an old pointer or view handed back
 *   is a typed error that frees nothing, check() passes; afterwards the pool serves and balances as new.
 *   Sharded Variable pools reset too (until suite-zig-heap found them refusing it: UnsupportedOperationError).
 *   Each shape in a child process (guard pages, quarantine and canaries among them).
 * - test_threadspam: ten rounds of two Workers that allocate and free random sizes (stamped, checked)
 *   on one shared pool without end, terminated at random instants (in a child process): nothing wrong
 *   in them; what they left live is exactly what the statistics count (allocations less frees, bytes in
 *   use) and what getLeaks() lists; freed from the main thread, the pool balances, caches empty, and it
 *   fills to as many blocks as a fresh pool of its configuration (no block lost). Variable mutex and
 *   lockFree (shards) and threadLocalCache, FixedSize lockFree and threadLocalCache (runs included).
 *   (terminated-workers.test.ts terminates Workers inside the FixedSize caches' loops.)
 * - test_crossthread and test_threaded are xmalloc-test and alloc-test in suite-mimalloc-bench.test.ts;
 *   test_alloc's sizes and alignments are in suite-tlsf.test.ts.
 *   test_realloc, test_superalign's realloc and test_error's out-of-range flags have no analogue here
 *   (no realloc; alignment is a pool setting, refused past 4096 in suite-malloc-api).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const shapes: [string, object][] = [
  ["Variable, none (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["Variable, growth 0, alignment 256", { growth: 0, initialSize: 8 << 20, alignment: 256 }],
  ["FixedSize 64, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
  ["FixedSize 64, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex", threadLocalCache: true }],
  ["Variable, canaries and fill patterns", { canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd }],
  ["Variable, guard pages", { guardPages: true }],
  ["Variable, mutex, quarantine", { threadSafety: "mutex", quarantineBytes: 64 << 10 }],
  ["Variable, safeViews, history and leak report", { safeViews: true, trackHistory: true, leakReport: true }],
];

for (const [name, config] of shapes) {
  test(`rpmalloc test_first_class_heaps: heap_free_all is reset(), three cycles (${name})`, async () => {
    const run = await runChild("../../fixtures/attack/suite-heaps-child.ts", [JSON.stringify(config), "3"]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    const outcome = JSON.parse(run.stdout) as { wrong: string[]; stats: object };
    expect(outcome.wrong).toEqual([]);
    expect(outcome.stats).toEqual({ bytesInUse: 0, liveAllocations: 0, balanced: true, resetCount: 3 });
  }, 20_000);
}

const spamShapes: [string, object][] = [
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["Variable, mutex + threadLocalCache (shards)", { threadSafety: "mutex", threadLocalCache: true }],
  ["FixedSize 1024, lockFree", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 1024 }],
  ["FixedSize 1024, mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true, allocatorType: "FixedSize", blockSize: 1024 }],
];
for (const [name, shape] of spamShapes) {
  test(`rpmalloc test_threadspam: Workers terminated at random instants leave only counted, listed, freeable blocks (${name})`, async () => {
    const run = await runChild("../../fixtures/attack/suite-threadspam-child.ts", [JSON.stringify({ ...shape, growth: 0, initialSize: 4 << 20 }), "10"]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    const outcome = JSON.parse(run.stdout) as {
      wrong: string[]; filled: number; freshFilled: number;
      afterWorkers: { live: number; unbalanced: number; inUse: number; listed: number; listedBytes: number; cachedBytes: number };
      end: object;
    };
    expect(outcome.wrong).toEqual([]);
    const left = outcome.afterWorkers;
    expect(left.live).toBeGreaterThan(0); // they were terminated holding blocks
    expect([left.unbalanced, left.listed, left.listedBytes, left.cachedBytes]).toEqual([left.live, left.live, left.inUse, 0]);
    expect(outcome.end).toEqual({ bytesInUse: 0, liveAllocations: 0, balanced: true, cachedBytes: 0 });
    expect(outcome.filled).toBe(outcome.freshFilled);
  }, 30_000);
}
