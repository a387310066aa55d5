/**
 * `bun bench/hot_pairs.ts [src folder]`: thread CPU time a call (util.ts threadCpuTimes: the lowest
 * of 7 rounds, rows alternating) of the host pools' hot pairs and copy()'s 64-byte fast path, on
 * default pools of threadSafety "none": FixedSize 64 B and Variable, raw pointers and handles. The
 * library is imported from the folder given (default: this checkout's src/), so that two trees can
 * be alternated; a tree outside the checkout needs its own core (MEMORY_POOL_CORE_PATH).
 */
import { join, resolve } from "node:path";
import { threadCpuTimes } from "./util";

const folder = resolve(process.argv[2] ?? join(import.meta.dir, "..", "src"));
const library = (await import(join(folder, "index.ts"))) as typeof import("../src/index");
const manager = library.MemoryPoolManager.getInstance();
const fixed = manager.createCPUPool("hot-pairs-fixed", library.PoolConfig.FixedSizeCPU(64));
const variable = manager.createCPUPool("hot-pairs-variable", {});
const allocation = variable.allocate(64);
const bytes = new Uint8Array(64);
const rows: [string, () => void][] = [
  ["fixed raw pair", () => fixed.deallocate(fixed.allocateRaw(64))],
  ["fixed handle pair", () => fixed.allocate(64).free()],
  ["variable raw pair", () => variable.deallocate(variable.allocateRaw(64))],
  ["variable handle pair", () => variable.allocate(64).free()],
  ["copy typed->allocation 64 B", () => void library.copy(allocation, bytes)],
  ["copy allocation->typed 64 B", () => void library.copy(bytes, allocation)],
];
const times = threadCpuTimes(rows, 7, 300_000);
console.log(JSON.stringify(Object.fromEntries([...times].map(([name, ns]) => [name, Number(ns.toFixed(2))]))));
