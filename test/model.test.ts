// Model-based random tests: 10^5 random allocate/free operations per strategy, from fixed
// seeds, checked against a reference model of what must be live. After every step: no two live
// blocks overlap, alignment holds; each block carries a pattern that must be intact when it
// is freed; the pool's statistics agree with the model.
import { afterAll, describe, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, type Allocation } from "../src/index";

const OPERATIONS = 100_000;
const manager = MemoryPoolManager.getInstance();
const names: string[] = [];
afterAll(() => names.forEach((name) => manager.destroyPool(name)));

/** xorshift32: small, fast, and the same sequence on every run. */
function rng(seed: number) {
  let state = seed >>> 0 || 1;
  return (bound: number) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % bound;
  };
}

interface Live {
  allocation: Allocation;
  stamp: number;
}

/** A byte that depends on the stamp and the position, so positions that coincide agree. */
const patternByte = (stamp: number, position: number) => (stamp + position * 31) & 0xff;

function stampPositions(size: number): number[] {
  // First, last and a middle byte: enough to catch any overlap of two blocks' ends.
  return [0, size >>> 1, size - 1];
}

function stampOf(allocation: Allocation, stamp: number) {
  const bytes = allocation.bytes;
  for (const position of stampPositions(bytes.length)) bytes[position] = patternByte(stamp, position);
}

function stampIntact(allocation: Allocation, stamp: number): boolean {
  const bytes = allocation.bytes;
  return stampPositions(bytes.length).every((position) => bytes[position] === patternByte(stamp, position));
}

function runModel(name: string, config: PoolConfig, sizeOf: (random: (n: number) => number) => number, seed: number, operations = OPERATIONS) {
  names.push(name);
  const pool = manager.createCPUPool(name, config);
  const random = rng(seed);
  const live: Live[] = [];
  let bytesInUse = 0;
  let allocations = 0;
  let frees = 0;
  let damaged = 0;
  let misaligned = 0;
  let target = 500;
  for (let step = 0; step < operations; step++) {
    if (step % 10_000 === 0) target = 100 + random(Math.min(1500, operations / 2)); // phases of growth and shrinkage
    const allocate = live.length === 0 || (live.length < target ? random(4) !== 0 : random(4) === 0);
    if (allocate) {
      const size = sizeOf(random);
      const allocation = pool.allocate(size);
      if (allocation.ptr % config.alignment !== 0) misaligned++;
      const stamp = step % 251;
      stampOf(allocation, stamp);
      live.push({ allocation, stamp });
      bytesInUse += size;
      allocations++;
    } else {
      const index = random(live.length);
      const victim = live[index]!;
      live[index] = live[live.length - 1]!;
      live.pop();
      if (!stampIntact(victim.allocation, victim.stamp)) damaged++;
      bytesInUse -= victim.allocation.size;
      victim.allocation.free();
      frees++;
    }
    if (step % 5_000 === 0) {
      const stats = pool.getStats();
      expect(stats.liveAllocations).toBe(live.length);
      expect(stats.bytesInUse).toBe(bytesInUse);
    }
  }
  // No overlap among what is still live.
  const spans = live.map(({ allocation }) => [allocation.ptr, allocation.ptr + allocation.size] as const).sort((a, b) => a[0] - b[0]);
  let overlaps = 0;
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) overlaps++;
  for (const { allocation, stamp } of live) if (!stampIntact(allocation, stamp)) damaged++;
  const stats = pool.getStats();
  expect({ damaged, misaligned, overlaps }).toEqual({ damaged: 0, misaligned: 0, overlaps: 0 });
  expect(stats.allocationCount).toBe(allocations);
  expect(stats.freeCount).toBe(frees);
  expect(stats.liveAllocations).toBe(live.length);
  expect(stats.bytesInUse).toBe(bytesInUse);
  expect(stats.failedAllocations).toBe(0);
  for (const { allocation } of live) allocation.free();
  const end = pool.getStats();
  expect(end.liveAllocations).toBe(0);
  expect(end.bytesInUse).toBe(0);
  expect(end.bytesAllocated).toBe(0);
  if (config.threadLocalCache || config.threadSafety === "lockFree") {
    // A pool with a JavaScript thread cache (src/block_cache.ts): its cache goes back on flush, every block free.
    manager.flushThreadCaches();
    const flushed = pool.getStats();
    expect(flushed.cachedBytes).toBe(0);
    const stride = Math.ceil(config.blockSize / config.alignment) * config.alignment;
    const regionBytes = flushed.bytesReserved / flushed.regionCount; // growth 1: regions of one size
    expect(flushed.freeBytes).toBe(flushed.regionCount * Math.floor(regionBytes / stride) * stride); // every block free
    return end;
  }
  // With everything free, trim leaves the first region alone, and its free space is whole again.
  pool.trim();
  const trimmed = pool.getStats();
  expect(trimmed.regionCount).toBe(1);
  expect(trimmed.bytesReserved).toBe(Math.ceil(config.initialSize / 65536) * 65536);
  if (config.allocatorType === "Variable") {
    expect(trimmed.freeBytes).toBe(trimmed.bytesReserved); // coalescing made it one block
    expect(trimmed.largestFreeBlock).toBe(trimmed.bytesReserved);
    expect(trimmed.fragmentation).toBe(0);
  } else {
    const stride = Math.ceil(config.blockSize / config.alignment) * config.alignment;
    expect(trimmed.freeBytes).toBe(Math.floor(trimmed.bytesReserved / stride) * stride);
  }
  return end;
}

describe("model-based random operations", () => {
  test("Variable (TLSF), sizes 1 B to 64 KiB, alignment 16", () => {
    const config = Object.assign(new PoolConfig(), { initialSize: 1 << 20, growth: 1 });
    const end = runModel("model-variable", config, (r) => (r(8) === 0 ? 1 + r(65536) : 1 + r(512)), 0xc0ffee);
    expect(end.growthCount).toBeGreaterThan(0); // the workload outgrew the first region
    expect(end.cachedBytes).toBeGreaterThan(0); // a default ("none") Variable pool: its JavaScript bins were on (src/size_bins.ts)
  });

  test("Variable (TLSF), alignment 256, growth 2", () => {
    const config = Object.assign(new PoolConfig(), { initialSize: 256 << 10, growth: 2, alignment: 256 });
    runModel("model-variable-aligned", config, (r) => 1 + r(4096), 12345);
  });

  test("Variable (TLSF), sizes up to 32 MiB, growth on: views exact over every block", () => {
    const config = Object.assign(new PoolConfig(), { initialSize: 1 << 20, growth: 2 });
    const end = runModel("model-variable-large", config, (r) => (r(16) === 0 ? 1 + r(32 << 20) : 1 + r(4096)), 0xb16, 3_000);
    expect(end.growthCount).toBeGreaterThan(0);
    expect(end.cachedBytes).toBeGreaterThan(0); // the JavaScript bins were on
  });

  test("FixedSize, blockSize 200", () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(200), { initialSize: 64 << 10 });
    runModel("model-fixed", config, (r) => 1 + r(200), 777);
  });

  test("FixedSize with the JavaScript thread cache (threadLocalCache), blockSize 48, growth on", () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(48), { initialSize: 64 << 10, growth: 1, threadSafety: "mutex", threadLocalCache: true });
    const end = runModel("model-fixed-cached", config, (r) => 1 + r(48), 31337);
    expect(end.growthCount).toBeGreaterThan(0);
    expect(end.cachedBytes).toBeGreaterThan(0); // freed blocks wait in this thread's cache until flushed
  });

  test("FixedSize default (threadSafety \"none\": the JavaScript cache, plain-store frees), runs up to 24 MiB, growth on", () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(4096), { initialSize: 1 << 20, growth: 2 });
    const end = runModel("model-fixed-default-runs", config, (r) => (r(32) === 0 ? 1 + r(24 << 20) : 1 + r(4096)), 0xfeed, 3_000);
    expect(end.growthCount).toBeGreaterThan(0); // runs of tens of MiB outgrew the first region
  });

  test("FixedSize, blockSize 4096, alignment 4096, mutex", () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(4096), { initialSize: 1 << 20, alignment: 4096, threadSafety: "mutex" });
    runModel("model-fixed-page", config, (r) => 1 + r(4096), 4242);
  });
});
