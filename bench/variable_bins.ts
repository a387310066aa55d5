/**
 * `bun bench/variable_bins.ts`: a design probe for issue 12's JavaScript cache of Variable pools, NOT
 * the pool's behaviour. It times the boundary ring (bench/ring.ts: 1000 live blocks, random
 * 16 B..64 KiB) through bins kept in JavaScript in front of a Variable pool's allocateRaw/deallocate,
 * to learn which bins the real cache needs before building it, against the pool's own path and libc.
 *
 * The bins hold blocks that the ring freed (the pool still counts them live) and serve the next
 * request of their bin with no core call; a miss asks the pool for the bin's whole size, so any
 * block of a bin fits any request of it. The block's bin is read from a typed array indexed by
 * granule, as a real cache would read block state that the core shares (an earlier version kept it
 * in a Map: about 125 ns a step, most of what the bins save). Unsound on purpose: no double-free or foreign-pointer checks, no
 * statistics, one thread. Two bin layouts, each with a cap on the bytes the bins may hold (8 blocks
 * a bin at most; without a cap the bins keep up to 8 blocks of every size they saw):
 * - exact: one bin per granule count (16 B steps);
 * - class: granule counts rounded up to 16 steps per power of two (TLSF's second level; at most
 *   1/16 of a block's bytes wasted).
 */
import type { Pointer } from "bun:ffi";
import { bench, do_not_optimize, group, run } from "mitata";
import { type CPUMemoryPool, MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { KiB, MiB, randomSizes } from "./util";

const RING = 1000;
const SIZE_MASK = (1 << 16) - 1;
const GRANULE = 16;
const PER_BIN = 8;
const BINS = 64 * KiB / GRANULE + 1;
const sizes = randomSizes(1 << 16, 16, 64 * KiB, 0x5eed_0001); // bench/ring.ts's stream
const manager = MemoryPoolManager.getInstance();

function exactBin(bytes: number): number {
  return (bytes + GRANULE - 1) >>> 4;
}

function classBin(bytes: number): number {
  const g = (bytes + GRANULE - 1) >>> 4;
  if (g < 16) return g;
  const shift = 27 - Math.clz32(g); // log2(g) - 4: 16 steps per power of two
  return ((g + (1 << shift) - 1) >>> shift) << shift;
}

interface Ring {
  step(): void;
  hits: number;
  misses: number;
  /** Bytes the bins hold at the end. */
  cachedBytes?: () => number;
}

function ring(alloc: (size: number) => number, release: (p: number) => void): Ring {
  const live = new Float64Array(RING);
  let next = 0;
  let slot = 0;
  for (let i = 0; i < RING; i++) live[i] = alloc(sizes[next++]!);
  return {
    hits: 0,
    misses: 0,
    step() {
      release(live[slot]!);
      const p = alloc(sizes[next]!);
      live[slot] = p;
      next = (next + 1) & SIZE_MASK;
      slot = slot + 1 === RING ? 0 : slot + 1;
      do_not_optimize(p);
    },
  };
}

function variablePool(name: string): CPUMemoryPool {
  return manager.createCPUPool(name, Object.assign(new PoolConfig(), { initialSize: 64 * MiB, growth: 2 }));
}

function binnedRing(name: string, binOf: (bytes: number) => number, capBytes: number): Ring {
  const pool = variablePool(name);
  const base = (pool as unknown as { base: number }).base;
  const binAt = new Uint16Array((512 * MiB) / GRANULE); // the bin of the block starting at a granule
  const counts = new Int32Array(BINS);
  const blocks = new Int32Array(BINS * PER_BIN);
  let cachedBytes = 0;
  const counted = { hits: 0, misses: 0 }; // the ring's filling counts too; reset before timing
  const result = ring(
    (size) => {
      const bin = binOf(size);
      const n = counts[bin]!;
      if (n > 0) {
        counted.hits++;
        counts[bin] = n - 1;
        cachedBytes -= bin * GRANULE;
        const g = blocks[bin * PER_BIN + n - 1]!;
        binAt[g] = bin;
        return base + g * GRANULE;
      }
      counted.misses++;
      const p = pool.allocateRaw(bin * GRANULE) as unknown as number;
      binAt[(p - base) / GRANULE] = bin;
      return p;
    },
    (p) => {
      const g = (p - base) / GRANULE;
      const bin = binAt[g]!;
      binAt[g] = 0;
      const n = counts[bin]!;
      if (n < PER_BIN && cachedBytes + bin * GRANULE <= capBytes) {
        blocks[bin * PER_BIN + n] = g;
        counts[bin] = n + 1;
        cachedBytes += bin * GRANULE;
      } else pool.deallocate(p as unknown as Pointer);
    },
  );
  return Object.assign(counted, { step: result.step, cachedBytes: () => cachedBytes });
}

const plain = variablePool("probe-core");
const rings: [string, Ring][] = [
  ["libc malloc+free (ffi)", ring((size) => malloc(size)! as unknown as number, (p) => free(p as Pointer))],
  ["pool, the core's path", ring((size) => plain.allocateRaw(size) as unknown as number, (p) => plain.deallocate(p as unknown as Pointer))],
];
const probes: string[] = ["probe-core"];
for (const capMiB of [1, 4, Infinity]) {
  for (const [layout, binOf] of [["exact", exactBin], ["class", classBin]] as const) {
    const name = `probe-${layout}-${capMiB}`;
    probes.push(name);
    rings.push([`${layout} bins, ${capMiB === Infinity ? "no cap" : `cap ${capMiB} MiB`}`, binnedRing(name, binOf, capMiB * MiB)]);
  }
}
for (const [, r] of rings) for (let i = 0; i < 200_000; i++) r.step(); // a steady state, as bench/ring.ts
for (const [, r] of rings) r.hits = r.misses = 0;

group("ring step (free the oldest, allocate the next)", () => {
  for (const [name, r] of rings) bench(name, r.step);
});
await run();
for (const [name, r] of rings) {
  if (r.cachedBytes === undefined) continue;
  console.log(`${name}: bins served ${((100 * r.hits) / (r.hits + r.misses)).toFixed(1)}% of allocations, hold ${(r.cachedBytes() / MiB).toFixed(1)} MiB at the end`);
}
for (const name of probes) manager.destroyPool(name);
