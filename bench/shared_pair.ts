/**
 * `bun bench/shared_pair.ts`: the shared fixed-size pools' cached pair (`threadSafety: "mutex"` +
 * `threadLocalCache`, and `"lockFree"`), allocateRaw(64) + deallocate, next to libc malloc + free
 * through bun:ffi and the default ("none") pool, by this thread's CPU time (util.ts
 * threadCpuTimes), 7 rounds, the lowest; ratios to libc in this process. A probe, not a goal table:
 * bench/RESULTS.md says what it showed.
 *
 * JSC profiles a method once for every pool that runs it, so a pool of one kind measures otherwise
 * beside the other: SHARED_PAIR_ROWS=shared leaves out the default pool's row, =none the shared
 * pools' (libc's row stays).
 */
import { do_not_optimize } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { threadCpuTimes } from "./util";

const manager = MemoryPoolManager.getInstance();
const mk = (name: string, extra: Partial<PoolConfig>) => manager.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(64), extra));
const cached = mk("shared-pair-cached", { threadSafety: "mutex", threadLocalCache: true });
const lockFree = mk("shared-pair-lockfree", { threadSafety: "lockFree" });
const plain = mk("shared-pair-none", {});

const rows: [string, () => void][] = [
  ["libc malloc+free", () => do_not_optimize(free(malloc(64)))],
  ["\"mutex\" + threadLocalCache pool allocateRaw+deallocate", () => {
    const p = cached.allocateRaw(64);
    cached.deallocate(p);
    do_not_optimize(p);
  }],
  ["\"lockFree\" pool allocateRaw+deallocate", () => {
    const p = lockFree.allocateRaw(64);
    lockFree.deallocate(p);
    do_not_optimize(p);
  }],
  ["default (\"none\") pool allocateRaw+deallocate", () => {
    const p = plain.allocateRaw(64);
    plain.deallocate(p);
    do_not_optimize(p);
  }],
];

const only = process.env.SHARED_PAIR_ROWS;
const kept = rows.filter(([name], index) => index === 0 || only === undefined || only === "all" || (only === "none") === name.startsWith("default"));
const times = threadCpuTimes(kept, 7);
const libc = times.get(rows[0]![0])!;
for (const [name] of kept) console.log(`${times.get(name)!.toFixed(2).padStart(8)} ns  ${(times.get(name)! / libc).toFixed(2)}x  ${name} (thread CPU time)`);
for (const name of ["shared-pair-cached", "shared-pair-lockfree", "shared-pair-none"]) manager.destroyPool(name);
