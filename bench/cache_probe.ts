/**
 * `bun bench/cache_probe.ts`: where the time of a cached fixed-size pair goes (issue 12 priority 1).
 * Each row removes one more piece of the pool's cached allocateRaw + deallocate, down to a bare
 * typed-array stack, next to libc malloc + free through bun:ffi. A probe, not a goal table.
 *
 * PROBE_CLOCK=cpu times each row by this thread's CPU time instead of mitata's wall clock (see
 * threadCpuTimes in util.ts): on a machine other processes load, the figures that still compare.
 */
import { do_not_optimize, bench as register, run } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { BlockCache } from "../src/block_cache";
import { allocOffsetIn, endedIn, releaseAddressIn, baseOf, handleOf } from "../src/pool";
import { free, malloc } from "./anchors";
import { threadCpuTimes, timesByName } from "./util";

const manager = MemoryPoolManager.getInstance();
const mk = (name: string, extra: Partial<PoolConfig>) => manager.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(64), extra));
const cached = mk("probe-cached", { threadSafety: "mutex", threadLocalCache: true });
const lockFree = mk("probe-lockfree", { threadSafety: "lockFree" });
const plain = mk("probe-plain", {});
const bare = mk("probe-bare", { threadSafety: "mutex", threadLocalCache: true });
const cache = BlockCache.open(handleOf(bare), 64, "probe-bare", false)!;
const bareNone = mk("probe-bare-none", {});
const exclusive = BlockCache.open(handleOf(bareNone), 64, "probe-bare-none", true)!;

const rows: [string, () => void][] = [];
const bench = (name: string, fn: () => void) => rows.push([name, fn]);
const stack = new Int32Array(256);
const state = new Int32Array(4096);
for (let i = 0; i < 128; i++) stack[i] = i;
let top = 128;

bench("libc malloc+free", () => {
  const p = malloc(64);
  free(p);
  do_not_optimize(p);
});
bench("lockFree pool allocateRaw+deallocate", () => {
  const p = lockFree.allocateRaw(64);
  lockFree.deallocate(p);
  do_not_optimize(p);
});
bench("cached pool allocateRaw+deallocate", () => {
  const p = cached.allocateRaw(64);
  cached.deallocate(p);
  do_not_optimize(p);
});
bench("default (\"none\") pool allocateRaw+deallocate", () => {
  const p = plain.allocateRaw(64);
  plain.deallocate(p);
  do_not_optimize(p);
});
bench("cached pool allocOffset+releaseAddressIn(addressOf)", () => {
  const g = allocOffsetIn(cached, 64);
  const ended = releaseAddressIn(cached, baseOf(cached) + g * 16);
  if (ended >= 0) endedIn(cached, ended);
  do_not_optimize(g);
});
bench("BlockCache alloc+free alone", () => {
  const g = cache.alloc(64);
  cache.free(g, 0);
  do_not_optimize(g);
});
const base = baseOf(bare);
bench("BlockCache alloc+free alone, exclusive (\"none\")", () => {
  const g = exclusive.alloc(64);
  exclusive.free(g, 0);
  do_not_optimize(g);
});
bench("BlockCache alloc+free with address math (/16)", () => {
  const p = base + cache.alloc(64) * 16;
  const g = (p - base) / 16;
  cache.free(g, 0);
  do_not_optimize(p);
});
bench("BlockCache alloc+free with address math (*0.0625)", () => {
  const p = base + cache.alloc(64) * 16;
  const g = (p - base) * 0.0625;
  cache.free(g, 0);
  do_not_optimize(p);
});
bench("BlockCache alloc+free with address math (*0.0625, |0)", () => {
  const p = base + cache.alloc(64) * 16;
  const g = (p - base) * 0.0625;
  if (g >>> 0 !== g) throw new Error("bad");
  cache.free(g >>> 0, 0);
  do_not_optimize(p);
});
bench("BlockCache alloc+free, int address math", () => {
  const p = cache.alloc(64) * 16;
  const g = p / 16;
  cache.free(g, 0);
  do_not_optimize(p);
});
bench("Int32Array stack pop/push + plain state", () => {
  const n = stack[--top]!;
  state[n] = (state[n]! & 0xffff) + 1;
  do_not_optimize(n);
  state[n] = state[n]! | -0x80000000;
  stack[top++] = n;
});
bench("Int32Array stack pop/push + CAS state", () => {
  const n = stack[--top]!;
  state[n] = (state[n]! & 0xffff) + 1;
  do_not_optimize(n);
  const s = state[n]!;
  Atomics.compareExchange(state, n, s, s | -0x80000000);
  stack[top++] = n;
});
bench("Atomics.compareExchange alone", () => {
  const s = state[5]!;
  do_not_optimize(Atomics.compareExchange(state, 5, s, s ^ 1));
});
bench("Atomics.load alone", () => {
  do_not_optimize(Atomics.load(state, 5));
});

if (process.env.PROBE_CLOCK === "cpu") {
  const times = threadCpuTimes(rows);
  for (const [name] of rows) console.log(`${times.get(name)!.toFixed(2).padStart(8)} ns  ${name} (thread CPU time)`);
} else {
  // Three rounds, each row once a round: the lowest mean counts (interference only adds time).
  for (let round = 0; round < 3; round++) for (const [name, fn] of rows) register(`${name} #${round}`, fn);
  const times = timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0]));
  for (const [name] of rows) {
    const best = Math.min(...[0, 1, 2].map((round) => times.get(`${name} #${round}`)!));
    console.log(`${best.toFixed(2).padStart(8)} ns  ${name}`);
  }
}
cache.flush();
exclusive.flush();
for (const name of ["probe-cached", "probe-lockfree", "probe-plain", "probe-bare", "probe-bare-none"]) manager.destroyPool(name);
