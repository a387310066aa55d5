/**
 * `bun bench/cache_burst.ts`: the shared fixed-size pools' JavaScript caches in bursts that refill
 * and flush them: 512 allocateRaw(64) then 512 deallocate (two refills' worth of batches out, a
 * full stack's flush back), on a "lockFree" pool and a "mutex" + threadLocalCache pool that may
 * grow (a full 256-block stack), and on a "lockFree" pool of 64 blocks that cannot (a 16-block
 * stack, refills of 4). Thread CPU ns an operation (allocate or free), lowest of 7 rounds. A
 * probe, not a goal table: bench/RESULTS.md says what it showed.
 */
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { threadCpuTimes } from "./util";

const manager = MemoryPoolManager.getInstance();
const mk = (name: string, extra: Partial<PoolConfig>) => manager.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(64), extra));
const BURST = 512;
const held = new Array<number>(BURST).fill(0);
const burst = (pool: ReturnType<typeof mk>, size: number) => () => {
  for (let i = 0; i < size; i++) held[i] = pool.allocateRaw(64) as number;
  for (let i = 0; i < size; i++) pool.deallocate(held[i]!);
};
const lockFree = mk("cache-burst-lockfree", { threadSafety: "lockFree" });
const cached = mk("cache-burst-cached", { threadSafety: "mutex", threadLocalCache: true });
const small = mk("cache-burst-small", { threadSafety: "lockFree", growth: 0, initialSize: 64 * 1024, blockSize: 1024 });
const rows: [string, () => void][] = [
  ["lockFree, 512 out and back", burst(lockFree, BURST)],
  ["mutex + threadLocalCache, 512 out and back", burst(cached, BURST)],
  ["lockFree 64 blocks of 1 KiB, 48 out and back", () => {
    for (let i = 0; i < 48; i++) held[i] = small.allocateRaw(1024) as number;
    for (let i = 0; i < 48; i++) small.deallocate(held[i]!);
  }],
];
const perOp = [2 * BURST, 2 * BURST, 96];
const best = threadCpuTimes(rows, 7, 2000);
rows.forEach(([name], i) => console.log(`${name.padEnd(48)} ${(best.get(name)! / perOp[i]!).toFixed(2)} ns an operation`));
