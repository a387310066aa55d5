/**
 * Frees of pointers into a Variable pool's free space. Every one was a DoubleFreeError ("the block
 * at offset N is already free"), also where no block had ever started. The core now tells what it
 * can know: free space that no allocation ever touched (a region's untouched end) is an
 * InvalidPointerError, "never gave out", and so is free space off the pool's alignment, where no
 * block can start. Free space where blocks were freed stays a DoubleFreeError, the usual cause
 * there (a stale pointer), and its message says it may be a pointer the pool never gave out:
 * TLSF merges freed blocks and keeps no record of where they started.
 * A stale pointer after trim() gave its region back is an InvalidPointerError: the memory is no
 * longer the pool's, as a foreign pointer's is not; a stale handle there is a DoubleFreeError.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();

for (const [name, fields] of [
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree (shards)", { threadSafety: "lockFree" }],
  ["none (JavaScript bins)", {}],
] as const) {
  test(`${name}: untouched free space is a pointer never given out; a freed block's start a double free`, () => {
    using pool = manager.createCPUPool(`leftovers2-free-space-${name}`, Object.assign(new PoolConfig(), fields));
    const first = pool.allocateRaw(256);
    const second = pool.allocateRaw(256);
    const kept = pool.allocateRaw(256);
    const untouched = thrown(() => pool.deallocate(kept + 8192));
    expect(untouched).toBeInstanceOf(InvalidPointerError);
    expect(untouched!.message).toContain("never gave out a block at offset");
    pool.deallocate(first);
    pool.deallocate(second); // merged with the first's block in the core's free space
    for (const stale of [first, second]) expect(thrown(() => pool.deallocate(stale))).toBeInstanceOf(DoubleFreeError);
    // The pool goes on: nothing was freed or counted by the refused frees.
    expect(pool.getStats()).toMatchObject({ liveAllocations: 1, freeCount: 2 });
    pool.deallocate(kept);
  });
}

test("free space where blocks were freed: a double free, whose message says what else it may be; off the alignment, never given out", () => {
  using pool = manager.createCPUPool("leftovers2-free-space-aligned", Object.assign(new PoolConfig(), { threadSafety: "mutex", alignment: 64 }));
  const freed = pool.allocateRaw(256);
  const kept = pool.allocateRaw(256);
  pool.deallocate(freed);
  const inside = thrown(() => pool.deallocate(freed + 64)) as DoubleFreeError;
  expect(inside).toBeInstanceOf(DoubleFreeError);
  expect(inside.message).toContain("is free space: a block there was freed already (or the pointer is one the pool never gave out");
  const offAlignment = thrown(() => pool.deallocate(freed + 32));
  expect(offAlignment).toBeInstanceOf(InvalidPointerError);
  expect(offAlignment!.message).toContain("where blocks start at multiples of 64 bytes");
  pool.deallocate(kept);
});

test("after trim() gave a region back: a stale pointer is an InvalidPointerError (no longer the pool's memory), a stale handle a DoubleFreeError", () => {
  using pool = manager.createCPUPool("leftovers2-free-space-trim", Object.assign(new PoolConfig(), { threadSafety: "mutex", initialSize: 1 << 20 }));
  const pointer = pool.allocateRaw(4 << 20); // a region of its own
  const handle = pool.allocate(4 << 20);
  pool.deallocate(pointer);
  handle.free();
  expect(pool.trim()).toBeGreaterThan(0);
  const stalePointer = thrown(() => pool.deallocate(pointer));
  expect(stalePointer).toBeInstanceOf(InvalidPointerError);
  expect(stalePointer!.message).toContain("is not in any region of pool");
  expect(thrown(() => handle.free())).toBeInstanceOf(DoubleFreeError);
});
