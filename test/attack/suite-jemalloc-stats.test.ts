/**
 * jemalloc's statistics and extent tests (test/unit/stats.c, test/integration/extent.c, the retained
 * and grow tests), read and retold for this library: a random workload of sizes from 1 B to 20 KB on
 * every CPU pool shape, its statistics checked against a model every 97 operations and at the end:
 * - exact: bytesInUse, liveAllocations, allocation and free counts, byte totals; on FixedSize pools
 *   bytesAllocated is each block run's ceil(size / blockSize) x blockSize;
 * - consistent: bytesAllocated >= bytesInUse, bytesAllocated + freeBytes = bytesReserved (FixedSize:
 *   less a region's tail too small for a block), largestFreeBlock <= freeBytes, fragmentation in [0, 1],
 *   peaks never below the current figures, and on mutex pools (every operation in the core) exact;
 * - extents: with growth 2 from 64 KiB the regions are 64 KiB x 2^k, counted in growthCount and
 *   regionCount; trim() gives back every region but the first and says how many bytes (bytesTrimmed),
 *   on every pool; under a maxSize the pool grows to it exactly, never past,
 *   and a request no region can hold is an OutOfMemoryError, counted.
 * - junk (test/unit/junk.c): with fillOnAlloc and fillOnFree, every new block (a run, a large block,
 *   one reused) reads the alloc byte from first to last, and every freed block the free byte, read
 *   through the pointer with bun:ffi (guarded and quarantined blocks are not read after their free).
 * SUITE_SCALE=n multiplies the operations.
 */
import { describe, expect, test } from "bun:test";
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { type CPUMemoryPool, MemoryPoolManager, OutOfMemoryError, type PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;
const KiB = 1024;
const growing = { growth: 2, initialSize: 64 * KiB } as const;
const BLOCK = 96;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, none (bins)", { ...growing }],
  ["Variable, mutex", { ...growing, threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { ...growing, threadSafety: "lockFree" }],
  ["FixedSize 96, none (cache)", { ...growing, allocatorType: "FixedSize", blockSize: BLOCK }],
  ["FixedSize 96, mutex", { ...growing, allocatorType: "FixedSize", blockSize: BLOCK, threadSafety: "mutex" }],
  ["FixedSize 96, lockFree", { ...growing, allocatorType: "FixedSize", blockSize: BLOCK, threadSafety: "lockFree" }],
];

function checkAgainstModel(p: CPUMemoryPool, shape: Partial<PoolConfig>, model: { live: { size: number }[]; inUse: number; peak: number; peakLive: number; count: number; freed: number; total: number; freedBytes: number }): void {
  const s = p.getStats();
  const fixed = shape.allocatorType === "FixedSize";
  expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount, bytesAllocatedTotal: s.bytesAllocatedTotal, bytesFreedTotal: s.bytesFreedTotal })
    .toEqual({ bytesInUse: model.inUse, liveAllocations: model.live.length, allocationCount: model.count, freeCount: model.freed, bytesAllocatedTotal: model.total, bytesFreedTotal: model.freedBytes });
  expect(s.bytesAllocated).toBeGreaterThanOrEqual(s.bytesInUse);
  if (fixed) {
    expect(s.bytesAllocated).toBe(model.live.reduce((sum, b) => sum + Math.ceil(b.size / BLOCK) * BLOCK, 0));
    const tails = s.bytesReserved - (s.bytesAllocated + s.freeBytes);
    expect(tails).toBeGreaterThanOrEqual(0);
    expect(tails).toBeLessThan(s.regionCount * BLOCK);
  } else expect(s.bytesAllocated + s.freeBytes).toBe(s.bytesReserved);
  expect(s.largestFreeBlock).toBeLessThanOrEqual(s.freeBytes);
  expect(s.fragmentation).toBeGreaterThanOrEqual(0);
  expect(s.fragmentation).toBeLessThanOrEqual(1);
  expect(s.peakBytesInUse).toBeGreaterThanOrEqual(s.bytesInUse);
  expect(s.peakLiveAllocations).toBeGreaterThanOrEqual(s.liveAllocations);
  expect(s.peakBytesReserved).toBeGreaterThanOrEqual(s.bytesReserved);
  if (shape.threadSafety === "mutex") expect([s.peakBytesInUse, s.peakLiveAllocations]).toEqual([model.peak, model.peakLive]);
}

describe("jemalloc stats and extent tests", () => {
  for (const [name, shape] of shapes) {
    test(`statistics against a model through a random workload, then extents given back (${name})`, () => {
      const p = pool(`suite-jemalloc-${name}`, shape);
      const next = random(0x1e3a);
      const model = { live: [] as { ptr: number; size: number }[], inUse: 0, peak: 0, peakLive: 0, count: 0, freed: 0, total: 0, freedBytes: 0 };
      const operations = 3000 * scale;
      for (let i = 0; i < operations; i++) {
        if (model.live.length === 0 || next() < 0.55) {
          const size = 1 + Math.floor(next() ** 4 * 20_000);
          const ptr = i % 3 === 0 ? (p.allocate(size).ptr as number) : p.allocateRaw(size);
          model.live.push({ ptr, size });
          model.inUse += size;
          model.total += size;
          model.count++;
        } else {
          const at = Math.floor(next() * model.live.length);
          const block = model.live[at]!;
          model.live[at] = model.live[model.live.length - 1]!;
          model.live.pop();
          p.deallocate(block.ptr);
          model.inUse -= block.size;
          model.freedBytes += block.size;
          model.freed++;
        }
        model.peak = Math.max(model.peak, model.inUse);
        model.peakLive = Math.max(model.peakLive, model.live.length);
        if (i % 97 === 0) checkAgainstModel(p, shape, model);
      }
      checkAgainstModel(p, shape, model);
      for (const block of model.live.splice(0)) {
        p.deallocate(block.ptr);
        model.inUse -= block.size;
        model.freedBytes += block.size;
        model.freed++;
      }
      manager.flushThreadCaches();
      checkAgainstModel(p, shape, model);
      const grown = p.getStats();
      expect(grown.cachedBytes).toBe(0);
      expect(grown.growthCount).toBe(grown.regionCount - 1);
      expect(grown.growthCount).toBeGreaterThan(0);
      // regions of 64 KiB x 2^k: 64 KiB x (2^regions - 1) in all
      expect(grown.bytesReserved).toBe(64 * KiB * (2 ** grown.regionCount - 1));
      const trimmed = p.trim();
      const after = p.getStats();
      expect(trimmed).toBe(grown.bytesReserved - 64 * KiB);
      expect([after.bytesReserved, after.regionCount, after.bytesTrimmed, after.trimCount]).toEqual([64 * KiB, 1, trimmed, 1]);
      // the pool grows again after a trim
      const again = p.allocateRaw(100 * KiB);
      expect(p.getStats().bytesReserved).toBeGreaterThanOrEqual(after.bytesReserved + 100 * KiB);
      p.deallocate(again);
    });
  }

  for (const [name, shape] of shapes) {
    test(`extent growth under maxSize 1 MiB: reserved reaches it and never passes it; a request no region holds is an OutOfMemoryError (${name})`, () => {
      const MAX = 1 << 20;
      const p = pool(`suite-jemalloc-max-${name}`, { ...shape, maxSize: MAX });
      const size = shape.allocatorType === "FixedSize" ? BLOCK : 4 * KiB;
      const held: number[] = [];
      let error: unknown;
      for (;;) {
        try {
          held.push(p.allocateRaw(size));
        } catch (err) {
          error = err;
          break;
        }
        expect(p.getStats().bytesReserved).toBeLessThanOrEqual(MAX);
      }
      expect(error).toBeInstanceOf(OutOfMemoryError);
      const full = p.getStats();
      expect(full.bytesReserved).toBe(MAX);
      expect(full.failedAllocations).toBe(1);
      expect(full.bytesInUse).toBe(held.length * size);
      // a quarter freed in the middle: a request larger than any free piece still fails, counted
      for (const ptr of held.splice(held.length >> 2, held.length >> 2)) p.deallocate(ptr);
      manager.flushThreadCaches();
      expect(thrown(() => p.allocateRaw(MAX >> 1))).toBeInstanceOf(OutOfMemoryError);
      expect(p.getStats().failedAllocations).toBe(2);
      for (const ptr of held.splice(0)) p.deallocate(ptr);
      manager.flushThreadCaches();
      const end = p.getStats();
      expect([end.bytesInUse, end.liveAllocations, end.cachedBytes]).toEqual([0, 0, 0]);
      expect(end.bytesReserved).toBeLessThanOrEqual(MAX);
    });
  }
});

describe("jemalloc junk: fillOnAlloc and fillOnFree reach every byte", () => {
  const junkShapes: [string, Partial<PoolConfig>][] = [
    ["Variable", {}],
    ["Variable, mutex", { threadSafety: "mutex" }],
    ["FixedSize 64 (runs)", { allocatorType: "FixedSize", blockSize: 64 }],
    ["FixedSize 64, mutex", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex" }],
    ["Variable, canaries", { canaries: true }],
    ["Variable, quarantine", { quarantineBytes: 1 << 16 }],
    ["Variable, guard pages", { guardPages: true }],
  ];
  for (const [name, shape] of junkShapes) {
    test(name, () => {
      const p = pool(`suite-junk-${name}`, { ...shape, fillOnAlloc: 0xa5, fillOnFree: 0x5a, growth: 1, initialSize: 1 << 20 });
      const readsAfterFree = !shape.guardPages && !shape.quarantineBytes;
      const next = random(0x7a);
      const live: { ptr: number; size: number }[] = [];
      const wrong: string[] = [];
      for (let i = 0; i < 600 * scale; i++) {
        if (live.length === 0 || next() < 0.55) {
          const size = 1 + Math.floor(next() ** 3 * 300_000);
          const a = p.allocate(size);
          const at = a.bytes.findIndex((b) => b !== 0xa5);
          if (at !== -1) wrong.push(`new block of ${size} bytes: byte ${at} not the alloc fill`);
          a.bytes.fill(0x11);
          live.push({ ptr: a.ptr as number, size });
        } else {
          const [block] = live.splice(Math.floor(next() * live.length), 1);
          p.deallocate(block!.ptr);
          if (readsAfterFree) {
            const at = new Uint8Array(toArrayBuffer(block!.ptr as Pointer, 0, block!.size)).findIndex((b) => b !== 0x5a);
            if (at !== -1) wrong.push(`freed block of ${block!.size} bytes: byte ${at} not the free fill`);
          }
        }
      }
      expect(wrong).toEqual([]);
      for (const block of live) p.deallocate(block.ptr);
      expect(p.getStats().bytesInUse).toBe(0);
    });
  }
});
