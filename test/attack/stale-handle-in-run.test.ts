/**
 * A handle's allocation freed by pointer, its block then taken by a run of blocks: the handle's
 * free() is a double free (its allocation ended), on every FixedSize placement. Found by the model
 * attack on the default pool (default-fixed-model.test.ts): the JavaScript cache and the core's
 * shared placement (lockfree_fixed.zig markFreed) said InvalidPointerError "inside a run", where
 * the core's own placement ("mutex") says DoubleFreeError; a stale id must read the same everywhere.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, PoolConfig, type ThreadSafety } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const cpuPool = cpuPoolsPerTest();

for (const [threadSafety, threadLocalCache] of [["none", false], ["mutex", false], ["mutex", true], ["lockFree", false]] as [ThreadSafety, boolean][]) {
  test(`threadSafety ${threadSafety}${threadLocalCache ? " with threadLocalCache" : ""}: a stale handle whose block a run took is a DoubleFreeError`, () => {
    const pool = cpuPool(`stale in run ${threadSafety} ${threadLocalCache}`, Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety, threadLocalCache }));
    const first = pool.allocate(8);
    const second = pool.allocate(8);
    expect((second.ptr as number) - (first.ptr as number)).toBe(64);
    pool.deallocate(second.ptr); // by pointer: the handle does not know
    pool.deallocate(first.ptr);
    const run = pool.allocate(100); // two blocks: the first two, once the cache gave them back
    expect(run.ptr).toBe(first.ptr);
    const stale = thrown(() => second.free());
    expect(stale).toBeInstanceOf(DoubleFreeError);
    expect(stale!.message).toContain(`allocation #${second.id}`);
    expect(stale!.message).toContain("was already freed");
    expect(thrown(() => first.free())).toBeInstanceOf(DoubleFreeError); // the run's first block: "now holds allocation #…"
    expect(run.alive).toBe(true); // neither stale free touched the run
    expect(pool.getStats().bytesInUse).toBe(100);
    run.free();
    expect(pool.getStats().bytesInUse).toBe(0);
  });
}
