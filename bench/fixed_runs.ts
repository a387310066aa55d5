/**
 * `bun bench/fixed_runs.ts`: requests over one block on a 64 B FixedSize pool (runs of contiguous
 * blocks). Random 16–516 B requests, a random live one freed before each, on pools of 1 MiB and
 * 16 MiB half full: the default pool ("none", JavaScript cache) and "lockFree" (the core's shared
 * path, shared_fixed.zig) next to "mutex" (the core's strategy/fixed.zig), the anchor. Then one
 * 256 MiB request on a fresh 256 MiB pool of 64 B blocks (4 Mi blocks), timed alone. Then (below)
 * fifty rounds of random 16 B–4 KiB requests in every mode, and one BIG_MIB (2 GiB) request on
 * 16 B blocks, timed alone.
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

/**
 * Two pathologies other projects' suites met as timeouts (session 6, fixedruns), timed alone by
 * wall clock (the lowest of ROUNDS_REPEAT runs): fifty rounds of ~1500 random 16 B–4 KiB requests,
 * about half freed at random as they go and the rest at the round's end, on a 1 MiB pool of 64 B
 * blocks in each threadSafety mode, next to a Variable pool (the anchor); then one request of
 * BIG_MIB (default 2048) MiB on a pool of 16 B blocks that holds it, the next single block (which
 * meets the run's blocks' entries on the stack), the run's free, and the run again.
 */
const ROUNDS_REPEAT = Number(process.env.ROUNDS_REPEAT ?? 2);
const roundModes: [string, object][] = [
  ["Variable (anchor)", { allocatorType: "Variable" }],
  ["mutex", { threadSafety: "mutex" }],
  ["none", { threadSafety: "none" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
];
for (const [name, mode] of roundModes) {
  let best = Infinity;
  for (let repeat = 0; repeat < ROUNDS_REPEAT; repeat++) {
    const pool = manager.createCPUPool("runs-rounds", Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: MiB }, mode));
    let roundSeed = 7;
    const next = () => ((roundSeed = (roundSeed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const started = performance.now();
    for (let round = 0; round < 50; round++) {
      const live: number[] = [];
      for (let i = 0; i < 1500; i++) {
        live.push(pool.allocateRaw(16 + Math.floor(next() * 4081)));
        if (next() < 0.5) {
          const at = Math.floor(next() * live.length);
          pool.deallocate(live[at]!);
          live[at] = live[live.length - 1]!;
          live.pop();
        }
      }
      for (const p of live) pool.deallocate(p);
    }
    best = Math.min(best, performance.now() - started);
    manager.destroyPool("runs-rounds");
  }
  console.log(`50 rounds of 1500 random 16 B-4 KiB requests, 1 MiB pool of 64 B blocks, ${name}: ${best.toFixed(0)} ms (best of ${ROUNDS_REPEAT})`);
}

const BIG = Number(process.env.BIG_MIB ?? 2048) * MiB;
for (const mode of ["mutex", "none", "lockFree"] as const) {
  const pool = manager.createCPUPool("runs-huge", Object.assign(PoolConfig.FixedSizeCPU(16), { initialSize: BIG + MiB, threadSafety: mode }));
  const time = (action: () => void) => {
    const started = performance.now();
    action();
    return (performance.now() - started).toFixed(0);
  };
  let run = 0;
  let single = 0;
  const allocation = time(() => { run = pool.allocateRaw(BIG); });
  const next = time(() => { single = pool.allocateRaw(16); });
  const free = time(() => pool.deallocate(run));
  const again = time(() => { run = pool.allocateRaw(BIG); });
  pool.deallocate(run);
  pool.deallocate(single);
  console.log(`${BIG / MiB} MiB request on a pool of 16 B blocks, ${mode}: ${allocation} ms; the next single block ${next} ms; its free ${free} ms; the run again ${again} ms`);
  manager.destroyPool("runs-huge");
}
