/**
 * The shared FixedSize pools' "unseen window" (js_cache.zig settlePending): a JavaScript cache's
 * free pushes the block on its thread's stack, then swaps the block's state word to freed; where it
 * loses the swap to another free of the same allocation (a cross-thread double free) and its
 * Worker is terminated before it takes the block off its stack again, the core settles the
 * record at the thread's end. It must find that the free lost (the word names the winner's freer,
 * not this record's) and give the block up: kept, the block sat on two stacks, the pool handed it
 * out twice (and the shared stack, linked into a cycle, never ran dry), and the counts had one
 * free too many.
 *
 * First the window itself, end to end through a real thread's end: a Worker leaves its record as
 * block_cache.ts leaves it in the window (freer-window-worker.ts), after this thread's cache or the
 * core's free won. Then Workers racing double frees, terminated at random moments. In child
 * processes: a crash is a failed test.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const [threadSafety, cache] of [["lockFree", true], ["mutex", true], ["lockFree", false]] as const) {
  for (const winner of ["cache", "core"]) {
    test(`FixedSize ${threadSafety}${cache ? " + threadLocalCache" : ""}: a Worker terminated in the window after its free lost to ${winner === "cache" ? "another thread's cache's" : "the core's"} free keeps no block`, async () => {
      const run = await runBun(attackFixture("freer-window-child.ts"), [threadSafety, winner, String(cache)]);
      expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
      const figures = JSON.parse(run.stdout);
      // The block the other free won was not this Worker's free: one free counted, not two.
      expect(figures.settled).toEqual({ live: 1, inUse: 64, allocations: 2, frees: 1 });
      // Every block but the one kept live comes once, and then the pool is full.
      expect({ drained: figures.drained, distinct: figures.distinct, keptHandedOut: figures.keptHandedOut }).toEqual({ drained: figures.blocks - 1, distinct: figures.blocks - 1, keptHandedOut: false });
      expect(figures.drainedLive).toBe(figures.blocks);
    }, 30_000);
  }
}

for (const [threadSafety, seed] of [["lockFree", 11], ["mutex", 12]] as const) {
  test(`FixedSize ${threadSafety} + threadLocalCache: Workers racing double frees, terminated at random moments, leave every block once and the counts balanced`, async () => {
    const run = await runBun(attackFixture("freer-terminate-child.ts"), [threadSafety, "8", String(seed)]);
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
    const figures = JSON.parse(run.stdout);
    expect(figures.targets.length).toBe(figures.rounds);
    expect(figures.settled).toEqual({ live: 0, inUse: 0, allocations: figures.settled.allocations, frees: figures.settled.allocations, cached: 0 });
    expect({ drained: figures.drained, distinct: figures.distinct }).toEqual({ drained: figures.blocks, distinct: figures.blocks });
  }, 60_000);
}
