/**
 * PMEM pools used by several Workers: the core's guard keeps a pool alive while a call is inside
 * it, so closing it under Workers gives them PoolNotFoundError, never a crash, and their views read
 * zeros; a threadSafety "none" pool refuses every other thread. Each runs in a child process, so a
 * crash fails the test instead of ending the run.
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "./helpers";

afterAll(removePoolFiles);

test("a PMEM pool closed in one Worker while others allocate, persist and free: PoolNotFoundError there, no crash, old views read zeros", async () => {
  const workers = 3;
  const rounds = 12;
  const run = await runChild("threads_child.ts", ["close", poolPath("threads-close"), String(workers), String(rounds)]);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  const results = JSON.parse(run.stdout);
  expect(results).toHaveLength(rounds);
  for (const result of results) {
    expect(result.closing).toEqual({ closed: true });
    expect(result.churned).toHaveLength(workers);
    for (const outcome of result.churned) {
      expect(outcome.name).toBe("PoolNotFoundError");
      expect(outcome.code).toBe("POOL_NOT_FOUND");
      expect(outcome.rounds).toBeGreaterThan(0);
      expect(outcome.viewByte).toBe(0); // the file is let go; its range reads zeros
      expect(outcome.viewSum).toBe(0);
    }
    expect(result.afterClose).toBe("PoolNotFoundError");
    expect(result.myViewByte).toBe(0); // the opening thread's views too: another thread closed it
  }
}, 30_000);

test('a threadSafety "none" PMEM pool refuses another Worker with ThreadSafetyError, and its owner keeps it', async () => {
  const run = await runChild("threads_child.ts", ["none", poolPath("threads-none")]);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const { seen, ownerStillWorks } = JSON.parse(run.stdout);
  expect(seen).toEqual({
    allocate: "THREAD_SAFETY",
    fromPointer: "THREAD_SAFETY",
    stats: "THREAD_SAFETY", // the owner changes the pool without a lock: only it may read the statistics
    roots: "THREAD_SAFETY",
    drain: "THREAD_SAFETY",
    close: "THREAD_SAFETY",
    closeMessage: expect.stringContaining("only that thread may destroy it"),
  });
  expect(ownerStillWorks).toBe(true);
}, 30_000);
