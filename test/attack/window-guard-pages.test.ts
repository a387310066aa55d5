/**
 * allocateWindowBytes on a pool with guard pages. Found by attack11: the block was placed first and
 * only then found guarded, so each refused call counted an allocation and a free the caller never
 * saw (allocationCount, freeCount, history), and with a sample rate (one allocation in N guarded,
 * as in production) the call failed at random in a loop that had run: an InvalidPointerError one
 * call in N. Now a pool with guard pages gives no window views, whatever its rate, and the call
 * takes no block; a handle's windowBytes() is the exact view `bytes` gives, guarded or not
 * (test/attack/internals-guard-windows.test.ts).
 */
import { expect, test } from "bun:test";
import { UnsupportedOperationError, type PoolOptions } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

const configs: [string, PoolOptions][] = [
  ["every allocation guarded", { guardPages: true }],
  ["one in 3 guarded", { guardPages: true, guardSampleRate: 3 }],
  ["FixedSize, one in 3 guarded", { allocatorType: "FixedSize", blockSize: 64, guardPages: true, guardSampleRate: 3 }],
  ["with history", { guardPages: true, guardSampleRate: 2, trackHistory: true }],
];

for (const [name, options] of configs) {
  test(`${name}: allocateWindowBytes is refused before any block is taken, every time`, () => {
    const p = pool(`attack-window-guards-${name}`, options);
    for (let i = 0; i < 12; i++) {
      const error = thrown(() => p.allocateWindowBytes(48));
      expect(error).toBeInstanceOf(UnsupportedOperationError);
      expect(error.message).toContain("guard pages");
    }
    expect(p.getStats()).toMatchObject({ allocationCount: 0, freeCount: 0, liveAllocations: 0, guardPageBytes: 0 });
    expect(p.getHistory()).toEqual([]);
    // The pool's other allocations are as they were; their windowBytes() is the exact view, guarded or not.
    const handles = Array.from({ length: 6 }, () => p.allocate(48));
    for (const handle of handles) {
      expect(handle.windowBytes().buffer.byteLength).toBe(48);
      handle.free();
    }
    expect(p.getStats()).toMatchObject({ allocationCount: 6, freeCount: 6, liveAllocations: 0 });
  });
}
