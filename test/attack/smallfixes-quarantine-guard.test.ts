/**
 * With guard pages, quarantinedBytes and its limit quarantineBytes count the same bytes: a freed
 * guarded block's data pages (its guard page is in guardPageBytes). Before, the limit counted the
 * guard page too while the figure did not, so page-sized blocks filled the quarantine at half the
 * figure the user set.
 */
import { expect, test } from "bun:test";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();
const PAGE = 4096;

for (const guardPagePosition of ["after", "before"] as const) {
  test(`guard pages ${guardPagePosition}: a full quarantine reports quarantineBytes, never more`, () => {
    const quarantineBytes = 16 * PAGE;
    const p = pool(`smallfixes-quarantine-guard-${guardPagePosition}`, { guardPages: true, guardPagePosition, quarantineBytes });
    const readings: number[] = [];
    for (let i = 0; i < 40; i++) {
      p.allocate(100).free(); // one data page and one guard page each
      const s = p.getStats();
      readings.push(s.quarantinedBytes);
      // the table still splits the reserved bytes: guard pages are counted once, apart
      expect(s.bytesAllocated + s.freeBytes + s.guardPageBytes + s.guardFreeBytes + s.quarantinedBytes).toBe(s.bytesReserved);
    }
    expect(readings.slice(0, 16)).toEqual(Array.from({ length: 16 }, (_, i) => (i + 1) * PAGE));
    expect(Math.max(...readings)).toBe(quarantineBytes);
    expect(readings.slice(16).every((bytes) => bytes === quarantineBytes)).toBe(true);
    // every held block keeps its guard page, counted in guardPageBytes
    expect(p.getStats().guardPageBytes).toBe(16 * PAGE);
  });
}
