/**
 * Exhaustion and recovery, as allocator suites end their stress runs: each pool is filled with one
 * size until OutOfMemoryError, every other block is freed, it is filled again, everything is
 * freed, then trim() and reset() and a third fill. Every CPU mode and allocator type with the debug
 * switches that change placement (canaries, guard pages, quarantine, fills), growth off and on
 * under a maxSize, and PMEM pools (the file is the whole pool). Checked exactly: the second fill
 * gets the freed half (less what the quarantine holds back), the third as much as the first,
 * bytesReserved never past maxSize, failedAllocations counts each OutOfMemoryError, and the counts
 * and byte totals balance with nothing in use. Held on main at 4b24ef0 (attack8): a guard.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, type Allocation } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "../pmem/helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);
const MAX = 256 << 10;
const QUARANTINE = 16 << 10;

const placements: [string, Partial<PoolConfig>][] = [
  ["none", {}],
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["canaries", { canaries: true }],
  ["guard pages", { guardPages: true }],
  ["sampled guard pages", { threadSafety: "mutex", guardPages: true, guardSampleRate: 7 }],
  ["quarantine", { quarantineBytes: QUARANTINE }],
  ["fills and history", { fillOnAlloc: 0xa5, fillOnFree: 0x5a, trackHistory: true }],
];
const types: [string, Partial<PoolConfig>][] = [
  ["Variable", { allocatorType: "Variable" }],
  ["FixedSize 128", { allocatorType: "FixedSize", blockSize: 128 }],
];
const sizes = [16, 129, 4000];

function fill(pool: { allocate(size: number): Allocation }, size: number): Allocation[] {
  const got: Allocation[] = [];
  for (;;) {
    try {
      const allocation = pool.allocate(size);
      allocation.bytes[size - 1] = 1;
      got.push(allocation);
    } catch (err) {
      expect((err as { code?: string }).code).toBe("OUT_OF_MEMORY");
      return got;
    }
  }
}

function exhaustAndRecover(pool: ReturnType<MemoryPoolManager["createCPUPool"]> | ReturnType<MemoryPoolManager["createPMEMPool"]>, size: number, heldBack: number, resets: boolean): void {
  const first = fill(pool, size);
  expect(first.length).toBeGreaterThan(0);
  expect(pool.getStats().bytesReserved).toBeLessThanOrEqual(MAX);
  expect(pool.getStats().liveAllocations).toBe(first.length);
  for (let i = 0; i < first.length; i += 2) first[i]!.free();
  const second = fill(pool, size);
  expect(second.length).toBe(Math.ceil(first.length / 2) - heldBack);
  for (let i = 1; i < first.length; i += 2) first[i]!.free();
  for (const allocation of second) allocation.free();
  manager.flushThreadCaches();
  const stats = pool.getStats();
  expect({ inUse: stats.bytesInUse, live: stats.liveAllocations, failed: stats.failedAllocations }).toEqual({ inUse: 0, live: 0, failed: 2 });
  expect(stats.freeCount).toBe(stats.allocationCount);
  expect(stats.bytesFreedTotal).toBe(stats.bytesAllocatedTotal);
  pool.trim();
  if (resets) pool.reset();
  expect(fill(pool, size).length).toBe(first.length);
  expect(pool.getStats().bytesReserved).toBeLessThanOrEqual(MAX);
}

describe("CPU pools: fill to OutOfMemoryError, free half, fill again, free all, trim, reset, fill", () => {
  for (const [placementName, placement] of placements) {
    for (const [typeName, type] of types) {
      for (const growth of [0, 2]) {
        test(`${placementName}, ${typeName}, growth ${growth}`, () => {
          for (const size of sizes) {
            const name = `exhaust ${placementName} ${typeName} ${growth} ${size}`;
            const pool = manager.createCPUPool(name, Object.assign(new PoolConfig(), { maxSize: MAX, initialSize: growth ? 64 << 10 : MAX, growth }, type, placement));
            try {
              // quarantined blocks are held back from the second fill: as many as QUARANTINE holds
              const heldBack = placement.quarantineBytes ? Math.floor(QUARANTINE / (type.blockSize ? Math.ceil(size / 128) * 128 : Math.max(16, Math.ceil(size / 16) * 16))) : 0;
              exhaustAndRecover(pool, size, heldBack, true);
            } finally {
              manager.destroyPool(name);
            }
          }
        });
      }
    }
  }
});

describe("PMEM pools: the same on a file that is the whole pool", () => {
  for (const [typeName, type] of types) {
    for (const threadSafety of ["none", "mutex"] as const) {
      test(`${typeName}, ${threadSafety}`, () => {
        for (const size of [16, 128]) {
          const name = `exhaust pmem ${typeName} ${threadSafety} ${size}`;
          const pool = manager.createPMEMPool(name, pmemConfig(poolPath("exhaust"), { ...type, threadSafety, initialSize: MAX, maxSize: MAX }));
          try {
            exhaustAndRecover(pool, size, 0, false);
          } finally {
            manager.destroyPool(name);
          }
        }
      });
    }
  }
});
