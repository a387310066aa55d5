// A default (Variable, threadSafety "none") GPU pool's JavaScript bins (src/size_bins.ts), and a
// pinned pool's: a device address is a number, so a freed block is handed out again with no driver
// call and no FFI call; a stream-ordered free keeps its meaning (the block leaves the bins and the
// core frees it once the stream's work is done). Skipped, with the reason printed, where no CUDA
// driver or device answers (the lead runs them on the GPU machine).
import { afterAll, describe, expect, test } from "bun:test";
import { DoubleFreeError, type GPUMemoryPool, MemoryPoolManager, PoolConfig } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const whyNot = gpuUnavailableReason();
const gpu = whyNot === undefined;
if (!gpu) console.log(`[test/gpu/bins] GPU bins tests skipped: ${whyNot}`);

const MiB = 1 << 20;
const made: string[] = [];
function gpuPool(name: string): GPUMemoryPool {
  made.push(name);
  return manager.createGPUPool(name, Object.assign(new PoolConfig(), { initialSize: 512 * MiB }));
}
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});

describe.skipIf(!gpu)("a GPU pool's JavaScript bins", () => {
  test("repeated sizes from 256 B to 64 MiB come back from the bins; statistics balance", () => {
    const pool = gpuPool("gpu-bins-repeat");
    for (const size of [256, 4096, 64 * 1024, MiB, 64 * MiB]) {
      const first = pool.allocateRaw(size);
      pool.deallocate(first);
      const again = pool.allocateRaw(size);
      expect(again).toBe(first);
      pool.deallocate(again);
      expect(thrown(() => pool.deallocate(again))).toBeInstanceOf(DoubleFreeError);
    }
    let stats = pool.getStats();
    expect([stats.liveAllocations, stats.bytesInUse]).toEqual([0, 0]);
    expect(stats.cachedBytes).toBeGreaterThan(64 * MiB); // under the cap: a quarter of the 512 MiB committed
    pool.trim();
    stats = pool.getStats();
    expect([stats.cachedBytes, stats.allocationCount, stats.freeCount]).toEqual([0, 10, 10]);
  });

  test("a stream-ordered free leaves the bins: the block is the stream's until its work is done", () => {
    const pool = gpuPool("gpu-bins-stream");
    using stream = pool.createStream();
    const first = pool.allocate(MiB);
    const ptr = first.ptr;
    first.free();
    const again = pool.allocate(MiB); // from the bins
    expect(again.ptr).toBe(ptr);
    pool.deallocate(again, { stream });
    expect(pool.getStats().cachedBytes).toBe(0); // not binned: pending on the stream
    stream.synchronize();
    const later = pool.allocate(MiB); // the core's block again once the stream is done with it
    expect(later.alive).toBe(true);
    later.free();
  });
});

describe.skipIf(!gpu)("a pinned pool's JavaScript bins", () => {
  test("a freed block comes back with a view of its own size", () => {
    made.push("pinned-bins");
    const pool = manager.createPinnedPool("pinned-bins", new PoolConfig());
    const a = pool.allocate(1000);
    const ptr = a.ptr;
    a.free();
    const b = pool.allocate(990); // 1000 B and 990 B are one size class (62-63 granules)
    expect(b.ptr).toBe(ptr);
    expect(b.bytes.byteLength).toBe(990);
    b.free();
  });
});
