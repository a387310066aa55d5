/**
 * Two Workers free the same blocks of a shared pool at the same moment, by pointer or each through
 * a handle of its own from fromPointer(): racing-frees.test.ts holds the FixedSize pools' JavaScript
 * caches by pointer; this adds Variable pools (sharded and locked), pools without caches, and
 * handles. Of two racing frees exactly one goes through and the other is a DoubleFreeError: every
 * round's frees add up to the blocks sent, the counts balance, and the pool then gives all its
 * bytes again, each block once. Attacked in session 6 and held. In a child process.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-racing-frees-child.ts");

for (const [kind, threadSafety, cache, by] of [
  ["Variable", "lockFree", true, "pointer"], ["Variable", "mutex", false, "handle"], ["Variable", "lockFree", false, "handle"],
  ["FixedSize", "mutex", false, "pointer"], ["FixedSize", "lockFree", true, "handle"],
] as const) {
  test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}, by ${by}: of two racing frees exactly one wins`, async () => {
    const run = Bun.spawn([process.execPath, child, kind, threadSafety, String(cache), by], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
    await run.exited;
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
