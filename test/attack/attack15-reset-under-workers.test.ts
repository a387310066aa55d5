/**
 * reset() from the main thread, eight times at random instants, while four Workers allocate and
 * free on the shared pool by handle and by pointer. Where the pool can be reset under other
 * threads (threadSafety "mutex" without caches, FixedSize and Variable), the Workers' frees and
 * views of allocations a reset ended are typed errors (DoubleFreeError, UseAfterFreeError,
 * InvalidPointerError for a stale pointer now inside another's block), no Worker dies, and once
 * they end the pool holds nothing, its counts balance and it gives all of maxSize, each block once.
 * Sharded Variable pools (lockFree) reset too, under every shard's lock. Where it cannot (thread
 * caches held by other Workers), every reset() is the typed
 * UnsupportedOperationError and the Workers never notice. Attacked in session 6 and held. Each run
 * in a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-reset-child.ts");

for (const [kind, threadSafety, cache, resets] of [
  ["FixedSize", "mutex", false, true], ["Variable", "mutex", false, true], ["FixedSize", "lockFree", true, false], ["Variable", "lockFree", false, true],
] as const) {
  test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}: reset() under four Workers ${resets ? "leaves typed errors and exact figures" : "is refused, typed"}`, async () => {
    const run = Bun.spawn([process.execPath, child, kind, threadSafety, String(cache)], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
    await run.exited;
    expect({ exitCode: run.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const found = JSON.parse(stdout);
    expect({ live: found.stats.live, inUse: found.stats.inUse, cached: found.stats.cached }).toEqual({ live: 0, inUse: 0, cached: 0 });
    expect(found.stats.frees).toBe(found.stats.allocations);
    expect(found.drainedBytes).toBe(found.size);
    if (resets) {
      expect(found.problems).toEqual([]);
      expect(found.stats.resets).toBe(8);
      for (const code of Object.keys(found.codes)) expect(["DOUBLE_FREE", "USE_AFTER_FREE", "INVALID_POINTER"]).toContain(code);
    } else {
      expect(found.problems).toHaveLength(8);
      for (const problem of found.problems) expect(problem).toStartWith("reset: UnsupportedOperationError: reset() ");
      expect(found.stats.resets).toBe(0);
      expect(found.codes).toEqual({});
    }
  }, 30_000);
}
