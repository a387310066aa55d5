/**
 * DPDK's mempool autotest (app/test/test_mempool.c, and the test plan's "basic tests done on one core
 * with and without cache"), read and retold for this library's FixedSize pools, whose thread caches
 * (the JavaScript caches of "none" and lockFree pools, threadLocalCache with "mutex" or "lockFree") are
 * DPDK's per-lcore caches, and whose pools cannot grow here (growth 0), as a mempool has a fixed count:
 * - test_mempool_basic: get one object, write it, find it again from its address (rte_mempool_from_obj:
 *   fromPointer), put it; get two, put two; get every object until the pool is empty (the get after is
 *   an OutOfMemoryError, counted), each stamped and found unchanged once all are out, put them all back;
 *   at every step avail + in use = size (freeBytes + bytesAllocated = bytesReserved) and the counts agree;
 * - the cache's flush threshold: putting back every object leaves a thread's cache holding at most its
 *   capacity (the core's cacheCapacity blocks), the rest back in the common pool; rte_mempool_cache_flush
 *   (flushThreadCaches) empties it without changing what is free; the pool then serves every object again;
 * - the put of foreign objects (rte_mempool_from_obj of another pool's object, and the debug build's
 *   cookies): a block of another pool of the same block size, an address inside a block, and a block put
 *   twice (also once it sits in the cache) are typed errors that change nothing;
 * - test_mempool_same_name_twice_creation: a PoolExistsError; a cache asked of a pool no other thread may
 *   use (test_mempool_creation_with_exceeded_cache_size's refusal) is a ConfigError naming threadLocalCache;
 * - the "mempool full" case across lcores, and test_mempool_sp_sc (a producer lcore gets, a consumer lcore
 *   puts), in a child process with a Worker: see test/fixtures/attack/suite-dpdk-mempool-child.ts; and
 *   rte_mempool_obj_iter there at quiet moments: a snapshot's live and free blocks add up to its figures,
 *   a Worker's cached blocks read free (while Workers run, a moment's view: README, Statistics).
 * - the cache size limit (rte_mempool_create refuses a cache over n / 1.5): on a pool of 16 objects that
 *   cannot grow, the main thread gets and puts one, then puts back all a producer Worker got, five rounds:
 *   the Worker gets 12 or more every round.
 * By design, as DPDK: blocks in another thread's cache are free (counted in freeBytes and cachedBytes)
 * yet not this thread's to take, so a get may fail while freeBytes is not 0. The defects this port found:
 * that OutOfMemoryError said only "has no free block" (the pool looked as if it had lost them); it now
 * says how many bytes other threads' caches hold and that flushThreadCaches() there, or their end, gives
 * them back (zig/src/sync/shared_fixed.zig cacheNote). And a thread's stack held 256 blocks in any pool:
 * one get and put in a thread took a whole 16-block pool (a refill brings up to 64), and a consumer's
 * puts kept every object from the producer, which got none from its second round on, while the consumer
 * did nothing; a stack now holds a quarter of the blocks a pool can ever hold at most (up to 256), and
 * a refill a quarter of that (zig/src/sync/js_cache.zig capacityFor, batchFor).
 * Left out: mempool ops and drivers (ring, stack, bucket), hugepage and IOVA layout (xmem), populate
 * callbacks, and the performance autotest (speed is bench/'s, never asserted in tests).
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, DoubleFreeError, InvalidPointerError, MemoryPoolManager, OutOfMemoryError, PoolExistsError, type PoolConfig } from "../../src/index";
import { ABI } from "../../src/native";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { runBun, attackFixture } from "../support/child";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();
const BLOCK = 64;
const SIZE = 64 * 1024;
const OBJECTS = SIZE / BLOCK;

const shapes: [string, Partial<PoolConfig>][] = [
  ["none (JavaScript cache)", {}],
  ["mutex (no cache)", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
];

function mempool(label: string, shape: Partial<PoolConfig>) {
  return pool(`suite-dpdk-${label}`, { allocatorType: "FixedSize", blockSize: BLOCK, growth: 0, initialSize: SIZE, ...shape });
}

/** avail + in use = size, and the counts agree with what the test holds. */
function expectBalanced(p: ReturnType<typeof mempool>, live: number) {
  const s = p.getStats();
  expect({ reserved: s.bytesReserved, sum: s.freeBytes + s.bytesAllocated, live: s.liveAllocations, inUse: s.bytesInUse }).toEqual({ reserved: SIZE, sum: SIZE, live, inUse: live * BLOCK });
}

describe("test_mempool_basic: get one, two, all; put them back", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = mempool(`basic-${name}`, shape);
      const one = p.allocate(BLOCK);
      one.bytes.fill(0x5a);
      const found = p.fromPointer(one.ptr);
      expect([found.ptr, found.size, found.bytes[BLOCK - 1]]).toEqual([one.ptr, BLOCK, 0x5a]);
      expectBalanced(p, 1);
      p.deallocate(one);
      expectBalanced(p, 0);
      const two = [p.allocateRaw(BLOCK), p.allocateRaw(BLOCK)];
      expect(two[0]).not.toBe(two[1]);
      expectBalanced(p, 2);
      for (const ptr of two) p.deallocate(ptr);
      expectBalanced(p, 0);
      const all = [];
      const failedBefore = p.getStats().failedAllocations;
      for (let n = 0; n < OBJECTS; n++) {
        const a = p.allocate(BLOCK);
        stamp(a.bytes, a.ptr);
        all.push(a);
      }
      expect(thrown(() => p.allocate(BLOCK))).toBeInstanceOf(OutOfMemoryError);
      expect(p.getStats().failedAllocations).toBe(failedBefore + 1);
      expect(new Set(all.map((a) => a.ptr)).size).toBe(OBJECTS);
      expect(all.filter((a) => !stampHolds(a.bytes, a.ptr))).toEqual([]);
      expectBalanced(p, OBJECTS);
      expect(p.getStats().freeBytes).toBe(0);
      for (const a of all) a.free();
      expectBalanced(p, 0);
      p.check();
    });
  }
});

describe("the cache's flush threshold, and rte_mempool_cache_flush", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = mempool(`flush-${name}`, shape);
      const ptrs = Array.from({ length: OBJECTS }, () => p.allocateRaw(BLOCK));
      for (const ptr of ptrs) p.deallocate(ptr);
      const put = p.getStats();
      expect(put.cachedBytes).toBeLessThanOrEqual(ABI.constants.cacheCapacity * BLOCK);
      expect(put.freeBytes).toBe(SIZE);
      manager.flushThreadCaches();
      const flushed = p.getStats();
      expect([flushed.cachedBytes, flushed.freeBytes, flushed.liveAllocations]).toEqual([0, SIZE, 0]);
      const again = Array.from({ length: OBJECTS }, () => p.allocateRaw(BLOCK) as number);
      expect(new Set(again).size).toBe(OBJECTS);
      expect(new Set([...again, ...ptrs]).size).toBe(OBJECTS); // the same objects: none lost, none made
      for (const ptr of again) p.deallocate(ptr);
      expectBalanced(p, 0);
    });
  }
});

describe("the put of foreign objects changes nothing", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = mempool(`foreign-${name}`, shape);
      const other = mempool(`foreign-other-${name}`, shape);
      const mine = p.allocateRaw(BLOCK) as number;
      const theirs = other.allocateRaw(BLOCK) as number;
      const freed = p.allocateRaw(BLOCK) as number;
      p.deallocate(freed); // in the cache, where the shape has one
      const before = JSON.stringify([p.getStats().liveAllocations, p.getStats().freeCount, other.getStats().liveAllocations]);
      expect(thrown(() => p.deallocate(theirs))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => p.deallocate(mine + 16))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => p.deallocate(freed))).toBeInstanceOf(DoubleFreeError);
      expect(JSON.stringify([p.getStats().liveAllocations, p.getStats().freeCount, other.getStats().liveAllocations])).toBe(before);
      p.deallocate(mine);
      other.deallocate(theirs);
      expectBalanced(p, 0);
    });
  }
});

test("test_mempool_same_name_twice_creation, and a cache on a pool of one thread", () => {
  mempool("twice", {});
  expect(thrown(() => mempool("twice", {}))).toBeInstanceOf(PoolExistsError);
  const refused = thrown(() => mempool("one-thread-cache", { threadLocalCache: true }));
  expect(refused).toBeInstanceOf(ConfigError);
  expect((refused as ConfigError).field).toBe("threadLocalCache");
});

const cachedShapes = shapes.filter(([, shape]) => shape.threadSafety === "lockFree" || shape.threadLocalCache);
describe("mempool full across lcores, and single producer / single consumer (a Worker, in a child process)", () => {
  for (const [name, shape] of cachedShapes) {
    test(name, async () => {
      const run = await runBun(attackFixture("suite-dpdk-mempool-child.ts"), [JSON.stringify({ allocatorType: "FixedSize", blockSize: BLOCK, growth: 0, initialSize: SIZE, ...shape })]);
      expect(run.stderr).toBe("");
      expect([run.exitCode, run.signalCode]).toEqual([0, null]);
      const outcome = JSON.parse(run.stdout) as {
        workerCached: number; mainGot: number; refusal: string; refusalName: string; freeAtRefusal: number;
        afterFlushGot: number; produced: number; stampsWrong: number; wrong: string[]; iterDisagreements: string[]; end: Record<string, number>;
      };
      expect(outcome.wrong).toEqual([]);
      expect(outcome.iterDisagreements).toEqual([]);
      expect(outcome.workerCached).toBeGreaterThan(0);
      // the objects in the Worker's cache are free, yet not the main thread's to take (as DPDK's)
      expect(outcome.mainGot).toBe(OBJECTS - outcome.workerCached / BLOCK);
      expect(outcome.refusalName).toBe("OutOfMemoryError");
      expect(outcome.freeAtRefusal).toBe(outcome.workerCached);
      expect(outcome.refusal).toContain(`${outcome.workerCached} bytes are free in other threads' caches`);
      expect(outcome.refusal).toContain("flushThreadCaches()");
      // once the Worker flushed its cache, the main thread gets the rest
      expect(outcome.afterFlushGot).toBe(outcome.workerCached / BLOCK);
      expect([outcome.produced, outcome.stampsWrong]).toEqual([300, 0]);
      const gets = 300 + OBJECTS + 300; // the Worker's cache fill, every object once, the producer's
      expect(outcome.end).toEqual({ liveAllocations: 0, bytesInUse: 0, cachedBytes: 0, freeBytes: SIZE, allocationCount: gets, freeCount: gets });
    }, 20_000);
  }
});

describe("a cache no larger than a share of a small pool (a Worker, in a child process)", () => {
  for (const [name, shape] of cachedShapes) {
    test(name, async () => {
      // 16 objects, no growth: DPDK refuses a cache over n / 1.5; here a stack holds a quarter at most
      const objects = 16;
      const run = await runBun(attackFixture("suite-dpdk-mempool-child.ts"), [JSON.stringify({ allocatorType: "FixedSize", blockSize: 4096, growth: 0, initialSize: objects * 4096, ...shape }), "small"]);
      expect(run.stderr).toBe("");
      expect([run.exitCode, run.signalCode]).toEqual([0, null]);
      const outcome = JSON.parse(run.stdout) as { rounds: number[]; wrong: string[]; end: Record<string, number> };
      expect(outcome.wrong).toEqual([]);
      // every round the producer gets all but what the consumer's cache may hold (a quarter)
      expect(outcome.rounds.filter((got) => got < objects - objects / 4)).toEqual([]);
      expect(outcome.end).toEqual({ liveAllocations: 0, cachedBytes: 0, freeBytes: objects * 4096 });
    }, 20_000);
  }
});
