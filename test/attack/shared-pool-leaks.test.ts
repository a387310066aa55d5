/**
 * getLeaks() and the leak report of pools that place blocks without the pool's lock (lockFree, and
 * threadLocalCache: the lock-free FixedSize placement with its JavaScript caches, and the sharded
 * Variable one). Found by running every kind x strategy x threadSafety x debug switch through the
 * Entry table (test/attack/entry-table.test.ts): the core listed live blocks from the placement
 * the pool's lock guards, which such pools never use, so it listed none, and getLeaks() was empty
 * and leakReport silent with allocations live. The README says leakReport works with the cache.
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig } from "../../src/index";
import { reportLeaksOf } from "../../src/pool";

const manager = MemoryPoolManager.getInstance();

const SHARED = {
  "lockFree FixedSize (JavaScript cache)": { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 64 },
  "threadLocalCache FixedSize (JavaScript cache)": { threadSafety: "mutex", threadLocalCache: true, allocatorType: "FixedSize", blockSize: 64 },
  "lockFree Variable (shards)": { threadSafety: "lockFree" },
  "threadLocalCache Variable (shards)": { threadSafety: "mutex", threadLocalCache: true },
} as const;

for (const [what, fields] of Object.entries(SHARED)) {
  test(`${what}: getLeaks() lists each live allocation once, with its size, and none freed`, () => {
    using pool = manager.createCPUPool(`attack-shared-leaks-${what}`, Object.assign(new PoolConfig(), fields));
    const small = pool.allocate(40);
    const run = pool.allocate(200); // over one FixedSize block: a run of blocks, one allocation
    const freed = pool.allocate(24);
    freed.free();
    const raw = pool.allocateRaw(16);
    const byAddress = (rows: [number, number, unknown][]) => rows.sort((a, b) => a[0] - b[0]);
    const leaks = pool.getLeaks();
    expect(byAddress(leaks.map((leak) => [leak.ptr, leak.size, leak.id]))).toEqual(
      byAddress([
        [small.ptr, 40, small.id],
        [run.ptr, 200, run.id],
        [raw, 16, expect.any(Number)],
      ]),
    );
    pool.deallocate(raw);
    run.free();
    expect(pool.getLeaks().map((leak) => leak.ptr)).toEqual([small.ptr]);
  });
}

test("a lockFree pool's leak report at destroy names what is still allocated", () => {
  const pool = manager.createCPUPool("attack-shared-leak-report", Object.assign(new PoolConfig(), SHARED["lockFree Variable (shards)"]));
  pool.allocate(123);
  pool.allocate(77).free();
  // The report reportLeaksOf writes is the one destroy writes with leakReport on.
  const report = reportLeaksOf(pool, "test");
  pool.destroy();
  expect(report).toBeDefined();
  expect(report).toContain("1 allocation still live, 123 B");
});
