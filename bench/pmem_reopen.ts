/**
 * Reopening a large Variable PMEM pool (issue 13 loose end: a 5 GiB file took about 3 s). The
 * table has a record slot per 128 heap bytes (a 5 GiB pool: 42 million, 335 MB), and recovery used
 * to read it twice and write a stack of every free slot (168 MB) at every open. Now the slots after
 * the last record are taken in order and never stacked (zig/src/pmem/table.zig `fresh_from`).
 * The best of a few reopens, in ms, of a pool of the given GiB, empty and with `count` published
 * allocations of 64 B at its start. Keep the file modest: it lies in /dev/shm (memory).
 *
 *   PMEM_IS_PMEM_FORCE=1 bun bench/pmem_reopen.ts [GiB] [count] [tries]
 */
import { rmSync } from "node:fs";
import { MemoryPoolManager, PoolConfig } from "../src/index.ts";

if (process.env.PMEM_IS_PMEM_FORCE !== "1") throw new Error("run with PMEM_IS_PMEM_FORCE=1 in the environment (libpmem reads it when it loads)");
const gib = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 100_000);
const tries = Number(process.argv[4] ?? 5);
const manager = MemoryPoolManager.getInstance();
const path = `/dev/shm/memory-pool-reopen-${process.pid}.pool`;
process.on("exit", () => rmSync(path, { force: true }));
const config = Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: gib * 1024 ** 3, threadSafety: "mutex" });

function bestReopen(): number {
  let best = Infinity;
  for (let attempt = 0; attempt < tries; attempt++) {
    const started = performance.now();
    const pool = manager.createPMEMPool("bench_reopen", config);
    best = Math.min(best, performance.now() - started);
    pool.close();
  }
  return best;
}

rmSync(path, { force: true });
manager.createPMEMPool("bench_reopen", config).close();
const empty = bestReopen();
{
  const pool = manager.createPMEMPool("bench_reopen", config);
  for (let i = 0; i < count; i++) pool.commitUnpublished(pool.allocate(64));
  pool.close();
}
const filled = bestReopen();
console.log(`reopen of a ${gib} GiB Variable pool: empty ${empty.toFixed(1)} ms, with ${count} allocations ${filled.toFixed(1)} ms (best of ${tries})`);
