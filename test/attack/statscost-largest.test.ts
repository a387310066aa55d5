/**
 * getStats().largestFreeBlock on FixedSize pools of every placement, now that it is read by a scan
 * that stops early (zig/src/strategy/free_runs.zig): as soon as a run serves the largest request,
 * as soon as the free blocks not met yet cannot make a longer run, and at once where every block not
 * scanned yet is free (an empty pool, a pool whose end is free). Each figure is checked against the
 * longest run of free blocks the snapshot's regions list (a walk of every block) and against the
 * pool itself: a request of largestFreeBlock is served without growing. Pools of several regions
 * (growth 2), full, emptied in random orders and densities, with a free end and a free start, and
 * with blocks held by the JavaScript cache ("none") or thread caches. Then runs placed through the
 * word scans (the free stack drained down to the run the state words show) among single
 * blocks, freed at random: none overlaps another (stamps), and the figures balance.
 */
import { describe, expect, test } from "bun:test";
import type { CPUMemoryPool, PoolConfig } from "../../src/index";
import { MemoryPoolManager } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();
const KiB = 1024;
const block = 64;

/** The longest run of free blocks in one region, as the snapshot's walk of every block counts it. */
function walkedLargest(p: CPUMemoryPool): number {
  return Math.max(0, ...p.snapshot().regions.map((region) => region.largestFreeBlock));
}

function expectLargestAsWalked(p: CPUMemoryPool, what: string) {
  const stats = p.getStats();
  const walked = walkedLargest(p);
  expect([what, stats.largestFreeBlock]).toEqual([what, walked]);
  expect(stats.fragmentation).toBeCloseTo(stats.freeBytes === 0 ? 0 : 1 - walked / stats.freeBytes, 12);
  if (walked > 0) {
    // The figure is a request the pool serves as it is: no growth, no failure.
    const reserved = stats.bytesReserved;
    const run = p.allocate(walked);
    expect(p.getStats().bytesReserved).toBe(reserved);
    run.free();
  }
}

const shapes: [string, Partial<PoolConfig>][] = [
  ["none (JavaScript cache)", {}],
  ["mutex (locked placement)", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex, threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["lockFree, threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
];

describe("largestFreeBlock of FixedSize pools: the longest free run, however early the scan stops", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`statscost-largest-${name}`, { ...shape, allocatorType: "FixedSize", blockSize: block, initialSize: 64 * KiB, growth: 2 });
      expectLargestAsWalked(p, "empty");
      // Three regions (64, 128, 256 KiB), then filled to the last block without growing.
      const live: number[] = [];
      while (p.getStats().bytesReserved < 448 * KiB) live.push(p.allocateRaw(block));
      while (p.getStats().freeBytes > 0) live.push(p.allocateRaw(block));
      expect(p.getStats().regionCount).toBe(3);
      expectLargestAsWalked(p, "full");
      // A free end of the last region, then a free start of the first.
      for (const at of live.splice(live.length - 100)) p.deallocate(at);
      expectLargestAsWalked(p, "free end");
      for (const at of live.splice(0, 300)) p.deallocate(at);
      expectLargestAsWalked(p, "free start");
      // Blocks freed in random order at several densities, checked after each step.
      const next = random(0x57a7);
      for (const share of [0.02, 0.1, 0.3, 0.6, 0.9]) {
        live.sort(() => next() - 0.5);
        const target = Math.floor(live.length * (1 - share));
        for (const at of live.splice(target)) p.deallocate(at);
        expectLargestAsWalked(p, `${share} freed`);
      }
      // Every other block of a fresh fill: no two free blocks in a row.
      for (const at of live.splice(0)) p.deallocate(at);
      manager.flushThreadCaches();
      expectLargestAsWalked(p, "empty again");
      while (p.getStats().freeBytes > 0) live.push(p.allocateRaw(block));
      for (let i = 0; i < live.length; i += 2) p.deallocate(live[i]!);
      expectLargestAsWalked(p, "every other block");
      for (let i = 1; i < live.length; i += 2) p.deallocate(live[i]!);
      manager.flushThreadCaches();
      expectLargestAsWalked(p, "emptied");
      expect(p.getStats().largestFreeBlock).toBe(256 * KiB);
    });
  }
});

describe("runs on FixedSize pools, found by the word scans and drained from the free stack: never two on one block", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`statscost-runs-${name}`, { ...shape, allocatorType: "FixedSize", blockSize: block, initialSize: 64 * KiB, growth: 2 });
      const next = random(0x2a11);
      type Live = { ptr: number; size: number; a: ReturnType<CPUMemoryPool["allocate"]> };
      const live: Live[] = [];
      const overlaps = () => {
        const sorted = [...live].sort((x, y) => x.ptr - y.ptr);
        return sorted.some((b, i) => i > 0 && sorted[i - 1]!.ptr + Math.ceil(sorted[i - 1]!.size / block) * block > b.ptr);
      };
      for (let step = 0; step < 1500; step++) {
        if (live.length > 0 && next() < 0.45) {
          const [gone] = live.splice(Math.floor(next() * live.length), 1);
          expect(stampHolds(gone!.a.bytes, gone!.ptr)).toBe(true);
          gone!.a.free();
        } else {
          // Single blocks (the JavaScript cache and magazines hold some) and runs of 2 to 40 blocks.
          const size = next() < 0.4 ? 1 + Math.floor(next() * block) : block + 1 + Math.floor(next() * 39 * block);
          const a = p.allocate(size);
          stamp(a.bytes, a.ptr as number);
          live.push({ ptr: a.ptr as number, size, a });
        }
      }
      expect(overlaps()).toBe(false);
      for (const b of live) expect(stampHolds(b.a.bytes, b.ptr)).toBe(true);
      const s = p.getStats();
      expect(s.liveAllocations).toBe(live.length);
      expect(s.bytesAllocated).toBe(live.reduce((sum, b) => sum + Math.ceil(b.size / block) * block, 0));
      expect(s.freeBytes).toBe(s.bytesReserved - s.bytesAllocated);
      expectLargestAsWalked(p, "after the churn");
      for (const b of live.splice(0)) b.a.free();
      manager.flushThreadCaches();
      expect(p.getStats().freeBytes).toBe(p.getStats().bytesReserved);
    });
  }
});
