/**
 * manager.flushThreadCaches() and the JavaScript bins of Variable pools. Found by attacking main:
 * the README says the bins go back on flushThreadCaches(), but the call flushed only the FixedSize
 * pools' caches (src/block_cache.ts kept the thread's list of open caches, and the bins a list of
 * their own that only a Worker's exit read): a Variable pool's cachedBytes stayed. One list
 * (src/thread_cache.ts) now holds both kinds, for flushThreadCaches() and the Worker's exit.
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();

test("flushThreadCaches() gives back every Variable pool's bins and every FixedSize pool's cache, and the statistics stay exact", () => {
  const variable = [pool("attack-ftc-variable-a"), pool("attack-ftc-variable-b", { initialSize: 4 << 20 })];
  const fixed = pool("attack-ftc-fixed", PoolConfig.FixedSizeCPU(64));
  const kept = variable.map((p) => p.allocate(5000));
  for (const p of variable) for (const size of [100, 1000, 70_000, 3 << 20]) p.allocate(size).free();
  for (const a of Array.from({ length: 10 }, () => fixed.allocate(64))) a.free();
  for (const p of [...variable, fixed]) expect(p.getStats().cachedBytes).toBeGreaterThan(0);
  const gone = pool("attack-ftc-destroyed");
  gone.allocate(300).free();
  manager.destroyPool("attack-ftc-destroyed"); // its bins are gone with it: the flush skips them
  manager.flushThreadCaches();
  for (const [i, p] of variable.entries()) {
    const s = p.getStats();
    expect([s.cachedBytes, s.liveAllocations, s.bytesInUse, s.allocationCount, s.freeCount]).toEqual([0, 1, 5000, 5, 4]);
    expect(kept[i]!.alive).toBe(true);
    expect(p.getLeaks().map((leak) => leak.size)).toEqual([5000]);
  }
  expect(fixed.getStats().cachedBytes).toBe(0);
  // The bins work on after the flush: a free bins again, and its block serves the same size.
  const again = variable[0]!.allocate(100);
  const ptr = again.ptr;
  again.free();
  expect(variable[0]!.getStats().cachedBytes).toBe(112);
  expect(variable[0]!.allocate(100).ptr).toBe(ptr);
});
