/**
 * The largest request a FixedSize pool takes (70e040e: "sizes run from 1 to N", N the largest run of
 * whole blocks, which an empty pool serves). Found by attacking main: with canaries the run's every
 * byte was counted as the request's, though the run holds the canaries too: allocate(N) on an empty
 * pool was an OutOfMemoryError, what 70e040e set out to end, and largestFreeBlock said N as well.
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

const SHAPES: [string, Partial<PoolConfig>][] = [
  ["canaries", { canaries: true }],
  ["canaries, mutex", { canaries: true, threadSafety: "mutex" }],
  ["canaries aligned to 4096", { canaries: true, alignment: 4096 }],
  ["canaries and guard pages on one allocation in three", { canaries: true, guardPages: true, guardSampleRate: 3 }],
  ["no debug switch", {}],
];

describe("an empty FixedSize pool serves the largest size it says it takes", () => {
  for (const [label, fields] of SHAPES) {
    test(label, () => {
      const p = pool(`attack13-size-max-${label}`, Object.assign(PoolConfig.FixedSizeCPU(3000), { initialSize: 64 << 10, maxSize: 1 << 20 }, fields));
      const refused = thrown<InvalidSizeError>(() => p.allocate(2 ** 31));
      expect(refused).toBeInstanceOf(InvalidSizeError);
      const largest = Number(/sizes run from 1 to (\d+)/.exec(refused.message)![1]);
      expect(thrown(() => p.allocate(largest + 1))).toBeInstanceOf(InvalidSizeError);
      for (let round = 0; round < 4; round++) p.allocate(largest).free(); // guarded or not, at random
      expect(p.getStats().largestFreeBlock).toBeLessThanOrEqual(largest);
    });
  }
});
