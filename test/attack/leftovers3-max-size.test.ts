// A pool never holds more than its maxSize: the reservation is maxSize rounded up to the commit
// unit (64 KiB), but no block handed out, and no free byte counted, passes maxSize.
import { expect, test } from "bun:test";
import { OutOfMemoryError } from "../../src/index";
import { allocateUntilRefused } from "../support/fill";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { baseOf } from "../../src/pool";

const pool = cpuPoolsPerTest();
const MAX_SIZE = 100_000; // one unit of 64 KiB and 34,464 bytes of the next

const modes = [
  { threadSafety: "none", threadLocalCache: false },
  { threadSafety: "mutex", threadLocalCache: false },
  { threadSafety: "lockFree", threadLocalCache: false },
  { threadSafety: "mutex", threadLocalCache: true },
  { threadSafety: "lockFree", threadLocalCache: true },
] as const;

for (const allocatorType of ["FixedSize", "Variable"] as const) {
  for (const mode of modes) {
    if (allocatorType === "Variable" && mode.threadLocalCache) continue; // thread caches serve FixedSize pools
    for (const growth of [0, 1]) {
      test(`${allocatorType}, ${mode.threadSafety}${mode.threadLocalCache ? " with thread caches" : ""}, growth ${growth}: allocations stop at maxSize, and getStats() counts no byte past it`, () => {
        const p = pool(`leftovers3-max-${allocatorType}-${mode.threadSafety}-${mode.threadLocalCache}-${growth}`, {
          allocatorType,
          blockSize: 64,
          initialSize: growth === 0 ? MAX_SIZE : 64 * 1024,
          maxSize: MAX_SIZE,
          growth,
          ...mode,
        });
        const { held, refused } = allocateUntilRefused(() => p.allocate(64));
        expect(refused).toBeInstanceOf(OutOfMemoryError);
        const handedOut = held.length * 64;
        expect(handedOut).toBeLessThanOrEqual(MAX_SIZE);
        if (allocatorType === "FixedSize") expect(held.length).toBe(Math.floor(MAX_SIZE / 64)); // every block below maxSize, none past it
        else expect(handedOut).toBeGreaterThan(MAX_SIZE - 64 * 1024);
        for (const a of held) expect(Number(a.ptr) - Number(baseOf(p)) + 64).toBeLessThanOrEqual(MAX_SIZE);
        const stats = p.getStats();
        expect(stats.bytesInUse).toBe(handedOut);
        expect(stats.bytesAllocated + stats.freeBytes).toBeLessThanOrEqual(MAX_SIZE);
        for (const a of held) a.free();
        // Emptied, the largest request it serves lies inside maxSize too; one byte more is refused.
        p.trim();
        const whole = p.allocate(p.getStats().largestFreeBlock);
        expect(Number(whole.ptr) - Number(baseOf(p)) + whole.size).toBeLessThanOrEqual(MAX_SIZE);
        expect(thrown(() => p.allocate(MAX_SIZE + 1))).toBeInstanceOf(Error);
        whole.free();
      });
    }
  }
}
