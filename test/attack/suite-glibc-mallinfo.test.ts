/**
 * glibc's malloc/tst-mallinfo2 (arena = in use + free; the figures move with each allocation and
 * free), read and retold for this library's statistics, with the debug layer's parts that glibc has
 * no word for: through a random workload on every CPU pool shape, debug switches included, every
 * 400 operations (caches flushed):
 * - bytesReserved = bytesAllocated + freeBytes + quarantinedBytes + guardPageBytes + guardFreeBytes
 *   exactly (a FixedSize pool less each region's tail too short for a block);
 * - bytesInUse + canaryBytes <= bytesAllocated (canaries, and the slack of guarded pages, are part of
 *   the blocks); largestFreeBlock <= freeBytes; fragmentation in [0, 1]; peaks never below now;
 * - the counts are the workload's exactly; at the end, all freed, bytesAllocated is 0 and the free
 *   space plus what the debug layer holds is the reserve.
 */
import { describe, expect, test } from "bun:test";
import { type CPUMemoryPool, MemoryPoolManager, type PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const BLOCK = 96;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, none (bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["Variable, canaries", { canaries: true }],
  ["Variable, guard pages", { guardPages: true }],
  ["Variable, guard pages on one in three, canaries", { guardPages: true, guardSampleRate: 3, canaries: true }],
  ["Variable, mutex, quarantine", { threadSafety: "mutex", quarantineBytes: 64 << 10 }],
  ["Variable, quarantine and guard pages", { quarantineBytes: 64 << 10, guardPages: true }],
  ["FixedSize 96, none (cache)", { allocatorType: "FixedSize", blockSize: BLOCK }],
  ["FixedSize 96, lockFree", { allocatorType: "FixedSize", blockSize: BLOCK, threadSafety: "lockFree" }],
  ["FixedSize 96, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: BLOCK, threadSafety: "mutex", threadLocalCache: true }],
  ["FixedSize 96, canaries", { allocatorType: "FixedSize", blockSize: BLOCK, canaries: true }],
  ["FixedSize 96, guard pages", { allocatorType: "FixedSize", blockSize: BLOCK, guardPages: true }],
];

function expectIdentities(p: CPUMemoryPool, shape: Partial<PoolConfig>, at: number): void {
  manager.flushThreadCaches();
  const s = p.getStats();
  const parts = s.bytesAllocated + s.freeBytes + s.quarantinedBytes + s.guardPageBytes + s.guardFreeBytes;
  const tails = s.bytesReserved - parts;
  if (shape.allocatorType === "FixedSize") {
    expect({ at, tailsInRange: tails >= 0 && tails < s.regionCount * BLOCK }).toEqual({ at, tailsInRange: true });
  } else expect({ at, tails }).toEqual({ at, tails: 0 });
  expect(s.bytesInUse + s.canaryBytes).toBeLessThanOrEqual(s.bytesAllocated);
  expect(s.largestFreeBlock).toBeLessThanOrEqual(s.freeBytes);
  expect(s.fragmentation >= 0 && s.fragmentation <= 1).toBe(true);
  expect(s.peakBytesInUse).toBeGreaterThanOrEqual(s.bytesInUse);
  expect(s.peakLiveAllocations).toBeGreaterThanOrEqual(s.liveAllocations);
  expect(s.peakBytesReserved).toBeGreaterThanOrEqual(s.bytesReserved);
}

describe("glibc tst-mallinfo2: the reserve is what the blocks, the free space and the debug layer hold", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`suite-mallinfo-${name}`, { ...shape, growth: 2, initialSize: 256 << 10 });
      const next = random(0x3a11);
      const live: { ptr: number; size: number }[] = [];
      let count = 0;
      let freed = 0;
      let inUse = 0;
      for (let i = 1; i <= 2400; i++) {
        if (live.length === 0 || next() < 0.55) {
          const size = 1 + Math.floor(next() ** 3 * 20_000);
          live.push({ ptr: p.allocateRaw(size) as number, size });
          count++;
          inUse += size;
        } else {
          const block = live.splice(Math.floor(next() * live.length), 1)[0]!;
          p.deallocate(block.ptr);
          freed++;
          inUse -= block.size;
        }
        if (i % 400 === 0) {
          expectIdentities(p, shape, i);
          const s = p.getStats();
          expect([s.allocationCount, s.freeCount, s.liveAllocations, s.bytesInUse]).toEqual([count, freed, live.length, inUse]);
        }
      }
      for (const block of live.splice(0)) p.deallocate(block.ptr);
      expectIdentities(p, shape, -1);
      const s = p.getStats();
      expect([s.bytesInUse, s.liveAllocations, s.bytesAllocated, s.canaryBytes]).toEqual([0, 0, 0, 0]);
    });
  }
});
