/**
 * A Variable pool's JavaScript bins (src/size_bins.ts, zig/src/sync/js_bins.zig): a freed block is
 * handed out again from this thread's bins, the core's readers see binned blocks as free and
 * re-used ones with their new id and size, bad frees stay typed errors, and the statistics balance.
 */
import { describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, OutOfMemoryError } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const pool = cpuPoolsPerTest();
const MiB = 1 << 20;

describe("a default Variable pool's JavaScript bins", () => {
  test("a freed block serves the next request of its class, with a new id; the core's lookups agree", () => {
    const p = pool("bins-reuse");
    const a = p.allocate(100);
    const ptr = a.ptr;
    const firstId = a.id;
    a.free();
    const s = p.getStats();
    expect([s.liveAllocations, s.bytesInUse, s.cachedBytes]).toEqual([0, 0, 112]);
    const b = p.allocate(90); // the same class: the same block
    expect(b.ptr).toBe(ptr);
    expect(b.id).toBeGreaterThan(firstId);
    expect(b.size).toBe(90);
    // The core's lookups read the bins' table: the new size and id, not the block's first ones.
    const adopted = p.fromPointer(Number(ptr));
    expect([adopted.size, adopted.id]).toEqual([90, b.id]);
    expect(p.getLeaks().map((leak) => [leak.size, leak.id])).toEqual([[90, b.id]]);
    const snap = p.snapshot();
    expect(snap.blocks.filter((block) => block.state === "live").map((block) => [block.requestedSize, block.id])).toEqual([[90, b.id]]);
    b.free();
  });

  test("ids stay unique and rising when the core's own allocations come between hits (the bins' id is read again after each)", () => {
    // Hits take ids from what the bins last wrote; a miss, a request past the bins (over 64 MiB) and
    // a raw pointer's core path take theirs from the core's word: a hit after them must not repeat one.
    const p = pool("bins-ids", { initialSize: 8 * MiB, maxSize: 512 * MiB, growth: 2 });
    const ids: number[] = [];
    const live: { id: number; free(): void }[] = [];
    for (let round = 0; round < 40; round++) {
      const hit = p.allocate(100);
      hit.free(); // binned: the next allocate(100) is a hit
      const fromBins = p.allocate(100);
      const pastBins = round % 10 === 0 ? p.allocate(65 * MiB) : undefined; // the core's path
      const missed = p.allocate(1000 + 16 * round); // a class the bins have not held yet: a miss
      const again = p.allocate(100); // its class is empty (fromBins holds the block): a miss
      again.free();
      const rehit = p.allocate(100); // a hit right after a free, after the core's calls above
      for (const a of [hit, fromBins, ...(pastBins ? [pastBins] : []), missed, again, rehit]) ids.push(a.id);
      live.push(fromBins, missed, rehit);
      if (pastBins) pastBins.free();
    }
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const leakIds = p.getLeaks().map((leak) => leak.id).sort((x, y) => x - y);
    expect(leakIds).toEqual(live.map((a) => a.id).sort((x, y) => x - y));
    for (const a of live) a.free();
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("double frees, stale handles, interior pointers and the wrong pool are typed errors", () => {
    const p = pool("bins-errors");
    const other = pool("bins-errors-other");
    const raw = p.allocateRaw(256);
    p.deallocate(raw);
    expect(thrown(() => p.deallocate(raw))).toBeInstanceOf(DoubleFreeError);
    const a = p.allocate(256);
    expect(Number(a.ptr)).toBe(Number(raw)); // from the bins
    const stale = a;
    a.free();
    const b = p.allocate(256); // the same block, a new allocation
    expect(thrown(() => stale.free())).toBeInstanceOf(DoubleFreeError);
    expect(b.alive).toBe(true);
    expect(thrown(() => p.deallocate(Number(b.ptr) + 16))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => other.deallocate(b.ptr))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => other.deallocate(b))).toBeInstanceOf(InvalidPointerError);
    b.free();
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("statistics balance through hits, frees, flushes (trim), reset and sizes up to tens of MiB with growth", () => {
    const p = pool("bins-stats", { initialSize: 4 * MiB, growth: 2 });
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const live: { free(): void; size: number }[] = [];
    let asked = 0;
    let freed = 0;
    let allocations = 0;
    for (let i = 0; i < 3000; i++) {
      if (live.length > 0 && next() % 2 === 0) {
        const [victim] = live.splice(next() % live.length, 1);
        freed += victim!.size;
        victim!.free();
      } else {
        const size = next() % 20 === 0 ? 1 + (next() % (24 * MiB)) : 1 + (next() % 70_000);
        live.push(p.allocate(size));
        asked += size;
        allocations++;
      }
      if (i % 500 === 0) {
        const s = p.getStats();
        expect(s.liveAllocations).toBe(live.length);
        expect(s.bytesInUse).toBe(live.reduce((sum, a) => sum + a.size, 0));
        expect([s.allocationCount, s.bytesAllocatedTotal, s.bytesFreedTotal]).toEqual([allocations, asked, freed]);
      }
    }
    let s = p.getStats();
    expect(s.cachedBytes).toBeGreaterThan(0);
    for (const a of live.splice(0, live.length / 2)) {
      freed += a.size;
      a.free();
    }
    p.trim(); // flushes the bins
    s = p.getStats();
    expect(s.cachedBytes).toBe(0);
    expect(s.liveAllocations).toBe(live.length);
    expect([s.allocationCount, s.freeCount]).toEqual([allocations, allocations - live.length]);
    expect(s.bytesInUse).toBe(live.reduce((sum, a) => sum + a.size, 0));
    p.reset();
    s = p.getStats();
    expect([s.liveAllocations, s.bytesInUse, s.bytesAllocated, s.cachedBytes]).toEqual([0, 0, 0, 0]);
    expect([s.bytesAllocatedTotal, s.bytesFreedTotal]).toEqual([asked, asked]);
    expect(s.freeCount).toBe(allocations);
    // After the reset the bins start empty: a new allocation is the core's, and frees bin again.
    const again = p.allocate(1000);
    again.free();
    expect(p.getStats().cachedBytes).toBe(1008);
  });

  test("peaks are exact: hits that raise them count, a binned block counts at the size its allocation asked for", () => {
    const p = pool("bins-peaks", { initialSize: 80 * MiB });
    const first = [p.allocate(1000), p.allocate(1000)]; // misses: the core places them
    for (const a of first) a.free();
    p.resetPeaks();
    expect([p.getStats().peakBytesInUse, p.getStats().peakLiveAllocations]).toEqual([0, 0]);
    const hits = [p.allocate(1000), p.allocate(1000)]; // hits: no call into the core
    expect(hits.map((a) => a.ptr).sort()).toEqual(first.map((a) => a.ptr).sort());
    for (const a of hits) a.free();
    let s = p.getStats();
    expect([s.peakBytesInUse, s.peakLiveAllocations, s.bytesInUse]).toEqual([2000, 2, 0]);
    // A core call after hits (the peak folded in then), and a peak reached by a hit between two calls.
    const again = p.allocate(1000);
    p.allocate(1 << 20).free();
    again.free();
    s = p.getStats();
    expect([s.peakBytesInUse, s.peakLiveAllocations]).toEqual([1000 + (1 << 20), 2]);
    p.resetPeaks();
    // A block first allocated for 1008 bytes and handed out again for 993: in use at 993, also while
    // the core places a request past the bins (their blocks count at their first size in the pool's own figures).
    const block = p.allocate(1008);
    block.free();
    const smaller = p.allocate(993);
    expect(smaller.ptr).toBe(block.ptr);
    const large = p.allocate(64 * MiB + 1);
    s = p.getStats();
    expect([s.bytesInUse, s.peakBytesInUse, s.peakLiveAllocations]).toEqual([993 + 64 * MiB + 1, 993 + 64 * MiB + 1, 2]);
    large.free();
    smaller.free();
  });

  test("not timed, as the fixed-size pools' caches are not: most allocations and frees never enter the core", () => {
    const p = pool("bins-untimed");
    for (let round = 0; round < 3; round++) {
      const live = Array.from({ length: 400 }, (_, i) => p.allocate(64 + (i % 3) * 64));
      for (const a of live) a.free(); // a full class's frees go to the core
    }
    p.allocate(64 * MiB + 1).free(); // and a request past the bins
    const s = p.getStats();
    expect(s.allocationCount).toBe(1201);
    expect([s.allocTimeSamples, s.freeTimeSamples, s.allocTimeNs, s.freeTimeNs]).toEqual([0, 0, 0, 0]);
  });

  test("an allocation that fails for lack of memory gives the bins back and tries again", () => {
    const p = pool("bins-oom", { initialSize: MiB, growth: 0 });
    const blocks = Array.from({ length: 15 }, () => p.allocate(60_000));
    for (const a of blocks) a.free();
    expect(p.getStats().cachedBytes).toBeGreaterThan(0);
    const big = p.allocate(900_000); // only once the binned blocks are back and merged
    expect(p.getStats().cachedBytes).toBe(0);
    expect(thrown(() => p.allocate(900_000))).toBeInstanceOf(OutOfMemoryError);
    big.free();
  });

  test("every route that ends an allocation detaches its views, and the block's next allocation is untouched by them", () => {
    const p = pool("bins-views");
    const routes: [string, (a: ReturnType<typeof p.allocate>) => void][] = [
      ["free()", (a) => a.free()],
      ["deallocate(pointer)", (a) => p.deallocate(a.ptr)],
      ["deallocate(view)", (a) => p.deallocate(a.bytes)],
      ["reset()", () => p.reset()],
    ];
    for (const [, end] of routes) {
      const a = p.allocate(300);
      const view = a.bytes;
      expect(view.buffer.byteLength).toBe(300);
      end(a);
      expect(view.byteLength).toBe(0);
      const next = p.allocate(300); // from the bins where the route binned it
      next.bytes.fill(5);
      view[0] = 9; // a detached view writes nothing (an index past its length 0)
      expect(next.bytes.every((byte) => byte === 5)).toBe(true);
      next.free();
    }
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("a shared (mutex) Variable pool has no bins: frees go to the core at once", () => {
    const p = pool("bins-none-for-mutex", { threadSafety: "mutex" });
    p.allocate(100).free();
    expect(p.getStats().cachedBytes).toBe(0);
  });
});
