/**
 * Statistics of FixedSize pools with JavaScript caches (lockFree, threadLocalCache) read while
 * Workers allocate and free: about 1 reading in 20,000 had bytesInUse over bytesAllocated (a free
 * was seen counted in a cache's record before its bytes were, and a record's allocated bytes before
 * its count). The records' counters are now written, and read, in orders that keep every reading
 * one that could be true at one moment (sync/shared_fixed.zig `combined`). The child is
 * tst-malloc_info's (test/attack/suite-glibc-threads), run longer here on these two shapes.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

for (const [name, config] of [
  ["FixedSize 1024, lockFree", { allocatorType: "FixedSize", blockSize: 1024, threadSafety: "lockFree" }],
  ["FixedSize 1024, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 1024, threadSafety: "mutex", threadLocalCache: true }],
] as const) {
  test(`statistics read while two Workers allocate balance in every reading (${name})`, async () => {
    const run = await runChild("../../fixtures/attack/suite-stats-reader-child.ts", [JSON.stringify(config), "700", "2500"]);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const outcome = JSON.parse(run.stdout) as { readings: number; broken: Record<string, number>; allocated: number };
    expect(outcome.readings).toBeGreaterThan(1000);
    expect(outcome.broken).toEqual({});
  }, 30_000);
}
