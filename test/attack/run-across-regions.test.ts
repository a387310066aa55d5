/**
 * A run of blocks (a FixedSize request over one block) on the pools the JavaScript cache serves,
 * placed where the free blocks it needs continue from the end of one region into the next region,
 * which the pool grew right after it. Found by attack10: the run was placed across the two regions,
 * and snapshot() (which writes blocks region by region) showed it as a live block of its first
 * region's part only, and the run's blocks in the second region as free: a memory map counted
 * 16 KiB of a live 24 KiB allocation as free space. A run now lies in one region, as the core's
 * own path places it (the pool grows for it where no region has one).
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, renderMemoryMap, type PoolOptions } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();
const BLOCK = 4096;

const modes: [string, PoolOptions][] = [
  ["none (the JavaScript cache)", { threadSafety: "none" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["mutex (the core's path)", { threadSafety: "mutex" }],
];

for (const [mode, options] of modes) {
  test(`${mode}: a run whose free blocks continue into the next region lies in one region, and the snapshot shows all of it live`, () => {
    const p = pool(`attack-run-regions-${mode}`, { allocatorType: "FixedSize", blockSize: BLOCK, initialSize: 16 * BLOCK, growth: 1, ...options });
    // The first region's 16 blocks and 4 of a second one, right after it; then the last two of the first and the first four of the second are freed.
    const singles = Array.from({ length: 20 }, () => p.allocate(BLOCK));
    for (const single of singles.slice(14)) single.free();
    MemoryPoolManager.getInstance().flushThreadCaches();
    const run = p.allocate(6 * BLOCK);
    run.bytes.fill(7);
    const snap = p.snapshot();
    expect(snap.regions.length).toBeGreaterThanOrEqual(2);
    const offset = run.ptr - snap.baseAddress;
    const region = snap.regions.find((r) => offset >= r.offset && offset < r.offset + r.size)!;
    expect(offset + run.size).toBeLessThanOrEqual(region.offset + region.size);
    const drawn = snap.blocks.find((block) => block.id === run.id)!;
    expect({ offset: drawn.offset, size: drawn.size, state: drawn.state }).toEqual({ offset, size: 6 * BLOCK, state: "live" });
    // Every byte of every live allocation is in a live block of the snapshot, and the live bytes agree with the statistics.
    const liveBytes = snap.blocks.filter((block) => block.state === "live").reduce((sum, block) => sum + block.size, 0);
    expect(liveBytes).toBe(p.getStats().bytesAllocated);
    expect(snap.blocks.filter((block) => block.state === "live")).toHaveLength(15);
    expect(renderMemoryMap(snap)).toContain(`#${run.id}`);
    run.free();
    for (const single of singles.slice(0, 14)) single.free();
    MemoryPoolManager.getInstance().flushThreadCaches();
    expect(p.getStats()).toMatchObject({ bytesInUse: 0, liveAllocations: 0, bytesAllocated: 0 });
  });
}
