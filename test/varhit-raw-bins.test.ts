/**
 * A default Variable pool's JavaScript bins on the raw pointers' path (src/size_bins.ts
 * allocAddress and freeAddress, called from the pools' allocateRaw and deallocate). The bins keep
 * the counters only the statistics read in JavaScript (publish() writes them for the core): every
 * reader still counts every hit. A pointer the bins do not hold live is a typed error that changes
 * nothing; a request a class above serves, and a free into a full class, keep every other binned
 * block where it was.
 */
import { describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, type CPUMemoryPool } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const pool = cpuPoolsPerTest();
const MiB = 1 << 20;

/** The figures a bad free must leave as they were. */
function figures(p: CPUMemoryPool): number[] {
  const s = p.getStats();
  return [s.allocationCount, s.freeCount, s.liveAllocations, s.bytesInUse, s.cachedBytes, s.bytesAllocatedTotal, s.bytesFreedTotal];
}

describe("a default Variable pool's bins, by raw pointer", () => {
  test("getStats, a snapshot and the leak list, right after a run of hits, count every hit", () => {
    const p = pool("varhit-counts", { initialSize: 8 * MiB });
    const sizes = [64, 100, 4096, 70_000, MiB];
    for (const size of sizes) p.deallocate(p.allocateRaw(size)); // misses: each block is made, then binned
    const before = p.getStats();
    let asked = 0;
    for (let i = 0; i < 1000; i++) {
      const size = sizes[i % sizes.length]!;
      p.deallocate(p.allocateRaw(size));
      asked += size;
    }
    const held = [p.allocateRaw(64), p.allocateRaw(4096)]; // hits, kept live
    const after = p.getStats();
    expect(after.allocationCount - before.allocationCount).toBe(1002);
    expect(after.freeCount - before.freeCount).toBe(1000);
    expect(after.bytesAllocatedTotal - before.bytesAllocatedTotal).toBe(asked + 64 + 4096);
    expect(after.bytesFreedTotal - before.bytesFreedTotal).toBe(asked);
    expect([after.liveAllocations, after.bytesInUse]).toEqual([2, 64 + 4096]);
    // The other sizes' blocks are binned, at their granule-rounded bytes: cached, apart from bytes in use.
    expect(after.cachedBytes).toBe(112 + 70_000 + MiB);
    expect(after.failedAllocations).toBe(0);
    // More hits, then a snapshot: its figures count them too.
    for (let i = 0; i < 10; i++) p.deallocate(p.allocateRaw(100));
    const snap = p.snapshot();
    expect(snap.stats.allocationCount - before.allocationCount).toBe(1012);
    expect(snap.stats.freeCount - before.freeCount).toBe(1010);
    expect(snap.blocks.filter((block) => block.state === "live").map((block) => block.requestedSize ?? -1).sort((x, y) => x - y)).toEqual([64, 4096]);
    expect(p.getLeaks().map((leak) => leak.size).sort((x, y) => x - y)).toEqual([64, 4096]);
    for (const ptr of held) p.deallocate(ptr);
    const end = p.getStats();
    expect([end.liveAllocations, end.bytesInUse]).toEqual([0, 0]);
    expect(end.allocationCount).toBe(end.freeCount);
    expect(end.bytesAllocatedTotal).toBe(end.bytesFreedTotal);
  });

  test("peaks count what hits reached since resetPeaks, no more", () => {
    const p = pool("varhit-peaks", { initialSize: 8 * MiB });
    const warm = Array.from({ length: 5 }, () => p.allocateRaw(1000));
    for (const ptr of warm) p.deallocate(ptr); // binned: what follows is hits
    p.resetPeaks();
    const live = Array.from({ length: 5 }, () => p.allocateRaw(1000)); // five hits: 5,000 bytes live
    for (const ptr of live.splice(0, 3)) p.deallocate(ptr);
    live.push(p.allocateRaw(900)); // three live now, 2,900 bytes
    const s = p.getStats();
    expect([s.peakBytesInUse, s.peakLiveAllocations]).toEqual([5000, 5]);
    expect([s.bytesInUse, s.liveAllocations]).toEqual([2900, 3]);
    p.resetPeaks();
    for (const ptr of live) p.deallocate(ptr);
    const after = p.getStats();
    expect([after.peakBytesInUse, after.peakLiveAllocations]).toEqual([2900, 3]);
  });

  test("a pointer the bins do not hold live is a typed error that changes nothing: binned, inside a block, off a granule, outside the pool, another pool's", () => {
    const p = pool("varhit-bad");
    const other = pool("varhit-bad-other");
    const binned = p.allocateRaw(256);
    const live = p.allocateRaw(256);
    p.deallocate(binned);
    other.deallocate(other.allocateRaw(256));
    const othersHit = other.allocateRaw(256); // a hit in the other pool's bins
    const before = figures(p);
    const otherBefore = figures(other);
    expect(thrown(() => p.deallocate(binned))).toBeInstanceOf(DoubleFreeError);
    for (const bad of [live + 16, live + 1, live + 0.5, 4096, Number.NaN, -16]) expect(thrown(() => p.deallocate(bad))).toBeInstanceOf(InvalidPointerError);
    const foreign = thrown<Error>(() => p.deallocate(othersHit));
    expect(foreign).toBeInstanceOf(InvalidPointerError);
    expect(foreign.message).toContain("varhit-bad-other");
    expect(figures(p)).toEqual(before);
    expect(figures(other)).toEqual(otherBefore);
    // Both live blocks are still theirs: their frees are hits, and the blocks come back from the bins.
    p.deallocate(live);
    other.deallocate(othersHit);
    expect([p.allocateRaw(256), p.allocateRaw(256)].sort((x, y) => x - y)).toEqual([binned, live].sort((x, y) => x - y));
  });

  test("a request a class above serves takes that block there, and every other binned block stays in the bins", () => {
    // 512 B and 528 B requests share a class (32 and 33 granules); 544 B blocks are the next class's.
    const p = pool("varhit-above", { initialSize: 8 * MiB });
    const small = Array.from({ length: 8 }, () => p.allocateRaw(512)); // a class's depth of blocks
    const larger = p.allocateRaw(544);
    for (const ptr of small) p.deallocate(ptr);
    p.deallocate(larger);
    expect(p.allocateRaw(528)).toBe(larger); // the class's blocks are too small: the class above's
    const fromCore = p.allocateRaw(528); // none left above: a block from the core
    expect([...small, larger]).not.toContain(fromCore);
    // The eight small blocks were never moved or forgotten: they serve their size again.
    expect(Array.from({ length: 8 }, () => p.allocateRaw(512)).sort((x, y) => x - y)).toEqual([...small].sort((x, y) => x - y));
    const s = p.getStats();
    expect([s.liveAllocations, s.cachedBytes]).toEqual([10, 0]);
  });

  test("window views (allocateWindowBytes, deallocate(view)) take the same hit: counted, and a second free of the view is a double free", () => {
    const p = pool("varhit-windows", { initialSize: 8 * MiB });
    const first = p.allocateWindowBytes(64);
    p.deallocate(first); // binned
    const before = p.getStats();
    for (let i = 0; i < 100; i++) p.deallocate(p.allocateWindowBytes(64));
    const view = p.allocateWindowBytes(64);
    view[0] = 7;
    p.deallocate(view);
    expect(thrown(() => p.deallocate(view))).toBeInstanceOf(DoubleFreeError);
    const after = p.getStats();
    expect([after.allocationCount - before.allocationCount, after.freeCount - before.freeCount]).toEqual([101, 101]);
    expect([after.liveAllocations, after.bytesInUse, after.cachedBytes]).toEqual([0, 0, 64]);
  });

  test("a free into a full class goes to the core, counted once; the class's blocks serve again", () => {
    const p = pool("varhit-full", { initialSize: 8 * MiB });
    const blocks = Array.from({ length: 9 }, () => p.allocateRaw(512));
    const before = p.getStats();
    for (const ptr of blocks) p.deallocate(ptr); // the ninth finds its class full: the core frees it
    const after = p.getStats();
    expect(after.freeCount - before.freeCount).toBe(9);
    expect(after.bytesFreedTotal - before.bytesFreedTotal).toBe(9 * 512);
    expect([after.liveAllocations, after.bytesInUse, after.cachedBytes]).toEqual([0, 0, 8 * 512]);
    const again = Array.from({ length: 8 }, () => p.allocateRaw(512));
    expect(again.sort((x, y) => x - y)).toEqual(blocks.slice(0, 8).sort((x, y) => x - y));
    for (const ptr of again) p.deallocate(ptr);
    expect(p.getStats().cachedBytes).toBe(8 * 512);
  });
});
