/**
 * Objects that pass `instanceof Allocation` without being one: Object.create(Allocation.prototype),
 * a GPU-less object given the prototype with setPrototypeOf, a Proxy of a real handle. Found by
 * attacking copy()'s fast path (and every other place that asked `instanceof`): each read a
 * private field of the object next, and threw a TypeError ("Cannot access invalid private field")
 * where the caller was owed a typed error. A handle is now known by its fields (isAllocation).
 */
import { afterAll, expect, test } from "bun:test";
import { Allocation, copy, deallocateGPU, GPUAllocation, InvalidPointerError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

function fakes(real: Allocation): [string, unknown][] {
  return [
    ["Object.create(Allocation.prototype)", Object.create(Allocation.prototype)],
    ["an object given Allocation's prototype", Object.setPrototypeOf({ ptr: real.ptr, size: real.size, pool: real.pool }, Allocation.prototype)],
    ["a Proxy of a live allocation", new Proxy(real, {})],
  ];
}

test("copy() refuses objects that only look like allocations, on both sides, with and without options", () => {
  using pool = manager.createCPUPool("attack-proto-copy");
  const real = pool.allocate(64);
  real.bytes.fill(5); // its view attached: the fast path would take a real handle
  for (const [what, fake] of fakes(real)) {
    for (const call of [
      () => copy(fake as Allocation, new Uint8Array(8)),
      () => copy(new Uint8Array(8), fake as Allocation),
      () => copy(fake as Allocation, real),
      () => copy(real, fake as Allocation),
      () => copy(fake as Allocation, new Uint8Array(8), 8, { dstOffset: 0 }),
    ]) {
      const error = thrown(call);
      expect(error, what).toBeInstanceOf(InvalidPointerError);
      expect((error as Error).message).toMatch(/is an allocation or a typed array/);
    }
  }
  expect(real.bytes[0]).toBe(5); // nothing was written through a fake
  expect(copy(real, new Uint8Array(64).fill(7))).toBe(64);
});

test("deallocate() refuses them, and the real allocation stays live", () => {
  using pool = manager.createCPUPool("attack-proto-free");
  const real = pool.allocate(64);
  for (const [what, fake] of fakes(real)) {
    const error = thrown(() => pool.deallocate(fake as Allocation));
    expect(error, what).toBeInstanceOf(InvalidPointerError);
  }
  expect(real.alive).toBe(true);
  expect(pool.getStats().liveAllocations).toBe(1);
});

test("a PMEM pool's setRoot, persist, memcpyPersist and link refuse them", () => {
  using pm = manager.createPMEMPool("attack-proto-pmem", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("proto"), initialSize: 1 << 20 }));
  const real = pm.allocate(64);
  for (const [what, fake] of fakes(real)) {
    for (const call of [
      () => pm.setRoot("r", fake as Allocation),
      () => pm.persist(fake as Allocation),
      () => pm.memcpyPersist(fake as Allocation, new Uint8Array(8)),
      () => pm.link(real, 0, fake as Allocation),
      () => pm.commitUnpublished(fake as Allocation),
    ]) {
      expect(thrown(call), what).toBeInstanceOf(InvalidPointerError);
    }
  }
  expect(pm.roots()).toEqual([]);
  expect(pm.linked(real, 0)).toBeUndefined();
});

test("deallocateGPU refuses objects that only pass instanceof GPUAllocation, GPU or none", () => {
  for (const fake of [Object.create(GPUAllocation.prototype), Object.setPrototypeOf({ ptr: 4096, size: 64 }, GPUAllocation.prototype)]) {
    const error = thrown(() => deallocateGPU(fake as GPUAllocation));
    expect(error).toBeInstanceOf(InvalidPointerError);
    expect((error as Error).message).toContain("GPUAllocation");
  }
});
