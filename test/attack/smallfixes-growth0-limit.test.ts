/**
 * A pool that never grows (growth 0) states as its largest request what its first region holds.
 * Before, the InvalidSizeError's "sizes run from 1 to N" took N from the whole reservation (maxSize,
 * or 64 GiB without one), which such a pool can never hold, and requests between the two were
 * OutOfMemoryErrors that no free could cure. Now N is what the pool holds: an empty pool serves
 * exactly N bytes, and N + 1 is an InvalidSizeError; its OutOfMemoryError names the same bytes.
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, OutOfMemoryError, type CPUMemoryPool, type PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const MiB = 1 << 20;

/** The largest request the pool says it takes, from its InvalidSizeError for one past any. */
function statedLimit(p: CPUMemoryPool): number {
  const refused = thrown<InvalidSizeError>(() => p.allocate(2 ** 40));
  expect(refused).toBeInstanceOf(InvalidSizeError);
  return Number(/sizes run from 1 to (\d+)/.exec(refused.message)![1]);
}

type Shape = [string, Partial<PoolConfig>, (reserved: number) => number];
const SHAPES: Shape[] = [
  ["Variable, none", { allocatorType: "Variable" }, (reserved) => reserved],
  ["Variable, mutex, alignment 4096", { allocatorType: "Variable", threadSafety: "mutex", alignment: 4096 }, (reserved) => reserved],
  ["Variable, lockFree", { allocatorType: "Variable", threadSafety: "lockFree" }, (reserved) => reserved],
  ["FixedSize 3000 (blocks of 3008)", { allocatorType: "FixedSize", blockSize: 3000 }, (reserved) => Math.floor(reserved / 3008) * 3008],
  ["FixedSize 4096, lockFree + threadLocalCache", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "lockFree", threadLocalCache: true }, (reserved) => reserved],
];

describe("growth 0: the largest request is what the first region holds", () => {
  for (const [name, fields, holds] of SHAPES) {
    for (const maxSize of [0, 8 * MiB]) {
      test(`${name}, maxSize ${maxSize}`, () => {
        const p = pool(`smallfixes-growth0-${name}-${maxSize}`, { ...fields, initialSize: MiB, maxSize, growth: 0 });
        const reserved = p.getStats().bytesReserved;
        expect(reserved).toBeLessThan(2 * MiB); // the first region, not the reservation
        const limit = statedLimit(p);
        expect(limit).toBe(holds(reserved));
        // exactly the limit on the empty pool, then one byte more: the typed error, counted nowhere
        const whole = p.allocate(limit);
        expect(whole.size).toBe(limit);
        whole.bytes[limit - 1] = 1;
        whole.free();
        const past = thrown(() => p.allocate(limit + 1));
        expect(past).toBeInstanceOf(InvalidSizeError);
        expect(past.message).toContain(`sizes run from 1 to ${limit}`);
        // a request the pool could hold, refused for want of free space now, names the same bytes
        const held = p.allocate(4096);
        const full = thrown(() => p.allocate(limit));
        expect(full).toBeInstanceOf(OutOfMemoryError);
        expect(full.message).toContain(`${reserved} of at most ${reserved} bytes reserved`);
        held.free();
        const stats = p.getStats();
        expect(stats.failedAllocations).toBe(1);
        expect(stats.bytesReserved).toBe(reserved);
      });
    }
  }

  test("with canaries the limit leaves out their bytes, and an empty pool serves it", () => {
    const p = pool("smallfixes-growth0-canaries", { allocatorType: "Variable", threadSafety: "mutex", canaries: true, initialSize: MiB, maxSize: 8 * MiB, growth: 0 });
    const reserved = p.getStats().bytesReserved;
    const limit = statedLimit(p);
    expect(limit).toBeLessThan(reserved);
    expect(reserved - limit).toBeLessThanOrEqual(64);
    p.allocate(limit).free();
    expect(thrown(() => p.allocate(limit + 1))).toBeInstanceOf(InvalidSizeError);
  });
});
