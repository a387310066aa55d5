/**
 * TensorFlow's BFC allocator tests (tensorflow/core/common_runtime/gpu/gpu_bfc_allocator_test.cc:
 * NoDups, AllocationsAndDeallocations, ExerciseCoalescing, AllocateZeroBufs, LargeAllocationFail,
 * TrackingPeakBytes, and the fragmentation / largest-free-chunk figures of its AllocatorStats), read
 * and retold for this library's pools, the same cases on CPU pools here and on GPU pools where CUDA
 * is (the lead runs those on the H200; here they are skipped and the reason printed):
 * - NoDups: a block of every size 4 x 1 .. 4 x 1023 B at once; sorted by address, no two overlap and
 *   each is aligned to the pool's alignment; all freed, the figures balance;
 * - AllocationsAndDeallocations: 1000 random sizes, every other freed, 1000 more; no overlap among
 *   the live ones; the counts are the workload's;
 * - ExerciseCoalescing: three neighbours freed: the snapshot shows one free block over all three
 *   (and the tail), not three; a request the size of all three is placed there or before;
 * - AllocateZeroBufs: differs by design: BFC hands out nullptr for 0 bytes, here allocate(0) is an
 *   InvalidSizeError that counts nothing (a size is at least 1 B, API.md);
 * - LargeAllocationFail: a request past what the pool may ever hold is an InvalidSizeError, one
 *   past what it holds now (no growth, maxSize = initialSize) an OutOfMemoryError counted in
 *   failedAllocations; the pool then serves as before;
 * - TrackingPeakBytes: peakBytesInUse is the largest bytesInUse the workload reached, and
 *   resetPeaks() brings it down to now;
 * - fragmentation (the stats' largest_free_block_bytes): a pool filled with 64 KiB blocks and every
 *   other one freed has a largest free block under 128 KiB and refuses a 96 KiB request (counted),
 *   though its free bytes are far more; all freed, the free space is one block again
 *   (largestFreeBlock = freeBytes, fragmentation 0) and a request of half the pool fits.
 * The default pool (threadSafety "none") keeps freed blocks in its JavaScript bins until a request
 * they cannot serve or trim() flushes them, as CUDA caching allocators keep theirs: the figures of
 * coalesced free space are read after trim() there (by design; test/size_bins.test.ts).
 * Found here: a sharded CPU pool (lockFree) could not take part: its snapshot() was an
 * UnsupportedOperationError ("not available yet"). It now merges the shards' block walks by
 * address under every shard's lock (zig/src/sync/sharded_variable.zig Placement).
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, OutOfMemoryError, type PoolConfig } from "../../src/index";
import { allocateBlock as allocate, type AnyPool, type Block, noOverlap, poolKinds } from "../support/any_pool";
import { allocateUntilRefused } from "../support/fill";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const { kinds, named } = poolKinds("test/attack/suite-tf-bfc");
const MiB = 1 << 20;
const KiB = 1 << 10;

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards; CPU only)", { threadSafety: "lockFree" }],
];

/** Frees what bins hold back, so the figures are of the core's coalesced free space. */
function coalesced(pool: AnyPool): ReturnType<AnyPool["getStats"]> {
  pool.trim();
  return pool.getStats();
}
function balanced(pool: AnyPool, allocations: number): void {
  const s = pool.getStats();
  expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount, bytesAllocatedTotal: s.bytesAllocatedTotal })
    .toEqual({ bytesInUse: 0, liveAllocations: 0, allocationCount: allocations, freeCount: allocations, bytesAllocatedTotal: s.bytesFreedTotal });
}

for (const { kind, skip, make } of kinds) {
  for (const [shapeName, shape] of shapes) {
    if (kind === "GPU" && shape.threadSafety === "lockFree") continue; // GPU pools are "none" or "mutex" (a ConfigError)
    const pool = (test: string, fields: Partial<PoolConfig> = {}): AnyPool => make(named(`suite-bfc-${kind}-${test}`), { initialSize: 8 * MiB, ...shape, ...fields });
    describe.skipIf(skip !== undefined)(`TensorFlow BFC allocator tests on ${kind} pools (${shapeName})`, () => {
      test("NoDups: 1023 blocks of 4 B to 4 KiB at once, aligned, none overlapping", () => {
        const p = pool("nodups");
        const blocks: Block[] = [];
        for (let s = 1; s < 1024; s++) blocks.push(allocate(p, 4 * s));
        noOverlap(blocks, p.config.alignment);
        for (const block of blocks) block.free();
        balanced(p, 1023);
      });

      test("AllocationsAndDeallocations: 1000 random, every other freed, 1000 more", () => {
        const p = pool("allocs");
        const next = random(0xbfc);
        const blocks: Block[] = [];
        for (let i = 0; i < 1000; i++) blocks.push(allocate(p, 1 + Math.floor(next() * 4096)));
        noOverlap(blocks, p.config.alignment);
        const kept = blocks.filter((block, i) => (i % 2 === 0 ? (block.free(), false) : true));
        for (let i = 0; i < 1000; i++) kept.push(allocate(p, 1 + Math.floor(next() * 4096)));
        noOverlap(kept, p.config.alignment);
        expect(p.getStats().liveAllocations).toBe(1500);
        for (const block of kept) block.free();
        balanced(p, 2000);
      });

      test("ExerciseCoalescing: three freed neighbours are one free block; a request of all three fits there", () => {
        const p = pool("coalesce", { growth: 0 });
        const [first, second, third, fence] = [4, 4096, 1000, 64].map((size) => allocate(p, size)) as [Block, Block, Block, Block];
        expect(second.ptr).toBeGreaterThan(first.ptr);
        expect(third.ptr).toBeGreaterThan(second.ptr);
        for (const block of [second, first, third]) block.free();
        coalesced(p);
        const snap = p.snapshot();
        const freeBlocks = snap.blocks.filter((b) => b.state === "free");
        const startOffset = first.ptr - snap.baseAddress;
        const holding = freeBlocks.find((b) => b.offset <= startOffset && b.offset + b.size >= third.ptr - snap.baseAddress + third.size);
        expect(holding).toBeDefined();
        expect(freeBlocks.filter((b) => b.offset >= startOffset && b.offset < fence.ptr - snap.baseAddress)).toHaveLength(1);
        const all = allocate(p, third.ptr + third.size - first.ptr);
        expect(all.ptr).toBeLessThanOrEqual(first.ptr);
        all.free();
        fence.free();
        balanced(p, 5);
      });

      test("AllocateZeroBufs: allocate(0) is an InvalidSizeError and counts nothing (by design: BFC gives nullptr)", () => {
        const p = pool("zero");
        expect(thrown(() => p.allocate(0))).toBeInstanceOf(InvalidSizeError);
        const s = p.getStats();
        expect({ allocationCount: s.allocationCount, failedAllocations: s.failedAllocations, bytesInUse: s.bytesInUse }).toEqual({ allocationCount: 0, failedAllocations: 0, bytesInUse: 0 });
        allocate(p, 1).free();
        balanced(p, 1);
      });

      test("LargeAllocationFail: past what the pool may hold, past what it holds now; then it serves as before", () => {
        const p = pool("large", { growth: 0, maxSize: 8 * MiB });
        expect(thrown(() => p.allocate(9 * MiB))).toBeInstanceOf(InvalidSizeError);
        const half = allocate(p, 4 * MiB);
        expect(thrown(() => p.allocate(4 * MiB + 512 * KiB))).toBeInstanceOf(OutOfMemoryError);
        expect(p.getStats().failedAllocations).toBeGreaterThanOrEqual(1);
        const small = allocate(p, 1 * MiB);
        noOverlap([half, small], p.config.alignment);
        half.free();
        small.free();
        const whole = allocate(p, 6 * MiB);
        whole.free();
        balanced(p, 3);
      });

      test("TrackingPeakBytes: the peak is the workload's highest bytesInUse; resetPeaks brings it to now", () => {
        const p = pool("peak");
        const next = random(0x9eac);
        const live: Block[] = [];
        let inUse = 0;
        let peak = 0;
        for (let i = 0; i < 600; i++) {
          if (live.length > 0 && next() < 0.45) {
            const block = live.splice(Math.floor(next() * live.length), 1)[0]!;
            inUse -= block.size;
            block.free();
          } else {
            const block = allocate(p, 1 + Math.floor(next() * 20_000));
            live.push(block);
            inUse += block.size;
            peak = Math.max(peak, inUse);
          }
        }
        const s = p.getStats();
        expect({ bytesInUse: s.bytesInUse, peakBytesInUse: s.peakBytesInUse }).toEqual({ bytesInUse: inUse, peakBytesInUse: peak });
        p.resetPeaks();
        expect(p.getStats().peakBytesInUse).toBe(inUse);
        const more = allocate(p, 5000);
        expect(p.getStats().peakBytesInUse).toBe(inUse + 5000);
        more.free();
        for (const block of live) block.free();
        expect(p.getStats().peakBytesInUse).toBe(inUse + 5000);
      });

      test("fragmentation: every other 64 KiB block freed leaves no room for 96 KiB; all freed, one block again", () => {
        const p = pool("fragments", { growth: 0, maxSize: 8 * MiB });
        const { held: blocks, refused } = allocateUntilRefused(() => allocate(p, 64 * KiB));
        expect(refused).toBeInstanceOf(OutOfMemoryError);
        expect(blocks.length).toBeGreaterThanOrEqual(120);
        expect(blocks.length).toBeLessThanOrEqual(128);
        noOverlap(blocks, p.config.alignment);
        const kept = blocks.filter((block, i) => (i % 2 === 0 ? (block.free(), false) : true));
        const holey = coalesced(p);
        expect(holey.freeBytes).toBeGreaterThanOrEqual(60 * 64 * KiB);
        expect(holey.largestFreeBlock).toBeGreaterThanOrEqual(64 * KiB);
        expect(holey.largestFreeBlock).toBeLessThan(128 * KiB);
        expect(holey.fragmentation).toBeGreaterThan(0.9);
        const failedBefore = holey.failedAllocations;
        expect(thrown(() => p.allocate(96 * KiB))).toBeInstanceOf(OutOfMemoryError);
        expect(p.getStats().failedAllocations).toBe(failedBefore + 1);
        for (const block of kept) block.free();
        const whole = coalesced(p);
        expect({ liveAllocations: whole.liveAllocations, fragmentation: whole.fragmentation, largestFreeBlock: whole.largestFreeBlock })
          .toEqual({ liveAllocations: 0, fragmentation: 0, largestFreeBlock: whole.freeBytes });
        allocate(p, 4 * MiB).free();
      });
    });
  }
}
