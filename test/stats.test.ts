/**
 * Statistics a person can trust: timings say when nothing was sampled, cumulative bytes, peaks
 * that can start again, the debug layer's bytes as rows of their own, the table and the memory map
 * saying the same for every debug preset, and MEMORY_POOL_SHOW_STATS printing tables at exit.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { MemoryPoolManager, PMEMUnavailableError, PoolConfig, renderMemoryMap } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { mapRows, tableRows } from "./support/stats_rows";
import { poolPath, removePoolFiles } from "./pmem/helpers";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

/** Allocations of assorted sizes, every third freed: live, free, quarantined and guarded blocks together. */
function exercise(p: { allocate(size: number): { free(): void } }): void {
  const held = Array.from({ length: 30 }, (_, i) => p.allocate(24 + ((i * 613) % 3000)));
  held.forEach((a, i) => i % 3 === 0 && a.free());
}

const PRESETS: [string, () => PoolConfig][] = [
  ["DebugCPU", () => PoolConfig.DebugCPU()],
  ["SampledGuardsCPU(2)", () => PoolConfig.SampledGuardsCPU(2)],
  ["canaries and quarantine", () => Object.assign(new PoolConfig(), { canaries: true, quarantineBytes: 8192 })],
  ["DebugCPU, fixed-size", () => Object.assign(PoolConfig.DebugCPU(), { allocatorType: "FixedSize", blockSize: 4096, initialSize: 256 * 1024 })],
  ["guard pages before, no quarantine", () => Object.assign(new PoolConfig(), { guardPages: true, guardPagePosition: "before" })],
];

describe("the table and the memory map agree", () => {
  for (const [name, config] of PRESETS) {
    test(`${name}: every row of the reserved bytes, counted by the core and from the blocks`, () => {
      const p = pool(`agree-${name}`, config());
      exercise(p);
      const snapshot = p.snapshot();
      const table = tableRows(p.getStats());
      const map = mapRows(snapshot);
      expect(map.size).toBeGreaterThanOrEqual(3);
      for (const [label, value] of map) expect(`${label}: ${table.get(label)}`).toBe(`${label}: ${value}`);
      // Every reserved byte is in one row: no part is left unaccounted for.
      expect(map.has("in no block") && snapshot.config.allocatorType === "Variable").toBe(false);
      const s = snapshot.stats;
      const sum = s.bytesAllocated + s.freeBytes + s.guardPageBytes + s.guardFreeBytes + s.quarantinedBytes;
      if (snapshot.config.allocatorType === "Variable") expect(sum).toBe(s.bytesReserved);
      const expectRow = (label: string, present: boolean) => expect([label, map.has(label)]).toEqual([label, present]);
      const c = snapshot.config;
      expectRow("guard pages", c.guardPages === true);
      expectRow("quarantined", (c.quarantineBytes as number) > 0);
      if (c.canaries === true) expect(table.get("live blocks")).toContain("of which canaries");
      p.reset(); // no leak report for what the test left allocated
    });
  }

  test("DebugPMEM: a persistent pool's table and map agree too", () => {
    let pm;
    try {
      pm = manager.createPMEMPool("agree-pmem", PoolConfig.DebugPMEM(poolPath("agree")));
    } catch (err) {
      if (err instanceof PMEMUnavailableError) return console.warn(`skipped: ${err.message}`);
      throw err;
    }
    try {
      exercise(pm);
      const map = mapRows(pm.snapshot());
      const table = tableRows(pm.getStats());
      for (const [label, value] of map) expect(`${label}: ${table.get(label)}`).toBe(`${label}: ${value}`);
    } finally {
      pm.reset();
      manager.destroyPool("agree-pmem");
    }
  });

  test("a guard region's free pages are not drawn as scattered free space", () => {
    const p = pool("agree-guard-free", PoolConfig.DebugCPU());
    exercise(p);
    const svg = renderMemoryMap(p.snapshot());
    expect(svg).toContain('class="block guardFree"');
    expect(svg).not.toMatch(/class="block guardFree scattered"/);
    expect(svg).toMatch(/region \d+ at \+0x[0-9a-f]+, [\d.]+ MiB: \d+ live, guard pages: [\d.]+ KiB free for allocations with guard pages/);
    expect(p.getStats().fragmentation).toBe(0); // the strategy's free space is one piece
    p.reset();
  });
});

describe("figures", () => {
  test("timings say 'no sample yet' until an operation is sampled, then the mean and how many", () => {
    const p = pool("figures-timing", { threadSafety: "mutex" }); // the core's path: the JavaScript bins of a "none" pool are not timed
    p.allocate(64).free();
    const few = p.getStats();
    expect(few.allocTimeSamples).toBe(0);
    expect(tableRows(few).get("alloc / free time")).toStartWith("no sample yet / no sample yet");
    for (let i = 0; i < 600; i++) p.deallocate(p.allocateRaw(64));
    const many = p.getStats();
    expect(many.allocTimeSamples).toBe(2); // one operation in 256: the 256th and the 512th
    expect(many.freeTimeSamples).toBe(2);
    expect(tableRows(many).get("alloc / free time")).toMatch(/^\d+ ns \(2 samples\) \/ \d+ ns \(2 samples\)/);
  });

  test("cumulative bytes allocated and freed, a reset counting what was live as freed", () => {
    const p = pool("figures-cumulative");
    const a = p.allocate(1000);
    p.allocate(500);
    a.free();
    let s = p.getStats();
    expect([s.bytesAllocatedTotal, s.bytesFreedTotal, s.bytesInUse]).toEqual([1500, 1000, 500]);
    p.reset();
    s = p.getStats();
    expect([s.bytesAllocatedTotal, s.bytesFreedTotal, s.bytesInUse]).toEqual([1500, 1500, 0]);
    expect(tableRows(s).get("allocated / freed")).toBe("1.46 KiB / 1.46 KiB in 2 / 2 calls, since the start");
  });

  test("cumulative bytes of a lockFree pool (striped counters) add up the same way", () => {
    const p = pool("figures-lockfree", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 256 });
    const held = Array.from({ length: 10 }, () => p.allocate(200));
    for (const a of held.slice(0, 4)) a.free();
    const s = p.getStats();
    expect([s.bytesAllocatedTotal, s.bytesFreedTotal, s.bytesInUse]).toEqual([2000, 800, 1200]);
  });

  test("resetPeaks: peaks start again from what is live now", () => {
    const p = pool("figures-peaks");
    const big = Array.from({ length: 8 }, () => p.allocate(4096));
    for (const a of big.slice(1)) a.free();
    expect(p.getStats().peakBytesInUse).toBe(8 * 4096);
    p.resetPeaks();
    let s = p.getStats();
    expect([s.peakBytesInUse, s.peakLiveAllocations, s.peakBytesReserved]).toEqual([4096, 1, s.bytesReserved]);
    p.allocate(100);
    s = p.getStats();
    expect([s.peakBytesInUse, s.peakLiveAllocations]).toEqual([4196, 2]);
    manager.destroyPool("figures-peaks");
    expect(() => p.resetPeaks()).toThrow("was destroyed");
    pool("figures-peaks"); // made again so the per-test cleanup finds it
  });
});

describe("MEMORY_POOL_SHOW_STATS", () => {
  const script = `
    import { MemoryPoolManager } from ${JSON.stringify(`${import.meta.dir}/../src/index`)};
    const m = MemoryPoolManager.getInstance();
    const kept = m.createCPUPool("shown-at-exit");
    kept.allocate(3000);
    const gone = m.createCPUPool("shown-at-destroy");
    gone.allocate(10);
    m.destroyPool("shown-at-destroy");
  `;
  const run = (value: string | undefined) => {
    const env: Record<string, string | undefined> = { ...process.env, MEMORY_POOL_SHOW_STATS: value };
    const result = Bun.spawnSync([process.execPath, "-e", script], { env, stderr: "pipe", stdout: "pipe" });
    expect(result.exitCode).toBe(0);
    return result.stderr.toString();
  };

  test("=1 prints each pool's table: when it is destroyed, and the others at exit", () => {
    const out = run("1");
    expect(out).toContain("Memory pool 'shown-at-destroy' (when it was destroyed)");
    expect(out).toContain("Memory pool 'shown-at-exit' (at process exit)");
    expect(out).toMatch(/bytes in use +2\.93 KiB \(peak 2\.93 KiB\)/);
    expect(out.indexOf("shown-at-destroy")).toBeLessThan(out.indexOf("shown-at-exit"));
  });

  test("unset or 0 prints nothing", () => {
    expect(run(undefined)).toBe("");
    expect(run("0")).toBe("");
  });
});
