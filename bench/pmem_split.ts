/**
 * Where the time of allocate + persist 64 B + free goes (bench/RESULTS.md, session 4 pmempersist):
 * the best of R rounds of N iterations of each body, the bodies taking turns to run first in a round
 * (the first of a round runs slower). A minimum is what a shared machine's load disturbs least;
 * bench/pmem.ts (mitata) is the goals' measure.
 *   anchor    pmemobj_alloc + pmemobj_persist + pmemobj_free (libpmemobj)
 *   ours      allocate(64), persist(allocation), free()
 *   core      the same, the core's persist called directly (without persist()'s own checks)
 *   floor     the same, libpmem's pmem_persist of the block called directly (one crossing, one line)
 *   pair      allocate(64).free() alone
 *
 *   PMEM_IS_PMEM_FORCE=1 bun bench/pmem_split.ts [bodies, comma-separated] [rounds] [iterations]
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { rmSync } from "node:fs";
import { MemoryPoolManager, PoolConfig } from "../src/index.ts";
import * as native from "../src/native.ts";
import { handleOf } from "../src/pool";
import { offsetOfAllocation } from "../src/allocation";

if (process.env.PMEM_IS_PMEM_FORCE !== "1") throw new Error("run with PMEM_IS_PMEM_FORCE=1 in the environment (libpmem reads it when it loads)");
const path = `/dev/shm/memory-pool-split-${process.pid}.pool`;
const objectPath = `/dev/shm/memory-pool-split-${process.pid}.obj`;
rmSync(path, { force: true });
rmSync(objectPath, { force: true });
const pool = MemoryPoolManager.getInstance().createPMEMPool("split", Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: 64 << 20 }));
const { u64, i32, ptr, cstring, u32, void: none } = FFIType;
const libpmemobj = dlopen("libpmemobj.so.1", {
  pmemobj_create: { args: [cstring, cstring, u64, u32], returns: ptr },
  pmemobj_close: { args: [ptr], returns: none },
  pmemobj_alloc: { args: [ptr, ptr, u64, u64, ptr, ptr], returns: i32 },
  pmemobj_free: { args: [ptr], returns: none },
  pmemobj_direct: { args: [u64, u64], returns: ptr },
  pmemobj_persist: { args: [ptr, ptr, u64], returns: none },
}).symbols;
const libpmem = dlopen("libpmem.so.1", { pmem_persist: { args: [ptr, u64], returns: none } }).symbols;
const objectPool = libpmemobj.pmemobj_create(Buffer.from(`${objectPath}\0`), Buffer.from("split\0"), 64 << 20, 0o600);
const oid = new BigUint64Array(2);

const bodies: Record<string, () => void> = {
  anchor: () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    libpmemobj.pmemobj_persist(objectPool, libpmemobj.pmemobj_direct(oid[0]!, oid[1]!), 64);
    libpmemobj.pmemobj_free(oid);
  },
  ours: () => {
    const allocation = pool.allocate(64);
    pool.persist(allocation);
    allocation.free();
  },
  core: () => {
    const allocation = pool.allocate(64);
    native.persistPmemAllocation(handleOf(pool), offsetOfAllocation(allocation), allocation.id, 0, 64);
    allocation.free();
  },
  floor: () => {
    const allocation = pool.allocate(64);
    libpmem.pmem_persist(allocation.ptr as Pointer, 64);
    allocation.free();
  },
  pair: () => {
    pool.allocate(64).free();
  },
};
const names = (process.argv[2] ?? "anchor,ours,core,floor,pair").split(",");
const rounds = Number(process.argv[3] ?? 40);
const iterations = Number(process.argv[4] ?? 10_000);
const best: Record<string, number> = {};
for (let round = 0; round < rounds; round++) {
  for (let turn = 0; turn < names.length; turn++) {
    const name = names[(round + turn) % names.length]!;
    const body = bodies[name]!;
    const started = Bun.nanoseconds();
    for (let i = 0; i < iterations; i++) body();
    best[name] = Math.min(best[name] ?? Infinity, (Bun.nanoseconds() - started) / iterations);
  }
}
const ratio = best.anchor !== undefined && best.ours !== undefined ? `  ours/anchor ${(best.ours / best.anchor).toFixed(3)}` : "";
console.log(names.map((name) => `${name} ${best[name]!.toFixed(1)} ns`).join("  ") + ratio);
pool.close();
libpmemobj.pmemobj_close(objectPool);
rmSync(path, { force: true });
rmSync(objectPath, { force: true });
