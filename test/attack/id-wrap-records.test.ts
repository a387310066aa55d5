/**
 * Debug records of allocations whose ids met again after the wrap (ids run 1 to 2^30 - 1, then
 * from 1: a long-lived allocation and one made 2^30 allocations later hold the same id). Found by
 * attacking main: snapshot() looked ages and stacks up by id, so of two live allocations with one
 * id, one was drawn with the other's age and stack; getLeaks() and the notes of error messages
 * (where an allocation was made and freed) took the first record with that id, another block's;
 * renderTimeline ended the older one's band at the newer one's free. Each now finds its record by
 * block (or pointer) and id. As default-pool-ids.test.ts does, the test starts a
 * pool's id word near the top (mp_cache_ids) instead of making 2^30 allocations.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, PoolConfig, renderTimeline, type Allocation } from "../../src/index";
import * as native from "../../src/native";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { handleOf } from "../../src/pool";

const ID_MAX = 0x3fff_ffff;
const cpuPool = cpuPoolsPerTest();

function madeEarly(pool: { allocate(size: number): Allocation }): Allocation {
  return pool.allocate(8);
}
function madeLate(pool: { allocate(size: number): Allocation }): Allocation {
  return pool.allocate(8);
}

/** A pool with trackHistory whose first allocation's id is held again by a later one. */
async function twins() {
  const pool = cpuPool("id twins", { ...PoolConfig.FixedSizeCPU(64), threadSafety: "lockFree", trackHistory: true });
  const early = madeEarly(pool); // id 1: the first batch of ids is 1-64
  Atomics.store(native.cachePoolIds(handleOf(pool))!, 0, ID_MAX - 1); // the next batch passes the top
  await Bun.sleep(40);
  const late = Array.from({ length: 70 }, () => madeLate(pool));
  const twin = late.find((allocation) => allocation.id === early.id)!;
  expect(twin).toBeDefined();
  expect(twin.ptr).not.toBe(early.ptr);
  return { pool, early, late, twin };
}

test("snapshot() and getLeaks() give each of two live allocations with one id its own age and stack", async () => {
  const { pool, early, twin } = await twins();
  const blocks = pool.snapshot().blocks.filter((block) => block.state === "live" && block.id === early.id);
  expect(blocks).toHaveLength(2);
  const [first, second] = blocks[0]!.offset < blocks[1]!.offset ? blocks : [blocks[1]!, blocks[0]!];
  const base = pool.snapshot().baseAddress;
  expect(base + first!.offset).toBe(early.ptr as number);
  expect(base + second!.offset).toBe(twin.ptr as number);
  expect(first!.ageMs!).toBeGreaterThan(second!.ageMs! + 30);
  expect(first!.stack).not.toBe(second!.stack);
  const leaks = pool.getLeaks().filter((leak) => leak.id === early.id);
  const leakOf = (allocation: Allocation) => leaks.find((leak) => leak.ptr === allocation.ptr)!;
  expect(leakOf(early).age!).toBeGreaterThan(leakOf(twin).age! + 30);
  expect(leakOf(early).stack).toBe(first!.stack!);
  expect(leakOf(twin).stack).toBe(second!.stack!);
});

test("a double free's note names where that allocation was made and freed, not its live twin", async () => {
  const { pool, early, twin } = await twins();
  const lateStack = pool.getLeaks().find((leak) => leak.ptr === twin.ptr)!.stack!;
  const earlyStack = pool.getLeaks().find((leak) => leak.ptr === early.ptr)!.stack!;
  expect(earlyStack).not.toBe(lateStack);
  early.free();
  const error = thrown(() => early.free());
  expect(error).toBeInstanceOf(DoubleFreeError);
  expect(error!.message).toContain(earlyStack.split("\n")[0]!.trim());
  expect(error!.message).not.toContain(lateStack.split("\n")[0]!.trim());
  expect(error!.message).toContain("freed at");
});

test("renderTimeline ends the band of the allocation freed, not of its live twin", async () => {
  const { pool, early, twin } = await twins();
  twin.free();
  const details = [...renderTimeline(pool.getHistory()).matchAll(/data-details="([^"]*)"/g)].map((match) => match[1]!);
  const bandOf = (allocation: Allocation) => details.find((text) => text.includes(`at 0x${(allocation.ptr as number).toString(16)}`))!;
  expect(bandOf(early)).toContain("still live at the end");
  expect(bandOf(twin)).toContain("freed at event");
});
