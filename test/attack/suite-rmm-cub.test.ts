/**
 * RAPIDS RMM's pool_memory_resource and arena_memory_resource tests (tests/mr/device/pool_mr_tests.cpp,
 * arena_mr_tests.cpp) and cub's CachingDeviceAllocator test (test/test_allocator.cu), read and retold
 * for this library's pools. The cases without streams run on CPU pools here and on GPU pools where
 * CUDA is; the stream cases need a device (the lead runs them on the H200; here they are skipped and
 * the reason printed). At most about 300 MiB of device memory.
 * - ThrowMaxLessThanInitial, ThrowStartTooLarge: initialSize above maxSize, or above what a pool may
 *   reserve, is a ConfigError naming initialSize, and no pool is made;
 * - NonAlignedPoolSize differs by design: RMM refuses a pool size that is no multiple of 256; here an
 *   initialSize is rounded up to whole commit units (the pool reserves at least what was asked);
 * - TwoLargeBuffers: two requests of nearly half a pool that never grows both fit, apart; a third
 *   does not (an OutOfMemoryError);
 * - arena Defragment: a pool filled with 64 KiB blocks, all freed in a random order, serves one
 *   request of most of the pool; SmallMediumLarge: a mix of 1 KiB to 4 MiB, none overlapping, balanced;
 * - DumpLogOnFailure: the OutOfMemoryError's message names the pool and the request, and the most
 *   the pool may hold: on a pool that never grows, what it holds (it said the address space, 64 GiB,
 *   as if the pool could grow there; RMM logs the pool's real size);
 * - cub's stream cases: blocks freed on busy streams (fills queued before each free) are handed to
 *   another stream only after that work (each block, read back on its new stream after a fill there,
 *   holds its own value); a request the free space cannot serve while frees are pending waits for
 *   them instead of failing (RMM's stream pool takes another stream's free blocks by synchronising);
 *   FreeAllCached is trim(): afterwards nothing is cached and the figures balance;
 * - cub's max_cached_bytes: the freed blocks a pool's bins keep stay under the bins' cap (a quarter
 *   of the pool, at least 8 MiB), and trim() gives them all back (CPU and GPU pools).
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, type GPUMemoryPool, MemoryPoolManager, OutOfMemoryError, PoolConfig } from "../../src/index";
import { allocateBlock as allocate, type AnyPool, type Block, noOverlap, poolKinds } from "../support/any_pool";
import { allocateUntilRefused } from "../support/fill";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const { kinds, named } = poolKinds("test/attack/suite-rmm-cub");
const gpuSkipped = kinds.find((k) => k.kind === "GPU")!.skip !== undefined;
const MiB = 1 << 20;
const KiB = 1 << 10;
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
];

function balanced(pool: AnyPool): void {
  const s = pool.getStats();
  expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, frees: s.freeCount, bytes: s.bytesFreedTotal })
    .toEqual({ bytesInUse: 0, liveAllocations: 0, frees: s.allocationCount, bytes: s.bytesAllocatedTotal });
}

for (const { kind, skip, make } of kinds) {
  describe.skipIf(skip !== undefined)(`RMM pool and arena tests on ${kind} pools`, () => {
    test("ThrowMaxLessThanInitial and ThrowStartTooLarge: a ConfigError naming initialSize, and no pool", () => {
      for (const fields of [{ initialSize: 2 * MiB, maxSize: MiB }, { initialSize: 2 ** 40 }]) {
        const name = named("suite-rmm-refused");
        const error = thrown<ConfigError>(() => make(name, fields));
        expect(error).toBeInstanceOf(ConfigError);
        expect(error.field).toBe("initialSize");
        expect(manager.hasPool(name)).toBe(false);
      }
    });

    test("NonAlignedPoolSize: an initialSize that is no multiple of 256 is rounded up (by design: RMM refuses it)", () => {
      const p = make(named("suite-rmm-unaligned"), { initialSize: MiB + 3, growth: 0 });
      expect(p.getStats().bytesReserved).toBeGreaterThanOrEqual(MiB + 3);
      const whole = allocate(p, MiB);
      whole.free();
      balanced(p);
    });

    for (const [shapeName, shape] of shapes) {
      test(`TwoLargeBuffers: two of nearly half a pool that never grows fit apart; a third does not (${shapeName})`, () => {
        const p = make(named("suite-rmm-two-large"), { ...shape, initialSize: 64 * MiB, growth: 0 });
        const first = allocate(p, 31 * MiB);
        const second = allocate(p, 31 * MiB);
        noOverlap([first, second]);
        expect(thrown(() => p.allocate(31 * MiB))).toBeInstanceOf(OutOfMemoryError);
        first.free();
        second.free();
        balanced(p);
      });

      test(`arena Defragment and SmallMediumLarge: 64 KiB blocks freed at random serve one of most of the pool; a mix never overlaps (${shapeName})`, () => {
        const p = make(named("suite-rmm-defragment"), { ...shape, initialSize: 16 * MiB, growth: 0 });
        const next = random(0x4a3e);
        const { held: blocks, refused } = allocateUntilRefused(() => allocate(p, 64 * KiB));
        expect(refused).toBeInstanceOf(OutOfMemoryError);
        expect(blocks.length).toBeGreaterThanOrEqual(250);
        while (blocks.length > 0) blocks.splice(Math.floor(next() * blocks.length), 1)[0]!.free();
        const most = allocate(p, 15 * MiB);
        most.free();
        const mixed: Block[] = [];
        for (let i = 0; i < 60; i++) {
          if (mixed.length > 0 && next() < 0.4) {
            mixed.splice(Math.floor(next() * mixed.length), 1)[0]!.free();
            continue;
          }
          const size = [KiB, 100 * KiB, MiB, 4 * MiB][Math.floor(next() * 4)]!;
          try {
            mixed.push(allocate(p, size));
          } catch (err) {
            expect(err).toBeInstanceOf(OutOfMemoryError);
          }
          noOverlap(mixed);
        }
        for (const block of mixed) block.free();
        balanced(p);
      });

      test(`cub max_cached_bytes: freed blocks the bins keep stay under their cap; trim() (FreeAllCached) empties them (${shapeName})`, () => {
        const p = make(named("suite-rmm-cub-cap"), { ...shape, initialSize: 16 * MiB, growth: 2 });
        const blocks = Array.from({ length: 40 }, (_, i) => allocate(p, MiB + i * 4096));
        for (const block of blocks) block.free();
        const s = p.getStats();
        // the bins' cap: a quarter of what the pool holds, at least 8 MiB (src/size_bins.ts); none on a "mutex" pool
        expect(s.cachedBytes).toBeLessThanOrEqual(Math.max(8 * MiB, s.bytesReserved / 4));
        if (shape.threadSafety === "mutex") expect(s.cachedBytes).toBe(0);
        else if (kind === "CPU") expect(s.cachedBytes).toBeGreaterThan(0); // a GPU pool watched by a tool (compute-sanitizer) takes no bins
        p.trim();
        expect(p.getStats().cachedBytes).toBe(0);
        balanced(p);
      });

      test(`DumpLogOnFailure: the OutOfMemoryError names the pool, the request and the most the pool may hold (${shapeName})`, () => {
        const fixed = make(named("suite-rmm-oom-fixed"), { ...shape, initialSize: 4 * MiB, growth: 0 });
        const held = allocate(fixed, 3 * MiB);
        const error = thrown<OutOfMemoryError>(() => fixed.allocate(2 * MiB));
        expect(error).toBeInstanceOf(OutOfMemoryError);
        expect(error.message).toContain(`pool '${fixed.name}'`);
        expect(error.message).toContain(`${2 * MiB} bytes`);
        const reserved = fixed.getStats().bytesReserved;
        expect(error.message).toContain(`${reserved} of at most ${reserved} bytes`); // it never grows
        held.free();
        const capped = make(named("suite-rmm-oom-capped"), { ...shape, initialSize: 4 * MiB, maxSize: 8 * MiB, growth: 2 });
        const blocks = [allocate(capped, 3 * MiB), allocate(capped, 3 * MiB)];
        const cappedError = thrown<OutOfMemoryError>(() => capped.allocate(3 * MiB));
        expect(cappedError).toBeInstanceOf(OutOfMemoryError);
        expect(cappedError.message).toContain(`of at most ${8 * MiB} bytes`);
        for (const block of blocks) block.free();
      });
    }
  });
}

describe.skipIf(gpuSkipped)("cub CachingDeviceAllocator stream cases, on GPU pools", () => {
  for (const [shapeName, shape] of shapes) {
    test(`blocks freed on busy streams reach other streams only after that work; FreeAllCached is trim() (${shapeName})`, () => {
      const pool = manager.createGPUPool(named("suite-rmm-cub-streams"), Object.assign(new PoolConfig(), { initialSize: 64 * MiB }, shape));
      const streams = Array.from({ length: 3 }, () => pool.createStream());
      const host = new Uint8Array(MiB);
      for (let round = 0; round < 20; round++) {
        const blocks = streams.map((stream, i) => {
          const block = pool.allocate(MiB, { stream });
          pool.fill(block, (round * 3 + i) & 0xff, undefined, { stream });
          return block;
        });
        // each freed on its own stream right after its fill was queued: the fill may still be running
        blocks.forEach((block, i) => pool.deallocate(block, { stream: streams[i] }));
        // taken on the next stream: its fill there must land after the old fill, so the block holds the new value
        for (let i = 0; i < streams.length; i++) {
          const stream = streams[(i + 1) % streams.length]!;
          const block = pool.allocate(MiB, { stream });
          const value = (round * 3 + i + 100) & 0xff;
          pool.fill(block, value, undefined, { stream });
          pool.copyDeviceToHost(host, block, undefined, { stream });
          stream.synchronize();
          if (host.some((byte) => byte !== value)) throw new Error(`round ${round}: a block on stream ${(i + 1) % streams.length} does not hold ${value}`);
          pool.deallocate(block, { stream });
        }
      }
      for (const stream of streams) stream.synchronize();
      pool.trim();
      const s = pool.getStats();
      expect(s.cachedBytes).toBe(0);
      balanced(pool);
      for (const stream of streams) stream.destroy();
    });

    test(`a request the free space cannot serve while frees are pending on streams waits for them (${shapeName})`, () => {
      const pool = manager.createGPUPool(named("suite-rmm-cub-pending"), Object.assign(new PoolConfig(), { initialSize: 32 * MiB, growth: 0 }, shape));
      const streams = Array.from({ length: 4 }, () => pool.createStream());
      const blocks: { block: ReturnType<GPUMemoryPool["allocate"]>; stream: number }[] = [];
      for (;;) {
        const stream = blocks.length % streams.length;
        try {
          blocks.push({ block: pool.allocate(MiB, { stream: streams[stream] }), stream });
        } catch (err) {
          expect(err).toBeInstanceOf(OutOfMemoryError);
          break;
        }
      }
      expect(blocks.length).toBeGreaterThanOrEqual(28);
      for (const { block, stream } of blocks) {
        pool.fill(block, 0x5a, undefined, { stream: streams[stream] });
        pool.deallocate(block, { stream: streams[stream] });
      }
      // no synchronize: the pool must wait for the streams' work, then place the block
      const large = pool.allocate(24 * MiB);
      pool.fill(large, 1);
      const host = new Uint8Array(4096);
      pool.copyDeviceToHost(host, large, 4096);
      expect(host.every((byte) => byte === 1)).toBe(true);
      large.free();
      for (const stream of streams) stream.synchronize();
      pool.trim();
      balanced(pool);
      for (const stream of streams) stream.destroy();
    });
  }
});
