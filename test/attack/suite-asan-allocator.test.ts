/**
 * AddressSanitizer's allocator tests (compiler-rt test/asan/TestCases: allocator_returns_null.cpp
 * (malloc, calloc, calloc-overflow, realloc, new of sizes past the maximum: "requested allocation
 * size ... exceeds maximum supported size of ..."), calloc-overflow.cpp ("calloc parameters
 * overflow: count * size ... cannot be represented"), max_allocation_size.cpp (ASAN_OPTIONS
 * max_allocation_size: one byte more than the limit is refused, the limit itself served),
 * malloc_fill.cpp (malloc_fill_byte over new memory), and the rss-limit cases of
 * allocator_may_return_null), read and retold for this library's pools. The memory errors
 * themselves (heap-buffer-overflow, use-after-free, double and invalid frees, leaks) are ported in
 * suite-efence; a request past 2^52 naming the limit in suites5-huge-sizes.
 * - allocation-size-too-big: on every CPU shape, requests of the limit + 1, 2^40, 2^52 + 1 and 2^64
 *   by allocate, allocateRaw and the helpers are InvalidSizeErrors that name the limit (ASan's
 *   "maximum supported size"); nothing is committed, counted as live, or counted as a failure of memory;
 * - max_allocation_size: the limit a pool names (maxSize, growth 0, FixedSize, canaries, lockFree
 *   shards) is served on a fresh pool, written at both ends and freed; one byte more is refused;
 * - calloc-overflow: allocate(Type, n) with n * BYTES_PER_ELEMENT past what a view may hold, or past
 *   2^53, is an InvalidSizeError naming the count, the element type and the bytes, never a smaller
 *   allocation from a product that wrapped; a count that is not a whole number above 0 likewise;
 * - allocator_may_return_null with an rss limit: a pool at maxSize refuses with OutOfMemoryError
 *   (counted in failedAllocations), holds no more than maxSize, and serves again once blocks are freed;
 * - malloc_fill: fillOnAlloc writes its byte over every byte of every new block, reused ones too.
 * Differs by design: ASan's allocator_may_return_null=1 turns these into null returns; here a
 * refusal is always a typed error (there is no null pointer to hand out).
 * Left out: realloc and operator new[] cookies (no realloc, no C++ here), ASan's quarantine and
 * redzone sizes (the debug layer's, tested in suite-scudo and suite-efence).
 */
import { describe, expect, test } from "bun:test";
import { allocate, deallocate, InvalidSizeError, OutOfMemoryError, type PoolConfig } from "../../src/index";
import { allocateUntilRefused } from "../support/fill";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const MiB = 1 << 20;
const limitNamed = (message: string) => Number(/sizes run from 1 to (\d+)$/.exec(message)?.[1]);
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, maxSize 1 MiB", { maxSize: MiB }],
  ["Variable, mutex, maxSize 1 MiB + 4 KiB", { threadSafety: "mutex", maxSize: MiB + 4096 }],
  ["Variable, lockFree shards, from 64 KiB to 3 MiB", { threadSafety: "lockFree", initialSize: 64 << 10, maxSize: 3 * MiB }],
  ["Variable, growth 0", { initialSize: MiB, growth: 0 }],
  ["Variable, canaries, maxSize 1 MiB", { canaries: true, maxSize: MiB }],
  ["FixedSize 64, growth 0 from 64 KiB", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 << 10, growth: 0 }],
  ["FixedSize 4096, lockFree, maxSize 1 MiB", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "lockFree", maxSize: MiB }],
];

for (const [shapeName, shape] of shapes) {
  describe(`ASan's allocator cases on ${shapeName}`, () => {
    test("max_allocation_size: the limit the pool names is served on a fresh pool, one byte more is refused", () => {
      const p = pool(`suite-asan-max-${shapeName}`, shape);
      const limit = limitNamed(thrown<InvalidSizeError>(() => p.allocate(2 ** 40)).message);
      expect(limit).toBeGreaterThan(0);
      const a = p.allocate(limit);
      a.bytes[0] = 1;
      a.bytes[limit - 1] = 2;
      expect([a.size, a.bytes.length, a.bytes[0], a.bytes[limit - 1]]).toEqual([limit, limit, 1, 2]);
      a.free();
      const err = thrown<InvalidSizeError>(() => p.allocate(limit + 1));
      expect(err).toBeInstanceOf(InvalidSizeError);
      expect(limitNamed(err.message)).toBe(limit);
    });

    test("allocation-size-too-big: refused by every route, naming the limit; nothing committed or counted", () => {
      const p = pool(`suite-asan-too-big-${shapeName}`, shape);
      const limit = limitNamed(thrown<InvalidSizeError>(() => p.allocate(2 ** 40)).message);
      const before = p.getStats();
      for (const size of [limit + 1, 2 ** 40, 2 ** 52 + 1, 2 ** 64]) {
        for (const [route, call] of [["allocate", () => p.allocate(size)], ["allocateRaw", () => p.allocateRaw(size)]] as const) {
          const err = thrown<InvalidSizeError>(call);
          expect({ route, size, error: err.constructor.name, limit: limitNamed(err.message) }).toEqual({ route, size, error: "InvalidSizeError", limit });
        }
      }
      const after = p.getStats();
      expect([after.bytesReserved, after.liveAllocations, after.allocationCount, after.failedAllocations]).toEqual([before.bytesReserved, 0, before.allocationCount, before.failedAllocations]);
    });

    test("rss limit (allocator_may_return_null): full at maxSize, an OutOfMemoryError counted, served again after frees", () => {
      const p = pool(`suite-asan-rss-${shapeName}`, shape);
      const size = shape.allocatorType === "FixedSize" ? shape.blockSize! : 8192;
      const { held, refused } = allocateUntilRefused(() => p.allocate(size));
      expect(refused).toBeInstanceOf(OutOfMemoryError);
      const full = p.getStats();
      expect(full.failedAllocations).toBe(1);
      expect(full.bytesAllocated + full.freeBytes).toBeLessThanOrEqual(shape.maxSize ?? shape.initialSize!);
      for (const a of held.splice(0, 4)) a.free();
      const again = Array.from({ length: 4 }, () => p.allocate(size));
      expect(p.getStats().failedAllocations).toBe(1);
      for (const a of [...again, ...held]) a.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  });
}

test("calloc-overflow: allocate(Type, n) whose bytes a view cannot hold, or whose product passes 2^53, is refused, never wrapped", () => {
  const cases: [Float64ArrayConstructor | BigInt64ArrayConstructor | Int32ArrayConstructor | Uint16ArrayConstructor, number][] = [
    [Float64Array, 2 ** 29 + 1],
    [BigInt64Array, 2 ** 61],
    [Int32Array, 2 ** 51 + 1],
    [Uint16Array, 2 ** 52],
    [Float64Array, Number.MAX_SAFE_INTEGER],
  ];
  for (const [Type, count] of cases) {
    const err = thrown<InvalidSizeError>(() => allocate(Type as Float64ArrayConstructor, count));
    expect(err).toBeInstanceOf(InvalidSizeError);
    expect(err.message).toContain(`allocate(${Type.name}, ${count})`);
  }
  for (const count of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(thrown(() => allocate(Float64Array, count))).toBeInstanceOf(InvalidSizeError);
  }
  const fits = allocate(Float64Array, 16);
  expect(fits.byteLength).toBe(128);
  deallocate(fits);
});

test("malloc_fill: fillOnAlloc covers every byte of every new block, reused ones too", () => {
  for (const shape of [{}, { allocatorType: "FixedSize", blockSize: 256 }] as Partial<PoolConfig>[]) {
    const p = pool(`suite-asan-fill-${shape.allocatorType ?? "Variable"}`, { ...shape, fillOnAlloc: 0xbe });
    for (let round = 0; round < 3; round++) {
      const blocks = Array.from({ length: 32 }, (_, i) => p.allocate(1 + ((i * 37) % 256)));
      for (const b of blocks) {
        expect(b.bytes.every((x) => x === 0xbe)).toBe(true);
        b.bytes.fill(0x11); // dirty for the next round's reuse
      }
      for (const b of blocks) b.free();
    }
  }
});
