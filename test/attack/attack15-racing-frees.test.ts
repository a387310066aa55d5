/**
 * Two Workers free the same blocks of a shared pool at the same moment, by pointer or each through
 * a handle of its own from fromPointer(): FixedSize pools' JavaScript caches (the hit's
 * compare-and-swap on the block's state word decides), Variable pools (sharded and locked), pools
 * without caches, and handles. Of two racing frees exactly one goes through and the other is a
 * DoubleFreeError: every round's frees add up to the blocks sent, the counts balance, and the pool
 * then gives all its bytes again, each block once (a block freed twice would sit on two stacks and
 * be handed out twice). In a child process, so a crash fails the test. (The FixedSize cache rows
 * were racing-frees.test.ts, with a child of their own, before session 6.)
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const [kind, threadSafety, cache, by] of [
  ["FixedSize", "lockFree", true, "pointer"], ["FixedSize", "mutex", true, "pointer"],
  ["Variable", "lockFree", true, "pointer"], ["Variable", "mutex", false, "handle"], ["Variable", "lockFree", false, "handle"],
  ["FixedSize", "mutex", false, "pointer"], ["FixedSize", "lockFree", true, "handle"],
] as const) {
  test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}, by ${by}: of two racing frees exactly one wins`, async () => {
    const run = await runBun(attackFixture("attack15-racing-frees-child.ts"), [kind, threadSafety, String(cache), by]);
    const { stdout, stderr } = run;
    expect({ exitCode: run.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const figures = JSON.parse(stdout);
    expect(figures.rounds.length).toBe(4);
    for (const round of figures.rounds) {
      expect(round.freed[0] + round.freed[1]).toBe(figures.perRound);
      expect(round.errors).toEqual(["DOUBLE_FREE"]);
    }
    expect({ live: figures.live, inUse: figures.inUse }).toEqual({ live: 0, inUse: 0 });
    expect(figures.frees).toBe(figures.allocations);
    expect(figures.drainedBytes).toBe(figures.size);
    expect(figures.distinct).toBe(figures.size);
  }, 30_000);
}
