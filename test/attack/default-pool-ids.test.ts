/**
 * Allocation ids of pools on the JavaScript cache past their largest value (2^30 - 1: ids stay below
 * the state word's flags). 2^30 allocations would take minutes, so the test starts the pool's id
 * word (mp_cache_ids) three below the top, as if that many came before. Ids then go on from 1,
 * the same way whether the cache or the core (a run) gives them; a stale handle across the wrap is
 * refused, and snapshot() and getLeaks() name the allocations by their ids.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, PoolConfig, type ThreadSafety } from "../../src/index";
import * as native from "../../src/native";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { handleOf } from "../../src/pool";

const ID_MAX = 0x3fff_ffff;
const cpuPool = cpuPoolsPerTest();

test('a default ("none") pool: ids wrap from 2^30 - 1 to 1, by the cache and the core alike', () => {
  const pool = cpuPool("ids none", PoolConfig.FixedSizeCPU(64));
  Atomics.store(native.cachePoolIds(handleOf(pool))!, 0, ID_MAX - 3); // before the cache opens: it starts from the word
  const handles = [pool.allocate(8), pool.allocate(8), pool.allocate(8), pool.allocate(200), pool.allocate(8)];
  expect(handles.map((handle) => handle.id)).toEqual([ID_MAX - 2, ID_MAX - 1, ID_MAX, 1, 2]);
  const raw = pool.allocateRaw(8);
  expect(pool.fromPointer(raw as number).id).toBe(3);
  // The block of the first allocation, freed by pointer and given again: the old handle is stale.
  const first = handles[0]!;
  pool.deallocate(first.ptr);
  const reused = pool.allocate(8);
  expect(reused.ptr).toBe(first.ptr);
  expect(reused.id).toBe(4);
  const stale = thrown(() => first.free());
  expect(stale).toBeInstanceOf(DoubleFreeError);
  expect(stale!.message).toContain(`allocation #${ID_MAX - 2}`);
  expect(reused.alive).toBe(true);
  const liveIds = [ID_MAX - 1, ID_MAX, 1, 2, 3, 4].sort((a, b) => a - b);
  expect(pool.getLeaks().map((leak) => leak.id).sort((a, b) => a - b)).toEqual(liveIds);
  expect(pool.snapshot().blocks.filter((block) => block.state === "live").map((block) => block.id!).sort((a, b) => a - b)).toEqual(liveIds);
  for (const handle of [...handles.slice(1), reused]) handle.free();
  pool.deallocate(raw);
  expect(pool.getStats()).toMatchObject({ bytesInUse: 0, liveAllocations: 0, allocationCount: 7, freeCount: 7 });
});

for (const threadSafety of ["lockFree", "mutex"] as ThreadSafety[]) {
  test(`a shared pool on the cache (${threadSafety}${threadSafety === "mutex" ? " + threadLocalCache" : ""}): a batch of ids that would pass 2^30 - 1 starts again at 1`, () => {
    const pool = cpuPool(`ids ${threadSafety}`, Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety, threadLocalCache: threadSafety === "mutex" }));
    const word = native.cachePoolIds(handleOf(pool))!;
    Atomics.store(word, 0, ID_MAX - 3);
    const ids = Array.from({ length: 3 }, () => pool.allocate(8).id);
    expect(ids).toEqual([1, 2, 3]); // a batch of 64 would pass the top: it starts at 1
    expect(Atomics.load(word, 0)).toBe(64);
    expect(pool.allocate(200).id).toBe(65); // the core's run takes the next id off the same word
  });
}
