/**
 * What a PMEM free of a large block reads of it (issue 13 loose end: a core free cleared its
 * block's link words by reading the block whole). Now a free reads only the pages that may hold a
 * link word (zig/src/pmem/links.zig Pages). In one process, per size, the best of a few tries:
 *   unknown   the block's first free after the file was opened again: every page may hold a link
 *             word (the bytes are unknown), so it is read whole: what every core free cost before;
 *   clean     a block placed and freed in this process, no link word written: no page is read;
 *   one link  the same with one link word written by link(): one page is read.
 * Frees of published blocks, through setRoot(name, null, { freePrevious: true }), on a "mutex" pool.
 *
 *   PMEM_IS_PMEM_FORCE=1 bun bench/pmem_free.ts [MiB, comma-separated] [tries]
 */
import { rmSync } from "node:fs";
import { MemoryPoolManager, PoolConfig, type PMEMMemoryPool } from "../src/index.ts";

if (process.env.PMEM_IS_PMEM_FORCE !== "1") throw new Error("run with PMEM_IS_PMEM_FORCE=1 in the environment (libpmem reads it when it loads)");
const manager = MemoryPoolManager.getInstance();
const sizes = (process.argv[2] ?? "1,16,64").split(",").map((mib) => Number(mib) << 20);
const tries = Number(process.argv[3] ?? 5);
const path = `/dev/shm/memory-pool-free-${process.pid}.pool`;
process.on("exit", () => rmSync(path, { force: true }));

function timedFree(pm: PMEMMemoryPool): number {
  const started = Bun.nanoseconds();
  pm.setRoot("block", null, { freePrevious: true });
  return (Bun.nanoseconds() - started) / 1e6;
}

for (const size of sizes) {
  const best = { unknown: Infinity, clean: Infinity, link: Infinity };
  const config = Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: Math.ceil(size * 1.1) + (8 << 20), threadSafety: "mutex" });
  for (let attempt = 0; attempt < tries; attempt++) {
    rmSync(path, { force: true });
    {
      const pm = manager.createPMEMPool("bench_free", config) as PMEMMemoryPool;
      pm.setRoot("block", pm.allocate(size));
      pm.close();
    }
    const pm = manager.createPMEMPool("bench_free", config) as PMEMMemoryPool;
    best.unknown = Math.min(best.unknown, timedFree(pm));
    pm.setRoot("block", pm.allocate(size));
    best.clean = Math.min(best.clean, timedFree(pm));
    const block = pm.allocate(size);
    pm.setRoot("block", block);
    const child = pm.allocate(64);
    pm.link(block, size - 64, child);
    pm.link(block, size - 64, null);
    child.free();
    best.link = Math.min(best.link, timedFree(pm));
    pm.close();
  }
  console.log(`free of ${size >> 20} MiB: unknown (read whole) ${best.unknown.toFixed(3)} ms, clean ${best.clean.toFixed(3)} ms, one link ${best.link.toFixed(3)} ms`);
}
