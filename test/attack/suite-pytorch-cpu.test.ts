/**
 * PyTorch's caching-allocator semantics (test/test_cuda.py: memory_stats, empty_cache,
 * reset_peak_memory_stats, set_per_process_memory_fraction, out-of-memory and the retry after the
 * cache is freed), read and retold for this library's CPU pools (suite-pytorch-cuda is the GPU's;
 * pinned pools need a CUDA driver: the lead runs those on the GPU machine). getStats() is
 * memory_stats, trim() is empty_cache, resetPeaks() is reset_peak_memory_stats, maxSize is the
 * memory fraction:
 * - the cache serves a freed block's size again without growing: a steady alloc/free loop reserves
 *   nothing new after its first round;
 * - empty_cache with live blocks in some regions: trim() gives back exactly the empty regions but the
 *   first (as the snapshot showed them), returns and counts those bytes, leaves live blocks' bytes
 *   intact and peakBytesReserved as it was; lockFree and threadLocalCache pools give nothing back
 *   and count no trim
 *   (documented: their free blocks sit on lists other threads pop without a lock);
 * - reset_peak_memory_stats: the peaks fall to the current figures, rise with new allocations and
 *   stay through frees (exactly; on lockFree and cached pools a lower bound, as documented);
 * - the memory fraction and the retry: a pool filled to its maxSize refuses the next block with an
 *   OutOfMemoryError counted once; a request past maxSize is an InvalidSizeError; once every block is
 *   freed, a request that no single region holds succeeds: the pool gives its empty regions back and
 *   grows in their room, as PyTorch frees its cached segments and retries (counted in bytesTrimmed).
 *   Before the fix the pool, all free, said OutOfMemoryError until the user called trim().
 * - the memory fraction across four Workers (in a child process): blocks up to 1.5 MiB on a pool of at
 *   most 8 MiB, an OutOfMemoryError answered by freeing a third of what a Worker holds: empty regions go
 *   back where that makes a request fit, and new ones grow while other Workers allocate in the rest; stamps intact, every failure
 *   counted, never past maxSize, and everything balances at the end.
 */
import { describe, expect, test } from "bun:test";
import { type CPUMemoryPool, InvalidSizeError, MemoryPoolManager, OutOfMemoryError, type PoolConfig } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { allocateUntilRefused } from "../support/fill";
import { runChild } from "../pmem/helpers";
import type { BenchReport } from "../fixtures/attack/suite-bench-worker";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const KiB = 1024;
const MiB = KiB * KiB;

const shapes: [string, Partial<PoolConfig>, boolean][] = [
  // name, shape, whether its regions go back (trim)
  ["Variable, none (JavaScript bins)", {}, true],
  ["Variable, mutex", { threadSafety: "mutex" }, true],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }, true],
  ["FixedSize 4096, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 4096 }, true],
  ["FixedSize 4096, mutex", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "mutex" }, true],
  ["FixedSize 4096, lockFree", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "lockFree" }, true],
  ["FixedSize 4096, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "mutex", threadLocalCache: true }, true],
];

function balanced(p: CPUMemoryPool) {
  manager.flushThreadCaches();
  const s = p.getStats();
  expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, frees: s.freeCount, bytes: s.bytesFreedTotal, cachedBytes: s.cachedBytes })
    .toEqual({ bytesInUse: 0, liveAllocations: 0, frees: s.allocationCount, bytes: s.bytesAllocatedTotal, cachedBytes: 0 });
}

describe("PyTorch's caching allocator on CPU pools", () => {
  for (const [name, shape, trims] of shapes) {
    test(`the cache serves freed sizes again: a steady alloc/free loop reserves nothing after its first round (${name})`, () => {
      const p = pool(`suite-torch-steady-${name}`, { ...shape, growth: 2, initialSize: 64 * KiB });
      const next = random(0x57ead);
      const sizes = Array.from({ length: 64 }, () => 1 + Math.floor(next() ** 2 * 32 * KiB));
      const round = () => {
        const held = sizes.map((size) => p.allocateRaw(size));
        for (const ptr of held.reverse()) p.deallocate(ptr);
      };
      round();
      const first = p.getStats();
      for (let i = 0; i < 30; i++) round();
      const s = p.getStats();
      expect([s.bytesReserved, s.growthCount, s.regionCount]).toEqual([first.bytesReserved, first.growthCount, first.regionCount]);
      balanced(p);
    });

    test(`empty_cache: trim() gives back exactly the empty regions but the first, live blocks intact (${name})`, () => {
      const p = pool(`suite-torch-trim-${name}`, { ...shape, growth: 2, initialSize: 64 * KiB });
      const next = random(0x7e11);
      const live = Array.from({ length: 400 }, (_, i) => {
        const a = p.allocate(i % 50 === 7 ? 3 * MiB : 1 + Math.floor(next() ** 2 * 16 * KiB));
        stamp(a.bytes, a.ptr as number);
        return a;
      });
      // free the blocks of the later half of the allocations (their regions, grown last, empty out), and some others
      for (let i = live.length - 1; i >= 0; i--) {
        if (i >= live.length / 2 || next() < 0.3) live.splice(i, 1)[0]!.free();
      }
      manager.flushThreadCaches();
      const before = p.getStats();
      // A sharded pool has no snapshot() to list its regions: whole regions went back, some.
      const sharded = shape.threadSafety === "lockFree" && shape.allocatorType !== "FixedSize";
      const empty = sharded ? undefined : p.snapshot().regions.slice(1).filter((r) => r.liveBlocks === 0);
      const released = p.trim();
      const after = p.getStats();
      if (empty === undefined) {
        expect(released).toBeGreaterThan(0);
        expect(released % (64 * KiB)).toBe(0);
      } else if (trims) {
        expect(empty.length).toBeGreaterThan(0);
        expect(released).toBe(empty.reduce((sum, r) => sum + r.size, 0));
      } else expect(released).toBe(0);
      const regionsGone = empty === undefined ? before.regionCount - after.regionCount : trims ? empty.length : 0;
      expect(regionsGone).toBeGreaterThan(trims ? 0 : -1);
      expect([after.bytesReserved, after.regionCount, after.bytesTrimmed, after.trimCount, after.peakBytesReserved])
        .toEqual([before.bytesReserved - released, before.regionCount - regionsGone, released, 1, before.peakBytesReserved]); // every trim() counts, one that gives nothing back too
      expect(live.filter((a) => !stampHolds(a.bytes, a.ptr as number))).toEqual([]);
      const again = Array.from({ length: 50 }, () => p.allocate(1 + Math.floor(next() * 64 * KiB)));
      for (const a of [...live, ...again]) a.free();
      balanced(p);
    });

    test(`reset_peak_memory_stats: peaks fall to the current figures, rise with new blocks, stay through frees (${name})`, () => {
      const p = pool(`suite-torch-peaks-${name}`, { ...shape, growth: 2, initialSize: 64 * KiB });
      const exactPeaks = shape.threadSafety !== "lockFree" && !shape.threadLocalCache && !(shape.allocatorType === "FixedSize" && shape.threadSafety === undefined);
      const many = Array.from({ length: 200 }, () => p.allocateRaw(3000));
      const kept = many.splice(0, 20);
      for (const ptr of many) p.deallocate(ptr);
      manager.flushThreadCaches();
      // exact where every allocation reaches the core or the bins' table; a lower bound on lockFree and
      // cached pools (documented: their caches' allocations raise no peak until counted)
      const peaks = (s: ReturnType<CPUMemoryPool["getStats"]>, bytes: number, count: number) => {
        if (exactPeaks) expect([s.peakBytesInUse, s.peakLiveAllocations]).toEqual([bytes, count]);
        else {
          expect(s.peakBytesInUse).toBeLessThanOrEqual(bytes);
          expect(s.peakLiveAllocations).toBeLessThanOrEqual(count);
        }
        expect(s.peakBytesInUse).toBeGreaterThanOrEqual(s.bytesInUse);
        expect(s.peakLiveAllocations).toBeGreaterThanOrEqual(s.liveAllocations);
      };
      peaks(p.getStats(), 200 * 3000, 200);
      p.resetPeaks();
      let s = p.getStats();
      expect([s.peakBytesInUse, s.peakLiveAllocations, s.peakBytesReserved]).toEqual([20 * 3000, 20, s.bytesReserved]);
      const more = Array.from({ length: 10 }, () => p.allocateRaw(5000));
      for (const ptr of more) p.deallocate(ptr);
      manager.flushThreadCaches();
      s = p.getStats();
      peaks(s, 20 * 3000 + 10 * 5000, 30);
      for (const ptr of kept) p.deallocate(ptr);
      balanced(p);
    });

    test(`memory fraction: filled to maxSize an OutOfMemoryError counted once; all freed, a request no region holds ${trims ? "succeeds" : "stays refused"} (${name})`, () => {
      const maxSize = 8 * MiB;
      const p = pool(`suite-torch-fraction-${name}`, { ...shape, growth: 2, initialSize: 1 * MiB, maxSize });
      expect(thrown(() => p.allocate(maxSize + 1))).toBeInstanceOf(InvalidSizeError);
      const { held, refused } = allocateUntilRefused(() => p.allocateRaw(60_000));
      expect(refused).toBeInstanceOf(OutOfMemoryError);
      let s = p.getStats();
      expect(s.failedAllocations).toBe(1);
      expect(s.bytesReserved).toBeLessThanOrEqual(maxSize);
      expect(held.length * 60_000).toBeGreaterThan(maxSize * 0.8);
      for (const ptr of held) p.deallocate(ptr);
      manager.flushThreadCaches();
      const regions = p.getStats().regionCount;
      expect(regions).toBeGreaterThan(2);
      if (trims) {
        const large = p.allocate(6 * MiB); // the empty regions go back and a region of 6 MiB takes their room
        large.bytes[6 * MiB - 1] = 1;
        s = p.getStats();
        expect([s.failedAllocations, s.trimCount, s.bytesReserved <= maxSize]).toEqual([1, 0, true]);
        expect(s.bytesTrimmed).toBeGreaterThanOrEqual(6 * MiB - 1 * MiB);
        large.free();
      } else {
        expect(thrown(() => p.allocate(6 * MiB))).toBeInstanceOf(OutOfMemoryError);
        expect(p.trim()).toBe(0);
        expect(p.getStats().failedAllocations).toBe(2);
      }
      balanced(p);
    });
  }
});

describe("PyTorch's memory fraction across four Workers: regions given back and grown while others allocate", () => {
  const maxSize = 8 * MiB;
  // Whether the pool may give regions back. It gives its empty regions back at maxSize only where
  // the room they leave holds the region the request needs (growForReleasing; before, it gave
  // them back also where that could not help, which every run met): a run of four Workers at
  // random may never meet such a moment. The single-thread "memory fraction" tests above, and
  // zig/src/pool_limits_test.zig, show the release where it fits.
  const fractionShapes: [string, object, boolean][] = [
    ["Variable, mutex", { threadSafety: "mutex" }, true],
    ["Variable, mutex, canaries and quarantine", { threadSafety: "mutex", canaries: true, quarantineBytes: 256 * KiB }, true],
    ["Variable, mutex, guard pages on one allocation in two", { threadSafety: "mutex", guardPages: true, guardSampleRate: 2 }, true],
    ["FixedSize 4096, mutex (runs)", { threadSafety: "mutex", allocatorType: "FixedSize", blockSize: 4096 }, true],
    ["Variable, lockFree (shards)", { threadSafety: "lockFree" }, true],
  ];
  for (const [name, shape, gives] of fractionShapes) {
    test(name, async () => {
      const config = { ...shape, growth: 2, initialSize: 256 * KiB, maxSize };
      const run = await runChild("../../fixtures/attack/suite-bench-child.ts", ["fraction", JSON.stringify(config), "4", "1000", String(1.5 * MiB)]);
      expect(run.stderr).toBe("");
      expect(run.signalCode).toBeNull();
      expect(run.exitCode).toBe(0);
      const outcome = JSON.parse(run.stdout) as { reports: BenchReport[]; stats: Record<string, number>; space: Record<string, number>; leaks: number };
      for (const report of outcome.reports) expect(report.wrong).toEqual([]);
      const allocated = outcome.reports.reduce((sum, r) => sum + r.allocated, 0);
      const bytes = outcome.reports.reduce((sum, r) => sum + r.bytesAllocated, 0);
      const outOfMemory = outcome.reports.reduce((sum, r) => sum + r.outOfMemory, 0);
      expect(outOfMemory).toBeGreaterThan(0); // the limit was met
      expect(outcome.stats).toEqual({
        bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, failedAllocations: outOfMemory,
        bytesAllocatedTotal: bytes, bytesFreedTotal: bytes, cachedBytes: 0,
      });
      expect(outcome.space.peakBytesReserved).toBeLessThanOrEqual(maxSize);
      if (!gives) expect(outcome.space.bytesTrimmed).toBe(0);
      expect((outcome.space.bytesTrimmed ?? -1) % (64 * KiB)).toBe(0); // whole regions, whatever went back
      expect(outcome.space.trimCount).toBe(0); // nobody called trim()
      expect(outcome.leaks).toBe(0);
    }, 30_000);
  }
});
