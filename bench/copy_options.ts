/**
 * `bun bench/copy_options.ts`: what copy()'s options object costs. Each row copies a 64 B allocation
 * whole into a 128 B one of a CPU pool (the same memmove); the rows differ only in the options given
 * (none, an empty object, one offset, both, one made with a null prototype, one with a getter).
 * Thread CPU time a call (util.ts threadCpuTimes: the lowest of several rounds, rows alternating),
 * the row without options as the base.
 */
import { copy, MemoryPoolManager, PoolConfig } from "../src/index";
import { threadCpuTimes } from "./util";

const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("bench-copy-options", PoolConfig.FixedSizeCPU(128));
const dst = pool.allocate(128);
const src = pool.allocate(64);
const bare = Object.assign(Object.create(null), { dstOffset: 64 });

const rows: [string, () => void][] = [
  ["no options", () => void copy(dst, src)],
  ["{}", () => void copy(dst, src, undefined, {})],
  ["{ dstOffset }", () => void copy(dst, src, undefined, { dstOffset: 64 })],
  ["{ srcOffset, dstOffset }", () => void copy(dst, src, undefined, { srcOffset: 0, dstOffset: 64 })],
  ["null-prototype { dstOffset }", () => void copy(dst, src, undefined, bare)],
  ["{ get dstOffset }", () => void copy(dst, src, undefined, { get dstOffset() { return 64; } })],
];
const times = threadCpuTimes(rows, 5, 300_000);
const base = times.get("no options")!;
for (const [name] of rows) {
  const ns = times.get(name)!;
  console.log(`${ns.toFixed(1).padStart(8)} ns  +${(ns - base).toFixed(1).padStart(6)} ns  ${name}`);
}
manager.destroyPool(pool.name);
