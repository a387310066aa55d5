/**
 * What the debug switches cost: `bun bench/debug.ts` (builds what it needs). Every figure runs
 * next to its anchor in this process, in A B B A A B order so drift falls on both sides, and the
 * lowest median of each side counts (interference only ever adds time; on a shared 2-core machine
 * the median of a run is steadier than its mean).
 *
 *  1. Debug off vs a core built without the debug layer (zig build -Ddebug-layer=false), both
 *     opened here through bun:ffi and driven the same way: alloc + free of 64 B.      goal ≤ 1.02×
 *  2. Each switch vs the plain pool, allocateRaw(64) + deallocate and allocate(64) + free():
 *     canaries only ≤ 1.5×, sampled guard pages (SampledGuardsCPU(): one in 5000, GWP-ASan's
 *     default rate) ≤ 1.1×, one in 1000 and one in 100 recorded; guard pages on every
 *     allocation, safe views, history with stacks, leak tracking and DebugCPU() are recorded.
 */
import { dlopen, FFIType } from "bun:ffi";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bench, do_not_optimize, group, run } from "mitata";
import { MemoryPoolManager, PoolConfig, type CPUMemoryPool } from "../src/index";
import { locateCore } from "../src/loader";
import { CONFIG_FIELDS } from "../src/native";
import { timesByName } from "./util";

const root = join(import.meta.dir, "..");
const withoutDebugPath = join(root, "bench", "out", "nodebug", "lib", "libmemory_pool.so");
const SIZE = 64;

// ---- the anchor build: the same core without the debug layer ----

/** Built every run (zig's cache makes it quick when nothing changed), so it is never older than the core it is compared with. */
function buildWithoutDebug(): void {
  console.error("building the core without the debug layer into bench/out/nodebug ...");
  const zig = spawnSync("python3", ["-m", "ziglang", "build", "-Ddebug-layer=false", "--prefix", join(root, "bench", "out", "nodebug"), "--summary", "none"], {
    cwd: join(root, "zig"),
    env: { ...process.env, PYTHONPATH: join(root, ".tools", "zig") },
    stdio: "inherit",
  });
  if (zig.status !== 0 || !existsSync(withoutDebugPath)) throw new Error("zig build -Ddebug-layer=false failed");
}

/** A core opened on its own, driven with the bare exports: nothing of the TypeScript layer in between. */
function openCore(path: string) {
  const { i32, u32, f64, ptr } = FFIType;
  const library = dlopen(path, {
    mp_pool_create: { args: [ptr, u32, ptr], returns: i32 },
    mp_pool_destroy: { args: [i32], returns: i32 },
    mp_alloc: { args: [i32, f64], returns: u32 },
    mp_free: { args: [i32, u32, u32], returns: i32 },
    mp_debug_layer: { args: [], returns: u32 },
  });
  const core = library.symbols;
  const name = new TextEncoder().encode("bench-core");
  const config = Float64Array.from(CONFIG_FIELDS, (field) => CORE_CONFIG[field] ?? 0);
  const handle = core.mp_pool_create(name, name.length, config);
  if (handle < 0) throw new Error(`${path}: mp_pool_create failed (${handle})`);
  return {
    hasDebugLayer: core.mp_debug_layer() === 1,
    loop: () => {
      const g = core.mp_alloc(handle, SIZE);
      core.mp_free(handle, g, 0);
      do_not_optimize(g);
    },
    close: () => core.mp_pool_destroy(handle),
  };
}

/** A variable-size pool of 1 MiB with every debug switch off, as the config record says it. */
const CORE_CONFIG: Partial<Record<(typeof CONFIG_FIELDS)[number], number>> = {
  allocatorType: 1,
  alignment: 16,
  initialSize: 1 << 20,
  growth: 1,
  collectStats: 1,
  guardSampleRate: 1,
  fillOnAlloc: -1,
  fillOnFree: -1,
  historySize: 1000,
};

// ---- comparisons ----

interface Row {
  label: string;
  ours: string[];
  anchor: string[];
  goal?: number;
}
const rows: Row[] = [];

/** Registers ours and its anchor as A B B A A B and returns the row that compares them. */
function compare(label: string, ours: [string, () => void], anchor: [string, () => void], goal?: number): void {
  const row: Row = { label, ours: [], anchor: [], goal };
  for (const [round, order] of ["AB", "BA", "AB"].entries()) {
    for (const side of order) {
      const [name, fn] = side === "A" ? ours : anchor;
      bench(`${name} #${round + 1}`, fn);
      (side === "A" ? row.ours : row.anchor).push(`${name} #${round + 1}`);
    }
  }
  rows.push(row);
}

buildWithoutDebug();
const withDebug = openCore(locateCore().path);
const withoutDebug = openCore(withoutDebugPath);
if (!withDebug.hasDebugLayer || withoutDebug.hasDebugLayer) throw new Error("the two cores are not the builds with and without the debug layer");
group("1. the core: debug off vs built without the debug layer", () => {
  compare("1. core alloc+free 64 B: debug off / no debug code", ["debug layer built, off", withDebug.loop], ["no debug layer in the build", withoutDebug.loop], 1.02);
});

const manager = MemoryPoolManager.getInstance();
const pools: CPUMemoryPool[] = [];
function poolWith(name: string, fields: Partial<PoolConfig>, base = new PoolConfig()): CPUMemoryPool {
  const pool = manager.createCPUPool(`bench-debug-${name}`, Object.assign(base, { initialSize: 8 << 20, growth: 2 }, fields));
  pools.push(pool);
  return pool;
}

const rawLoop = (pool: CPUMemoryPool) => () => {
  const p = pool.allocateRaw(SIZE);
  pool.deallocate(p);
  do_not_optimize(p);
};
const handleLoop = (pool: CPUMemoryPool) => () => {
  const a = pool.allocate(SIZE);
  a.free();
  do_not_optimize(a);
};

const plain = poolWith("plain", {});
const switches: [label: string, pool: CPUMemoryPool, goal?: number][] = [
  ["canaries only", poolWith("canaries", { canaries: true }), 1.5],
  ["sampled guard pages (1 in 5000)", poolWith("sampled", {}, PoolConfig.SampledGuardsCPU()), 1.1],
  ["sampled guard pages (1 in 1000)", poolWith("sampled-1000", { guardPages: true, guardSampleRate: 1000 })],
  ["sampled guard pages (1 in 100)", poolWith("sampled-100", { guardPages: true, guardSampleRate: 100 })],
  ["guard pages on every allocation", poolWith("guarded", { guardPages: true })],
  ["fills (fillOnAlloc + fillOnFree)", poolWith("fills", { fillOnAlloc: 0xcd, fillOnFree: 0xdd })],
  ["quarantine (1 MiB)", poolWith("quarantine", { quarantineBytes: 1 << 20 })],
  ["safe views", poolWith("safe", { safeViews: true })],
  ["leak tracking (leakReport)", poolWith("leaks", { leakReport: true })],
  ["history with stacks (trackHistory)", poolWith("history", { trackHistory: true })],
  ["DebugCPU(): everything on", poolWith("full", {}, PoolConfig.DebugCPU())],
];
for (const [label, pool, goal] of switches) {
  group(`2. ${label} vs the plain pool`, () => {
    // The anchor runs again next to each switch (under a name of its own), so drift between groups cannot favour either side.
    compare(`2. ${label}: allocateRaw+deallocate`, [`${label}: raw`, rawLoop(pool)], [`plain pool (next to ${label}): raw`, rawLoop(plain)], goal);
    compare(`2. ${label}: allocate+free()`, [`${label}: handle`, handleLoop(pool)], [`plain pool (next to ${label}): handle`, handleLoop(plain)], goal);
  });
}

const median = timesByName(await run(), "p50");
for (const pool of pools) manager.destroyPool(pool.name);
withDebug.close();
withoutDebug.close();

const lowest = (names: string[]) => Math.min(...names.map((name) => median.get(name) ?? NaN));
const formatNs = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
const table: string[][] = [["figure", "ours", "anchor", "ratio", "goal", "met?"]];
for (const row of rows) {
  const ours = lowest(row.ours);
  const anchor = lowest(row.anchor);
  const ratio = ours / anchor;
  table.push([row.label, formatNs(ours), formatNs(anchor), `${ratio.toFixed(3)}×`, row.goal === undefined ? "(info)" : `≤ ${row.goal}×`, row.goal === undefined ? "—" : ratio <= row.goal ? "yes" : "NO"]);
}
const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
console.log(`\ncpu: ${cpu} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
for (const cells of table) console.log(cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  "));
