/**
 * One run of the memory workload, in a process of its own so its RSS is not mixed with the
 * timing benchmarks': `bun bench/memory-workload.ts pool|malloc` prints one line of JSON.
 *
 * The workload: 10^5 operations from a fixed seed. Sizes are uniform in 16 B..64 KiB; the live
 * count rises and falls in waves (allocate with probability 0.6 for 10^4 operations, then 0.4
 * for the next 10^4, ...), capped at 2000 live blocks, and each free takes a random live block,
 * so free space is cut up as it would be by a long-running program. Every block is written in
 * full (libc memset) when allocated, so resident memory counts the bytes in use, with a tag
 * byte that is checked at both ends when the block is freed: a block handed out twice, or
 * overlapping another live one, shows up as `corrupted`.
 */
import { read, type Pointer } from "bun:ffi";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc, memset } from "./anchors";
import { KiB, MiB, rssBytes, xorshift32 } from "./util";

export const OPERATIONS = 100_000;
export const MAX_LIVE = 2000;
const WAVE = 10_000;
const SEED = 0x5eed_0005;
const RSS_SAMPLE_EVERY = 250;

/** The operation script, the same for both allocators: a size to allocate (> 0), or -(index + 1) of the live block to free. */
function script(): Int32Array {
  const next = xorshift32(SEED);
  const ops = new Int32Array(OPERATIONS);
  let live = 0;
  for (let i = 0; i < OPERATIONS; i++) {
    const pAlloc = Math.floor(i / WAVE) % 2 === 0 ? 0.6 : 0.4;
    const allocate = live === 0 || (live < MAX_LIVE && next() / 2 ** 32 < pAlloc);
    if (allocate) {
      ops[i] = 16 + (next() % (64 * KiB - 16 + 1));
      live++;
    } else {
      ops[i] = -((next() % live) + 1);
      live--;
    }
  }
  return ops;
}

interface Allocator {
  alloc(size: number): number;
  free(pointer: number): void;
}

function runScript(ops: Int32Array, allocator: Allocator) {
  const pointers = new Float64Array(MAX_LIVE);
  const sizes = new Float64Array(MAX_LIVE);
  const tags = new Uint8Array(MAX_LIVE);
  let corrupted = 0;
  let live = 0;
  let liveBytes = 0;
  let peakLiveBytes = 0;
  let peakLive = 0;
  const rssBefore = rssBytes();
  let rssPeak = rssBefore;
  const started = performance.now();
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op > 0) {
      const p = allocator.alloc(op);
      const tag = (i % 255) + 1;
      memset(p as Pointer, tag, op);
      pointers[live] = p;
      sizes[live] = op;
      tags[live] = tag;
      live++;
      liveBytes += op;
      if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
      if (live > peakLive) peakLive = live;
    } else {
      const victim = -op - 1;
      const p = pointers[victim]! as Pointer;
      const tag = tags[victim]!;
      if (read.u8(p, 0) !== tag || read.u8(p, sizes[victim]! - 1) !== tag) corrupted++;
      allocator.free(p);
      liveBytes -= sizes[victim]!;
      live--;
      pointers[victim] = pointers[live]!;
      sizes[victim] = sizes[live]!;
      tags[victim] = tags[live]!;
    }
    if (i % RSS_SAMPLE_EVERY === 0) rssPeak = Math.max(rssPeak, rssBytes());
  }
  const ms = performance.now() - started;
  const rssEnd = rssBytes();
  rssPeak = Math.max(rssPeak, rssEnd);
  for (let i = 0; i < live; i++) allocator.free(pointers[i]!);
  const rssAfterFreeAll = rssBytes();
  return { ms, peakLive, peakLiveBytes, liveAtEnd: live, corrupted, rssBefore, rssPeak, rssEnd, rssAfterFreeAll };
}

const which = process.argv[2];
const ops = script();
if (which === "pool") {
  const config = Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 1 * MiB, growth: 1, collectStats: true } satisfies Partial<PoolConfig>);
  const pool = MemoryPoolManager.getInstance().createCPUPool("bench-memory", config);
  let peakStats = pool.getStats();
  const result = runScript(ops, {
    alloc: (size) => pool.allocateRaw(size),
    free: (pointer) => pool.deallocate(pointer),
  });
  peakStats = pool.getStats();
  const { peakBytesReserved, peakBytesInUse, bytesReserved, regionCount, growthCount, fragmentation, failedAllocations } = peakStats;
  console.log(JSON.stringify({ which, ...result, stats: { peakBytesReserved, peakBytesInUse, bytesReserved, regionCount, growthCount, fragmentation, failedAllocations } }));
} else if (which === "malloc") {
  const result = runScript(ops, {
    alloc: (size) => malloc(size)!,
    free: (pointer) => free(pointer as Pointer),
  });
  console.log(JSON.stringify({ which, ...result }));
} else {
  console.error("usage: bun bench/memory-workload.ts pool|malloc");
  process.exit(2);
}
