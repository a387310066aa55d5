/**
 * Linux's KFENCE tests (mm/kfence/kfence_test.c: a sampling guard-page allocator, one allocation in N
 * placed against a guard page, left or right), read and retold for this library's sampled guard pages
 * (guardPages with guardSampleRate, PoolConfig.SampledGuardsCPU(); guardPagePosition "after" is
 * ALLOCATE_RIGHT, "before" ALLOCATE_LEFT). A guarded allocation is told by the pool's guardPageBytes
 * growing by a page as it is made (KFENCE's is_kfence_address); test_alloc's retry until one is
 * guarded is the same loop. Accesses that would fault are probed through the kernel (write(2) of the
 * byte to a pipe: EFAULT, no fault), so every case runs in this process:
 * - test_out_of_bounds_read: the byte after a right-placed 32-byte block, and the byte before a
 *   left-placed one, are inaccessible;
 * - test_kmalloc_aligned_oob_read: a 73-byte block rounds up to 80: bytes 73..79 lie in the same page
 *   (accessible, as KFENCE's alignment gap), size + 16 lies in the guard page;
 * - test_kmalloc_aligned_oob_write / test_corruption: a write into that gap, or on the side away from
 *   the guard page, is no fault, and is a BoundaryViolationError on free naming the side and offset,
 *   with canaries on and without (a guarded block's page around it is checked as KFENCE's redzone
 *   pattern is, whatever the canaries switch says);
 * - test_use_after_free_read: a freed guarded block's bytes are inaccessible at once;
 * - test_double_free, test_invalid_addr_free: a second free of a guarded block is a DoubleFreeError, a
 *   free of buf + 1 an InvalidPointerError, and the block's own free then goes through;
 * - test_free_bulk / test_shrink_memcache: blocks of random sizes 8..308, guarded and not, freed
 *   together, and a trim() while a guarded block lives: no error, check() clean, the figures balanced,
 *   guardPageBytes back to 0;
 * - test_gfpzero: with fillOnAlloc 0, a guarded block written whole and freed reads zeros when its
 *   address comes back;
 * - test_invalid_access: an address in a guard page, where no block starts, is an InvalidPointerError
 *   to free or to fromPointer, and inaccessible;
 * - test_memcache_alloc_bulk: among 100 allocations at rate 1 in 4, some are guarded, and only some.
 * Left out: test_memcache_ctor and test_memcache_typesafe_by_rcu (no constructors, no RCU here),
 * test_krealloc (no realloc), test_init_on_free (a freed guarded block is inaccessible, so there is no
 * content to read), the KFENCE report text (the core's SIGSEGV report: suite-efence checks it in a child).
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { afterAll, describe, expect, test } from "bun:test";
import { type Allocation, BoundaryViolationError, type CPUMemoryPool, DoubleFreeError, InvalidPointerError, type PoolConfig } from "../../src/index";
import { accessible } from "../support/accessible";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const libc = dlopen("libc.so.6", { memset: { args: [FFIType.u64, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
afterAll(() => libc.close());
const PAGE = 4096;
const sampled = (position: "after" | "before", fields: Partial<PoolConfig> = {}): Partial<PoolConfig> => ({ guardPages: true, guardSampleRate: 4, guardPagePosition: position, ...fields });

/** KFENCE's test_alloc: allocates until the pool places one against a guard page; the others are freed. */
function guardedAllocation(p: CPUMemoryPool, size: number): Allocation {
  for (let tries = 0; tries < 1000; tries++) {
    const before = p.getStats().guardPageBytes;
    const a = p.allocate(size);
    if (p.getStats().guardPageBytes - before === PAGE) return a;
    a.free();
  }
  throw new Error(`no guarded allocation of ${size} B in 1000 tries`);
}

for (const position of ["after", "before"] as const) {
  const side = position === "after" ? "ALLOCATE_RIGHT" : "ALLOCATE_LEFT";
  describe(`KFENCE ${side}: guard page ${position}`, () => {
    test("test_out_of_bounds_read: the byte past the guarded edge is inaccessible, the block's own bytes are not", () => {
      const p = pool(`suite-kfence-oob-${position}`, sampled(position));
      const a = guardedAllocation(p, 32);
      expect([accessible(a.ptr), accessible(a.ptr + 31)]).toEqual([true, true]);
      expect(accessible(position === "after" ? a.ptr + 32 : a.ptr - 1)).toBe(false);
      a.free();
    });

    test("test_use_after_free_read: a freed guarded block is inaccessible at once", () => {
      const p = pool(`suite-kfence-uaf-${position}`, sampled(position));
      const a = guardedAllocation(p, 32);
      const address = a.ptr;
      a.free();
      expect([accessible(address), accessible(address + 31)]).toEqual([false, false]);
    });

    test("test_double_free and test_invalid_addr_free: typed errors, and the block's own free goes through", () => {
      const p = pool(`suite-kfence-frees-${position}`, sampled(position));
      const a = guardedAllocation(p, 32);
      expect(thrown(() => p.deallocate(a.ptr + 1))).toBeInstanceOf(InvalidPointerError);
      expect(a.alive).toBe(true);
      p.deallocate(a.ptr);
      expect(thrown(() => p.deallocate(a.ptr))).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
      expect(p.getStats().liveAllocations).toBe(0);
    });

    test("test_corruption: a write on the side away from the guard page is found on free, with canaries or without", () => {
      for (const canaries of [true, false]) {
        const p = pool(`suite-kfence-corruption-${position}-${canaries}`, sampled(position, { canaries }));
        const a = guardedAllocation(p, 32);
        const at = position === "after" ? -1 : 32;
        expect(accessible(a.ptr + at)).toBe(true);
        libc.symbols.memset(a.ptr + at, 42, 1);
        expect(thrown<BoundaryViolationError>(() => a.free())).toMatchObject({ allocationId: a.id, side: position === "after" ? "before" : "after", offset: at, damagedBytes: 1 });
        expect(p.getStats().liveAllocations).toBe(0);
      }
    });

    test("test_free_bulk and test_shrink_memcache: guarded and plain blocks freed together, a trim while one lives", () => {
      const p = pool(`suite-kfence-bulk-${position}`, sampled(position, { canaries: true }));
      const next = random(0xcf);
      for (let iter = 0; iter < 5; iter++) {
        const size = 8 + Math.floor(next() * 300);
        const objects = [guardedAllocation(p, size), p.allocate(size), guardedAllocation(p, size), p.allocate(size), p.allocate(size)];
        for (const o of objects) o.bytes.fill(0x78);
        p.trim();
        for (const o of objects) o.free();
        p.check();
      }
      const s = p.getStats();
      expect([s.liveAllocations, s.bytesInUse, s.guardPageBytes, s.allocationCount - s.freeCount]).toEqual([0, 0, 0, 0]);
    });
  });
}

test("test_kmalloc_aligned_oob_read / _write: 73 bytes round to 80; the gap is reachable, 16 bytes on is the guard page", () => {
  for (const canaries of [false, true]) {
    const p = pool(`suite-kfence-aligned-${canaries}`, sampled("after", { canaries }));
    const a = guardedAllocation(p, 73);
    expect([accessible(a.ptr + 72), accessible(a.ptr + 73), accessible(a.ptr + 79), accessible(a.ptr + 73 + 16)]).toEqual([true, true, true, false]);
    libc.symbols.memset(a.ptr + 73, read.u8(a.ptr as never, 73) + 1, 1);
    expect(thrown<BoundaryViolationError>(() => a.free())).toMatchObject({ side: "after", offset: 73, damagedBytes: 1 });
  }
});

test("test_gfpzero: with fillOnAlloc 0 a guarded block's address comes back reading zeros", () => {
  const p = pool("suite-kfence-gfpzero", sampled("after", { fillOnAlloc: 0 }));
  const first = guardedAllocation(p, PAGE);
  for (let i = 0; i < PAGE; i++) first.bytes[i] = (i + 1) & 0xff;
  const address = first.ptr;
  first.free();
  let again: Allocation | undefined;
  const others: Allocation[] = [];
  for (let i = 0; i < 200 && again === undefined; i++) {
    const b = p.allocate(PAGE);
    if (b.ptr === address) again = b;
    else others.push(b);
  }
  expect(again).toBeDefined();
  expect(again!.bytes.every((byte) => byte === 0)).toBe(true);
  for (const b of [again!, ...others]) b.free();
});

test("test_invalid_access: an address in a guard page is no block: refused, and inaccessible", () => {
  const p = pool("suite-kfence-invalid-access", sampled("after"));
  const a = guardedAllocation(p, 32);
  const inGuard = a.ptr + 32 + 16;
  expect(accessible(inGuard)).toBe(false);
  expect(thrown(() => p.deallocate(inGuard))).toBeInstanceOf(InvalidPointerError);
  expect(thrown(() => p.fromPointer(inGuard))).toBeInstanceOf(InvalidPointerError);
  expect(a.alive).toBe(true);
  a.free();
});

test("test_memcache_alloc_bulk: at 1 in 4, some of 100 allocations are guarded and only some", () => {
  const p = pool("suite-kfence-bulk-sampling", sampled("after"));
  let guarded = 0;
  const blocks: Allocation[] = [];
  for (let i = 0; i < 100; i++) {
    const before = p.getStats().guardPageBytes;
    blocks.push(p.allocate(32));
    if (p.getStats().guardPageBytes > before) guarded++;
  }
  expect(guarded).toBeGreaterThan(5);
  expect(guarded).toBeLessThan(60);
  for (const b of blocks) b.free();
  expect(p.getStats().guardPageBytes).toBe(0);
});
