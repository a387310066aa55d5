/**
 * glibc's tst-malloc-thread-exit, read and retold for this library's Workers: Workers start one after
 * another; each makes pools of its own (its thread's alone) and leaves blocks live in them, takes
 * blocks from three shared pools (FixedSize lockFree and mutex + threadLocalCache with JavaScript
 * caches, a sharded Variable lockFree pool), frees three in four into its caches, leaves the rest live
 * for the main thread, and exits without destroying, flushing or freeing anything. In a child process.
 *
 * Checked: its own pools are gone with it (listPools holds only the shared ones, and 4000 new pools
 * fit in the 4096-pool registry), its cached blocks went back with its thread (cachedBytes 0), the
 * blocks it left live are freed by the main thread without an error, and every shared pool balances
 * exactly (bytesInUse and liveAllocations 0, counts and byte totals equal).
 * (tst-mallocfork has no counterpart: Bun cannot fork.) SUITE_SCALE=n multiplies the Workers.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;

test("tst-malloc-thread-exit: Workers that exit holding pools, live blocks and cached blocks leave nothing behind", async () => {
  const workers = 12 * scale;
  const run = await runChild("../../fixtures/attack/suite-thread-exit-child.ts", [String(workers), "10"]);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  const outcome = JSON.parse(run.stdout) as {
    leftLive: number; wrong: string[]; pools: string[]; refilled: number;
    figures: { name: string; bytesInUse: number; liveAllocations: number; cachedBytes: number; balanced: boolean; allocationCount: number }[];
  };
  expect(outcome.wrong).toEqual([]);
  expect(outcome.leftLive).toBe(workers * 3 * 50);
  expect(outcome.pools).toEqual(["suite-exit-fixed-lockfree", "suite-exit-fixed-tlc", "suite-exit-variable-lockfree"]);
  expect(outcome.refilled).toBe(4000);
  for (const figures of outcome.figures) {
    expect(figures).toEqual({ name: figures.name, bytesInUse: 0, liveAllocations: 0, cachedBytes: 0, balanced: true, allocationCount: workers * 200 });
  }
}, 30_000);
