/**
 * rpmalloc's test/main.c, read and retold for this library:
 * - test_first_class_heaps (rpmalloc_heap_acquire, rpmalloc_heap_alloc, rpmalloc_heap_free_all, then
 *   the heap used again): a pool is the heap, reset() is heap_free_all. Three cycles on every shape of
 *   CPU pool: blocks through every route (handles, bare pointers, exact views, window views; 1 B to
 *   1 MiB) stamped and checked, then reset(): the statistics balance (bytesInUse and liveAllocations 0,
 *   frees = allocations, bytes freed = bytes allocated, resetCount counts), no leak listed, every
 *   handle refuses use (UseAfterFreeError), every view is detached, an old pointer or view handed back
 *   is a typed error that frees nothing, check() passes; afterwards the pool serves and balances as new.
 *   Sharded Variable pools have no reset() (documented): an UnsupportedOperationError that frees nothing.
 *   Each shape in a child process (guard pages, quarantine and canaries among them).
 * - test_crossthread and test_threaded are xmalloc-test and alloc-test in suite-mimalloc-bench.test.ts;
 *   test_alloc's sizes and alignments are in suite-tlsf.test.ts; test_threadspam is terminated-workers.
 *   test_realloc, test_superalign's realloc and test_error's out-of-range flags have no analogue here
 *   (no realloc; alignment is a pool setting, refused past 4096 in suite-malloc-api).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const shapes: [string, object][] = [
  ["Variable, none (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards: no reset)", { threadSafety: "lockFree" }],
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
    const outcome = JSON.parse(run.stdout) as { wrong: string[]; unsupported: number; stats: object };
    expect(outcome.wrong).toEqual([]);
    const sharded = "threadSafety" in config && config.threadSafety === "lockFree" && !("allocatorType" in config);
    expect(outcome.unsupported).toBe(sharded ? 3 : 0);
    expect(outcome.stats).toEqual({ bytesInUse: 0, liveAllocations: 0, balanced: true, resetCount: sharded ? 0 : 3 });
  }, 20_000);
}
