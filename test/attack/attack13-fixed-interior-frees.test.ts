/**
 * A free of a pointer that is not at a block's start, in FixedSize pools. Found by attacking main:
 * every placement (the JavaScript cache of "none" pools, the locked blocks, the lock-free blocks)
 * said "points inside an allocation of pool 'p', not at its start" for a pointer into a free block,
 * one never given out or one already freed, where no allocation is; Variable pools say "never gave
 * out" there. Inside a live block (a run's too) it is still an allocation's interior.
 */
import { describe, expect, test } from "bun:test";
import { InvalidPointerError, type PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { baseOf } from "../../src/pool";

const pool = cpuPoolsPerTest();

const SHAPES: [string, Partial<PoolConfig>][] = [
  ["none (the JavaScript cache)", {}],
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex with canaries", { threadSafety: "mutex", canaries: true }],
];

describe("FixedSize: a pointer inside a block", () => {
  for (const [label, fields] of SHAPES) {
    test(label, () => {
      const p = pool(`attack13-interior-${label}`, { allocatorType: "FixedSize", blockSize: 256, initialSize: 1 << 20, ...fields });
      const live = p.allocate(200);
      const run = p.allocate(600); // a run of three blocks
      const freed = p.allocate(200);
      const freedPtr = freed.ptr;
      freed.free();
      const untouched = baseOf(p) + (512 << 10) + 32;
      for (const [what, address] of [["a block never given out", untouched], ["a freed block", freedPtr + 32]] as const) {
        const error = thrown(() => p.deallocate(address));
        expect([what, error]).toEqual([what, expect.any(InvalidPointerError)]);
        expect([what, error.message]).toEqual([what, expect.stringContaining("never gave out")]);
        expect([what, error.message]).toEqual([what, expect.not.stringContaining("inside an allocation")]);
      }
      for (const [what, address] of [["a live block", live.ptr + 32], ["a run's later block", run.ptr + 256 + 32]] as const) {
        const error = thrown(() => p.deallocate(address));
        expect([what, error]).toEqual([what, expect.any(InvalidPointerError)]);
        expect([what, error.message]).toEqual([what, expect.stringMatching(/inside (an allocation|a run)/)]);
      }
      expect([live.alive, run.alive]).toEqual([true, true]); // refused frees took nothing
      live.free();
      run.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});
