/**
 * What a default FixedSize pool's old handles, pointers and views do after reset(), trim() and
 * destroy, while its JavaScript cache holds blocks: every route gives a typed error, nothing
 * reaches a block that now belongs to another allocation, and the cache gives its blocks back.
 */
import { expect, test } from "bun:test";
import { PoolConfig } from "../../src/index";
import { outcome } from "../fixtures/attack/probes";
import { cpuPoolsPerTest } from "../support/pools";

const cpuPool = cpuPoolsPerTest();

/** A single block, a run, a raw pointer and a view, with the cache holding freed blocks. */
function populate(pool: ReturnType<typeof cpuPool>) {
  const held = { single: pool.allocate(40), run: pool.allocate(300), raw: pool.allocateRaw(8) as number, view: pool.allocate(16).bytes };
  for (let i = 0; i < 100; i++) pool.allocate(8).free();
  expect(pool.getStats().cachedBytes).toBeGreaterThan(0);
  return held;
}

/** What each route does with what populate() gave, once its allocations ended. */
function routes(pool: ReturnType<typeof cpuPool>, { single, run, raw, view }: ReturnType<typeof populate>) {
  return {
    single: outcome(() => single.free()),
    run: outcome(() => run.free()),
    raw: outcome(() => pool.deallocate(raw)),
    view: outcome(() => pool.deallocate(view)),
    viewLength: view.length,
    alive: single.alive,
    bytes: outcome(() => single.bytes),
    fromPointer: outcome(() => pool.fromPointer(raw)),
  };
}

test("after reset(): stale handles are UseAfterFree, stale pointers and views double frees, the cache emptied", () => {
  const pool = cpuPool("lifetimes reset", Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: 64 * 1024 }));
  const held = populate(pool);
  pool.reset();
  expect(pool.getStats()).toMatchObject({ cachedBytes: 0, bytesInUse: 0, liveAllocations: 0 });
  const next = [pool.allocate(40), pool.allocate(300)]; // the same blocks again, new allocations
  expect(next[0]!.ptr).toBe(held.single.ptr);
  expect(routes(pool, held)).toEqual({ single: "USE_AFTER_FREE", run: "USE_AFTER_FREE", raw: "DOUBLE_FREE", view: "DOUBLE_FREE", viewLength: 0, alive: false, bytes: "USE_AFTER_FREE", fromPointer: "INVALID_POINTER" });
  expect(next.every((allocation) => allocation.alive)).toBe(true); // no stale free reached them
  expect(pool.getStats()).toMatchObject({ bytesInUse: 340, liveAllocations: 2 });
});

test("after trim(): the cache's blocks are given back first, and live allocations stay", () => {
  const pool = cpuPool("lifetimes trim", Object.assign(PoolConfig.FixedSizeCPU(1024), { initialSize: 64 * 1024 }));
  const { single, run } = populate(pool);
  const many = Array.from({ length: 200 }, () => pool.allocateRaw(1024) as number); // past the first region
  for (const address of many) pool.deallocate(address);
  expect(pool.trim()).toBeGreaterThan(0);
  expect(pool.getStats()).toMatchObject({ cachedBytes: 0, liveAllocations: 4 });
  expect(outcome(() => pool.deallocate(many.at(-1)!))).toBe("INVALID_POINTER"); // its region is gone
  expect([single.alive, run.alive]).toEqual([true, true]);
  single.free();
  run.free();
});

test("after destroy: every route is a typed error", () => {
  const pool = cpuPool("lifetimes destroy", Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: 64 * 1024 }));
  const held = populate(pool);
  pool.destroy();
  expect({
    ...routes(pool, held),
    allocate: outcome(() => pool.allocate(8)),
    allocateRaw: outcome(() => pool.allocateRaw(8)),
    getStats: outcome(() => pool.getStats()),
    trim: outcome(() => pool.trim()),
  }).toEqual({
    single: "USE_AFTER_FREE",
    run: "USE_AFTER_FREE",
    raw: "POOL_NOT_FOUND",
    view: "POOL_NOT_FOUND", // as the raw pointer: the destroy, not a free of the caller's, detached it
    viewLength: 0,
    alive: false,
    bytes: "USE_AFTER_FREE",
    fromPointer: "POOL_NOT_FOUND",
    allocate: "POOL_NOT_FOUND",
    allocateRaw: "POOL_NOT_FOUND",
    getStats: "POOL_NOT_FOUND",
    trim: "POOL_NOT_FOUND",
  });
});
