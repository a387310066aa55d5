/**
 * `bun bench/fixed_runs.ts`: requests over one block on a 64 B FixedSize pool (runs of contiguous
 * blocks). Random 16–516 B requests, a random live one freed before each, on pools of 1 MiB and
 * 16 MiB half full: the default pool ("none", JavaScript cache) and "lockFree" (the core's shared
 * path, shared_fixed.zig) next to "mutex" (the core's strategy/fixed.zig), the anchor. Then one
 * 256 MiB request on a fresh 256 MiB pool of 64 B blocks (4 Mi blocks), timed alone.
 */
import { do_not_optimize, bench, run } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";

const MiB = 1 << 20;
const manager = MemoryPoolManager.getInstance();
const modes = ["mutex", "none", "lockFree"] as const;
const pools: ReturnType<typeof manager.createCPUPool>[] = [];

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

for (const bytes of [1 * MiB, 16 * MiB]) {
  for (const mode of modes) {
    const pool = manager.createCPUPool(`runs-${mode}-${bytes / MiB}`, Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: bytes, threadSafety: mode }));
    // Half the pool's bytes live, at ~5 blocks (320 B) each.
    pools.push(pool);
    const live: number[] = [];
    for (let i = 0; i < bytes / 2 / 320; i++) live.push(pool.allocateRaw(16 + Math.floor(random() * 501)));
    bench(`64 B pool, ${bytes / MiB} MiB, ${mode}: free a random live + allocateRaw(16..516)`, () => {
      const at = Math.floor(random() * live.length);
      pool.deallocate(live[at]!);
      live[at] = pool.allocateRaw(16 + Math.floor(random() * 501));
      do_not_optimize(live[at]);
    });
  }
}

await run();
for (const pool of pools) {
  const s = pool.getStats();
  console.log(`${pool.name}: ${s.bytesReserved / MiB} MiB reserved in ${s.regionCount} regions after the rows`);
}

for (const mode of modes) {
  const pool = manager.createCPUPool(`runs-big-${mode}`, Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: 256 * MiB, threadSafety: mode }));
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const p = pool.allocateRaw(256 * MiB);
    best = Math.min(best, performance.now() - started);
    pool.deallocate(p);
  }
  const s = pool.getStats();
  console.log(`256 MiB request on a 256 MiB pool of 64 B blocks, ${mode}: ${best.toFixed(2)} ms (best of 3); ${s.bytesReserved / MiB} MiB reserved`);
  manager.destroyPool(`runs-big-${mode}`);
}
