/**
 * snmalloc's func tests (src/test/func/sizeclass, memcpy, malloc, release-rounding), read and retold
 * for this library's pools:
 * - sizeclass / release-rounding: requests at every edge of the size classes the pools round to
 *   (each granule, the JavaScript bins' classes: every 16 B up to 256 B, then powers of two; a
 *   FixedSize pool's runs of 1, 2, 3 blocks), one below, at and one above, allocated and freed in a
 *   random interleaving so freed blocks of one size serve requests of its neighbours; every block is
 *   written whole (its last byte too) and stamped, no stamp is damaged (a reused block too small for
 *   its new request would overwrite a neighbour), views are exactly the size asked, and check()
 *   finds every canary intact on the canary pool;
 * - memcpy (snmalloc's checked memcpy: a copy past either end of an allocation is caught before
 *   anything moves): for each edge size, copy() of n bytes at offsets o into and out of a block of
 *   that size, for o + n = size - 1, size (moved, bytes exact) and size + 1 (an OutOfBoundsError,
 *   nothing moved on either side), from allocations and from views of them;
 * - malloc: malloc(0) differs by design (an InvalidSizeError, no minimum block); a freed block's
 *   handle and views reach nothing (UseAfterFreeError, length 0).
 */
import { describe, expect, test } from "bun:test";
import { type Allocation, copy, type CPUMemoryPool, InvalidSizeError, OutOfBoundsError, PoolConfig, UseAfterFreeError } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const BLOCK = 96;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["Variable, alignment 64", { alignment: 64 }],
  [`FixedSize ${BLOCK} (JavaScript cache, runs)`, PoolConfig.FixedSizeCPU(BLOCK)],
  [`FixedSize ${BLOCK}, lockFree`, { ...PoolConfig.FixedSizeCPU(BLOCK), threadSafety: "lockFree" }],
  ["canaries", { canaries: true }],
];

/** Sizes at the edges the pools round to, each with its neighbours. */
function edgeSizes(): number[] {
  const edges = new Set<number>();
  for (let g = 16; g <= 256; g += 16) edges.add(g);
  for (let p = 512; p <= 1 << 20; p *= 2) edges.add(p);
  for (let n = 1; n <= 4; n++) edges.add(n * BLOCK);
  const sizes = new Set<number>();
  for (const edge of edges) for (const size of [edge - 1, edge, edge + 1]) if (size > 0) sizes.add(size);
  return [...sizes].sort((a, b) => a - b);
}
const SIZES = edgeSizes();

function writeWhole(block: Allocation): void {
  const bytes = block.bytes;
  expect(bytes.length).toBe(block.size);
  stamp(bytes, block.ptr as number);
  bytes[bytes.length - 1] = ((block.ptr as number) / 16 + bytes.length - 1) & 0xff; // the last byte, even past the stamped edges
}

for (const [shapeName, shape] of shapes) {
  describe(`snmalloc func tests (${shapeName})`, () => {
    test("sizeclass and release-rounding: every edge size, its neighbours served by its freed blocks, nothing overwritten", () => {
      const p = pool(`suite-snmalloc-classes-${shapeName}`, { initialSize: 4 << 20, ...shape });
      const next = random(0x5a11);
      const live: Allocation[] = [];
      for (let step = 0; step < 3000; step++) {
        if (live.length > 0 && (next() < 0.5 || live.length > 200)) {
          const block = live.splice(Math.floor(next() * live.length), 1)[0]!;
          if (!stampHolds(block.bytes, block.ptr as number)) throw new Error(`step ${step}: the block of ${block.size} B at ${block.ptr} was overwritten`);
          block.free();
        } else {
          // mostly small edges, where the classes are dense; one in 16 from the large ones
          const index = next() < 15 / 16 ? Math.floor(next() * 60) : Math.floor(next() * SIZES.length);
          const block = p.allocate(SIZES[Math.min(index, SIZES.length - 1)]!);
          if ((block.ptr as number) % p.config.alignment !== 0) throw new Error(`block at ${block.ptr} not aligned to ${p.config.alignment}`);
          writeWhole(block);
          live.push(block);
        }
      }
      for (const block of live) if (!stampHolds(block.bytes, block.ptr as number)) throw new Error(`the block of ${block.size} B at ${block.ptr} was overwritten`);
      p.check();
      for (const block of live) block.free();
      const s = p.getStats();
      expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, balanced: s.allocationCount === s.freeCount }).toEqual({ bytesInUse: 0, liveAllocations: 0, balanced: true });
    });

    test("memcpy bounds: copies that end one byte before, at and past an edge-sized block; the one past moves nothing", () => {
      const p = pool(`suite-snmalloc-memcpy-${shapeName}`, { initialSize: 8 << 20, ...shape });
      for (const size of SIZES.filter((s) => s <= 4097)) {
        const block = p.allocate(size);
        const other = p.allocate(size + 1);
        const offsets = [...new Set([0, 1, size >> 1, size - 1])].filter((o) => o >= 0 && o < size);
        for (const offset of offsets) {
          for (const end of [size - 1, size, size + 1]) {
            const n = end - offset;
            if (n <= 0) continue;
            other.bytes.fill(0xaa);
            block.bytes.fill(0x55);
            const into = () => copy(block, other, n, { dstOffset: offset });
            const outOf = () => copy(other, block, n, { srcOffset: offset });
            const intoView = () => copy(block.bytes.subarray(offset), other.bytes, n);
            if (end > size) {
              for (const call of [into, outOf, intoView]) expect(thrown(call)).toBeInstanceOf(OutOfBoundsError);
              expect(block.bytes.every((b) => b === 0x55) && other.bytes.every((b) => b === 0xaa)).toBe(true);
            } else {
              expect(into()).toBe(n);
              expect(block.bytes.subarray(offset, offset + n).every((b) => b === 0xaa)).toBe(true);
              expect(block.bytes.subarray(0, offset).every((b) => b === 0x55)).toBe(true);
              expect(block.bytes.subarray(offset + n).every((b) => b === 0x55)).toBe(true);
              block.bytes.fill(0x55);
              expect(outOf()).toBe(n);
              expect(other.bytes.subarray(0, n).every((b) => b === 0x55)).toBe(true);
              expect(other.bytes.subarray(n).every((b) => b === 0xaa)).toBe(true);
              other.bytes.fill(0xaa);
              expect(intoView()).toBe(n);
              expect(block.bytes.subarray(offset, offset + n).every((b) => b === 0xaa)).toBe(true);
            }
          }
        }
        block.free();
        other.free();
      }
      expect(p.getStats().liveAllocations).toBe(0);
    });

    test("malloc: allocate(0) is an InvalidSizeError (by design: no minimum block); a freed block's handle and views reach nothing", () => {
      const p = pool(`suite-snmalloc-malloc-${shapeName}`, shape);
      expect(thrown(() => p.allocate(0))).toBeInstanceOf(InvalidSizeError);
      expect(p.getStats().allocationCount).toBe(0);
      for (const size of [1, BLOCK, BLOCK + 1, 4096]) {
        const block = p.allocate(size);
        const view = block.bytes;
        const words = block.as(Uint16Array);
        view.fill(1);
        block.free();
        expect({ view: view.length, words: words.length }).toEqual({ view: 0, words: 0 });
        expect(thrown(() => block.bytes)).toBeInstanceOf(UseAfterFreeError);
      }
    });
  });
}

// release-rounding on a FixedSize pool: freed runs of two blocks serve requests of one and three.
test("release-rounding across a FixedSize run's edge: blocks freed as runs of 2 serve runs of 1 and 3 without overlap", () => {
  const p: CPUMemoryPool = pool("suite-snmalloc-runs", { ...PoolConfig.FixedSizeCPU(BLOCK), initialSize: 1 << 20 });
  const twos = Array.from({ length: 64 }, () => p.allocate(2 * BLOCK));
  for (const block of twos) writeWhole(block);
  for (let i = 0; i < twos.length; i += 2) twos[i]!.free();
  const mixed: Allocation[] = [];
  for (let i = 0; i < 64; i++) {
    const block = p.allocate(i % 2 === 0 ? BLOCK : 3 * BLOCK);
    writeWhole(block);
    mixed.push(block);
  }
  for (const block of [...twos.filter((_, i) => i % 2 === 1), ...mixed]) expect(stampHolds(block.bytes, block.ptr as number)).toBe(true);
  for (const block of [...twos.filter((_, i) => i % 2 === 1), ...mixed]) block.free();
  expect(p.getStats().liveAllocations).toBe(0);
});
