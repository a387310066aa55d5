/**
 * The default FixedSize pool (threadSafety "none", on the JavaScript cache), and the default Variable
 * pool (on the JavaScript bins), and other threads. A
 * Worker that finds another thread's "none" pool with getPool gets a ThreadSafetyError from every
 * route, the cache's included (allocate, a run, frees by pointer, fromPointer, trim, reset,
 * snapshot, getLeaks, getStats, destroy), and the owner's pool is untouched; a Worker that ends
 * (process.exit or terminate) with its "none" pool's blocks cached and live takes the pool with it:
 * every later use from another thread is a PoolNotFoundError. In a child process: a crash fails.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

for (const kind of ["fixed", "variable"]) test(`another thread's default pool is refused by every route, and a Worker's goes with it, cached blocks and all (${kind === "fixed" ? "FixedSize, JavaScript cache" : "Variable, JavaScript bins"})`, async () => {
  const run = await runChild("../../fixtures/attack/default-none-threads-child.ts", [kind]);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const result = JSON.parse(run.stdout);
  const { flushThreadCaches, ...routes } = result.refused;
  expect(flushThreadCaches).toBe("ok"); // the Worker's own caches: it has none of this pool
  for (const [route, error] of Object.entries(routes)) expect({ route, error }).toEqual({ route, error: "THREAD_SAFETY" });
  expect(Object.keys(routes).length).toBe(11);
  expect(result.mineAfter).toEqual({ same: true, alive: true });
  for (const how of ["exit", "terminate"]) {
    expect(result.endings[how]).toEqual({
      cachedBeforeExit: true,
      whileAlive: "THREAD_SAFETY",
      hasPool: false,
      deallocate: "POOL_NOT_FOUND",
      run: "POOL_NOT_FOUND",
      allocate: "POOL_NOT_FOUND",
      getPool: "POOL_NOT_FOUND",
    });
  }
}, 30_000);
