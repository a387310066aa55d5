/**
 * Workloads of daanx/mimalloc-bench and Hoard's benchmarks, read and retold as correctness tests for
 * this library's shared pools (their timings are benchmarks' business: bench/, never asserted here):
 * - xmalloc-test: every Worker allocates into a ring in shared memory and frees what the Worker
 *   before it put in its ring, so each block is freed by another thread than the one that made it,
 *   while both go on allocating (rpmalloc's test_crossthread too);
 * - alloc-test: every Worker keeps 256 live blocks and replaces a random one with a new size each step;
 * - sh6bench: batches of 64 blocks of a size that grows to the maximum and starts again, freed last in
 *   first out, first in first out, and every other one;
 * - Hoard's cache-scratch: the main thread allocates one block per Worker side by side; each Worker
 *   frees the one it was given, then allocates, writes over and frees blocks of that size.
 * Every block is stamped from its address when made and checked before its free (no two live blocks
 * overlap, none handed out twice), every address is a multiple of the pool's alignment; sizes 1 B to
 * 16 KiB, runs of blocks on FixedSize pools. Shapes: Variable mutex and lockFree (shards), FixedSize
 * with a thread cache, lockFree FixedSize, growth from 64 KiB or none; each run in a child process.
 * Checked exactly at the end: nothing wrong in any Worker; the pool's counts and byte totals equal what
 * the Workers did (and the main thread's given blocks), bytesInUse, liveAllocations and cachedBytes 0,
 * no failed allocation, no leak listed. mimalloc's test-api-fill across threads: on mutex pools with
 * fillOnAlloc (and fillOnFree, canaries) every new block reads the fill byte whole, whichever Worker
 * freed it before; lockFree and threadLocalCache pools refuse fill patterns (a ConfigError). (Hoard's threadtest and cache-thrash are each Worker on its
 * own blocks: alloc-test and sh6bench cover that; larson and mstress are ported in larson.test.ts and
 * suite-mimalloc-stress.test.ts.) SUITE_SCALE=n multiplies the operations.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { runChild } from "../pmem/helpers";
import { thrown } from "../support/thrown";
import type { BenchMode, BenchReport } from "../fixtures/attack/suite-bench-worker";

const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;
const KiB = 1024;
const shapes: [string, object][] = [
  ["Variable, mutex, growth 2", { threadSafety: "mutex", growth: 2, initialSize: 64 * KiB }],
  ["Variable, lockFree (shards), growth 0", { threadSafety: "lockFree", growth: 0, initialSize: 64 * 1024 * KiB }],
  ["FixedSize 64, mutex + threadLocalCache, alignment 64, growth 2", { allocatorType: "FixedSize", blockSize: 64, alignment: 64, threadSafety: "mutex", threadLocalCache: true, growth: 2, initialSize: 64 * KiB }],
  ["FixedSize 256, lockFree, growth 2", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree", growth: 2, initialSize: 64 * KiB }],
];
const modes: [BenchMode, number, number][] = [
  // mode, operations a Worker, largest size
  ["xmalloc", 800, 4 * KiB],
  ["alloc-test", 600, 16 * KiB],
  ["sh6bench", 800, 8 * KiB],
  ["cache-scratch", 200, 200],
];

// mimalloc's test-api-fill across threads: with fillOnAlloc every new block reads the byte whole,
// whichever Worker freed it before (the Worker checks each; fillOnFree and canaries on the free side).
// Fill patterns work under the pool's lock: lockFree and threadLocalCache pools refuse them (a ConfigError).
const filled: [string, object][] = [
  ["Variable, mutex, fillOnAlloc, fillOnFree and canaries", { threadSafety: "mutex", fillOnAlloc: 0xcd, fillOnFree: 0xdd, canaries: true, growth: 2, initialSize: 64 * KiB }],
  ["FixedSize 64, mutex, fillOnAlloc and fillOnFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex", fillOnAlloc: 0xcd, fillOnFree: 0xdd, growth: 2, initialSize: 64 * KiB }],
];

interface Outcome {
  reports: BenchReport[];
  given: number;
  wrong?: string[];
  stats: Record<string, number>;
  leaks: number;
}

for (const [mode, operations, sizeMax] of modes) {
  describe(`mimalloc-bench / Hoard ${mode} on a shared pool, four Workers`, () => {
    for (const [name, config] of [...shapes, ...(mode === "xmalloc" || mode === "alloc-test" ? filled : [])]) {
      test(name, async () => {
        const run = await runChild("../../fixtures/attack/suite-bench-child.ts", [mode, JSON.stringify(config), "4", String(operations * scale), String(sizeMax)]);
        expect(run.stderr).toBe("");
        expect(run.signalCode).toBeNull();
        expect(run.exitCode).toBe(0);
        const outcome = JSON.parse(run.stdout) as Outcome;
        expect(outcome.reports).toHaveLength(4);
        for (const report of outcome.reports) expect(report.wrong).toEqual([]);
        const allocated = outcome.reports.reduce((sum, r) => sum + r.allocated, 0) + outcome.given;
        const freed = outcome.reports.reduce((sum, r) => sum + r.freed, 0);
        const bytes = outcome.reports.reduce((sum, r) => sum + r.bytesAllocated, 0) + outcome.given * sizeMax;
        const bytesFreed = outcome.reports.reduce((sum, r) => sum + r.bytesFreed, 0);
        expect(freed).toBe(allocated);
        expect(bytesFreed).toBe(bytes);
        if (mode === "xmalloc") for (const r of outcome.reports) expect(r.allocated).toBe(operations * scale);
        expect(outcome.stats).toEqual({
          bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, failedAllocations: 0,
          bytesAllocatedTotal: bytes, bytesFreedTotal: bytes, cachedBytes: 0,
        });
        expect(outcome.leaks).toBe(0);
      }, 30_000);
    }
  });
}

test("test-api-fill: lockFree and threadLocalCache pools refuse fill patterns with a ConfigError naming the field", () => {
  for (const shape of [{ threadSafety: "lockFree" }, { threadSafety: "mutex", threadLocalCache: true }, { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 64 }] as const) {
    for (const field of ["fillOnAlloc", "fillOnFree"] as const) {
      const error = thrown<ConfigError>(() => MemoryPoolManager.getInstance().createCPUPool("suite-bench-fill-refused", Object.assign(new PoolConfig(), shape, { [field]: 0xcd })));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.field).toBe(field);
      expect(MemoryPoolManager.getInstance().hasPool("suite-bench-fill-refused")).toBe(false);
    }
  }
});
