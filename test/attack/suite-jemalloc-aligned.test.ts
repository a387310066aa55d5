/**
 * jemalloc's test/integration/aligned_alloc.c and mallocx.c (MALLOCX_ALIGN with sizes near the
 * limits), read and retold for this library, where alignment is a pool setting: on pools aligned to
 * 2048 and 4096 bytes (Variable, sharded, FixedSize with runs and block sizes that are no multiple of
 * the alignment, guard pages, canaries, a maxSize), requests just under, at and past 4 GiB and the
 * pool's 64 GiB reservation are either placed, aligned, or refused with an InvalidSizeError or an
 * OutOfMemoryError, never another error nor a crash (a size plus its alignment padding overflowing
 * 32 bits was the classic bug); the pool balances afterwards and still serves. These requests take
 * address space, not memory (nothing is written to them), so they run in this process. rallocx,
 * xallocx and sdallocx have no analogue (no realloc; a free is by pointer and the pool knows the size).
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, MemoryPoolManager, OutOfMemoryError, type PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const GiB = 2 ** 30;
const sizes = [2 ** 32 - 4096, 2 ** 32 - 4097, 2 ** 32 - 16, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 64 * GiB - 2 * 2 ** 20, 64 * GiB - 4096, 2 ** 36 - 1, 2 ** 36];

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, alignment 4096", { alignment: 4096 }],
  ["Variable, mutex, alignment 4096", { alignment: 4096, threadSafety: "mutex" }],
  ["Variable, lockFree (shards), alignment 4096", { alignment: 4096, threadSafety: "lockFree" }],
  ["FixedSize 4097, alignment 4096 (runs)", { alignment: 4096, allocatorType: "FixedSize", blockSize: 4097 }],
  ["FixedSize 3000, lockFree, alignment 2048 (runs)", { alignment: 2048, allocatorType: "FixedSize", blockSize: 3000, threadSafety: "lockFree" }],
  ["Variable, alignment 4096, maxSize 1 MiB", { alignment: 4096, maxSize: 1 << 20 }],
  ["Variable, alignment 4096, guard pages", { alignment: 4096, guardPages: true }],
  ["Variable, mutex, alignment 2048, canaries", { alignment: 2048, threadSafety: "mutex", canaries: true }],
];

describe("jemalloc aligned_alloc: sizes near 4 GiB and the pool's limit on aligned pools", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`suite-aligned-${name}`, shape);
      const alignment = shape.alignment!;
      const placed: number[] = [];
      for (const size of sizes) {
        let ptr: number;
        try {
          ptr = p.allocateRaw(size) as number;
        } catch (err) {
          expect([size, err instanceof InvalidSizeError || err instanceof OutOfMemoryError]).toEqual([size, true]);
          continue;
        }
        placed.push(size);
        expect([size, ptr % alignment]).toEqual([size, 0]);
        expect(p.fromPointer(ptr).size).toBe(size);
        p.deallocate(ptr);
      }
      if (shape.maxSize === undefined) expect(placed).toContain(2 ** 32 - 1); // the largest a FixedSize run holds, and a Variable pool's too
      const s = p.getStats();
      expect([s.bytesInUse, s.liveAllocations, s.allocationCount, s.freeCount]).toEqual([0, 0, placed.length, placed.length]);
      const after = p.allocate(100);
      expect((after.ptr as number) % alignment).toBe(0);
      after.bytes.fill(1);
      after.free();
      manager.flushThreadCaches();
    }, 20_000);
  }
});
