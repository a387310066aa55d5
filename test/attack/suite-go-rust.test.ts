/**
 * Go's runtime malloc tests (runtime/malloc_test.go TestTinyAlloc and TestTinyAllocIssue37262, the
 * large-object and huge-allocation cases, gc_test.go's TestGcSys: garbage made without end must not
 * grow the heap) and Rust's alloc tests (alloc/tests: Vec growth by doubling and shrink_to_fit,
 * alloc_zeroed, Layout's size limit), read and retold for this library's pools:
 * - tiny allocations: 4000 requests of 1 to 15 B are distinct, never overlapping, each aligned to
 *   the pool's alignment (Go combines tiny objects into one 16 B block; here each is its own block,
 *   of at least a granule: by design), and an 8 B block viewed as a BigInt64Array takes Atomics;
 * - huge allocations: a 1 GiB request (address space: nothing written but its ends) on a pool
 *   that grows is placed and freed; trim() gives its region back (bytesReserved as before);
 * - TestGcSys: fifty rounds of 1500 blocks of garbage (16 B to 4 KiB), all freed in a random order each
 *   round: the pool holds no more after the fiftieth round than after the first (regions, bytes);
 * - Vec growth: a buffer doubled from 8 B to 32 MiB (allocate the new size, copy(), free the old,
 *   as RawVec's grow does with realloc) keeps its bytes, and the pool never holds more than four
 *   times the final size; shrink_to_fit to 1 KiB keeps the prefix and trim() gives back every
 *   region but the first and the one that holds it (lockFree pools keep theirs, by design);
 * - alloc_zeroed: with fillOnAlloc 0 every block, reused ones too, reads all zero (plain pools do
 *   not zero: allocate() is malloc, not calloc, by design);
 * - Layout's limit: sizes past isize::MAX (2^63) and past what a pool may place are
 *   InvalidSizeErrors, never another error.
 */
import { describe, expect, test } from "bun:test";
import { type Allocation, copy, InvalidSizeError, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const MiB = 1 << 20;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["FixedSize 64 (runs)", PoolConfig.FixedSizeCPU(64)],
  ["FixedSize 64, lockFree", { ...PoolConfig.FixedSizeCPU(64), threadSafety: "lockFree" }],
];

for (const [shapeName, shape] of shapes) {
  describe(`Go runtime and Rust alloc tests (${shapeName})`, () => {
    test("TestTinyAlloc: 4000 tiny blocks are distinct, apart and aligned; an 8 B one takes 64-bit Atomics", () => {
      const p = pool(`suite-go-tiny-${shapeName}`, shape);
      const next = random(0x7141);
      const blocks: Allocation[] = [];
      for (let i = 0; i < 4000; i++) blocks.push(p.allocate(1 + Math.floor(next() * 15)));
      const sorted = [...blocks].sort((a, b) => (a.ptr as number) - (b.ptr as number));
      for (let i = 0; i < sorted.length; i++) {
        if ((sorted[i]!.ptr as number) % p.config.alignment !== 0) throw new Error(`tiny block at ${sorted[i]!.ptr} not aligned`);
        if (i > 0 && (sorted[i - 1]!.ptr as number) + sorted[i - 1]!.size > (sorted[i]!.ptr as number)) throw new Error(`tiny blocks at ${sorted[i - 1]!.ptr} and ${sorted[i]!.ptr} overlap`);
      }
      const word = p.allocate(8);
      const atomics = word.as(BigInt64Array);
      atomics[0] = 0n;
      for (let i = 0; i < 100; i++) Atomics.add(atomics, 0, 3n);
      expect(Atomics.load(atomics, 0)).toBe(300n);
      expect(Atomics.compareExchange(atomics, 0, 300n, -1n)).toBe(300n);
      expect(word.as(BigInt64Array)[0]).toBe(-1n);
      word.free();
      for (const block of blocks) block.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });

    test("TestGcSys: fifty rounds of garbage, freed in a random order each round, grow nothing after the first", () => {
      const p = pool(`suite-go-gcsys-${shapeName}`, { ...shape, initialSize: 256 * 1024, growth: 2 });
      const next = random(0x6c5);
      let first: { regionCount: number; bytesReserved: number } | undefined;
      // A FixedSize pool's garbage is of its block size: runs of many blocks on a fragmented free
      // stack are a slow path (a drain per request), a matter for bench/, not for this test.
      const sizeOf = (r: number) => (shape.allocatorType === "FixedSize" ? 1 + Math.floor(r * 64) : 16 + Math.floor(r ** 2 * 4000));
      for (let round = 0; round < 50; round++) {
        const garbage: Allocation[] = [];
        for (let i = 0; i < 1500; i++) garbage.push(p.allocate(sizeOf(next())));
        while (garbage.length > 0) {
          const i = Math.floor(next() * garbage.length);
          garbage[i]!.free();
          garbage[i] = garbage[garbage.length - 1]!;
          garbage.pop();
        }
        const s = p.getStats();
        expect(s.liveAllocations).toBe(0);
        // the first round's figures are the ceiling; a later round, with the same randomness of sizes, needs no more
        if (round === 0) first = { regionCount: s.regionCount, bytesReserved: s.bytesReserved };
        else if (s.bytesReserved > first!.bytesReserved) throw new Error(`round ${round}: ${s.bytesReserved} bytes reserved, the first round needed ${first!.bytesReserved}`);
      }
    });

    test("Vec growth: a buffer doubled from 8 B to 32 MiB keeps its bytes, the pool under 4x the final size; shrink_to_fit and trim give the rest back", () => {
      const p = pool(`suite-rust-vec-${shapeName}`, { ...shape, initialSize: 64 * 1024, growth: 2 });
      let vec = p.allocate(8);
      vec.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
      let peakReserved = 0;
      for (let capacity = 16; capacity <= 32 * MiB; capacity *= 2) {
        const grown = p.allocate(capacity);
        copy(grown, vec, vec.size);
        grown.bytes[capacity - 1] = capacity & 0xff; // the new tail is written, as a push would
        vec.free();
        vec = grown;
        peakReserved = Math.max(peakReserved, p.getStats().bytesReserved);
      }
      expect(Array.from(vec.bytes.subarray(0, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(vec.bytes[16 * MiB - 1]).toBe((16 * MiB) & 0xff);
      expect(peakReserved).toBeLessThanOrEqual(4 * 32 * MiB);
      const shrunk = p.allocate(1024);
      copy(shrunk, vec, 1024);
      vec.free();
      expect(Array.from(shrunk.bytes.subarray(0, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      p.trim();
      // Every region but the first and the one holding the 1 KiB went back (lockFree pools keep
      // theirs: trim() gives nothing back, documented). Which region holds it is the placement's
      // choice: a FixedSize pool of one thread takes it from its free stack, last freed first, so it
      // may lie in a large region, which then stays (the core's pools place it lowest).
      if (shape.threadSafety !== "lockFree") {
        const regions = p.snapshot().regions;
        expect(regions.filter((r) => r.index !== 0 && r.liveBlocks === 0)).toEqual([]);
        expect(regions.length).toBeLessThanOrEqual(2);
        if (shape.allocatorType !== "FixedSize") expect(p.getStats().bytesReserved).toBeLessThan(32 * MiB);
      }
      shrunk.free();
    });
  });
}

test("huge allocations: 1 GiB placed at the ends and freed on a growing pool; trim() gives its region back", () => {
  const p = pool("suite-go-huge", { initialSize: MiB, growth: 2 });
  const before = p.getStats().bytesReserved;
  const huge = p.allocateRaw(2 ** 30);
  const ends = p.fromPointer(huge as number);
  expect(ends.size).toBe(2 ** 30);
  p.deallocate(huge);
  expect(p.trim()).toBeGreaterThanOrEqual(2 ** 30);
  expect(p.getStats().bytesReserved).toBe(before);
});

test("alloc_zeroed: with fillOnAlloc 0 every block, reused or new, reads zero", () => {
  for (const [index, shape] of ([{}, { threadSafety: "mutex" }, PoolConfig.FixedSizeCPU(64)] as Partial<PoolConfig>[]).entries()) {
    const p = pool(`suite-rust-zeroed-${index}`, { ...shape, fillOnAlloc: 0 });
    const next = random(0x2e40);
    const live: Allocation[] = [];
    for (let i = 0; i < 800; i++) {
      if (live.length > 0 && next() < 0.5) {
        live.splice(Math.floor(next() * live.length), 1)[0]!.free();
        continue;
      }
      const block = p.allocate(1 + Math.floor(next() * 3000));
      if (!block.bytes.every((byte) => byte === 0)) throw new Error(`a block of ${block.size} B at ${block.ptr} is not zeroed`);
      block.bytes.fill(0xa5); // dirty, for its next owner
      live.push(block);
    }
    for (const block of live) block.free();
  }
});

test("Layout's limit: sizes past 2^63 and past what a pool may place are InvalidSizeErrors", () => {
  const p = pool("suite-rust-layout", {});
  for (const size of [2 ** 63, 2 ** 64, 2 ** 53 - 1, 64 * 2 ** 30 + 1]) expect(thrown(() => p.allocate(size))).toBeInstanceOf(InvalidSizeError);
  expect(p.getStats().liveAllocations).toBe(0);
});
