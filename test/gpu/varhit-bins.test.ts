// A default GPU pool's JavaScript bins by raw device address (src/size_bins.ts allocAddress and
// freeAddress, called from GPUMemoryPool's allocateRaw and deallocate): the counters the bins keep
// in JavaScript reach getStats right after a run of hits, and a stream-ordered free of a raw
// address between hits takes the block out of the bins. Skipped, with the reason printed, where no
// CUDA driver or device answers (the lead runs them on the GPU machine).
import { afterAll, describe, expect, test } from "bun:test";
import { DoubleFreeError, type GPUMemoryPool, InvalidPointerError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const whyNot = gpuUnavailableReason();
const gpu = whyNot === undefined;
if (!gpu) console.log(`[test/gpu/varhit-bins] GPU raw bins tests skipped: ${whyNot}`);

const MiB = 1 << 20;
const made: string[] = [];
function gpuPool(name: string): GPUMemoryPool {
  made.push(name);
  return manager.createGPUPool(name, Object.assign(new PoolConfig(), { initialSize: 256 * MiB }));
}
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});

describe.skipIf(!gpu)("a GPU pool's bins by raw address", () => {
  test("getStats right after a run of hits counts every one; bad addresses are typed errors that change nothing", () => {
    const pool = gpuPool("gpu-varhit-counts");
    const first = pool.allocateRaw(4096);
    pool.deallocate(first); // binned
    const before = pool.getStats();
    for (let i = 0; i < 1000; i++) pool.deallocate(pool.allocateRaw(4096));
    const held = pool.allocateRaw(4096);
    expect(held).toBe(first);
    const after = pool.getStats();
    expect(after.allocationCount - before.allocationCount).toBe(1001);
    expect(after.freeCount - before.freeCount).toBe(1000);
    expect(after.bytesAllocatedTotal - before.bytesAllocatedTotal).toBe(1001 * 4096);
    expect([after.liveAllocations, after.bytesInUse, after.cachedBytes]).toEqual([1, 4096, 0]);
    expect(thrown(() => pool.deallocate(held + 16))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => pool.deallocate(held + 1))).toBeInstanceOf(InvalidPointerError);
    pool.deallocate(held);
    expect(thrown(() => pool.deallocate(held))).toBeInstanceOf(DoubleFreeError);
    const end = pool.getStats();
    expect([end.liveAllocations, end.bytesInUse, end.allocationCount - end.freeCount]).toEqual([0, 0, 0]);
  });

  test("a stream-ordered free of a raw address between hits takes the block out of the bins; the counts balance once the stream is done", () => {
    const pool = gpuPool("gpu-varhit-stream");
    using stream = pool.createStream();
    const block = pool.allocateRaw(MiB);
    pool.deallocate(block); // binned
    for (let i = 0; i < 100; i++) pool.deallocate(pool.allocateRaw(MiB)); // hits on the block
    const hit = pool.allocateRaw(MiB);
    expect(hit).toBe(block);
    pool.deallocate(hit, { stream }); // the stream's now: not binned
    expect(pool.getStats().cachedBytes).toBe(0);
    const other = pool.allocateRaw(MiB); // no binned block of its class: the core's
    pool.deallocate(other); // binned
    expect(pool.allocateRaw(MiB)).toBe(other); // a hit again, after the stream's free
    pool.deallocate(other);
    stream.synchronize();
    pool.trim(); // the bins go back, and the stream's free is done
    const end = pool.getStats();
    expect([end.liveAllocations, end.bytesInUse, end.cachedBytes]).toEqual([0, 0, 0]);
    expect(end.allocationCount).toBe(end.freeCount);
    expect(end.bytesAllocatedTotal).toBe(end.bytesFreedTotal);
  });
});
