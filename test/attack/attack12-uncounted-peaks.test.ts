/**
 * The statistics table of a pool that keeps no peaks (collectStats: false: peaks read 0, as
 * test/pool.test.ts has them). Found by attacking main: getStatsString() printed those zeros as
 * peaks, "1.00 MiB (peak 0 B)" and "2 (peak 0)", a peak below the figure it is the peak of; it now
 * says the peak is not kept. Pools that keep peaks print them as before.
 */
import { expect, test } from "bun:test";
import type { PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();

// A FixedSize pool's cache keeps its peaks whatever collectStats says: its table prints them.
const CONFIGS: [string, Partial<PoolConfig>, boolean][] = [
  ["Variable, none (JavaScript bins)", {}, false],
  ["Variable, mutex", { threadSafety: "mutex" }, false],
  ["FixedSize, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 64 }, true],
];

for (const [name, fields, keptAnyway] of CONFIGS) {
  test(`${name}: with collectStats off the table says peaks are not kept, unless they are; with it on it prints them`, () => {
    const off = pool(`attack12-uncounted-peaks-off-${name}`, { ...fields, collectStats: false });
    off.allocate(40);
    off.allocate(24);
    const table = off.getStats().getStatsString();
    expect(table).toMatch(keptAnyway ? /bytes in use +64 B \(peak 64 B\)/ : /bytes in use +64 B \(peak not kept: collectStats is off\)/);
    expect(table).toMatch(keptAnyway ? /live allocations +2 \(peak 2\)/ : /live allocations +2 \(peak not kept: collectStats is off\)/);
    const on = pool(`attack12-uncounted-peaks-on-${name}`, fields);
    on.allocate(40);
    on.allocate(24).free();
    const counted = on.getStats().getStatsString();
    // (A cached pool's peaks are a lower bound: the README's Statistics.)
    expect(counted).toMatch(/bytes in use +40 B \(peak (40|64) B\)/);
    expect(counted).toMatch(/live allocations +1 \(peak [12]\)/);
  });
}
