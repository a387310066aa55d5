/**
 * Larson's server workload with glibc's tst-malloc-thread-fail limit and tst-malloc-thread-exit's
 * ending, ported to Workers: three Workers allocate random sizes on a shared pool bounded by
 * maxSize (OutOfMemoryError is expected, counted, and answered by freeing some), stamp every block,
 * hand half of what they hold to the next Worker by pointer, which checks the stamp and frees it;
 * at the end each frees what it holds, with or without flushing its caches, and is terminated.
 * Then the main thread fills the pool to OutOfMemoryError, frees every other block and fills again.
 * Every threadSafety mode, both allocator types, growth off and on; each run in a child process.
 *
 * Checked exactly: no stamp damaged, no error but OutOfMemoryError; bytesInUse and
 * liveAllocations 0 and allocation/free counts and byte totals equal after the Workers and again
 * at the end; failedAllocations equal to the OutOfMemoryErrors the Workers saw; bytesReserved never
 * past maxSize; once the Workers are gone no bytes cached; the refill gets all of maxSize, and then
 * exactly the half freed. Nothing found wanting when written (attack8): a guard for the engines
 * and caches other branches change.
 */
import { describe, expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";
import type { LarsonReport } from "../fixtures/attack/larson-worker";

const MAX = 1 << 20;
const modes: [string, object][] = [
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
];
const shapes: [string, object, number][] = [
  ["Variable, growth 0", { allocatorType: "Variable", growth: 0, initialSize: MAX }, 2048],
  ["Variable, growth 2", { allocatorType: "Variable", growth: 2, initialSize: 64 << 10 }, 2048],
  ["FixedSize 256, single blocks, growth 0", { allocatorType: "FixedSize", blockSize: 256, growth: 0, initialSize: MAX }, 256],
  ["FixedSize 256, runs, growth 1", { allocatorType: "FixedSize", blockSize: 256, growth: 1, initialSize: 64 << 10 }, 2048],
];

interface Figures { bytesInUse: number; liveAllocations: number; allocationCount: number; freeCount: number; failedAllocations: number; bytesAllocatedTotal: number; bytesFreedTotal: number; cachedBytes: number; bytesReserved: number }
interface Outcome { reports: LarsonReport[]; afterWorkers: Figures; afterTerminate: Figures; end: Figures; refill: { first: number; second: number; freedHalf: number; size: number } }

function balanced(figures: Figures): void {
  expect(figures.bytesInUse).toBe(0);
  expect(figures.liveAllocations).toBe(0);
  expect(figures.freeCount).toBe(figures.allocationCount);
  expect(figures.bytesFreedTotal).toBe(figures.bytesAllocatedTotal);
  expect(figures.bytesReserved).toBeLessThanOrEqual(MAX);
}

describe("Larson across Workers under maxSize: stamps intact, statistics balance exactly, the pool refills whole", () => {
  for (const [modeName, mode] of modes) {
    for (const [shapeName, shape, sizeMax] of shapes) {
      const flush = sizeMax !== 256; // single blocks: Workers end with blocks in their caches
      test(`${modeName}, ${shapeName}${flush ? "" : ", Workers end with cached blocks"}`, async () => {
        const config = { ...mode, ...shape, maxSize: MAX };
        const run = await runChild("../../fixtures/attack/larson-child.ts", [JSON.stringify(config), "3", "4", sizeMax === 256 ? "1500" : "600", String(sizeMax), flush ? "flush" : "noflush"]);
        expect(run.stderr).toBe("");
        expect(run.signalCode).toBeNull();
        expect(run.exitCode).toBe(0);
        const outcome = JSON.parse(run.stdout) as Outcome;
        expect(outcome.reports).toHaveLength(3);
        let outOfMemory = 0;
        for (const report of outcome.reports) {
          expect(report.wrong).toEqual([]);
          expect(report.bytes).toBe(0);
          outOfMemory += report.outOfMemory;
        }
        expect(outOfMemory).toBeGreaterThan(0); // the limit was met
        balanced(outcome.afterWorkers);
        expect(outcome.afterWorkers.failedAllocations).toBe(outOfMemory);
        balanced(outcome.afterTerminate);
        expect(outcome.afterTerminate.cachedBytes).toBe(0);
        balanced(outcome.end);
        expect(outcome.end.cachedBytes).toBe(0);
        expect(outcome.end.failedAllocations).toBe(outOfMemory + 2);
        const blockSize = (shape as { blockSize?: number }).blockSize;
        const unit = blockSize ? Math.ceil(outcome.refill.size / blockSize) * blockSize : outcome.refill.size;
        expect(outcome.refill.first * unit).toBe(MAX);
        expect(outcome.refill.second).toBe(outcome.refill.freedHalf);
      });
    }
  }
});
