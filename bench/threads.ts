/**
 * Threads: alloc + free throughput of one shared pool used by 1, 2, 4, 8 and 16 Workers at once,
 * for each thread-safety option, next to glibc malloc + free through bun:ffi in the same Workers.
 * Each Worker holds a window of 64 blocks: it frees the oldest and allocates a new one, so every
 * operation is one allocate and one free of a 64-byte block (FixedSize pools of 64-byte blocks).
 *
 *   bun bench/threads.ts                      (THREADS_WORKERS=1,2,4 THREADS_PAIRS=200000 to shorten)
 *
 * Goals (issue 4): with thread caches, 16 Workers reach at least 0.8 x 16 x one Worker's
 * throughput; lock-free reaches at least 2 x the mutex pool at 16 Workers.
 */
import { cpus } from "node:os";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";

declare const self: Worker;

interface Job {
  option: string;
  poolName: string;
  pairs: number;
}

const WINDOW = 64;
const BLOCK_BYTES = 64;

const options: Record<string, Partial<PoolConfig> | "malloc"> = {
  "libc malloc": "malloc",
  mutex: { threadSafety: "mutex" },
  lockFree: { threadSafety: "lockFree" },
  "mutex + threadLocalCache": { threadSafety: "mutex", threadLocalCache: true },
  "lockFree + threadLocalCache": { threadSafety: "lockFree", threadLocalCache: true },
  // A Variable pool (the sizes here all 64 B): mutex, and the sharded path (a shard per Worker).
  "Variable, mutex": { allocatorType: "Variable", threadSafety: "mutex" },
  "Variable, lockFree (sharded)": { allocatorType: "Variable", threadSafety: "lockFree" },
};

function workerMain(): void {
  self.onmessage = (event: MessageEvent<Job | "go">) => {
    if (event.data === "go") return;
    const job = event.data;
    const ring: number[] = new Array(WINDOW).fill(0);
    let run: () => void;
    if (job.option === "libc malloc") {
      for (let i = 0; i < WINDOW; i++) ring[i] = malloc(BLOCK_BYTES) as number;
      run = () => {
        for (let i = 0; i < job.pairs; i++) {
          const at = i & (WINDOW - 1);
          free(ring[at] as never);
          ring[at] = malloc(BLOCK_BYTES) as number;
        }
        for (const p of ring) free(p as never);
      };
    } else {
      const pool = MemoryPoolManager.getInstance().getPool(job.poolName, "cpu");
      for (let i = 0; i < WINDOW; i++) ring[i] = pool.allocateRaw(BLOCK_BYTES);
      run = () => {
        for (let i = 0; i < job.pairs; i++) {
          const at = i & (WINDOW - 1);
          pool.deallocate(ring[at]!);
          ring[at] = pool.allocateRaw(BLOCK_BYTES);
        }
        for (const p of ring) pool.deallocate(p);
      };
    }
    self.onmessage = () => {
      const start = performance.now();
      run();
      self.postMessage({ ms: performance.now() - start });
    };
    self.postMessage({ ready: true });
  };
}

async function measure(option: string, workers: number, pairs: number): Promise<number> {
  const config = options[option]!;
  const poolName = `bench-threads-${option}-${workers}`;
  const manager = MemoryPoolManager.getInstance();
  if (config !== "malloc") manager.createCPUPool(poolName, Object.assign(PoolConfig.FixedSizeCPU(BLOCK_BYTES), { initialSize: 4 << 20, growth: 2 }, config));
  const spawned = Array.from({ length: workers }, () => new Worker(import.meta.url));
  const message = (worker: Worker) => new Promise<{ ms?: number }>((resolve) => (worker.onmessage = (event) => resolve(event.data)));
  await Promise.all(spawned.map((worker) => { const ready = message(worker); worker.postMessage({ option, poolName, pairs } satisfies Job); return ready; }));
  const start = performance.now();
  const results = spawned.map(message);
  for (const worker of spawned) worker.postMessage("go");
  await Promise.all(results);
  const wallMs = performance.now() - start;
  for (const worker of spawned) worker.terminate();
  if (config !== "malloc") {
    await Bun.sleep(20); // the Workers' thread caches go back as their threads end
    const stats = manager.getPool(poolName, "cpu").getStats();
    if (stats.liveAllocations !== 0 || stats.allocationCount !== stats.freeCount) throw new Error(`${option}: ${stats.liveAllocations} blocks still live after the run`);
    manager.destroyPool(poolName);
  }
  return (workers * pairs) / (wallMs / 1000);
}

async function main(): Promise<void> {
  const counts = (process.env.THREADS_WORKERS ?? "1,2,4,8,16").split(",").map(Number);
  const pairs = Number(process.env.THREADS_PAIRS ?? 1_000_000);
  const cores = cpus().length;
  console.log(`# Threads: alloc + free pairs per second, ${pairs} pairs per Worker, ${cores} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}\n`);
  const rows: Record<string, number[]> = {};
  for (const option of Object.keys(options)) {
    rows[option] = [];
    for (const workers of counts) rows[option]!.push(await measure(option, workers, pairs));
  }
  const millions = (x: number) => (x / 1e6).toFixed(2);
  console.log(`| option | ${counts.map((n) => `${n} W (M/s)`).join(" | ")} | scaling at ${counts.at(-1)} W |`);
  console.log(`|---|${counts.map(() => "---:").join("|")}|---:|`);
  for (const [option, figures] of Object.entries(rows)) {
    const scaling = figures.at(-1)! / (figures[0]! * counts.at(-1)!);
    console.log(`| ${option} | ${figures.map(millions).join(" | ")} | ${scaling.toFixed(2)} x linear |`);
  }
  const last = counts.length - 1;
  const cached = rows["lockFree + threadLocalCache"]![last]! / (rows["lockFree + threadLocalCache"]![0]! * counts[last]!);
  const lockFreeVsMutex = rows.lockFree![last]! / rows.mutex![last]!;
  console.log(`\nGoal: thread caches scale >= 0.8 x linear at ${counts[last]} Workers: ${cached.toFixed(2)} (${cached >= 0.8 ? "met" : "not met"})`);
  console.log(`Goal: lockFree >= 2 x mutex at ${counts[last]} Workers: ${lockFreeVsMutex.toFixed(2)} x (${lockFreeVsMutex >= 2 ? "met" : "not met"})`);
  if (counts[last]! > cores) console.log(`(${counts[last]} Workers on ${cores} cores: scaling past ${cores} Workers cannot be linear here)`);
}

if (Bun.isMainThread) await main();
else workerMain();
