/**
 * Workers ended at random instants while they churn a shared pool: terminate() from the main
 * thread, process.exit() in the Worker, an uncaught throw there; Variable and FixedSize pools,
 * threadSafety "mutex" and "lockFree", with and without threadLocalCache (terminated-workers.test.ts
 * and worker-records.test.ts hold the FixedSize JavaScript caches; this adds the Variable pools and
 * the pools without caches, under every ending). Checked: every allocation the ended Workers left
 * live is counted and listed by getLeaks() (its bytes adding to bytesInUse), freeing those from the
 * main thread brings bytesInUse, liveAllocations and cachedBytes to 0 with the counts balanced, and
 * the pool then gives all of maxSize again: no block lost in an ended thread's cache. Attacked in
 * session 6 and held. Each run in a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-ended-workers-child.ts");

for (const [kind, threadSafety, cache] of [["Variable", "lockFree", true], ["Variable", "mutex", false], ["FixedSize", "mutex", true], ["FixedSize", "lockFree", false]] as const) {
  for (const end of ["terminate", "exit", "throw"]) {
    test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}: Workers ended by ${end} mid-loop lose no block`, async () => {
      const run = Bun.spawn([process.execPath, child, kind, threadSafety, String(cache), end], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
      await run.exited;
      expect({ exitCode: run.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
      const figures = JSON.parse(stdout);
      expect(figures.problems).toEqual([]);
      expect(figures.ended.live).toBeGreaterThan(0); // ended holding blocks: the instants fell mid-loop
      expect(figures.ended.allocations - figures.ended.frees).toBe(figures.ended.live);
      expect(figures.leaks).toBe(figures.ended.live);
      expect(figures.leakedBytes).toBe(figures.ended.inUse);
      expect(figures.after).toEqual({ live: 0, inUse: 0, cached: 0, allocations: figures.ended.allocations, frees: figures.ended.allocations });
      expect(figures.filled).toBe(figures.size);
      expect(figures.last.live).toBe(0);
      expect(figures.last.inUse).toBe(0);
    }, 30_000);
  }
}
