/**
 * The seed's helpers, allocate() and allocateGPU(), used for the first time by several Workers at
 * once. Found by attacking main: each Worker checked hasPool("default_cpu_pool"), found none, and
 * made it; all but the first got a PoolExistsError from allocate(). The losers of the race now
 * take the winner's pool. In a child process (the default pool is the process's).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("Workers that make the default pool at the same instant all get a block from it", async () => {
  const run = await runChild("../../fixtures/attack/default-pool-race-child.ts", ["8"]);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual([]);
}, 30_000);
