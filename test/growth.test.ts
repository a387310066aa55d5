/**
 * What a growing pool commits follows what it needs. Regions grow by the growth factor from the
 * last one so grown; a request larger than that gets a region of its own size (and the next
 * regions do not grow from it); trim() gives empty regions back and growth goes on from what is
 * left; a range trim freed is used again, only as much of it as a region needs. Random sequences
 * of mixed sizes with trims used to commit 2 GiB for a peak of 16 MiB (each trim left the growth
 * step where it was, each growth after it doubled it again); FixedSize and Variable, growth 1 and 2.
 */
import { describe, expect, test } from "bun:test";
import { cpuPoolsPerTest } from "./support/pools";
import { random as seeded } from "./support/random";

const pool = cpuPoolsPerTest();
const KiB = 1 << 10;
const MiB = 1 << 20;

const shapes = [
  ["Variable", { allocatorType: "Variable" }],
  ["FixedSize 4096", { allocatorType: "FixedSize", blockSize: 4096 }],
] as const;

describe("random sizes, frees and trims: the pool commits in proportion to its peak", () => {
  for (const [shapeName, shape] of shapes) {
    for (const growth of [1, 2]) {
      for (const threadSafety of ["none", "mutex"] as const) {
        test(`${shapeName}, growth ${growth}, ${threadSafety}`, () => {
          const p = pool(`growth-random-${shapeName}-${growth}-${threadSafety}`, { ...shape, growth, threadSafety, initialSize: MiB });
          const next = seeded(7 + growth);
          const random = (n: number) => Math.floor(next() * n);
          const live: { free(): void }[] = [];
          let peakAllocated = 0;
          for (let i = 0; i < 3000; i++) {
            const r = random(100);
            if (r < 45) {
              const size = random(10) === 0 ? 1 + random(3 * MiB) : 1 + random(5000);
              live.push(p.allocate(size));
              peakAllocated = Math.max(peakAllocated, p.getStats().bytesAllocated);
            } else if (r < 92 && live.length > 0) live.splice(random(live.length), 1)[0]!.free();
            else if (r < 97) p.trim();
            else if (r === 99) for (const a of live.splice(0)) a.free();
          }
          const stats = p.getStats();
          expect(stats.trimCount).toBeGreaterThan(10);
          // Growth 2 may double what the pool held once more; the margin is the largest request's region.
          console.log(stats.peakBytesReserved / MiB, peakAllocated / MiB);
          expect(stats.peakBytesReserved).toBeLessThanOrEqual(2 * growth * peakAllocated + 4 * MiB);
          for (const a of live) a.free();
          p.trim();
          expect(p.getStats().bytesReserved).toBe(MiB); // all but the first region given back
        });
      }
    }
  }
});

describe("one large request, then regular growth, then trim and a range used again", () => {
  for (const [shapeName, shape] of shapes) {
    test(shapeName, () => {
      const p = pool(`growth-large-${shapeName}`, { ...shape, growth: 2, initialSize: MiB });
      const first = p.allocate(MiB - 16); // fills the first region
      const large = p.allocate(300 * MiB); // a region of its own size (rounded to 64 KiB), not 2 MiB doubled to it
      let stats = p.getStats();
      expect(stats.bytesReserved).toBeLessThanOrEqual(MiB + 300 * MiB + 128 * KiB);
      expect(stats.growthCount).toBe(1);
      const small = p.allocate(MiB); // regular growth goes on from the first region: 2 MiB, not 600 MiB
      stats = p.getStats();
      expect(stats.bytesReserved).toBeLessThanOrEqual(3 * MiB + 300 * MiB + 128 * KiB);
      expect(stats.growthCount).toBe(2);
      large.bytes[large.size - 1] = 7;
      const largePtr = large.ptr;
      large.free();
      const released = p.trim();
      expect(released).toBeGreaterThanOrEqual(300 * MiB);
      expect(p.getStats().bytesReserved).toBeLessThanOrEqual(3 * MiB + 128 * KiB);
      // The freed range is used again, only as much of it as the new request needs.
      const again = p.allocate(100 * MiB);
      expect(again.ptr).toBe(largePtr);
      expect(p.getStats().bytesReserved).toBeLessThanOrEqual(3 * MiB + 100 * MiB + 256 * KiB);
      again.bytes[again.size - 1] = 9;
      const beside = p.allocate(150 * MiB); // the rest of that range
      expect(beside.ptr).toBeGreaterThan(largePtr);
      expect(beside.ptr + beside.size).toBeLessThanOrEqual(largePtr + 300 * MiB + 128 * KiB);
      for (const a of [first, small, again, beside]) a.free();
      expect(p.trim()).toBeGreaterThanOrEqual(250 * MiB);
      expect(p.getStats().bytesReserved).toBe(MiB);
    });
  }
});
