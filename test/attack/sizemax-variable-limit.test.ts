/**
 * The largest request a Variable pool takes. A pool of initialSize 64 KiB and maxSize 1 MiB said
 * "sizes run from 1 to 1048576", but allocate(1 MiB) on the empty pool was an OutOfMemoryError: its
 * first region is never given back, so no request past what fits beside it could ever be served.
 * The limit is now the largest block one region the pool could still add holds (or its first
 * region, where that is larger), less what a block holds besides its request (canaries, alignment):
 * past it an InvalidSizeError naming the limit, and an empty pool serves exactly that size (found
 * here by bisection, on every thread-safety mode, with and without canaries, growth on and off).
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, MemoryPoolManager, OutOfMemoryError, PoolConfig, type CPUMemoryPool } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();
const KiB = 1 << 10;
const MiB = 1 << 20;

/** The limit the pool states in its InvalidSizeError for a request past any it could take. */
function statedLimit(p: CPUMemoryPool): number {
  const refused = thrown<InvalidSizeError>(() => p.allocate(2 ** 40));
  expect(refused).toBeInstanceOf(InvalidSizeError);
  return Number(/sizes run from 1 to (\d+)/.exec(refused.message)![1]);
}

/**
 * Whether a new pool of `fields` serves `size` bytes (destroyed after): a fresh pool each time, so
 * no probe starts from the regions an earlier one grew. Anything but
 * OutOfMemory or InvalidSize throws.
 */
function served(fields: Partial<PoolConfig>, size: number): boolean {
  const name = `sizemax-probe-${size}`;
  const p = manager.createCPUPool(name, Object.assign(new PoolConfig(), fields));
  try {
    p.allocate(size).free();
    return true;
  } catch (error) {
    if (!(error instanceof OutOfMemoryError) && !(error instanceof InvalidSizeError)) throw error;
    return false;
  } finally {
    manager.destroyPool(name);
  }
}

/** The largest size an empty pool of `fields` serves, by bisection between 1 and `ceiling`. */
function largestServed(fields: Partial<PoolConfig>, ceiling: number): number {
  let low = 1; // served
  let high = ceiling + 1; // not served
  expect(served(fields, low)).toBe(true);
  expect(served(fields, high)).toBe(false);
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (served(fields, middle)) low = middle;
    else high = middle;
  }
  return low;
}

type Shape = { label: string; initialSize: number; maxSize: number; growth: number };
const SHAPES: Shape[] = [
  { label: "growth on, 64 KiB of 1 MiB", initialSize: 64 * KiB, maxSize: MiB, growth: 2 },
  { label: "growth off, 1 MiB of 1 MiB", initialSize: MiB, maxSize: MiB, growth: 0 },
];
const MODES = ["none", "mutex", "lockFree"] as const;

describe("an empty Variable pool serves exactly the largest size it says it takes", () => {
  for (const shape of SHAPES) {
    for (const threadSafety of MODES) {
      for (const alignment of [16, 4096]) {
        test(`${shape.label}, ${threadSafety}, alignment ${alignment}: canaries leave out their bytes, no more${threadSafety === "lockFree" ? " (no canaries: they need a lock)" : ""}`, () => {
          const fields = { allocatorType: "Variable", threadSafety, alignment, initialSize: shape.initialSize, maxSize: shape.maxSize, growth: shape.growth } as const;
          const plain = pool(`sizemax-${shape.growth}-${threadSafety}-${alignment}`, fields);
          const limit = statedLimit(plain);
          // Growth on: the largest new region is what the first leaves of maxSize, and a block at
          // the pool's alignment is sure to fit in it at any start (alignment - 16 bytes of slack).
          const expected = shape.growth > 0 ? shape.maxSize - shape.initialSize - (alignment - 16) : shape.maxSize;
          expect(limit).toBe(expected);
          expect(largestServed(fields, shape.maxSize)).toBe(limit);
          expect(thrown(() => plain.allocate(limit + 1))).toBeInstanceOf(InvalidSizeError);

          if (threadSafety === "lockFree") return; // canaries work under the pool's lock: a ConfigError there
          const guarded = pool(`sizemax-canaries-${shape.growth}-${threadSafety}-${alignment}`, { ...fields, canaries: true });
          const guardedLimit = statedLimit(guarded);
          expect(guardedLimit).toBeLessThan(limit); // the canaries' bytes, a granule or an alignment in front
          expect(limit - guardedLimit).toBeLessThanOrEqual(alignment + 64);
          expect(largestServed({ ...fields, canaries: true }, shape.maxSize)).toBe(guardedLimit);
          expect(thrown(() => guarded.allocate(guardedLimit + 1))).toBeInstanceOf(InvalidSizeError);
        });
      }
    }
  }

  test("guard pages on one allocation in two, with canaries: the limit is served guarded or not", () => {
    const p = pool("sizemax-guard-pages", Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 64 * KiB, maxSize: MiB, canaries: true, guardPages: true, guardSampleRate: 2 }));
    const limit = statedLimit(p);
    expect(limit).toBeLessThan(MiB - 64 * KiB);
    for (let round = 0; round < 6; round++) {
      const block = p.allocate(limit);
      expect(block.bytes.length).toBe(limit);
      block.free();
      p.trim();
    }
    expect(thrown(() => p.allocate(limit + 1))).toBeInstanceOf(InvalidSizeError);
  });
});
