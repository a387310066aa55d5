/**
 * The JavaScript cache past 2^31: its chunks are viewed as an Int32Array, where the core's u32
 * words above 2^31 read negative. Found by attacking the default FixedSize pool: a block 32 GiB or
 * more into the pool (granule offset 2^31 and up) came out of the cache as a negative offset, a
 * CoreError "(status -2147483648)" whose block stayed counted as allocated, and frees and `alive`
 * of such blocks misread their start word; a request of 2 GiB or more in one block (blockSize runs
 * to 4 GiB) counted its bytes negative when freed, and the next getStats() crashed the process
 * (the core's float-to-integer check). In a child process, so a crash fails the test. The blocks
 * are committed, never touched: the test costs address space, not memory.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const GiB = 2 ** 30;

test("blocks 32 GiB into a default pool, and requests of 2 GiB or more, work like any other", async () => {
  const run = await runChild("../../fixtures/attack/past-2gib-child.ts", []);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const { far, bigRequests } = JSON.parse(run.stdout);
  if (far.skipped !== undefined) console.warn(`skipped (strict overcommit): ${far.skipped}`);
  else {
    expect(far).toEqual({
      rawOffsetGiB: 35,
      distinct: true,
      alive: true,
      stats: true,
      high: 3,
      fromPointer: true,
      freeByHandle: "ok",
      freeByPointer: "ok",
      aliveAfter: false,
      doubleFreeByPointer: "DOUBLE_FREE",
      doubleFreeByHandle: "DOUBLE_FREE",
      freeRaw: "ok",
      againFar: true,
      end: { live: 0, bytesInUse: 0 },
    });
  }
  if (bigRequests.skipped !== undefined) console.warn(`skipped (strict overcommit): ${bigRequests.skipped}`);
  else expect(bigRequests).toEqual({ inUse: [2 ** 31 + 5 + 3 * GiB, 3 * GiB, 0, 2 ** 31, 0], freeCount: 3, liveAllocations: 0 });
}, 30_000);
