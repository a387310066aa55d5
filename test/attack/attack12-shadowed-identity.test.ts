/**
 * Handles whose `offset`, `id` or `pool` an own property shadows (handles are ordinary objects:
 * Object.defineProperty(a, "id", ...) succeeds). test/attack/shadowed-handle-fields.test.ts made
 * copies and views read a handle's private fields; found by attacking main: the calls that name an
 * allocation to the core by its offset and id still read the getters. A handle claiming another
 * live allocation's offset and id freed that one on free() (its own block leaked, its handle dead),
 * and on a PMEM pool persisted, copied into, published, linked and committed the other one; a
 * handle claiming another pool was freed through a pool it is not of. Each now acts on its own.
 * And a stale handle whose `assertUsable` (or the other checks) an own no-op replaced passed copy()'s
 * check: the copy wrote into its block's next allocation. The library calls the private checks.
 * A pool's own `holds` shadowed the same way made a stale handle's `bytes` view the next
 * allocation: pool objects are frozen once made.
 */
import { afterAll, expect, test } from "bun:test";
import { copy, InvalidPointerError, MemoryPoolManager, UseAfterFreeError, type Allocation, type PoolConfig } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "../pmem/helpers";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

const pool = cpuPoolsPerTest();
afterAll(removePoolFiles);

/** `handle` made to claim `other`'s offset and id. */
function claiming(handle: Allocation, other: Allocation): Allocation {
  Object.defineProperty(handle, "offset", { value: offsetOfAllocation(other) });
  Object.defineProperty(handle, "id", { value: other.id });
  return handle;
}

const CONFIGS: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, mutex, trackHistory", { threadSafety: "mutex", trackHistory: true }],
  ["FixedSize", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
];

for (const [name, fields] of CONFIGS) {
  test(`${name}: free() and deallocate() of a handle claiming another's offset and id free its own allocation`, () => {
    const p = pool(`attack12-shadowed-${name}`, fields);
    for (const free of [(a: Allocation) => a.free(), (a: Allocation) => p.deallocate(a)]) {
      const a = p.allocate(32);
      const b = p.allocate(32);
      free(claiming(a, b));
      expect(a.alive).toBe(false);
      expect(b.alive).toBe(true);
      b.free();
      expect(p.getStats().liveAllocations).toBe(0);
    }
  });
}

test("a handle claiming another pool is freed through its own pool only", () => {
  const mine = pool("attack12-shadowed-mine");
  const theirs = pool("attack12-shadowed-theirs");
  const a = theirs.allocate(32);
  Object.defineProperty(a, "pool", { value: mine });
  const error = thrown(() => mine.deallocate(a));
  expect(error).toBeInstanceOf(InvalidPointerError);
  expect(error.message).toContain("belongs to pool 'attack12-shadowed-theirs', not 'attack12-shadowed-mine'");
  expect(a.alive).toBe(true);
  theirs.deallocate(a);
  expect(a.alive).toBe(false);
});

test("PMEM: persist, memcpyPersist, copy, setRoot, link and commitUnpublished act on the handle's own allocation", () => {
  const pm = MemoryPoolManager.getInstance().createPMEMPool("attack12-shadowed-pmem", pmemConfig(poolPath("attack12-shadowed")));
  try {
    const a = pm.allocate(32);
    const b = pm.allocate(32);
    b.bytes.fill(9);
    claiming(a, b);
    pm.memcpyPersist(a, new Uint8Array(8).fill(1));
    copy(a, new Uint8Array(8).fill(2), 8, { dstOffset: 8 });
    pm.persist(a);
    expect(Array.from(a.bytes.subarray(0, 16))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(b.bytes.every((byte) => byte === 9)).toBe(true);
    pm.setRoot("a", a);
    expect(pm.getRoot("a")!.ptr).toBe(a.ptr);
    const c = pm.allocate(16);
    pm.link(a, 0, c); // a is published: the link publishes c
    expect(pm.linked(a, 0)!.ptr).toBe(c.ptr);
    const d = pm.allocate(16);
    pm.commitUnpublished(claiming(d, b));
    expect(d.alive && b.alive).toBe(true);
  } finally {
    pm.close();
  }
});

test("a stale handle whose checks an own property replaces by a no-op is still refused, and its block's next allocation untouched", () => {
  for (const threadSafety of ["none", "mutex"] as const) {
    const p = pool(`attack12-shadowed-checks-${threadSafety}`, { threadSafety });
    const a = p.allocate(64);
    p.deallocate(a.ptr); // freed by its pointer: the handle learns it from the core
    const next = p.allocate(64);
    next.bytes.fill(5);
    expect(next.ptr).toBe(a.ptr);
    for (const name of ["assertUsable", "assertUsableAsFarAsKnown", "freedElsewhere"]) Object.defineProperty(a, name, { value: () => {} });
    const calls: (() => unknown)[] = [() => copy(a, new Uint8Array(64)), () => copy(a, new Uint8Array(8), 8, { dstOffset: 8 }), () => copy(new Float64Array(8), a), () => a.bytes, () => a.as(Uint32Array), () => a.windowBytes()];
    for (const call of calls) expect(thrown(call)).toBeInstanceOf(UseAfterFreeError);
    expect(next.bytes.every((byte) => byte === 5)).toBe(true);
  }
});

test("a pool's methods cannot be shadowed by own properties: the object is frozen, and a stale handle stays refused", () => {
  const p = pool("attack12-shadowed-pool-methods", { threadSafety: "mutex" });
  const a = p.allocate(64);
  p.deallocate(a.ptr);
  const next = p.allocate(64);
  next.bytes.fill(5);
  for (const name of ["holds", "stillHolds", "ended", "endedAll", "release", "exactBuffer", "destroyed", "epoch"]) {
    expect(() => Object.defineProperty(p, name, { value: () => true })).toThrow(TypeError);
  }
  expect(Object.isFrozen(p)).toBe(true);
  expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
  expect(next.bytes.every((byte) => byte === 5)).toBe(true);
});
