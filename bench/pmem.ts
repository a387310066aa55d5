/**
 * PMEM pools against their anchors, in one process, on one file system (/dev/shm, PMEM emulated):
 *  - crash-consistent allocate + free at 64 B and 1 KiB: ours against libpmemobj's pmemobj_alloc /
 *    pmemobj_free, both through bun:ffi (goal: at most 0.1x). Both are crash-consistent: ours leaves
 *    an unpublished block free after a crash, as pmemobj_reserve does;
 *  - allocate + persist 64 B + free, the way persistent memory is used: ours against pmemobj_alloc +
 *    pmemobj_persist + pmemobj_free (goal: at most 0.1x), and against its floor: the same allocate
 *    and free with libpmem's pmem_persist of the block called directly (one crossing, the flush of
 *    one line and a fence: what any persist costs);
 *  - allocate, fill, persist, publish with setRoot and free the old version (copy-on-write): ours
 *    against pmemobj_alloc + pmemobj_persist + a transaction that swaps the root's oid and frees the
 *    old one (pmemobj_tx_*: what libpmemobj needs for the same atomic step);
 *  - persist of 4 KiB: ours against calling libpmem's pmem_persist directly (goal: at most 1.1x), and
 *    of one written 64-byte allocation (the persist path's own cost: the checks of the allocation;
 *    its link words are read when a free next needs them, not by the persist);
 *  - recovery: reopening a pool that holds 10^6 published allocations (goal: at most 0.1 s).
 *
 *   bun bench/pmem.ts            every row, then recovery
 *   bun bench/pmem.ts persist    only the rows whose name holds "persist" (recovery: "recovery")
 *
 * Runs itself again with PMEM_IS_PMEM_FORCE=1 when the variable is not set (libpmem and libpmemobj
 * read it when they load), so both sides flush CPU caches as they would on persistent memory.
 */
import { dlopen, FFIType, ptr as addressOf, toArrayBuffer, type Pointer } from "bun:ffi";
import { rmSync } from "node:fs";
import { do_not_optimize, run, summary } from "mitata";
import { warmedBench, warmUp } from "./util.ts";
import { MemoryPoolManager, PoolConfig, type PMEMMemoryPool } from "../src/index.ts";

if (process.env.PMEM_IS_PMEM_FORCE !== "1") {
  const child = Bun.spawnSync([process.execPath, import.meta.path, ...process.argv.slice(2)], {
    env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" },
    stdout: "inherit",
    stderr: "inherit",
  });
  process.exit(child.exitCode ?? 1);
}

const directory = "/dev/shm";
const files: string[] = [];
const file = (tag: string) => {
  const path = `${directory}/memory-pool-bench-${process.pid}-${tag}.pool`;
  rmSync(path, { force: true });
  files.push(path);
  return path;
};
process.on("exit", () => files.forEach((path) => rmSync(path, { force: true })));

const { u64, i32, ptr, cstring, u32, void: none } = FFIType;
const libpmem = dlopen("libpmem.so.1", { pmem_persist: { args: [ptr, u64], returns: none } }).symbols;
const libpmemobj = dlopen("libpmemobj.so.1", {
  pmemobj_create: { args: [cstring, cstring, u64, u32], returns: ptr },
  pmemobj_close: { args: [ptr], returns: none },
  pmemobj_alloc: { args: [ptr, ptr, u64, u64, ptr, ptr], returns: i32 },
  pmemobj_free: { args: [ptr], returns: none },
  pmemobj_errormsg: { args: [], returns: cstring },
}).symbols;

const manager = MemoryPoolManager.getInstance();
const MiB = 1024 * 1024;
const pool: PMEMMemoryPool = manager.createPMEMPool("bench_pmem", Object.assign(new PoolConfig(), { pmemPoolPath: file("ours"), initialSize: 64 * MiB }));
if (!pool.isPmem) throw new Error("PMEM is not emulated: PMEM_IS_PMEM_FORCE=1 did not reach libpmem");

const cString = (text: string) => Buffer.from(`${text}\0`);
const objectPool = libpmemobj.pmemobj_create(cString(file("pmemobj")), cString("bench"), 64 * MiB, 0o600);
if (objectPool === null) throw new Error(`pmemobj_create failed: ${libpmemobj.pmemobj_errormsg()}`);
const oid = new BigUint64Array(2); // PMEMoid { pool_uuid_lo, off }, in DRAM (as our bench keeps its pointer)

summary(() => {
  warmedBench("pmemobj_alloc + pmemobj_free, 64 B (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  warmedBench("allocateRaw + deallocate, 64 B (ours)", () => {
    pool.deallocate(pool.allocateRaw(64));
  });
  warmedBench("allocate + free, 64 B, Allocation handle (ours)", () => {
    pool.allocate(64).free();
  });
});

// The same pair with the block persisted in between, as a program that stores something does:
// then our allocation is durable before the free, and the free drains a store of its own.
const { pmemobj_direct } = dlopen("libpmemobj.so.1", { pmemobj_direct: { args: [u64, u64], returns: ptr } }).symbols;
const { pmemobj_persist } = dlopen("libpmemobj.so.1", { pmemobj_persist: { args: [ptr, ptr, u64], returns: none } }).symbols;
summary(() => {
  warmedBench("pmemobj_alloc + pmemobj_persist 64 B + pmemobj_free (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    pmemobj_persist(objectPool, pmemobj_direct(oid[0]!, oid[1]!), 64);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  warmedBench("allocate + persist 64 B + free (ours)", () => {
    const allocation = pool.allocate(64);
    pool.persist(allocation);
    allocation.free();
  });
  warmedBench("allocate + pmem_persist 64 B + free (the floor: libpmem called directly)", () => {
    const allocation = pool.allocate(64);
    libpmem.pmem_persist(allocation.ptr as Pointer, 64);
    allocation.free();
  });
});

// Copy-on-write: the new version published and the old freed in one atomic step. libpmemobj needs a
// transaction for it; the "root" is an object of its own holding the current PMEMoid.
const tx = dlopen("libpmemobj.so.1", {
  pmemobj_tx_begin: { args: [ptr, ptr, u32], returns: i32 },
  pmemobj_tx_add_range_direct: { args: [ptr, u64], returns: i32 },
  pmemobj_tx_free: { args: [u64, u64], returns: i32 },
  pmemobj_tx_commit: { args: [], returns: none },
  pmemobj_tx_end: { args: [], returns: i32 },
}).symbols;
const holderOid = new BigUint64Array(2);
if (libpmemobj.pmemobj_alloc(objectPool, holderOid, 16, 0, null, null) !== 0) throw new Error(`pmemobj_alloc failed: ${libpmemobj.pmemobj_errormsg()}`);
const holderAddress = pmemobj_direct(holderOid[0]!, holderOid[1]!)!;
const holder = new BigUint64Array(toArrayBuffer(holderAddress, 0, 16));
const next = new BigUint64Array(2);
libpmemobj.pmemobj_alloc(objectPool, holder, 64, 0, null, null);
let version = pool.allocate(64);
pool.persist(version);
pool.setRoot("cow", version);
summary(() => {
  warmedBench("pmemobj_alloc + persist + tx swapping the root and freeing the old (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, next, 64, 0, null, null);
    pmemobj_persist(objectPool, pmemobj_direct(next[0]!, next[1]!), 64);
    tx.pmemobj_tx_begin(objectPool, null, 0);
    tx.pmemobj_tx_add_range_direct(holderAddress, 16);
    const [pool_uuid_lo, off] = [holder[0]!, holder[1]!];
    holder[0] = next[0]!;
    holder[1] = next[1]!;
    tx.pmemobj_tx_free(pool_uuid_lo, off);
    tx.pmemobj_tx_commit();
    tx.pmemobj_tx_end();
  }).baseline(true);
  warmedBench("allocate + persist 64 B + setRoot freePrevious (ours)", () => {
    version = pool.allocate(64);
    pool.persist(version);
    pool.setRoot("cow", version, { freePrevious: true });
  });
});

summary(() => {
  warmedBench("pmemobj_alloc + pmemobj_free, 1 KiB (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 1024, 0, null, null);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  warmedBench("allocateRaw + deallocate, 1 KiB (ours)", () => {
    pool.deallocate(pool.allocateRaw(1024));
  });
});

// Pools of both strategies by threadSafety (zig/src/pmem/shared_journal.zig): "none" and "mutex"
// place under the pool's lock; "lockFree" and threadLocalCache place with the shared placement (a
// FixedSize pool's lock-free stack and the core's per-thread magazines; a Variable pool's sharded
// TLSF, whose home shard holds the file's heap, under that shard's lock), and free an unpublished
// block without the journal's lock. A published block's free takes the journal's lock (the last
// group). One thread here: what each setting costs a call, not how it scales (2 shared cores).
const THREAD_SETTINGS = [
  ["none", { threadSafety: "none", threadLocalCache: false }],
  ["mutex", { threadSafety: "mutex", threadLocalCache: false }],
  ["lockFree", { threadSafety: "lockFree", threadLocalCache: false }],
  ["threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
] as const;
const threadPools = (["FixedSize", "Variable"] as const).flatMap((strategy) =>
  THREAD_SETTINGS.map(([label, setting], index) => {
    const layout = strategy === "FixedSize" ? { allocatorType: strategy, blockSize: 64 } : { allocatorType: strategy };
    const config = Object.assign(new PoolConfig(), { pmemPoolPath: file(`threads-${strategy}-${index}`), initialSize: 16 * MiB, ...layout, ...setting });
    return [`${strategy} ${label}`, manager.createPMEMPool(`bench_pmem_threads_${strategy}_${index}`, config)] as const;
  }),
);
summary(() => {
  warmedBench("threads: pmemobj_alloc + pmemobj_free, 64 B (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  for (const [label, threaded] of threadPools) {
    warmedBench(`threads: allocate + free, 64 B, ${label} (ours)`, () => {
      threaded.allocate(64).free();
    });
  }
});
summary(() => {
  warmedBench("threads: pmemobj_alloc + pmemobj_persist 64 B + pmemobj_free (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    pmemobj_persist(objectPool, pmemobj_direct(oid[0]!, oid[1]!), 64);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  for (const [label, threaded] of threadPools) {
    warmedBench(`threads: allocate + persist 64 B + free, ${label} (ours)`, () => {
      const allocation = threaded.allocate(64);
      threaded.persist(allocation);
      allocation.free();
    });
  }
});
summary(() => {
  warmedBench("threads: pmemobj_alloc + pmemobj_persist 64 B + pmemobj_free, published (libpmemobj)", () => {
    libpmemobj.pmemobj_alloc(objectPool, oid, 64, 0, null, null);
    pmemobj_persist(objectPool, pmemobj_direct(oid[0]!, oid[1]!), 64);
    libpmemobj.pmemobj_free(oid);
  }).baseline(true);
  for (const [label, threaded] of threadPools) {
    warmedBench(`threads: allocate + persist 64 B + commitUnpublished + free, ${label} (ours)`, () => {
      const allocation = threaded.allocate(64);
      threaded.persist(allocation);
      threaded.commitUnpublished(allocation);
      allocation.free();
    });
  }
});

const page = pool.allocate(4096);
const pageBytes = page.bytes;
const pageAddress = page.ptr as Pointer;
let fillValue = 0;
summary(() => {
  warmedBench("pmem_persist 4 KiB, dirty (raw libpmem)", () => {
    pageBytes.fill(++fillValue & 255);
    libpmem.pmem_persist(pageAddress, 4096);
  }).baseline(true);
  warmedBench("persist 4 KiB, dirty (ours)", () => {
    pageBytes.fill(++fillValue & 255);
    pool.persist(page, 4096);
  });
});
summary(() => {
  warmedBench("pmem_persist 4 KiB, one dirty line (raw libpmem)", () => {
    pageBytes[0] = ++fillValue;
    libpmem.pmem_persist(pageAddress, 4096);
  }).baseline(true);
  warmedBench("persist 4 KiB, one dirty line (ours)", () => {
    pageBytes[0] = ++fillValue;
    pool.persist(page, 4096);
  });
});

// The persist path alone, for a block as small as the one above: one line written, then persisted.
const line = pool.allocate(64);
const lineBytes = line.bytes;
const lineAddress = line.ptr as Pointer;
summary(() => {
  warmedBench("pmem_persist 64 B, written (raw libpmem)", () => {
    lineBytes[0] = ++fillValue;
    libpmem.pmem_persist(lineAddress, 64);
  }).baseline(true);
  warmedBench("persist 64 B allocation, written (ours)", () => {
    lineBytes[0] = ++fillValue;
    pool.persist(line);
  });
});

const only = process.argv[2];
warmUp();
const { benchmarks } = await run(only === undefined ? {} : { filter: new RegExp(only.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) });
const average = (name: string) => benchmarks.find((trial) => trial.alias === name)?.runs[0]?.stats?.avg ?? NaN;
do_not_optimize(addressOf(pageBytes));

/** Reopening a pool holding `count` allocations of `size` bytes: the best of a few tries, in ms. */
function recovery(strategy: "Variable" | "FixedSize", count: number, size: number): { ms: number; live: number } {
  const path = file(`recovery-${strategy}`);
  const heapBytes = strategy === "Variable" ? count * 128 : count * size; // Variable keeps a record per 128 heap bytes
  const config = Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: heapBytes + 64 * MiB, allocatorType: strategy, blockSize: size });
  const filling = manager.createPMEMPool("bench_recovery", config);
  for (let i = 0; i < count; i++) filling.commitUnpublished(filling.allocate(size)); // published: found again
  filling.close();
  let best = Infinity;
  let live = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = performance.now();
    const reopened = manager.createPMEMPool("bench_recovery", config);
    best = Math.min(best, performance.now() - started);
    live = reopened.getStats().liveAllocations;
    reopened.close();
  }
  rmSync(path, { force: true });
  return { ms: best, live };
}

const measuresRecovery = only === undefined || "recovery".includes(only);
const variable = measuresRecovery ? recovery("Variable", 1_000_000, 64) : { ms: NaN, live: 0 };
const fixed = measuresRecovery ? recovery("FixedSize", 1_000_000, 64) : { ms: NaN, live: 0 };
const pair64 = average("allocateRaw + deallocate, 64 B (ours)") / average("pmemobj_alloc + pmemobj_free, 64 B (libpmemobj)");
const pair1k = average("allocateRaw + deallocate, 1 KiB (ours)") / average("pmemobj_alloc + pmemobj_free, 1 KiB (libpmemobj)");
const persisted = average("allocate + persist 64 B + free (ours)") / average("pmemobj_alloc + pmemobj_persist 64 B + pmemobj_free (libpmemobj)");
const floor = average("allocate + pmem_persist 64 B + free (the floor: libpmem called directly)");
const cow = average("allocate + persist 64 B + setRoot freePrevious (ours)") / average("pmemobj_alloc + persist + tx swapping the root and freeing the old (libpmemobj)");
const persistDirty = average("persist 4 KiB, dirty (ours)") / average("pmem_persist 4 KiB, dirty (raw libpmem)");
const persistClean = average("persist 4 KiB, one dirty line (ours)") / average("pmem_persist 4 KiB, one dirty line (raw libpmem)");
const persistLine = average("persist 64 B allocation, written (ours)") / average("pmem_persist 64 B, written (raw libpmem)");
const verdict = (ok: boolean) => (ok ? "meets" : "MISSES");
const goals = [
  `allocate + free, 64 B:   ${average("allocateRaw + deallocate, 64 B (ours)").toFixed(0)} ns vs libpmemobj ${average("pmemobj_alloc + pmemobj_free, 64 B (libpmemobj)").toFixed(0)} ns = ${pair64.toFixed(3)}x (goal <= 0.1x: ${verdict(pair64 <= 0.1)})`,
  `allocate + free, 1 KiB:  ${average("allocateRaw + deallocate, 1 KiB (ours)").toFixed(0)} ns vs libpmemobj ${average("pmemobj_alloc + pmemobj_free, 1 KiB (libpmemobj)").toFixed(0)} ns = ${pair1k.toFixed(3)}x (goal <= 0.1x: ${verdict(pair1k <= 0.1)})`,
  `with a persist between: ${average("allocate + persist 64 B + free (ours)").toFixed(0)} ns vs libpmemobj ${average("pmemobj_alloc + pmemobj_persist 64 B + pmemobj_free (libpmemobj)").toFixed(0)} ns = ${persisted.toFixed(3)}x (goal <= 0.1x: ${verdict(persisted <= 0.1)})`,
  `  its floor:            ${floor.toFixed(0)} ns (allocate, libpmem's pmem_persist called directly, free): ours ${(average("allocate + persist 64 B + free (ours)") - floor).toFixed(0)} ns above it`,
  `copy-on-write update:    ${average("allocate + persist 64 B + setRoot freePrevious (ours)").toFixed(0)} ns vs libpmemobj ${average("pmemobj_alloc + persist + tx swapping the root and freeing the old (libpmemobj)").toFixed(0)} ns = ${cow.toFixed(3)}x`,
  `persist 4 KiB, dirty:    ${persistDirty.toFixed(3)}x raw pmem_persist (goal <= 1.1x: ${verdict(persistDirty <= 1.1)})`,
  `persist 4 KiB, 1 line:   ${persistClean.toFixed(3)}x raw pmem_persist`,
  `persist 64 B, written:   ${persistLine.toFixed(3)}x raw pmem_persist`,
  `recovery, 10^6 allocations: Variable ${variable.ms.toFixed(0)} ms (${variable.live} live), FixedSize ${fixed.ms.toFixed(0)} ms (${fixed.live} live) (goal <= 100 ms: ${verdict(Math.max(variable.ms, fixed.ms) <= 100)})`,
];
// A filtered run (bun bench/pmem.ts <part of a name>) leaves the other rows unmeasured: not printed.
console.log(`\nGoals (PMEM_IS_PMEM_FORCE=1, files on ${directory}):\n${goals.filter((goal) => !goal.includes("NaN")).map((goal) => `  ${goal}`).join("\n")}`);
pool.close();
libpmemobj.pmemobj_close(objectPool);
