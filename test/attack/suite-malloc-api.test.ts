/**
 * The API cases of mimalloc's test/test-api.c and glibc's malloc tests, read and retold for this
 * library (a pool is the heap; there is no realloc):
 * - zero and non-sizes (malloc(0), negative, fractional, NaN, infinite): an InvalidSizeError from every
 *   way in, nothing counted;
 * - tst-malloc-too-large: sizes from 2^31 to 2^64 and Number.MAX_VALUE, on every shape of pool, are an
 *   InvalidSizeError or an OutOfMemoryError, never another error; the pool then works and balances;
 *   calloc's overflow: allocate(Type, n) whose n x BYTES_PER_ELEMENT passes a limit is an InvalidSizeError;
 * - pool sizes past what a pool may reserve (initialSize, maxSize, quarantineBytes over 64 GiB - 2 MiB):
 *   validate() passed them and only the core refused them, with another message; now validate() does;
 * - posix_memalign / mi_malloc_aligned: every alignment from 1 to 4096, sizes 1 to 300 and a few large,
 *   every address a multiple of it, no two live blocks overlap (address stamps intact); 8192 a ConfigError;
 * - mi_heap_visit_blocks: after a random workload, snapshot() lists exactly the live allocations (address,
 *   requested size, id), its blocks tile every region in address order with no gap or overlap (a FixedSize
 *   region's tail shorter than a block aside), each region's counts match its blocks, and the regions
 *   add up to bytesReserved; sharded pools too (their snapshot was an UnsupportedOperationError until suite-tf-bfc's coalescing case);
 * - malloc-large: a block of 3 GiB, written at its first and last byte through its view;
 * - mi_heap_destroy with live blocks: destroying a pool that holds handles, bare pointers, views and
 *   window views leaves every one refused with a typed error, and a new pool of the same name, which may
 *   get the same addresses, cannot be freed through any of them; its statistics start at zero.
 */
import { describe, expect, test } from "bun:test";
import {
  allocate, type CPUMemoryPool, ConfigError, DoubleFreeError, InvalidPointerError, InvalidSizeError, MemoryPoolManager,
  OutOfMemoryError, PoolConfig, PoolNotFoundError, UseAfterFreeError,
} from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const GiB = 2 ** 30;

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, maxSize 1 MiB", { maxSize: 1 << 20 }],
  ["Variable, growth 0", { growth: 0 }],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree", { threadSafety: "lockFree" }],
  ["FixedSize 64", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
  ["FixedSize 64, mutex", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex" }],
  ["Variable, canaries", { canaries: true }],
];

function figures(p: CPUMemoryPool) {
  manager.flushThreadCaches();
  const s = p.getStats();
  return { bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount, bytesAllocatedTotal: s.bytesAllocatedTotal, bytesFreedTotal: s.bytesFreedTotal, cachedBytes: s.cachedBytes };
}

describe("mimalloc test-api and glibc malloc tests", () => {
  const nonSizes = [0, -0, -1, -64, 0.5, 63.5, NaN, Infinity, -Infinity];
  const tooLarge = [2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 33, 2 ** 40, 64 * GiB - 16, 64 * GiB, 64 * GiB + 1, 2 ** 48, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e300, Number.MAX_VALUE];

  for (const [name, shape] of shapes) {
    test(`zero and non-sizes are InvalidSizeErrors from every way in, nothing counted (${name})`, () => {
      const p = pool(`suite-api-zero-${name}`, shape);
      for (const size of nonSizes) {
        for (const call of [() => p.allocate(size), () => p.allocateRaw(size), () => p.allocateWindowBytes(size)]) {
          expect(thrown(call)).toBeInstanceOf(InvalidSizeError);
        }
      }
      const s = p.getStats();
      expect([s.allocationCount, s.failedAllocations, s.bytesInUse]).toEqual([0, 0, 0]);
    });

    test(`tst-malloc-too-large: huge sizes are InvalidSizeError or OutOfMemoryError, then the pool works and balances (${name})`, () => {
      const p = pool(`suite-api-large-${name}`, shape);
      let allocated = 0;
      let bytes = 0;
      // FixedSize pools serve up to 4 GiB - 1 as a run of blocks: 2^31 and 2^32 - 1 are real requests
      // there, which the cached pools take seconds to place (a sort of every free block), so they start at 2^32.
      const sizes = shape.allocatorType === "FixedSize" ? tooLarge.filter((size) => size >= 2 ** 32) : tooLarge;
      for (const size of sizes) {
        for (const call of [() => p.allocateRaw(size), () => p.allocate(size)]) {
          let result: unknown;
          try {
            result = call();
          } catch (err) {
            if (!(err instanceof InvalidSizeError) && !(err instanceof OutOfMemoryError)) throw err;
            continue;
          }
          // an unbounded pool may place a few GiB (address space, not memory): then it must be a real block
          expect(size).toBeLessThan(64 * GiB);
          allocated++;
          bytes += size;
          p.deallocate(result as number);
        }
        const small = p.allocate(64);
        small.bytes.fill(1);
        small.free();
        allocated++;
        bytes += 64;
      }
      expect(figures(p)).toEqual({ bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, bytesAllocatedTotal: bytes, bytesFreedTotal: bytes, cachedBytes: 0 });
    });
  }

  test("too large for a pool: validate() refuses initialSize, maxSize and quarantineBytes past the core's 64 GiB - 2 MiB, as create*Pool does, with one message", () => {
    const limit = 64 * GiB - 2 * 2 ** 20;
    for (const [field, value] of [["initialSize", limit + 1], ["maxSize", limit + 1], ["quarantineBytes", limit + 1], ["initialSize", 2 ** 40], ["maxSize", 2 ** 47]] as const) {
      const config = Object.assign(new PoolConfig(), { [field]: value });
      const fromValidate = thrown<ConfigError>(() => config.validate());
      expect(fromValidate).toBeInstanceOf(ConfigError); // it passed validate() and only the core refused it
      expect([fromValidate.field, fromValidate.value]).toEqual([field, value]);
      const fromCreate = thrown<ConfigError>(() => pool("suite-api-too-large-config", { [field]: value }));
      expect(fromCreate.message).toBe(fromValidate.message);
    }
    const atLimit = Object.assign(new PoolConfig(), { maxSize: limit, quarantineBytes: limit });
    atLimit.validate();
    const p = pool("suite-api-max-limit", { maxSize: limit });
    expect(p.getStats().addressSpaceBytes).toBeLessThanOrEqual(limit);
    p.allocate(64).free();
  });

  test("calloc's overflow: allocate(Type, n) with n x BYTES_PER_ELEMENT past a limit is an InvalidSizeError; nothing allocated", () => {
    const before = manager.defaultCPUPool.getStats().allocationCount;
    for (const type of [Uint16Array, Int32Array, Float32Array, Float64Array, BigInt64Array]) {
      for (const n of [2 ** 62, 2 ** 53, Number.MAX_SAFE_INTEGER, (2 ** 64) / type.BYTES_PER_ELEMENT, 2 ** 64, -1, 0, 1.5]) {
        expect(thrown(() => allocate(type as Float64ArrayConstructor, n))).toBeInstanceOf(InvalidSizeError);
      }
    }
    expect(manager.defaultCPUPool.getStats().allocationCount).toBe(before);
  });

  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    test(`posix_memalign: every alignment 1..4096, sizes 1..300 and some large, aligned and never overlapping (${allocatorType})`, () => {
      for (let alignment = 1; alignment <= 4096; alignment *= 2) {
        const p = pool(`suite-api-align-${allocatorType}-${alignment}`, { allocatorType, blockSize: 48, alignment, initialSize: 1 << 20 });
        const sizes = [...Array.from({ length: 300 }, (_, i) => i + 1), 4095, 4096, 4097, 65536, 100_003];
        const live = sizes.map((size) => p.allocate(size));
        for (const a of live) {
          expect((a.ptr as number) % alignment).toBe(0);
          stamp(a.bytes, a.ptr as number);
        }
        for (const a of live) expect(stampHolds(a.bytes, a.ptr as number)).toBe(true);
        const sorted = [...live].sort((x, y) => (x.ptr as number) - (y.ptr as number));
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.ptr as number).toBeGreaterThanOrEqual((sorted[i - 1]!.ptr as number) + sorted[i - 1]!.size);
        for (const a of live) a.free();
        expect(figures(p).bytesInUse).toBe(0);
      }
      const wrong = thrown<ConfigError>(() => pool(`suite-api-align-${allocatorType}-8192`, { allocatorType, alignment: 8192 }));
      expect(wrong).toBeInstanceOf(ConfigError);
      expect(wrong.field).toBe("alignment");
      for (const alignment of [0, 3, 48, -16, 0.5]) expect(thrown(() => pool(`suite-api-align-bad-${alignment}`, { alignment }))).toBeInstanceOf(ConfigError);
    }, 20_000);
  }

  const walked: [string, Partial<PoolConfig>][] = [
    ["Variable", {}],
    ["Variable, mutex", { threadSafety: "mutex" }],
    ["FixedSize 96", { allocatorType: "FixedSize", blockSize: 96 }],
    ["FixedSize 96, mutex", { allocatorType: "FixedSize", blockSize: 96, threadSafety: "mutex" }],
    ["FixedSize 96, lockFree", { allocatorType: "FixedSize", blockSize: 96, threadSafety: "lockFree" }],
    ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
    ["Variable, mutex + threadLocalCache (shards)", { threadSafety: "mutex", threadLocalCache: true }],
  ];
  for (const [name, shape] of walked) {
    test(`mi_heap_visit_blocks: snapshot() lists exactly the live allocations and tiles every region (${name})`, () => {
      const p = pool(`suite-api-walk-${name}`, { ...shape, growth: 2, initialSize: 64 << 10 });
      const next = random(4);
      const live = new Map<number, { size: number; id: number }>();
      for (let i = 0; i < 1500; i++) {
        if (live.size === 0 || next() < 0.55) {
          const size = 1 + Math.floor(next() ** 3 * 20_000);
          const a = p.allocate(size);
          live.set(a.ptr as number, { size, id: a.id });
        } else {
          const keys = [...live.keys()];
          const ptr = keys[Math.floor(next() * keys.length)]!;
          live.delete(ptr);
          p.deallocate(ptr);
        }
      }
      const snap = p.snapshot();
      const seen = snap.blocks.filter((b) => b.state === "live").map((b) => [snap.baseAddress + b.offset, { size: b.requestedSize, id: b.id }] as const);
      expect(new Map(seen)).toEqual(new Map([...live].map(([ptr, v]) => [ptr, { size: v.size, id: v.id }] as const)));
      const blockSize = shape.allocatorType === "FixedSize" ? 96 : 1;
      for (const region of snap.regions) {
        const blocks = snap.blocks.slice(region.firstBlock, region.firstBlock + region.blockCount);
        let at = region.offset;
        for (const block of blocks) {
          expect(block.offset).toBe(at);
          expect(block.region).toBe(region.index);
          at = block.offset + block.size;
        }
        expect(region.offset + region.size - at).toBeLessThan(blockSize);
        expect(region.offset + region.size - at).toBeGreaterThanOrEqual(0);
        const free = blocks.filter((b) => b.state === "free");
        // the largest request a region serves: free blocks in a row joined (a FixedSize pool's runs)
        let run = 0;
        const largest = blocks.reduce((most, b, i) => {
          run = b.state !== "free" ? 0 : i > 0 && blocks[i - 1]!.offset + blocks[i - 1]!.size === b.offset ? run + b.size : b.size;
          return Math.max(most, run);
        }, 0);
        expect([blocks.filter((b) => b.state === "live").length, free.length, free.reduce((sum, b) => sum + b.size, 0), largest])
          .toEqual([region.liveBlocks, region.freeBlocks, region.freeBytes, region.largestFreeBlock]);
      }
      expect(snap.regions.reduce((sum, r) => sum + r.size, 0)).toBe(p.getStats().bytesReserved);
      expect(snap.stats.liveAllocations).toBe(live.size);
    });
  }

  test("malloc-large: a block of 3 GiB is writable at its first and last byte through its view", () => {
    const p = pool("suite-api-3gib", {});
    const a = p.allocate(3 * GiB);
    const bytes = a.bytes;
    expect(bytes.length).toBe(3 * GiB);
    bytes[0] = 1;
    bytes[3 * GiB - 1] = 2;
    expect([bytes[0], bytes[3 * GiB - 1], bytes[3 * GiB]]).toEqual([1, 2, undefined]);
    a.free();
    expect(bytes.length).toBe(0);
    expect(p.trim()).toBeGreaterThan(0); // the region that held it is given back
  });

  for (const [name, shape] of shapes) {
    test(`mi_heap_destroy with live blocks: everything of the old pool refused, the new pool of that name safe from it (${name})`, () => {
      const first = pool("suite-api-heap", shape);
      const handles = Array.from({ length: 10 }, () => first.allocate(64));
      const raws = Array.from({ length: 10 }, () => first.allocateRaw(64));
      const views = handles.map((h) => h.bytes);
      const windows = Array.from({ length: 3 }, () => first.allocateWindowBytes(64));
      manager.destroyPool("suite-api-heap");
      expect(views.every((v) => v.length === 0)).toBe(true);
      expect(windows.every((v) => v.length === 0)).toBe(true);
      const second = pool("suite-api-heap", shape);
      const next = random(7);
      const fresh = Array.from({ length: 30 }, () => second.allocate(1 + Math.floor(next() * 64)));
      for (const a of fresh) stamp(a.bytes, a.ptr as number);
      expect(thrown(() => handles[0]!.free())).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => handles[1]!.bytes)).toBeInstanceOf(UseAfterFreeError);
      expect(handles[2]!.alive).toBe(false);
      expect(thrown(() => first.deallocate(raws[0]!))).toBeInstanceOf(PoolNotFoundError);
      expect(thrown(() => first.allocate(64))).toBeInstanceOf(PoolNotFoundError);
      for (const view of [views[3]!, windows[0]!]) expect(thrown(() => second.deallocate(view))).toBeInstanceOf(DoubleFreeError);
      // An old pointer the new pool has not handed out names no block of it: a typed error (inside the new
      // pool's free space the core cannot tell a pointer never given out from one freed before, and says
      // DoubleFreeError), and nothing of the new pool is freed.
      const handedOut = new Set(fresh.map((a) => a.ptr as number));
      for (const raw of raws) {
        if (handedOut.has(raw)) continue;
        const error = thrown(() => second.deallocate(raw));
        expect(error instanceof InvalidPointerError || error instanceof DoubleFreeError).toBe(true);
      }
      for (const a of fresh) expect(stampHolds(a.bytes, a.ptr as number)).toBe(true);
      const s = figures(second);
      expect([s.liveAllocations, s.allocationCount, s.freeCount]).toEqual([30, 30, 0]);
      for (const a of fresh) a.free();
      expect(figures(second)).toMatchObject({ bytesInUse: 0, liveAllocations: 0, allocationCount: 30, freeCount: 30, cachedBytes: 0 });
    });
  }
});
