// Session 6 (speedviews): deallocate(view) finds a window view by the view itself (a WeakMap of the
// pool's window views), and copy() between two viewed allocations is one memmove in the core at
// their addresses (libc's, looked up in the process). What each may not change: a window view frees
// only its own block, whatever the pool forgot; a view of a destroyed pool frees nothing in the pool
// that took its name (a typed error); a copy moves as memmove does (overlap), all or nothing, never into a block
// whose allocation ended.
import { describe, expect, test } from "bun:test";
import { copy, MemoryPoolError, MemoryPoolManager, OutOfBoundsError, PoolConfig, UseAfterFreeError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { baseOf } from "../../src/pool";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();

describe("deallocate(window view)", () => {
  test("past the window views a pool keeps for reuse (4096), each view still frees its own block and no other", () => {
    const p = pool("speedviews-window-many", { ...PoolConfig.FixedSizeCPU(64), initialSize: 1 << 20 });
    const views = Array.from({ length: 5000 }, () => p.allocateWindowBytes(64));
    const addresses = views.map((view) => baseOf(p) + view.byteOffset);
    expect(new Set(addresses).size).toBe(views.length);
    for (let i = 0; i < views.length; i += 2) p.deallocate(views[i]!);
    expect(p.getStats().liveAllocations).toBe(views.length / 2);
    // The ones left are still live: each is a double free only after its own deallocate.
    for (let i = 1; i < views.length; i += 2) p.deallocate(views[i]!);
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("a window view of a destroyed pool, handed to the pool that took its name, frees nothing there", () => {
    const name = "speedviews-window-renamed";
    const first = pool(name, PoolConfig.FixedSizeCPU(64));
    const stale = first.allocateWindowBytes(64);
    manager.destroyPool(name);
    const second = pool(name, PoolConfig.FixedSizeCPU(64));
    const live = second.allocateWindowBytes(64);
    live.fill(7);
    // Detached by the destroy, it names no memory (the error says it was one of the pool's views that ended).
    expect(stale.length).toBe(0);
    expect(thrown(() => second.deallocate(stale))).toBeInstanceOf(MemoryPoolError);
    expect(second.getStats().liveAllocations).toBe(1);
    expect(live.every((byte) => byte === 7)).toBe(true);
    second.deallocate(live);
    expect(second.getStats().liveAllocations).toBe(0);
  });
});

describe("copy() between two viewed allocations (one memmove at their addresses)", () => {
  for (const size of [64, 4096, 16 * 1024, 256 * 1024]) {
    test(`${size} B: all of one into another, within one allocation both ways at an offset, as memmove moves them`, () => {
      const p = pool(`speedviews-copy-${size}`, { initialSize: 4 << 20 });
      const from = p.allocate(size);
      const to = p.allocate(size + 32);
      for (let i = 0; i < size; i++) from.bytes[i] = (i * 7 + 3) & 0xff;
      expect(copy(to, from)).toBe(size);
      expect(to.bytes.subarray(0, size)).toEqual(from.bytes);
      expect(copy(to, from, undefined, { dstOffset: 32 })).toBe(size);
      expect(to.bytes.subarray(32)).toEqual(from.bytes);
      // Overlapping, forwards and backwards: the expected bytes as copyWithin gives them.
      const expected = to.bytes.slice();
      expected.copyWithin(16, 0, size);
      expect(copy(to, to, size, { dstOffset: 16 })).toBe(size);
      expect(to.bytes).toEqual(expected);
      expected.copyWithin(0, 16, 16 + size);
      expect(copy(to, to, size, { srcOffset: 16 })).toBe(size);
      expect(to.bytes).toEqual(expected);
      from.free();
      to.free();
    });
  }

  test("a destination too small is an OutOfBoundsError, and nothing moved", () => {
    const p = pool("speedviews-copy-small");
    const from = p.allocate(128).bytes.fill(9);
    const big = p.allocate(128);
    const small = p.allocate(64);
    void big.bytes;
    small.bytes.fill(1);
    const source = p.allocate(128);
    source.bytes.set(from);
    expect(thrown(() => copy(small, source))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(big, source, undefined, { dstOffset: 1 }))).toBeInstanceOf(OutOfBoundsError);
    expect(small.bytes.every((byte) => byte === 1)).toBe(true);
  });

  test("a destination whose allocation ended is a UseAfterFreeError, and the block's next allocation is untouched", () => {
    const p = pool("speedviews-copy-ended", PoolConfig.FixedSizeCPU(256));
    const from = p.allocate(256);
    from.bytes.fill(5);
    const to = p.allocate(256);
    const view = to.bytes;
    to.free();
    const next = p.allocate(256); // the block to had, most likely
    next.bytes.fill(2);
    expect(view.length).toBe(0);
    expect(thrown(() => copy(to, from))).toBeInstanceOf(UseAfterFreeError);
    expect(next.bytes.every((byte) => byte === 2)).toBe(true);
  });
});
