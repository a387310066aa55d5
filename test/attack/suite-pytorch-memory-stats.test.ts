/**
 * PyTorch's CUDA memory statistics tests (test/test_cuda.py: test_memory_stats, test_memory_allocation
 * with memory_allocated / max_memory_allocated, test_reset_peak_memory_stats, test_empty_cache's
 * memory_reserved / max_memory_reserved, the num_ooms count), read and retold for getStats(),
 * resetPeaks() and trim(): memory_allocated is bytesInUse, memory_reserved bytesReserved, the max_
 * figures the peaks, reset_peak_memory_stats resetPeaks(), empty_cache trim(). On GPU pools where CUDA
 * is (the lead runs them on the H200; here they are skipped and the reason printed) and on CPU pools,
 * the same body, for the shapes whose peaks are exact (Variable, JavaScript bins and "mutex"; lockFree
 * and cached pools keep lower bounds by design, README "Statistics"):
 * - a random sequence of allocations and frees: after each, memory_allocated is exactly the live
 *   bytes, the allocation counts balance, max_memory_allocated is the highest live total so far;
 * - reset_peak_memory_stats: the peaks become the current figures at once (not zero, not the old
 *   maximum), then follow the next phase's own maximum;
 * - empty_cache: with everything freed, trim() gives back every region but the first and says how
 *   much; memory_reserved drops by that, max_memory_reserved keeps the old high until resetPeaks();
 * - num_ooms: a pool at its maxSize refuses a request it cannot hold, counts it once, and changes no
 *   other figure; once the blocks are freed the same request is served.
 * Left out: the per-stream and per-pool breakdowns of memory_stats (allocated_bytes.small_pool...: no
 * such split here), memory_snapshot's trace (renderTimeline, tested in test/timeline) and the
 * expandable segments variants (the core's own region mapping).
 */
import { describe, expect, test } from "bun:test";
import { OutOfMemoryError, type PoolConfig } from "../../src/index";
import { allocateBlock, type Block, poolKinds } from "../support/any_pool";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const { kinds, named } = poolKinds("test/attack/suite-pytorch-memory-stats");
const MiB = 1 << 20;
const KiB = 1 << 10;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
];

for (const { kind, skip, make } of kinds) {
  describe.skipIf(skip !== undefined)(`PyTorch memory statistics on ${kind} pools`, () => {
    for (const [shapeName, shape] of shapes) {
      test(`memory_allocated and max_memory_allocated follow every step; reset_peak_memory_stats starts a phase (${shapeName})`, () => {
        const pool = make(named(`suite-pytorch-stats-${kind}`), { ...shape, initialSize: 4 * MiB, growth: 1 });
        const next = random(0x5747);
        const live: Block[] = [];
        let inUse = 0;
        let peak = 0;
        const wrong: string[] = [];
        const step = (i: number) => {
          if (live.length > 0 && next() < 0.45) {
            const [b] = live.splice(Math.floor(next() * live.length), 1);
            b!.free();
            inUse -= b!.size;
          } else {
            const b = allocateBlock(pool, 1 + Math.floor(next() ** 2 * 512 * KiB));
            live.push(b);
            inUse += b.size;
          }
          peak = Math.max(peak, inUse);
          const s = pool.getStats();
          if (s.bytesInUse !== inUse || s.liveAllocations !== live.length || s.allocationCount - s.freeCount !== live.length) wrong.push(`step ${i}: in use ${s.bytesInUse}/${inUse}, live ${s.liveAllocations}/${live.length}`);
          if (s.peakBytesInUse !== peak) wrong.push(`step ${i}: peak ${s.peakBytesInUse}, expected ${peak}`);
          if (s.bytesReserved < s.bytesAllocated || s.peakBytesReserved < s.bytesReserved) wrong.push(`step ${i}: reserved ${s.bytesReserved}, allocated ${s.bytesAllocated}, peak reserved ${s.peakBytesReserved}`);
        };
        for (let i = 0; i < 300; i++) step(i);
        pool.resetPeaks();
        const reset = pool.getStats();
        expect([reset.peakBytesInUse, reset.peakLiveAllocations, reset.peakBytesReserved]).toEqual([inUse, live.length, reset.bytesReserved]);
        peak = inUse;
        for (let i = 300; i < 600; i++) step(i);
        expect(wrong).toEqual([]);
        for (const b of live) b.free();
        expect(pool.getStats().bytesInUse).toBe(0);
      });

      test(`empty_cache is trim(): memory_reserved drops, max_memory_reserved keeps its high until resetPeaks (${shapeName})`, () => {
        const initialSize = 2 * MiB;
        const pool = make(named(`suite-pytorch-empty-cache-${kind}`), { ...shape, initialSize, growth: 1 });
        const blocks = Array.from({ length: 24 }, () => allocateBlock(pool, 700 * KiB));
        const grown = pool.getStats();
        expect(grown.regionCount).toBeGreaterThan(1);
        for (const b of blocks) b.free();
        const released = pool.trim();
        const s = pool.getStats();
        expect([released, s.bytesReserved, s.regionCount, s.peakBytesReserved]).toEqual([grown.bytesReserved - initialSize, initialSize, 1, grown.peakBytesReserved]);
        pool.resetPeaks();
        expect(pool.getStats().peakBytesReserved).toBe(initialSize);
      });

      test(`num_ooms: a refused request is counted once and changes nothing else (${shapeName})`, () => {
        // sizes that hold on a GPU too, whose regions are whole 2 MiB units: 2 + 6 + 6 of 16 MiB
        const maxSize = 16 * MiB;
        const pool = make(named(`suite-pytorch-ooms-${kind}`), { ...shape, initialSize: 2 * MiB, maxSize });
        const held = [allocateBlock(pool, 5 * MiB), allocateBlock(pool, 5 * MiB)];
        const before = pool.getStats();
        expect(thrown(() => pool.allocate(8 * MiB))).toBeInstanceOf(OutOfMemoryError);
        const after = pool.getStats();
        expect(after.failedAllocations).toBe(before.failedAllocations + 1);
        expect([after.bytesInUse, after.liveAllocations, after.allocationCount, after.peakBytesInUse]).toEqual([before.bytesInUse, before.liveAllocations, before.allocationCount, before.peakBytesInUse]);
        // with both freed, their regions go back and the request is served in their room
        for (const b of held) b.free();
        const served = allocateBlock(pool, 8 * MiB);
        expect(pool.getStats().failedAllocations).toBe(after.failedAllocations);
        served.free();
      });
    }
  });
}
