/**
 * PyTorch's CUDA caching allocator tests (test/test_cuda.py: the record_stream and stream-ordered
 * reuse cases, memory_stats exactness after freeing and empty_cache, out-of-memory and retry after
 * freeing the cache), read and retold for this library's GPU pools: a stream-ordered free is the
 * record_stream case, trim() is empty_cache, getStats() is memory_stats.
 *
 * Written to run on the GPU machine: here, without a CUDA driver or device, every test is skipped
 * and the reason printed (the lead runs them there). At most about 600 MiB of device memory.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type GPUAllocation, type GPUMemoryPool, InvalidSizeError, MemoryPoolManager, OutOfMemoryError, PoolConfig } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const whyNot = gpuUnavailableReason();
const gpu = whyNot === undefined;
if (!gpu) console.log(`[test/attack/suite-pytorch-cuda] GPU tests skipped: ${whyNot}`);

const MiB = 1 << 20;
const made: string[] = [];
function gpuPool(name: string, options: Partial<PoolConfig> = {}): GPUMemoryPool {
  made.push(name);
  return manager.createGPUPool(name, Object.assign(new PoolConfig(), { initialSize: 64 * MiB }, options));
}
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});

function balanced(pool: GPUMemoryPool, allocated: number, bytes: number): void {
  const s = pool.getStats();
  expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount, bytesAllocatedTotal: s.bytesAllocatedTotal, bytesFreedTotal: s.bytesFreedTotal })
    .toEqual({ bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, bytesAllocatedTotal: bytes, bytesFreedTotal: bytes });
}

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, threadSafety none (JavaScript bins)", {}],
  ["Variable, mutex (the core)", { threadSafety: "mutex" }],
  ["FixedSize 4096, runs", { allocatorType: "FixedSize", blockSize: 4096 }],
];

describe.skipIf(!gpu)("PyTorch CUDA caching allocator tests, on GPU pools", () => {
  for (const [shapeName, shape] of shapes) {
    test(`record_stream: blocks freed on four busy streams are written by later allocations only in stream order; data intact (${shapeName})`, () => {
      const pool = gpuPool(`suite-torch-streams-${made.length}`, shape);
      const streams = Array.from({ length: 4 }, () => pool.createStream());
      const next = random(0x70c4);
      const host = new Uint8Array(256 * 1024);
      let allocated = 0;
      let bytes = 0;
      for (let round = 0; round < 40; round++) {
        const live: { block: GPUAllocation; value: number; stream: number }[] = [];
        for (let i = 0; i < 8; i++) {
          const stream = Math.floor(next() * streams.length);
          const size = 4096 * (1 + Math.floor(next() * 64));
          const block = pool.allocate(size, { stream: streams[stream] });
          expect(block.ptr % pool.config.alignment).toBe(0);
          const value = (round * 8 + i) & 0xff;
          pool.fill(block, value, undefined, { stream: streams[stream] });
          live.push({ block, value, stream });
          allocated++;
          bytes += size;
        }
        // no two live blocks overlap
        const sorted = [...live].sort((a, b) => (a.block.ptr as number) - (b.block.ptr as number));
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.block.ptr as number).toBeGreaterThanOrEqual((sorted[i - 1]!.block.ptr as number) + sorted[i - 1]!.block.size);
        // each block read back on its own stream, after its fill: the fill's value, whoever had it before
        for (const { block, value, stream } of live) {
          const view = host.subarray(0, block.size);
          pool.copyDeviceToHost(view, block, undefined, { stream: streams[stream] });
          streams[stream]!.synchronize();
          if (view.some((byte) => byte !== value)) throw new Error(`block of ${block.size} bytes on stream ${stream} does not hold ${value}`);
          // freed in stream order on a random stream: another stream must not be handed it before that work is done
          pool.deallocate(block, { stream: streams[Math.floor(next() * streams.length)] });
        }
      }
      for (const stream of streams) stream.synchronize();
      pool.trim(); // empty_cache
      balanced(pool, allocated, bytes);
      expect(pool.getStats().cachedBytes).toBe(0);
      for (const stream of streams) stream.destroy();
    });
  }

  test("memory_stats: exact after mixed sizes on the default stream, freed in random order; empty_cache leaves nothing cached", () => {
    const pool = gpuPool("suite-torch-stats", { initialSize: 64 * MiB });
    const next = random(0x5747);
    const sizes = Array.from({ length: 500 }, () => 1 + Math.floor(next() ** 3 * 4 * MiB));
    const blocks = sizes.map((size) => pool.allocateRaw(size));
    let s = pool.getStats();
    const total = sizes.reduce((sum, n) => sum + n, 0);
    expect([s.bytesInUse, s.liveAllocations, s.bytesAllocatedTotal]).toEqual([total, 500, total]);
    expect(s.peakBytesInUse).toBeGreaterThanOrEqual(total);
    for (let i = blocks.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
    }
    for (const b of blocks) pool.deallocate(b);
    balanced(pool, 500, total);
    pool.trim();
    s = pool.getStats();
    expect(s.cachedBytes).toBe(0);
    expect(s.bytesReserved).toBeLessThanOrEqual(64 * MiB); // grown regions went back
  });

  test("out of memory: over the limit is an InvalidSizeError, a full pool an OutOfMemoryError counted once each; after freeing, the same request succeeds", () => {
    const pool = gpuPool("suite-torch-oom", { initialSize: 32 * MiB, maxSize: 64 * MiB });
    expect(thrown(() => pool.allocate(65 * MiB))).toBeInstanceOf(InvalidSizeError);
    const held: number[] = [];
    let error: unknown;
    for (;;) {
      try { held.push(pool.allocateRaw(MiB)); } catch (err) { error = err; break; }
    }
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(held.length).toBeGreaterThanOrEqual(60);
    expect(pool.getStats().failedAllocations).toBe(1);
    // PyTorch frees its cache and retries: here freeing four blocks (they go to the bins) lets a 4 MiB request succeed
    for (const b of held.splice(0, 4)) pool.deallocate(b);
    const retried = pool.allocateRaw(4 * MiB);
    pool.deallocate(retried);
    for (const b of held) pool.deallocate(b);
    expect(pool.getStats().bytesInUse).toBe(0);
    expect(pool.getStats().failedAllocations).toBe(1);
  });
});
