/**
 * A core allocation that is not the bins' own, on a pool whose JavaScript bins hold freed blocks.
 * Found by attacking main: a PMEM pool's root(name, size) (a new root, or one that grows) asks the
 * core for a block directly, and where the pool was full but for blocks freed into this thread's
 * bins it failed with OutOfMemoryError ("32160 of its heap bytes are free"), while allocate() of
 * the same size flushed the bins and succeeded. A GPU pool's allocation on a stream took the same
 * direct route. Both now give the cached blocks back and try once more (NativePool.allocInCore),
 * as a miss of the bins does.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, OutOfMemoryError, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

/** Fills the pool with 60,000-byte blocks, then frees the first `freed` of them (into the bins). */
function fillThenFree(pool: { allocate(size: number): { free(): void } }, freed: number) {
  const blocks: { free(): void }[] = [];
  expect(thrown(() => {
    for (;;) blocks.push(pool.allocate(60_000));
  })).toBeInstanceOf(OutOfMemoryError);
  for (const block of blocks.splice(0, freed)) block.free();
  return blocks;
}

test("root(name, size) of a new root takes the memory of blocks freed into the bins", () => {
  using pool = manager.createPMEMPool("attack-bins-root-oom", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("bins-root-oom"), initialSize: 4 << 20 }));
  const kept = fillThenFree(pool, 6);
  expect(pool.getStats().cachedBytes).toBeGreaterThan(300_000);
  const root = pool.root("big", 300_000);
  expect(root.size).toBe(300_000);
  expect(root.bytes.every((byte) => byte === 0)).toBe(true);
  expect(pool.getRoot("big")!.size).toBe(300_000);
  const s = pool.getStats();
  expect(s.liveAllocations).toBe(kept.length + 1);
  expect(s.cachedBytes).toBe(0);
  // Full again, and nothing binned: a real shortage is still an OutOfMemoryError.
  expect(thrown(() => pool.root("second", 300_000))).toBeInstanceOf(OutOfMemoryError);
  expect(pool.getRoot("second")).toBeUndefined();
});

test("a root that grows takes the memory of blocks freed into the bins, and keeps its bytes", () => {
  using pool = manager.createPMEMPool("attack-bins-root-grow-oom", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("bins-root-grow-oom"), initialSize: 4 << 20 }));
  const small = pool.root("grown", 64);
  small.bytes.fill(7);
  pool.persist(small);
  fillThenFree(pool, 6);
  const grown = pool.root("grown", 300_000);
  expect(grown.size).toBe(300_000);
  expect(grown.bytes.subarray(0, 64).every((byte) => byte === 7)).toBe(true);
  expect(grown.bytes.subarray(64).every((byte) => byte === 0)).toBe(true);
  expect(small.alive).toBe(false);
});
