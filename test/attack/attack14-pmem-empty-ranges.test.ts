/**
 * persist(), flush() and memcpyPersist() with an empty range of a view, on a closed PMEM pool.
 * Found by calling every member of a closed pool: these three returned as if they had done their
 * work where the view was empty (a view detached when its allocation ended, or a zero-length one),
 * since an empty range reached no core call and nothing else asked whether the pool still existed,
 * while every other member, and the same calls with an allocation, throw. An empty range now asks
 * the core too (a drain, which writes nothing): a closed pool is a PoolNotFoundError.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, PoolNotFoundError, UseAfterFreeError } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

test("an empty view's range on a closed PMEM pool is refused, as an allocation's is", () => {
  const pm = manager.createPMEMPool("attack14-empty-ranges", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("empty-ranges"), initialSize: 1 << 20 }));
  const allocation = pm.allocate(64);
  const view = allocation.bytes;
  // Open, an empty range is nothing to do: no error.
  pm.persist(new Uint8Array(0));
  pm.flush(view.subarray(64));
  pm.memcpyPersist(view, new Uint8Array(0));
  pm.close();
  expect(view.byteLength).toBe(0); // detached on close
  const calls: [string, () => unknown][] = [
    ["persist(detached view)", () => pm.persist(view)],
    ["persist(empty view)", () => pm.persist(new Uint8Array(0))],
    ["flush(detached view)", () => pm.flush(view)],
    ["flush(empty view, 0, 0)", () => pm.flush(new Uint8Array(8), 0, 0)],
    ["memcpyPersist(detached view, empty)", () => pm.memcpyPersist(view, new Uint8Array(0))],
  ];
  for (const [what, call] of calls) {
    const error = thrown(call);
    expect(error, what).toBeInstanceOf(PoolNotFoundError);
    expect((error as Error).message, what).toBe("pool 'attack14-empty-ranges' was destroyed");
  }
  // The same calls with the allocation were already refused: the two routes now agree that the pool is gone.
  expect(thrown(() => pm.persist(allocation, 0))).toBeInstanceOf(UseAfterFreeError);
  expect(thrown(() => pm.drain())).toBeInstanceOf(PoolNotFoundError);
});
