/**
 * destroyPool from the main thread while four Workers are mid-call on the pool: allocate,
 * allocateRaw, free by handle, by pointer and by view, getStats, trim, a view's write, fromPointer,
 * snapshot, getLeaks, dispose; every shared kind (Variable and FixedSize, "mutex" and "lockFree",
 * with and without threadLocalCache), four rounds each at a random instant. Every Worker's every
 * call after the destroy is the typed PoolNotFoundError, nothing else is thrown, no Worker dies and
 * none hangs. Attacked in session 6 and held. Each run in a child process, so a crash fails.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-destroy-midcall-child.ts");

for (const kind of ["Variable", "FixedSize"]) {
  for (const [threadSafety, cache] of [["mutex", false], ["lockFree", true]] as const) {
    test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}: Workers mid-call on a destroyed pool get PoolNotFoundError`, async () => {
      const run = Bun.spawn([process.execPath, child, kind, threadSafety, String(cache)], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
      await run.exited;
      expect({ exitCode: run.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
      const rounds = JSON.parse(stdout) as Record<string, string>[];
      expect(rounds.length).toBe(4);
      for (const seen of rounds) {
        expect(Object.keys(seen)).toEqual(["PoolNotFoundError"]);
        expect(seen.PoolNotFoundError).toMatch(/destroyed/);
      }
    }, 30_000);
  }
}
