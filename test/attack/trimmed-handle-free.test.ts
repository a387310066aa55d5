/**
 * A handle whose allocation ended through its pointer or a view, after which trim() gave the
 * block's region back, is freed again. Found by attack10: the core found no block (no region) at
 * the handle's offset, and the handle's free threw InvalidPointerError "pool 'p' never gave out a
 * block at offset ..." (or "... is not in any region"), where the README promises a DoubleFreeError
 * for a second free, whatever happened to the block since. The handle is dead afterwards.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, MemoryPoolManager, type Allocation, type PoolOptions } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

const configs: [string, PoolOptions][] = [
  ["FixedSize (the JavaScript cache)", { allocatorType: "FixedSize", blockSize: 256 }],
  ["Variable (the JavaScript bins)", { allocatorType: "Variable" }],
  ["FixedSize mutex", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "mutex" }],
  ["Variable mutex", { allocatorType: "Variable", threadSafety: "mutex" }],
  ["FixedSize with canaries", { allocatorType: "FixedSize", blockSize: 256, canaries: true }],
];

for (const [name, options] of configs) {
  test(`${name}: freeing a handle again after its pointer's free and a trim is a DoubleFreeError`, () => {
    const p = pool(`attack-trimmed-${name}`, { initialSize: 65536, growth: 1, ...options });
    const all = Array.from({ length: 600 }, () => p.allocate(200)); // several regions
    const [byPointer, byView] = all.slice(-2) as [Allocation, Allocation];
    for (const allocation of all.slice(0, -2)) allocation.free();
    p.deallocate(byPointer.ptr);
    p.deallocate(byView.bytes);
    MemoryPoolManager.getInstance().flushThreadCaches();
    expect(p.trim()).toBeGreaterThan(0); // the later regions, where the two lay, are given back
    for (const handle of [byPointer, byView]) {
      const error = thrown(() => handle.free());
      expect(error).toBeInstanceOf(DoubleFreeError);
      expect(error.message).toContain(`allocation #${handle.id}`);
      expect(handle.alive).toBe(false);
      expect(thrown(() => p.deallocate(handle))).toBeInstanceOf(DoubleFreeError);
    }
    expect(p.getStats()).toMatchObject({ liveAllocations: 0, bytesInUse: 0 });
  });
}
