/**
 * `bun bench/stats_cost.ts [16|256 ...]`: what one getStats() costs on a FixedSize pool of 64 B
 * blocks, by threadSafety, on pools of 16 and 256 MiB (growth 0, one region) that are empty, full,
 * fragmented (every other block live: no two free blocks in a row) and half full (the first half
 * live, the rest one free run). getStats() reports largestFreeBlock, the longest run of free blocks
 * in one region: the locked placement ("mutex", strategy/fixed.zig) reads its live bits a word at a
 * time; the shared one ("none" with its JavaScript cache, "lockFree": sync/lockfree_fixed.zig) reads
 * the blocks' state words. The anchor is the "mutex" pool in the same state (no JavaScript cache):
 * each row's ratio is to it. Time is the calling thread's CPU time a call (bench/anchors.ts
 * threadCpuNs), the lowest of several rounds, pools made one at a time (a full 256 MiB pool holds
 * 4 Mi allocations).
 */
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { threadCpuNs } from "./anchors";
import { table } from "./util";

const MiB = 1 << 20;
const manager = MemoryPoolManager.getInstance();
const modes = ["mutex", "none", "lockFree"] as const;
const states = ["empty", "full", "fragmented", "half full"] as const;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);

/** ms a getStats() call: the lowest of `rounds` rounds of calls lasting about 50 ms each. */
function msPerCall(call: () => unknown, rounds = 5): number {
  call();
  const t0 = threadCpuNs();
  call();
  const once = Math.max(threadCpuNs() - t0, 1);
  const calls = Math.max(1, Math.min(100_000, Math.round(50e6 / once)));
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const start = threadCpuNs();
    for (let i = 0; i < calls; i++) call();
    best = Math.min(best, (threadCpuNs() - start) / calls);
  }
  return best / 1e6;
}

const rows: string[][] = [];
for (const bytes of sizes.length > 0 ? sizes.map((n) => n * MiB) : [16 * MiB, 256 * MiB]) {
  for (const state of states) {
    const times = new Map<string, number>();
    let largest = new Map<string, number>();
    for (const mode of modes) {
      const name = `stats-cost-${mode}-${bytes}-${state}`;
      const pool = manager.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: bytes, maxSize: bytes, growth: 0, threadSafety: mode }));
      const blocks = bytes / 64;
      const live: number[] = [];
      if (state !== "empty") {
        for (let i = 0; i < blocks; i++) live.push(pool.allocateRaw(64));
        if (state === "fragmented") for (let i = 0; i < blocks; i += 2) pool.deallocate(live[i]!);
        if (state === "half full") for (let i = blocks / 2; i < blocks; i++) pool.deallocate(live[i]!);
      }
      times.set(mode, msPerCall(() => pool.getStats()));
      largest.set(mode, pool.getStats().largestFreeBlock);
      manager.destroyPool(name);
    }
    const anchor = times.get("mutex")!;
    for (const mode of modes) {
      const ms = times.get(mode)!;
      rows.push([`${bytes / MiB} MiB`, state, mode, ms < 0.01 ? ms.toPrecision(2) : ms.toFixed(3), (ms / anchor).toFixed(2), String(largest.get(mode))]);
    }
    largest = new Map();
  }
}
console.log(table(["pool", "state", "threadSafety", "ms a getStats()", "× mutex", "largestFreeBlock"], rows));
