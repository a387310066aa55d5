import { describe, expect, test } from "bun:test";
import { ptr as addressOf, read } from "bun:ffi";
import {
  Allocation,
  DoubleFreeError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  MemoryPoolManager,
  OutOfMemoryError,
  PoolConfig,
  PoolNotFoundError,
  UseAfterFreeError,
} from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
const KiB = 1024;
const MiB = 1024 * KiB;
const pool = cpuPoolsPerTest();


describe("allocations", () => {
  test("ptr, size, bytes and as() see the same memory", () => {
    const p = pool("alloc-views");
    const a = p.allocate(1000);
    expect(a).toBeInstanceOf(Allocation);
    expect(a.size).toBe(1000);
    expect(a.bytes.length).toBe(1000);
    expect(a.ptr % 16).toBe(0);
    a.bytes.fill(0x5a);
    expect(read.u8(a.ptr, 999)).toBe(0x5a);
    const floats = a.as(Float32Array);
    expect(floats.length).toBe(250);
    floats[0] = 1.5;
    expect(read.f32(a.ptr, 0)).toBe(1.5);
    expect(addressOf(a.bytes)).toBe(a.ptr);
    expect(a.as(BigUint64Array).length).toBe(125);
    a.free();
  });

  test("blocks are aligned to the pool's alignment and never overlap", () => {
    for (const alignment of [1, 16, 64, 4096]) {
      const p = pool(`align-${alignment}`, { alignment });
      const live = Array.from({ length: 50 }, (_, i) => p.allocate(1 + ((i * 37) % 300)));
      for (const a of live) expect(a.ptr % alignment).toBe(0);
      const spans = live.map((a) => [a.ptr, a.ptr + a.size] as const).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
      for (const a of live) a.free();
    }
  });

  test("using frees at the end of the block", () => {
    const p = pool("alloc-using");
    let escaped: Allocation;
    {
      using scratch = p.allocate(4096);
      escaped = scratch;
      expect(p.getStats().liveAllocations).toBe(1);
    }
    expect(p.getStats().liveAllocations).toBe(0);
    expect(escaped.alive).toBe(false);
  });

  test("allocateRaw returns a bare pointer, freed with deallocate(pointer)", () => {
    const p = pool("alloc-raw");
    const raw = p.allocateRaw(64);
    expect(typeof raw).toBe("number");
    expect(p.getStats().bytesInUse).toBe(64);
    p.deallocate(raw);
    expect(p.getStats().bytesInUse).toBe(0);
  });

  test("deallocate accepts the allocation, its pointer, or a view from it", () => {
    const p = pool("alloc-dealloc-forms");
    p.deallocate(p.allocate(10));
    p.deallocate(p.allocate(10).ptr);
    p.deallocate(p.allocate(10).bytes);
    p.deallocate(p.allocate(64).as(Int32Array));
    expect(p.getStats().liveAllocations).toBe(0);
    expect(p.getStats().freeCount).toBe(4);
  });

  test("fromPointer gives an Allocation over the same bytes", () => {
    const p = pool("alloc-from-pointer");
    const raw = p.allocateRaw(48);
    const a = p.fromPointer(raw);
    expect(a.size).toBe(48);
    a.bytes[0] = 9;
    expect(read.u8(raw, 0)).toBe(9);
    a.free();
    expect(() => p.fromPointer(raw)).toThrow(InvalidPointerError);
    expect(() => p.fromPointer(raw + 3)).toThrow(InvalidPointerError);
  });

  test("a block larger than one region makes the pool grow", () => {
    const p = pool("alloc-big", { initialSize: 64 * KiB });
    const big = p.allocate(10 * MiB);
    big.bytes[10 * MiB - 1] = 1;
    expect(p.getStats().bytesReserved).toBeGreaterThanOrEqual(10 * MiB);
    big.free();
  });
});

describe("lifetime errors", () => {
  test("the handle refuses access after free", () => {
    const p = pool("life-uaf");
    const a = p.allocate(32);
    a.free();
    expect(a.alive).toBe(false);
    const err = thrown(() => a.bytes);
    expect(err).toBeInstanceOf(UseAfterFreeError);
    expect(err.code).toBe("USE_AFTER_FREE");
    expect(err.message).toContain("32 bytes");
    expect(() => a.as(Uint8Array)).toThrow(UseAfterFreeError);
  });

  test("a second free is a DoubleFreeError, by handle, pointer or view", () => {
    const p = pool("life-double");
    const a = p.allocate(32);
    a.free();
    expect(thrown(() => a.free()).code).toBe("DOUBLE_FREE");
    expect(() => p.deallocate(a)).toThrow(DoubleFreeError);
    const raw = p.allocateRaw(32);
    p.allocate(32); // keeps raw's block from merging away
    p.deallocate(raw);
    expect(() => p.deallocate(raw)).toThrow(DoubleFreeError);
    const fixed = pool("life-double-fixed", PoolConfig.FixedSizeCPU(64));
    const view = fixed.allocate(64).bytes;
    fixed.deallocate(view);
    expect(() => fixed.deallocate(view)).toThrow(DoubleFreeError);
  });

  test("a handle whose block was freed by pointer is dead, and cannot free the block's next owner", () => {
    for (const [name, config] of [
      ["life-by-pointer-var", new PoolConfig()],
      ["life-by-pointer-fixed", PoolConfig.FixedSizeCPU(128)],
    ] as const) {
      const p = pool(name, config);
      const a = p.allocate(100);
      p.deallocate(a.ptr);
      expect(a.alive).toBe(false);
      expect(() => a.bytes).toThrow(UseAfterFreeError);
      const b = p.allocate(100);
      expect(b.ptr).toBe(a.ptr); // the same block, now b's
      expect(b.id).not.toBe(a.id);
      expect(() => a.free()).toThrow(DoubleFreeError);
      expect(b.alive).toBe(true);
      p.deallocate(b.ptr);
      const next = p.allocate(100);
      const err = thrown(() => b.free()); // b's block now holds `next`: the core refuses by id
      expect(err).toBeInstanceOf(DoubleFreeError);
      expect(err.message).toContain(`#${next.id}`);
      expect(next.alive).toBe(true);
      next.free();
      const b2 = p.allocate(100);
      expect(p.getStats().liveAllocations).toBe(1);
      const c = p.allocate(100);
      p.deallocate(c.bytes);
      expect(c.alive).toBe(false);
      b2.free();
    }
  });

  test("pointers the pool never gave out are InvalidPointerErrors", () => {
    for (const [name, config] of [
      ["life-invalid-var", new PoolConfig()],
      ["life-invalid-fixed", PoolConfig.FixedSizeCPU(128)],
    ] as const) {
      const p = pool(name, config);
      const a = p.allocate(100);
      expect(thrown(() => p.deallocate(a.ptr + 16)).code).toBe("INVALID_POINTER"); // interior
      expect(() => p.deallocate(a.ptr + 1)).toThrow(InvalidPointerError);
      expect(() => p.deallocate(a.bytes.subarray(16))).toThrow(InvalidPointerError);
      expect(() => p.deallocate(12345)).toThrow(InvalidPointerError); // foreign
      expect(() => p.deallocate(addressOf(new Uint8Array(64)))).toThrow(InvalidPointerError);
      expect(() => p.deallocate(new Uint8Array(0))).toThrow(InvalidPointerError);
      expect(() => p.deallocate(-1)).toThrow(InvalidPointerError);
      expect(() => p.deallocate(NaN)).toThrow(InvalidPointerError);
      expect(() => p.deallocate({} as Allocation)).toThrow(InvalidPointerError);
      a.free();
    }
  });

  test("an allocation freed into the wrong pool is refused and stays live", () => {
    const p1 = pool("life-wrong-1");
    const p2 = pool("life-wrong-2");
    const a = p1.allocate(64);
    expect(() => p2.deallocate(a)).toThrow(InvalidPointerError);
    expect(() => p2.deallocate(a.ptr)).toThrow(InvalidPointerError);
    expect(() => p2.deallocate(a.bytes)).toThrow(InvalidPointerError);
    expect(a.alive).toBe(true);
    a.free();
  });

  test("bad sizes are InvalidSizeErrors", () => {
    const p = pool("life-sizes");
    for (const size of [0, -1, 1.5, NaN, Infinity, "8" as unknown as number]) {
      expect(thrown(() => p.allocate(size)).code).toBe("INVALID_SIZE");
      expect(() => p.allocateRaw(size)).toThrow(InvalidSizeError);
    }
    const fixed = pool("life-sizes-fixed", PoolConfig.FixedSizeCPU(256));
    const err = thrown(() => fixed.allocate(2 ** 32)); // over blockSize is a run of blocks; past 4 GiB - 1 no request is
    expect(err).toBeInstanceOf(InvalidSizeError);
    expect(err.message).toContain(String(2 ** 32 - 1));
    expect(fixed.getStats().failedAllocations).toBe(0);
  });

  test("after reset every earlier handle is dead and the memory is free", () => {
    const p = pool("life-reset");
    const handles = Array.from({ length: 10 }, () => p.allocate(100));
    const raw = p.allocateRaw(100);
    p.reset();
    const stats = p.getStats();
    expect(stats.liveAllocations).toBe(0);
    expect(stats.bytesInUse).toBe(0);
    expect(stats.resetCount).toBe(1);
    for (const h of handles) {
      expect(h.alive).toBe(false);
      expect(() => h.bytes).toThrow(UseAfterFreeError);
      expect(() => h.free()).toThrow(UseAfterFreeError);
    }
    expect(() => p.deallocate(raw)).toThrow(MemoryPoolError);
    const again = p.allocate(100);
    expect(again.alive).toBe(true);
    again.free();
  });

  test("a destroyed pool refuses everything and its views are detached", () => {
    const p = manager.createCPUPool("life-destroyed", new PoolConfig());
    const a = p.allocate(64);
    const view = a.bytes;
    view[0] = 7;
    manager.destroyPool("life-destroyed");
    expect(view.length).toBe(0); // detached: reading it cannot reach unmapped memory
    expect(view[0]).toBeUndefined();
    expect(() => a.bytes).toThrow(UseAfterFreeError);
    expect(() => p.allocate(8)).toThrow(PoolNotFoundError);
    expect(() => p.getStats()).toThrow(PoolNotFoundError);
    expect(() => manager.destroyPool("life-destroyed")).toThrow(PoolNotFoundError);
  });
});

describe("growth, limits, trim", () => {
  test("a full pool grows until maxSize, then OutOfMemoryError, counted", () => {
    const p = pool("grow-max", { initialSize: 64 * KiB, maxSize: 256 * KiB, growth: 1 });
    const blocks = [];
    for (let i = 0; i < 4; i++) blocks.push(p.allocate(60 * KiB));
    const err = thrown(() => p.allocate(60 * KiB));
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.code).toBe("OUT_OF_MEMORY");
    expect(err.message).toContain("grow-max");
    const stats = p.getStats();
    expect(stats.failedAllocations).toBe(1);
    expect(stats.regionCount).toBe(4);
    expect(stats.bytesReserved).toBe(256 * KiB);
    expect(stats.growthCount).toBe(3);
    for (const b of blocks) b.free();
  });

  test("growth 0 never grows; a fixed pool grows by whole blocks", () => {
    const still = pool("grow-never", { initialSize: 64 * KiB, growth: 0 });
    const a = still.allocate(60 * KiB);
    expect(() => still.allocate(8 * KiB)).toThrow(OutOfMemoryError);
    a.free();
    const fixed = pool("grow-fixed", { allocatorType: "FixedSize", blockSize: 1024, initialSize: 64 * KiB });
    const blocks = Array.from({ length: 200 }, () => fixed.allocateRaw(1024));
    expect(new Set(blocks).size).toBe(200);
    expect(fixed.getStats().regionCount).toBeGreaterThan(1);
    for (const b of blocks) fixed.deallocate(b);
  });

  test("an aligned pool fills its regions with blocks of exactly the aligned size", () => {
    const p = pool("grow-aligned", { initialSize: 64 * KiB, maxSize: 256 * KiB, growth: 2, alignment: 64 });
    const blocks = [];
    for (let i = 0; i < 16; i++) blocks.push(p.allocate(16 * KiB));
    expect(() => p.allocate(16)).toThrow(OutOfMemoryError);
    for (const b of blocks) b.free();
  });

  test("growth 2 doubles each new region", () => {
    const p = pool("grow-double", { initialSize: 64 * KiB, growth: 2 });
    const blocks = Array.from({ length: 7 }, () => p.allocate(60 * KiB));
    // regions of 64, 128, 256 KiB hold 1 + 2 + 4 blocks of 60 KiB
    expect(p.getStats().bytesReserved).toBe(448 * KiB);
    for (const b of blocks) b.free();
  });

  test("trim gives empty regions back and keeps the first", () => {
    const p = pool("grow-trim", { initialSize: 64 * KiB, growth: 1 });
    const blocks = Array.from({ length: 6 }, () => p.allocate(60 * KiB));
    blocks[5]!.bytes.fill(3);
    for (const b of blocks.slice(1)) b.free();
    const released = p.trim();
    expect(released).toBe(5 * 64 * KiB);
    const stats = p.getStats();
    expect(stats.bytesReserved).toBe(64 * KiB);
    expect(stats.bytesTrimmed).toBe(released);
    expect(stats.trimCount).toBe(1);
    const again = p.allocate(60 * KiB); // the trimmed address space is reused
    again.bytes.fill(1);
    expect(again.bytes[0]).toBe(1);
    again.free();
    blocks[0]!.free();
  });

  test("after trim a region larger than any trimmed one fits in their merged range", () => {
    const p = pool("grow-trim-merge", { initialSize: 64 * KiB, maxSize: 256 * KiB, growth: 1 });
    const blocks = Array.from({ length: 4 }, () => p.allocate(60 * KiB));
    for (const b of blocks.slice(1)) b.free();
    expect(p.trim()).toBe(192 * KiB);
    const big = p.allocate(190 * KiB); // three trimmed 64 KiB regions, now one range
    big.bytes.fill(9);
    expect(p.getStats().bytesReserved).toBe(256 * KiB);
    big.free();
    blocks[0]!.free();
  });

  test("fixed-size trim and reuse", () => {
    const p = pool("grow-trim-fixed", { allocatorType: "FixedSize", blockSize: 32 * KiB, initialSize: 64 * KiB });
    const blocks = Array.from({ length: 6 }, () => p.allocate(32 * KiB));
    for (const b of blocks) b.free();
    expect(p.trim()).toBe(128 * KiB);
    const again = Array.from({ length: 6 }, () => p.allocate(32 * KiB));
    expect(new Set(again.map((a) => a.ptr)).size).toBe(6);
    for (const a of again) a.free();
  });
});

describe("statistics", () => {
  test("counts, peaks and fragmentation follow the allocations", () => {
    const p = pool("stats-basic", { initialSize: 1 * MiB });
    const a = p.allocate(1000);
    const b = p.allocate(3000);
    const c = p.allocate(500);
    let s = p.getStats();
    expect(s.bytesInUse).toBe(4500);
    expect(s.bytesAllocated).toBe(1008 + 3008 + 512);
    expect(s.liveAllocations).toBe(3);
    expect(s.allocationCount).toBe(3);
    expect(s.bytesReserved).toBe(1 * MiB);
    expect(s.fragmentation).toBe(0);
    b.free();
    s = p.getStats();
    expect(s.bytesInUse).toBe(1500);
    expect(s.peakBytesInUse).toBe(4500);
    expect(s.peakLiveAllocations).toBe(3);
    expect(s.freeCount).toBe(1);
    expect(s.freeBytes).toBe(1 * MiB - 1008 - 512);
    expect(s.fragmentation).toBeGreaterThan(0); // a 3008-byte hole beside the big free block
    expect(s.fragmentation).toBeLessThan(0.01);
    a.free();
    c.free();
    p.trim(); // the JavaScript bins give the freed blocks back, and the placement merges them
    expect(p.getStats().fragmentation).toBe(0);
  });

  test("getStatsString is a readable table and toJSON round-trips", () => {
    const p = pool("stats-string");
    const a = p.allocate(2048);
    const s = p.getStats();
    const text = s.getStatsString();
    expect(text.split("\n").length).toBeGreaterThan(5);
    expect(text).toContain("stats-string");
    expect(text).toContain("2.00 KiB");
    const json = JSON.parse(JSON.stringify(s));
    expect(json.bytesInUse).toBe(2048);
    expect(json.poolName).toBe("stats-string");
    expect(json.liveAllocations).toBe(1);
    a.free();
  });

  test("timings are sampled in the core", () => {
    const p = pool("stats-timing", { threadSafety: "mutex" }); // the core's path: the JavaScript bins of a "none" pool are not timed
    for (let i = 0; i < 1000; i++) p.deallocate(p.allocateRaw(64));
    const s = p.getStats();
    expect(s.allocTimeNs).toBeGreaterThan(0);
    expect(s.freeTimeNs).toBeGreaterThan(0);
  });

  test("with collectStats off the counts stay exact and peaks are not kept", () => {
    const p = pool("stats-off", { collectStats: false });
    const a = p.allocate(100);
    const s = p.getStats();
    expect(s.liveAllocations).toBe(1);
    expect(s.bytesInUse).toBe(100);
    expect(s.peakBytesInUse).toBe(0);
    expect(s.allocTimeNs).toBe(0);
    a.free();
  });
});

describe("ids after the core's allocation", () => {
  test("read from the thread's word after every call: a hot loop sees each new id (the JIT does not reuse the read)", () => {
    const p = pool("ids-hot-loop");
    const ids = new Int32Array(20_000);
    for (let i = 0; i < ids.length; i++) {
      const a = p.allocate(8);
      ids[i] = a.id;
      a.free();
    }
    for (let i = 1; i < ids.length; i++) if (ids[i] !== ids[i - 1]! + 1) throw new Error(`id ${ids[i]} after ${ids[i - 1]} at ${i}`);
    expect(ids[ids.length - 1]! - ids[0]!).toBe(ids.length - 1);
  });
});
