/**
 * Two Workers free the same raw pointers of a shared FixedSize pool at the same moment, each through
 * its own JavaScript cache (the hit's compare-and-swap on the block's state word decides). Of two
 * racing frees exactly one goes through and the other is a DoubleFreeError: every round's frees
 * add up to the blocks sent, and draining the pool afterwards gives every block once (a block
 * freed twice would sit on two stacks and be handed out twice). In a child process, so a crash
 * fails the test.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const threadSafety of ["lockFree", "mutex"]) {
  test(`${threadSafety} + threadLocalCache: of two Workers freeing the same pointers at once, exactly one frees each`, async () => {
    const child = await runBun(attackFixture("racing-frees-child.ts"), [threadSafety]);
    const { stdout, stderr } = child;
    expect({ exitCode: child.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const figures = JSON.parse(stdout) as { perRound: number; blocks: number; rounds: { freed: number[]; errors: string[] }[]; live: number; allocations: number; distinct: number };
    for (const round of figures.rounds) {
      expect(round.freed[0]! + round.freed[1]!).toBe(figures.perRound);
      expect(round.errors).toEqual(["DOUBLE_FREE"]); // the other Worker's free of each block, whichever came second
    }
    expect(figures.live).toBe(0);
    expect(figures.allocations).toBe(figures.blocks);
    expect(figures.distinct).toBe(figures.blocks);
  }, 30_000);
}
