/**
 * Leak reports across Workers. Found by attacking main: a Worker that had only looked up a
 * leakReport pool another thread made reported, as it exited, that thread's live allocations as
 * leaks "at process exit", while the process and the pool lived on.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("a Worker's exit reports the leaks of the pools it made and that end with it, never another thread's", async () => {
  const run = await runChild("../../fixtures/attack/leak-report-child.ts", []);
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ keptAlive: true, workerPoolGone: true });
  // The Worker's own "none" pool ends with it: its allocation is a leak, and said so.
  expect(run.stderr).toContain("leak report for pool 'attack-leaks-worker' (Worker exit): 1 allocation still live, 24 B");
  // The shared pool's allocation was the main thread's, freed before it destroyed the pool.
  expect(run.stderr).not.toContain("attack-leaks-shared");
});
