/**
 * Seeing the memory, and copies across kinds: `bun bench/maps.ts`.
 *   snapshot of a pool of 10^5 blocks (both strategies)   goal: at most 100 ms
 *   renderMemoryMap of that snapshot                       (informs)
 *   copy() between host memory                             anchor: TypedArray.prototype.set, same bytes
 *   GPU, where one answers, 1 GiB:                         anchor: cuMemcpyDtoH into cuMemHostAlloc memory
 *     copy() device -> pinned (informs), copy() device -> PMEM, persisted (goal: at least 0.8x the anchor)
 * Every figure runs next to its anchor in this process. Results: bench/RESULTS.md.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { do_not_optimize, group, run } from "mitata";
import { copy, MemoryPoolManager, PoolConfig, renderMemoryMap, type CPUMemoryPool } from "../src/index.ts";
import { gpuDeviceCount, pmemUnavailableReason } from "../src/native.ts";
import { compare, type TimedGoal } from "./goals.ts";
import { cpuModel, formatNs, formatRatio, KiB, MiB, table, timesByName, xorshift32 } from "./util.ts";

const manager = MemoryPoolManager.getInstance();
const BLOCKS = 100_000;
const SNAPSHOT_GOAL_MS = 100;

/** Best and median of `runs` timed calls after `warmups` untimed ones, in ms. */
function timeMs(fn: () => unknown, runs = 15, warmups = 3): { best: number; median: number } {
  for (let i = 0; i < warmups; i++) do_not_optimize(fn());
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    do_not_optimize(fn());
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { best: times[0]!, median: times[Math.floor(times.length / 2)]! };
}

// ---- 1. snapshots of 10^5 blocks ----
/** A variable-size pool of at least 10^5 blocks: random sizes, every other one freed (holes that cannot merge). */
function variablePool(): CPUMemoryPool {
  const pool = manager.createCPUPool("bench_maps_variable", Object.assign(new PoolConfig(), { initialSize: 16 * MiB, growth: 1 }));
  const next = xorshift32(7);
  const addresses = Array.from({ length: BLOCKS }, () => pool.allocateRaw(16 + (next() % 497)));
  for (let i = 0; i < addresses.length; i += 2) pool.deallocate(addresses[i]!);
  return pool;
}
/** A fixed-size pool of 64 B blocks, 10^5 slots and a little more, 60 % of them live. */
function fixedPool(): CPUMemoryPool {
  const pool = manager.createCPUPool("bench_maps_fixed", Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: BLOCKS * 64 }));
  for (let i = 0; i < BLOCKS * 0.6; i++) pool.allocateRaw(64);
  return pool;
}

const snapshotRows: string[][] = [];
const unmet: string[] = [];
for (const pool of [variablePool(), fixedPool()]) {
  const snap = pool.snapshot();
  const taken = timeMs(() => pool.snapshot());
  const drawn = timeMs(() => renderMemoryMap(snap), 5, 1);
  const json = timeMs(() => JSON.stringify(snap), 5, 1);
  const met = taken.best <= SNAPSHOT_GOAL_MS;
  if (!met) unmet.push(`snapshot (${pool.config.allocatorType})`);
  snapshotRows.push([
    `snapshot, ${pool.config.allocatorType} pool, ${snap.blocks.length.toLocaleString("en-US")} blocks (${snap.stats.liveAllocations.toLocaleString("en-US")} live)`,
    `${taken.best.toFixed(1)} ms (median ${taken.median.toFixed(1)})`,
    `≤ ${SNAPSHOT_GOAL_MS} ms`,
    met ? "yes" : "NO",
  ]);
  snapshotRows.push([`  renderMemoryMap of it (${(renderMemoryMap(snap).length / MiB).toFixed(1)} MiB of SVG)`, `${drawn.best.toFixed(1)} ms`, "(info)", "—"]);
  snapshotRows.push([`  JSON.stringify of it`, `${json.best.toFixed(1)} ms`, "(info)", "—"]);
  manager.destroyPool(pool.name);
}

// ---- 2. host copies against TypedArray.set ----
const copyPool = manager.createCPUPool("bench_maps_copy", Object.assign(new PoolConfig(), { initialSize: 160 * MiB }));
const goals: TimedGoal[] = [];
const label = (n: number) => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`);
for (const size of [64, 4 * KiB, 1 * MiB, 64 * MiB]) {
  const src = copyPool.allocate(size);
  const dst = copyPool.allocate(size);
  src.bytes.fill(1);
  const srcArray = new Uint8Array(size).fill(2);
  const dstArray = new Uint8Array(size);
  const srcView = src.bytes;
  const dstView = dst.bytes;
  group(`host copies of ${label(size)}`, () => {
    goals.push(
      compare(
        `copy(allocation, allocation) ${label(size)} vs dst.bytes.set(src.bytes)`,
        [`copy(alloc, alloc) ${label(size)}`, () => do_not_optimize(copy(dst, src))],
        [`dst.bytes.set(src.bytes) ${label(size)}`, () => {
          dst.bytes.set(src.bytes);
          do_not_optimize(dst);
        }],
        undefined,
      ),
    );
    goals.push(
      compare(
        `copy(typed array, typed array) ${label(size)} vs dst.set(src)`,
        [`copy(typed, typed) ${label(size)}`, () => do_not_optimize(copy(dstArray, srcArray))],
        [`typed.set(typed) ${label(size)}`, () => {
          dstArray.set(srcArray);
          do_not_optimize(dstArray);
        }],
        undefined,
      ),
    );
    goals.push(
      compare(
        `copy(view, view) ${label(size)}: views over pool memory vs set`,
        [`copy(view, view) ${label(size)}`, () => do_not_optimize(copy(dstView, srcView))],
        [`view.set(view) ${label(size)}`, () => {
          dstView.set(srcView);
          do_not_optimize(dstView);
        }],
        undefined,
      ),
    );
  });
}

const average = timesByName(await run({ colors: false }));
const lowest = (names: string[]) => Math.min(...names.map((name) => average.get(name) ?? NaN));
const copyRows = goals.map((goal) => {
  const ours = lowest(goal.ours);
  const anchor = lowest(goal.anchor);
  return [goal.label, formatNs(ours), formatNs(anchor), `${formatRatio(ours / anchor)}×`];
});
manager.destroyPool("bench_maps_copy");

// ---- 3. GPU: the device -> pinned reference for GPU -> PMEM ----
const gpuRows: string[][] = [];
if (gpuDeviceCount() > 0) {
  const bytes = 1024 * MiB;
  const gpu = manager.createGPUPool("bench_maps_gpu", Object.assign(new PoolConfig(), { initialSize: bytes + 64 * MiB }));
  const pinned = manager.createPinnedPool("bench_maps_pinned", Object.assign(new PoolConfig(), { initialSize: bytes + 64 * MiB }));
  const device = gpu.allocate(bytes);
  const host = pinned.allocate(bytes);
  gpu.fill(device, 7);
  const cuda = dlopen("libcuda.so.1", {
    cuMemHostAlloc: { args: [FFIType.ptr, FFIType.u64, FFIType.u32], returns: FFIType.i32 },
    cuMemFreeHost: { args: [FFIType.ptr], returns: FFIType.i32 },
    cuMemcpyDtoH_v2: { args: [FFIType.ptr, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  }).symbols;
  const out = new BigUint64Array(1);
  if (cuda.cuMemHostAlloc(out, bytes, 0) !== 0) throw new Error("cuMemHostAlloc failed");
  const driverPinned = Number(read.u64(ptr(out), 0)) as Pointer;
  let failures = 0;
  const ours = timeMs(() => copy(host, device), 5, 1);
  const anchor = timeMs(() => (failures += cuda.cuMemcpyDtoH_v2(driverPinned, device.ptr, bytes) === 0 ? 0 : 1), 5, 1);
  const rate = (ms: number) => bytes / (ms * 1e6); // GB/s
  gpuRows.push([
    "copy(pinned, device), 1 GiB vs cuMemcpyDtoH into cuMemHostAlloc",
    `${rate(ours.best).toFixed(1)} GB/s`,
    `${rate(anchor.best).toFixed(1)} GB/s`,
    `${formatRatio(rate(ours.best) / rate(anchor.best))}×`,
  ]);
  if (pmemUnavailableReason() === undefined) {
    // A pool file in /dev/shm (emulated PMEM; persist is msync there unless PMEM_IS_PMEM_FORCE=1).
    const path = join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `bench-maps-${process.pid}.pool`);
    // The file holds its header, tables and roots beside the heap: room for one 1 GiB block and more.
    const pmem = manager.createPMEMPool("bench_maps_pmem", Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: bytes + 512 * MiB }));
    const checkpoint = pmem.allocate(bytes);
    const toPmem = timeMs(() => copy(checkpoint, device), 5, 1);
    const ratio = rate(toPmem.best) / rate(anchor.best);
    if (ratio < 0.8) unmet.push("GPU -> PMEM");
    gpuRows.push([
      `copy(PMEM, device), 1 GiB, persisted (isPmem ${pmem.isPmem}) vs the same anchor: goal ≥ 0.8×`,
      `${rate(toPmem.best).toFixed(1)} GB/s`,
      `${rate(anchor.best).toFixed(1)} GB/s`,
      `${formatRatio(ratio)}× (${ratio >= 0.8 ? "met" : "NOT met"})`,
    ]);
    checkpoint.free();
    manager.destroyPool("bench_maps_pmem");
    rmSync(path, { force: true });
  } else gpuRows.push(["GPU -> PMEM, 1 GiB", "not run: libpmem is missing here", "", ""]);
  if (failures > 0) console.error(`${failures} anchor driver call(s) failed`);
  cuda.cuMemFreeHost(driverPinned);
  device.free();
  host.free();
  manager.destroyPool("bench_maps_gpu");
  manager.destroyPool("bench_maps_pinned");
}

console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`\n${table(["figure", "ours", "goal", "met?"], snapshotRows)}`);
console.log(`\n${table(["host copy", "ours", "anchor", "ratio"], copyRows)}`);
if (gpuRows.length > 0) console.log(`\n${table(["GPU copy", "ours", "anchor", "ratio"], gpuRows)}`);
else console.log("\nGPU copies: no GPU here; run bun bench/maps.ts on the GPU machine (GPU -> pinned and GPU -> PMEM, 1 GiB).");
const outDir = join(import.meta.dir, "out");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "maps.json"), JSON.stringify({ date: new Date().toISOString(), cpu: cpuModel(), bun: Bun.version, snapshotRows, copyRows, gpuRows, averagesNs: Object.fromEntries(average), unmet }, null, 2));
console.log(`\n${unmet.length === 0 ? "goals met" : `unmet: ${unmet.join("; ")}`}`);
