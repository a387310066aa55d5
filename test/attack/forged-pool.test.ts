/**
 * Pool objects are made by the manager only. A pool object made from JavaScript over another pool's
 * handle would reach that core pool behind its manager's back (and could destroy it under its
 * owner): every pool class refuses to be constructed, and the real pool goes on as before.
 */
import { expect, test } from "bun:test";
import { CPUMemoryPool, GPUMemoryPool, MemoryPoolManager, PinnedMemoryPool, PMEMMemoryPool, PoolConfig, UnsupportedOperationError } from "../../src/index";
import { thrown } from "../support/thrown";
import { handleOf } from "../../src/pool";

test("no pool class can be constructed from JavaScript, with a live pool's handle or without", () => {
  const manager = MemoryPoolManager.getInstance();
  const pool = manager.createCPUPool("forged-pool target", PoolConfig.FixedSizeCPU(64));
  try {
    const kept = pool.allocate(64);
    kept.bytes.fill(7);
    for (const PoolClass of [CPUMemoryPool, PinnedMemoryPool, GPUMemoryPool, PMEMMemoryPool] as unknown as (new (...args: unknown[]) => { destroy(): void })[]) {
      for (const args of [[pool.name, pool.config, handleOf(pool)], []]) {
        const error = thrown(() => new PoolClass(...args).destroy());
        expect(error).toBeInstanceOf(UnsupportedOperationError);
        expect(error!.message).toContain("has no public constructor");
      }
    }
    // The real pool was not touched: its allocation is live and its bytes are there.
    expect(manager.getPool("forged-pool target", "cpu")).toBe(pool);
    expect(kept.alive).toBe(true);
    expect(kept.bytes.every((byte) => byte === 7)).toBe(true);
    kept.free();
    expect(pool.getStats()).toMatchObject({ liveAllocations: 0, allocationCount: 1, freeCount: 1 });
  } finally {
    manager.destroyPool("forged-pool target");
  }
});
