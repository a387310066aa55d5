/**
 * A snapshot's live blocks and getStats() on shared FixedSize pools (lockFree and mutex, with and
 * without threadLocalCache), after Workers churned on them: single blocks and runs, by pointer and
 * by handle, blocks of this thread freed in the Workers, snapshots and statistics read all the
 * while. Taken while the Workers run, a snapshot of a lockFree pool is a moment's view (its blocks
 * and its figures are read without a lock, so they may differ by what was in flight); once the
 * Workers stopped, with their cached blocks given back or not, the two agree exactly, and with
 * what the Workers say they kept. (Left open last session as a suspected difference under churn:
 * not reproduced in any mode; this holds it.)
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, type PoolSnapshot } from "../../src/index";

const manager = MemoryPoolManager.getInstance();
const WORKERS = 3;

function liveOf(snapshot: PoolSnapshot): { blocks: number; requested: number; regions: number } {
  const live = snapshot.blocks.filter((block) => block.state === "live");
  return { blocks: live.length, requested: live.reduce((sum, block) => sum + block.requestedSize!, 0), regions: snapshot.regions.reduce((sum, region) => sum + region.liveBlocks, 0) };
}

const MODES = [
  { threadSafety: "lockFree", threadLocalCache: false, trim: true },
  { threadSafety: "lockFree", threadLocalCache: true, trim: false },
  { threadSafety: "mutex", threadLocalCache: true, trim: true },
  { threadSafety: "mutex", threadLocalCache: false, trim: false },
] as const;

for (const { threadSafety, threadLocalCache, trim } of MODES) {
  test(`${threadSafety}${threadLocalCache ? " + threadLocalCache" : ""}: once the Workers stop${trim ? " and give their cached blocks back" : ""}, a snapshot's live blocks are getStats()'s live allocations`, async () => {
    const name = `leftovers4-snapshot-${threadSafety}-${threadLocalCache}`;
    const pool = manager.createCPUPool(name, Object.assign(new PoolConfig(), { allocatorType: "FixedSize", blockSize: 64, threadSafety, threadLocalCache, maxSize: 64 << 20 }));
    const mine = Array.from({ length: 20 }, (_, k) => pool.allocate(k % 4 === 0 ? 150 : 1 + k));
    const workers = Array.from({ length: WORKERS }, () => new Worker(new URL("../fixtures/attack/leftovers4-snapshot-worker.ts", import.meta.url).href));
    try {
      const kept = Promise.all(
        workers.map(
          (worker, index) =>
            new Promise<number>((resolve, reject) => {
              worker.onmessage = (event) => resolve(event.data.kept);
              worker.onerror = (event) => reject(new Error(event.message));
              // Blocks this thread allocated (runs among them), for the Worker to free by pointer as it churns.
              const foreign = Array.from({ length: 200 }, (_, k) => pool.allocateRaw(k % 5 === 0 ? 200 : 1 + (k % 64)));
              worker.postMessage({ name, seed: 7 + index, operations: 15_000, keep: 40, foreign, trim });
            }),
        ),
      );
      let stopped = false;
      void kept.finally(() => (stopped = true));
      let reads = 0;
      while (!stopped) {
        // A moment's view: it must be whole (blocks tiling their regions), whatever it counts.
        const during = pool.snapshot();
        expect(liveOf(during).regions).toBe(liveOf(during).blocks);
        pool.getStats();
        reads++;
        await Bun.sleep(1);
      }
      const workersKept = (await kept).reduce((sum, count) => sum + count, 0);
      expect(reads).toBeGreaterThan(0);
      const snapshot = pool.snapshot();
      const stats = pool.getStats();
      const live = liveOf(snapshot);
      expect({ blocks: live.blocks, regions: live.regions, snapshotStats: snapshot.stats.liveAllocations, requested: live.requested, snapshotInUse: snapshot.stats.bytesInUse }).toEqual({
        blocks: stats.liveAllocations,
        regions: stats.liveAllocations,
        snapshotStats: stats.liveAllocations,
        requested: stats.bytesInUse,
        snapshotInUse: stats.bytesInUse,
      });
      expect(stats.liveAllocations).toBe(workersKept + mine.length);
    } finally {
      for (const worker of workers) worker.terminate();
      manager.destroyPool(name);
    }
  }, 60_000);
}
