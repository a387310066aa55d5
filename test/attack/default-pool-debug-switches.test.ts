/**
 * Each debug switch on a default FixedSize pool (threadSafety "none"). canaries, guardPages,
 * fillOnAlloc, fillOnFree and quarantineBytes act in the core, so such a pool has no JavaScript
 * cache (its frees keep nothing cached) and each switch must still do its work, single blocks
 * and runs alike; trackHistory, leakReport and safeViews act in TypeScript and keep the cache:
 * each must see the allocations and frees the cache makes (by handle and by pointer).
 */
import { describe, expect, test } from "bun:test";
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { BoundaryViolationError, DoubleFreeError, PoolConfig, UseAfterFreeError, type CPUMemoryPool } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const cpuPool = cpuPoolsPerTest();
let made = 0;
function pool(fields: Partial<PoolConfig>): CPUMemoryPool {
  const created = cpuPool(`debug switch ${made++}`, Object.assign(PoolConfig.FixedSizeCPU(64), fields));
  expect(created.config.threadSafety).toBe("none");
  return created;
}
/** Bytes at `address`, past any allocation's end where asked (what a buggy program would write). */
function raw(address: number, length: number): Uint8Array {
  return new Uint8Array(toArrayBuffer(address as Pointer, 0, length));
}
/** Frees and allocates again: a pool on the cache keeps the freed block cached; one without, none. */
function cachedAfterFree(target: CPUMemoryPool): number {
  target.allocate(16).free();
  return target.getStats().cachedBytes;
}

describe("switches that act in the core bypass the cache and still work", () => {
  test("canaries: a write one byte past a block's or a run's end is a BoundaryViolationError when freed", () => {
    const p = pool({ canaries: true });
    expect(cachedAfterFree(p)).toBe(0);
    for (const size of [40, 64, 300]) {
      const allocation = p.allocate(size);
      raw(allocation.ptr as number, size + 1)[size] = 0x55;
      const damage = thrown(() => allocation.free());
      expect(damage).toBeInstanceOf(BoundaryViolationError);
      expect(damage.message).toContain(`allocation #${allocation.id} (${size} bytes`);
    }
    expect(p.getStats().bytesInUse).toBe(0);
  });

  test("guardPages: each allocation ends at a page boundary, and double frees are still found", () => {
    const p = pool({ guardPages: true });
    for (const size of [40, 64, 200]) {
      const allocation = p.allocate(size);
      expect(((allocation.ptr as number) + Math.ceil(size / 16) * 16) % 4096).toBe(0);
      allocation.free();
      expect(thrown(() => allocation.free())).toBeInstanceOf(DoubleFreeError);
    }
    const address = p.allocateRaw(40);
    p.deallocate(address);
    expect(thrown(() => p.deallocate(address))).toBeInstanceOf(DoubleFreeError);
    expect(p.getStats()).toMatchObject({ bytesInUse: 0, cachedBytes: 0 });
  });

  test("fillOnAlloc and fillOnFree: new blocks and freed blocks read the fill", () => {
    const p = pool({ fillOnAlloc: 0xa1, fillOnFree: 0xf1 });
    expect(cachedAfterFree(p)).toBe(0);
    for (const size of [40, 200]) {
      const address = p.allocateRaw(size) as number;
      expect(raw(address, size).every((byte) => byte === 0xa1)).toBe(true);
      raw(address, size).fill(7);
      p.deallocate(address);
      expect(raw(address, size).every((byte) => byte === 0xf1)).toBe(true);
    }
  });

  test("quarantineBytes: a freed block is not given again at once, and a write to it is found", () => {
    const p = pool({ quarantineBytes: 64 * 1024 });
    expect(cachedAfterFree(p)).toBe(0);
    const address = p.allocateRaw(40) as number;
    p.deallocate(address);
    const next = Array.from({ length: 8 }, () => p.allocateRaw(40) as number);
    expect(next).not.toContain(address);
    raw(address, 40)[3] = 9;
    const found = thrown(() => p.check());
    expect(found).toBeInstanceOf(UseAfterFreeError);
    expect(found.message).toContain("written after it was freed");
    for (const at of next) p.deallocate(at);
    expect(thrown(() => p.destroy())).toBeInstanceOf(UseAfterFreeError); // the damage is told again as the pool goes
  });
});

describe("switches that act in TypeScript keep the cache and see its work", () => {
  test("trackHistory: allocations and frees by handle and by pointer are in the history", () => {
    const p = pool({ trackHistory: true });
    const a = p.allocate(40);
    const b = p.allocateRaw(8);
    const run = p.allocate(300);
    a.free();
    p.deallocate(b);
    p.deallocate(run.ptr);
    expect(p.getStats().cachedBytes).toBeGreaterThan(0); // the cache is on
    const events = p.getHistory().map((event) => `${event.kind} #${event.id}`);
    expect(events).toEqual(["allocate #1", "allocate #2", "allocate #3", "free #1", "free #2", "free #3"]);
    expect(thrown(() => p.deallocate(b))).toBeInstanceOf(DoubleFreeError);
  });

  test("leakReport: getLeaks names exactly the live allocations, with blocks cached", () => {
    const p = pool({ leakReport: true });
    const kept = [p.allocate(40), p.allocate(300)];
    const keptRaw = p.allocateRaw(8);
    for (let i = 0; i < 50; i++) p.allocate(16).free();
    p.deallocate(p.allocateRaw(16));
    expect(p.getStats().cachedBytes).toBeGreaterThan(0);
    const leaks = p.getLeaks().map((leak) => ({ id: leak.id, size: leak.size }));
    expect(leaks).toEqual([
      { id: kept[0]!.id, size: 40 },
      { id: kept[1]!.id, size: 300 },
      { id: 3, size: 8 },
    ]);
    for (const allocation of kept) allocation.free();
    p.deallocate(keptRaw);
    expect(p.getLeaks()).toEqual([]);
  });

  test("safeViews: a view of an allocation freed by pointer or by the cache's handle reads nothing afterwards", () => {
    const p = pool({ safeViews: true });
    const a = p.allocate(40);
    const viewA = a.bytes;
    viewA[0] = 1;
    a.free();
    expect(viewA.length).toBe(0);
    const b = p.allocate(40);
    const viewB = b.bytes;
    p.deallocate(b.ptr);
    expect(viewB.length).toBe(0);
    expect(thrown(() => b.bytes)).toBeInstanceOf(UseAfterFreeError);
    expect(p.getStats().cachedBytes).toBeGreaterThan(0);
  });
});
