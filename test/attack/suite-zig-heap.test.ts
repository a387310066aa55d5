/**
 * Zig's std.heap allocator test battery (lib/std/heap.zig testAllocator, testAllocatorAligned,
 * testAllocatorLargeAlignment, testAllocatorAlignedShrink; the DebugAllocator's tests of small and
 * large objects freed in the same and the reverse order, objects of 1024 and 2048 B, a very large
 * allocation, counting requested bytes rather than backing bytes (bug 9995), a memory cap, double
 * frees and use after free; ArenaAllocator's reset with preheating and FixedBufferAllocator's reset),
 * read and retold for this library's pools:
 * - realloc has no counterpart (a pool is a heap of blocks; API.md): where the battery reallocates,
 *   the test does what a user does: allocate the new size, copy() what both hold, free the old;
 *   the contents must survive every step and every block be aligned to the pool's alignment;
 * - per-allocation alignment is a pool setting here: the aligned cases run on a pool per alignment
 *   from 1 to 4096 (a page); 8192, testAllocatorLargeAlignment's twice a page, is a ConfigError by
 *   design (suite-malloc-api);
 * - a zero-length allocation differs by design: Zig hands out an empty slice, here allocate(0) is an
 *   InvalidSizeError and counts nothing;
 * - ArenaAllocator.reset(.retain_capacity): reset() frees every allocation and keeps the regions, so
 *   the same workload again needs no growth (growthCount, regionCount, bytesReserved stay);
 *   FixedBufferAllocator.reset: a pool without growth holds as many blocks after reset() as before.
 *   Found here: sharded Variable pools (lockFree, or mutex + threadLocalCache) refused reset() with an
 *   UnsupportedOperationError ("not available yet"), so an arena-style pool had to be freed block by
 *   block. Each shard's TLSF is now reset to the regions it owns, under the growth lock and every
 *   shard's lock, the live blocks counted as freed (zig/src/sync/sharded_variable.zig reset).
 */
import { describe, expect, test } from "bun:test";
import { type Allocation, ConfigError, copy, type CPUMemoryPool, DoubleFreeError, InvalidPointerError, InvalidSizeError, OutOfMemoryError, PoolConfig, UseAfterFreeError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree", { threadSafety: "lockFree" }],
  ["FixedSize 64 (runs)", PoolConfig.FixedSizeCPU(64)],
  ["FixedSize 64, mutex + threadLocalCache", { ...PoolConfig.FixedSizeCPU(64), threadSafety: "mutex", threadLocalCache: true }],
  ["canaries and fill patterns", { canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd }],
];

/** realloc as a user of this library writes it: a new block, the common bytes copied, the old one freed. */
function reallocate(p: CPUMemoryPool, old: Allocation, size: number): Allocation {
  const fresh = p.allocate(size);
  copy(fresh, old, Math.min(old.size, size));
  old.free();
  return fresh;
}
function aligned(block: Allocation, alignment: number): void {
  if ((block.ptr as number) % alignment !== 0) throw new Error(`block at ${block.ptr} is not aligned to ${alignment}`);
}

for (const [shapeName, shape] of shapes) {
  describe(`Zig std.heap battery (${shapeName})`, () => {
    test("testAllocator: 100 blocks named in a grown, then shrunk slice; every value kept; oversize and zero-length", () => {
      const p = pool(`suite-zig-battery-${shapeName}`, { initialSize: 1 << 20, ...shape });
      let slice = p.allocate(100 * 8);
      expect(slice.size).toBe(800);
      expect(slice.bytes.length).toBe(800);
      const items: Allocation[] = [];
      for (let i = 0; i < 100; i++) {
        const item = p.allocate(4);
        item.as(Int32Array)[0] = i;
        slice.as(Float64Array)[i] = item.ptr as number;
        items.push(item);
      }
      slice = reallocate(p, slice, 20_000 * 8);
      expect(slice.as(Float64Array).length).toBe(20_000);
      for (let i = 0; i < 100; i++) {
        const address = slice.as(Float64Array)[i]!;
        expect(address).toBe(items[i]!.ptr as number);
        expect(items[i]!.as(Int32Array)[0]).toBe(i);
        p.deallocate(address); // destroy(item), by the address the slice holds
        expect(items[i]!.alive).toBe(false);
      }
      slice.as(Float64Array).fill(1.5, 0, 50);
      slice = reallocate(p, slice, 50 * 8);
      slice = reallocate(p, slice, 25 * 8);
      expect(Array.from(slice.as(Float64Array))).toEqual(new Array(25).fill(1.5));
      slice.free();
      expect(thrown(() => p.allocate(0))).toBeInstanceOf(InvalidSizeError); // by design: no empty slices
      const oversize = p.allocate(5 * 4);
      const words = oversize.as(Uint32Array);
      expect(words.length).toBe(5);
      words.fill(0xdeadbeef);
      expect(Array.from(oversize.as(Uint32Array))).toEqual(new Array(5).fill(0xdeadbeef));
      oversize.free();
      const s = p.getStats();
      expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount })
        .toEqual({ bytesInUse: 0, liveAllocations: 0, allocationCount: 105, freeCount: 105 });
    });

    test("DebugAllocator: small objects freed in the same order and the reverse, large ones likewise, 1024 and 2048 B", () => {
      const p = pool(`suite-zig-orders-${shapeName}`, { initialSize: 1 << 20, ...shape });
      for (const [count, size] of [[513, 8], [513, 8], [4, 256 * 1024], [4, 256 * 1024]] as const) {
        for (const reverse of [false, true]) {
          const blocks = Array.from({ length: count }, (_, i) => {
            const block = p.allocate(size);
            block.as(Float64Array)[0] = i;
            return block;
          });
          const order = reverse ? [...blocks].reverse() : blocks;
          for (const block of order) {
            expect(block.as(Float64Array)[0]).toBe(blocks.indexOf(block));
            block.free();
          }
        }
      }
      const a = p.allocate(1024);
      const b = p.allocate(2048);
      expect((a.ptr as number) + 1024 <= (b.ptr as number) || (b.ptr as number) + 2048 <= (a.ptr as number)).toBe(true);
      a.free();
      b.free();
      const again = p.allocate(1024);
      again.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });

    test("DebugAllocator: a very large allocation, double frees and use after free are typed errors; requested bytes are counted, not backing bytes", () => {
      const p = pool(`suite-zig-errors-${shapeName}`, shape);
      for (const size of [Number.MAX_SAFE_INTEGER, 2 ** 53, Number.MAX_VALUE]) expect(thrown(() => p.allocate(size))).toBeInstanceOf(InvalidSizeError);
      const sizes = [1, 3, 63, 65, 1000, 4097];
      const blocks = sizes.map((size) => p.allocate(size));
      expect(p.getStats().bytesInUse).toBe(sizes.reduce((sum, size) => sum + size, 0));
      expect(p.getStats().bytesAllocated).toBeGreaterThanOrEqual(p.getStats().bytesInUse);
      const [first, second] = blocks as [Allocation, Allocation];
      first.free();
      expect(thrown(() => first.free())).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => p.deallocate(first))).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => first.bytes)).toBeInstanceOf(UseAfterFreeError);
      const address = second.ptr;
      p.deallocate(address);
      const byPointerAgain = thrown(() => p.deallocate(address));
      expect(byPointerAgain instanceof DoubleFreeError || byPointerAgain instanceof InvalidPointerError).toBe(true);
      expect(thrown(() => second.as(Uint8Array))).toBeInstanceOf(UseAfterFreeError);
      for (const block of blocks.slice(2)) block.free();
      expect(p.getStats().bytesInUse).toBe(0);
    });

    test("DebugAllocator's memory cap: a pool grown to maxSize refuses more, and serves again after a free", () => {
      const cap = 1 << 20;
      const p = pool(`suite-zig-cap-${shapeName}`, { ...shape, initialSize: 256 * 1024, maxSize: cap, growth: 2 });
      const blocks: Allocation[] = [];
      for (;;) {
        try {
          blocks.push(p.allocate(4096));
        } catch (err) {
          expect(err).toBeInstanceOf(OutOfMemoryError);
          break;
        }
        if (blocks.length > cap / 4096) throw new Error("more 4 KiB blocks than the cap holds");
      }
      expect(blocks.length).toBeGreaterThan(cap / 4096 / 2);
      expect(p.getStats().bytesReserved).toBeLessThanOrEqual(cap);
      blocks.pop()!.free();
      blocks.push(p.allocate(4096));
      for (const block of blocks) block.free();
    });

    test("ArenaAllocator reset(.retain_capacity) with preheating: the same workload after reset() needs no growth", () => {
      const p = pool(`suite-zig-arena-${shapeName}`, { ...shape, initialSize: 64 * 1024, growth: 2 });
      let after: { growthCount: number; regionCount: number; bytesReserved: number } | undefined;
      for (let round = 0; round < 5; round++) {
        const next = random(0xa7e4a);
        const handles: Allocation[] = [];
        for (let i = 0; i < 400; i++) {
          const block = p.allocate(1 + Math.floor(next() * 2000));
          block.bytes[0] = i & 0xff;
          handles.push(block);
        }
        p.reset();
        for (const handle of handles.slice(0, 5)) expect(thrown(() => handle.bytes)).toBeInstanceOf(UseAfterFreeError);
        const s = p.getStats();
        expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations }).toEqual({ bytesInUse: 0, liveAllocations: 0 });
        const now = { growthCount: s.growthCount, regionCount: s.regionCount, bytesReserved: s.bytesReserved };
        if (after === undefined) after = now;
        else expect(now).toEqual(after);
      }
    });

    test("FixedBufferAllocator reset: a pool that never grows holds as many blocks after reset() as before", () => {
      const p = pool(`suite-zig-fixed-buffer-${shapeName}`, { ...shape, initialSize: 256 * 1024, growth: 0 });
      const fill = (): number => {
        let count = 0;
        for (;;) {
          try {
            p.allocate(1000);
            count++;
          } catch (err) {
            expect(err).toBeInstanceOf(OutOfMemoryError);
            return count;
          }
        }
      };
      const first = fill();
      expect(first).toBeGreaterThan(200);
      for (let round = 0; round < 3; round++) {
        p.reset();
        expect(fill()).toBe(first);
      }
    });
  });
}

describe("Zig std.heap aligned cases, on a pool per alignment", () => {
  const alignments = Array.from({ length: 13 }, (_, i) => 2 ** i);
  for (const [shapeName, shape] of [["Variable", {}], ["FixedSize 64 (runs)", PoolConfig.FixedSizeCPU(64)]] as [string, Partial<PoolConfig>][]) {
    test(`testAllocatorAligned: every alignment from 1 to 4096, grown and shrunk, contents kept (${shapeName})`, () => {
      for (const alignment of alignments) {
        const p = pool(`suite-zig-aligned-${shapeName}-${alignment}`, { ...shape, alignment });
        const neighbours = [p.allocate(17), p.allocate(1)];
        let block = p.allocate(10);
        aligned(block, alignment);
        block.bytes.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        for (const size of [100, 4, 0]) {
          if (size === 0) {
            expect(thrown(() => p.allocate(size))).toBeInstanceOf(InvalidSizeError);
            continue;
          }
          block = reallocate(p, block, size);
          aligned(block, alignment);
          expect(Array.from(block.bytes.subarray(0, Math.min(size, 4)))).toEqual([1, 2, 3, 4]);
        }
        for (const n of neighbours) aligned(n, alignment);
        block.free();
        for (const n of neighbours) n.free();
        expect(p.getStats().liveAllocations).toBe(0);
      }
    });
  }

  test("testAllocatorLargeAlignment: a page; twice a page is a ConfigError (by design)", () => {
    const p = pool("suite-zig-large-alignment", { alignment: 4096 });
    let block = p.allocate(500);
    aligned(block, 4096);
    block.bytes.fill(0x42);
    block = reallocate(p, block, 100);
    aligned(block, 4096);
    expect(block.bytes.every((byte) => byte === 0x42)).toBe(true);
    block = reallocate(p, block, 5000);
    aligned(block, 4096);
    expect(block.bytes.subarray(0, 100).every((byte) => byte === 0x42)).toBe(true);
    block.free();
    expect(thrown(() => pool("suite-zig-alignment-8192", { alignment: 8192 }))).toBeInstanceOf(ConfigError);
  });

  test("testAllocatorAlignedShrink: a block placed among small ones after a reset, shrunk from 16 pages to 2 keeping its bytes", () => {
    const p = pool("suite-zig-aligned-shrink", { alignment: 4096, initialSize: 4 << 20 });
    // the battery's DebugAllocator shuffles its state first; here odd blocks ahead of it, and holes among them
    const debris = Array.from({ length: 16 }, (_, i) => p.allocate(1 + 17 * i));
    for (let i = 0; i < debris.length; i += 2) debris[i]!.free();
    let block = p.allocate(16 * 4096);
    aligned(block, 4096);
    for (let i = 0; i < block.size; i++) block.bytes[i] = (i * 7) & 0xff;
    block = reallocate(p, block, 2 * 4096);
    aligned(block, 4096);
    for (let i = 0; i < block.size; i++) if (block.bytes[i] !== ((i * 7) & 0xff)) throw new Error(`byte ${i} changed in the shrink`);
    block.free();
    for (let i = 1; i < debris.length; i += 2) debris[i]!.free();
    expect(p.getStats().liveAllocations).toBe(0);
  });
});
