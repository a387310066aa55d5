/**
 * CPython's debug memory hooks tests (Lib/test/test_capi/test_mem.py, PyMemDebugTests, run under
 * PYTHONMALLOC=debug / malloc_debug / pymalloc_debug; the hooks are Objects/obmalloc.c's
 * _PyMem_DebugRawAlloc/Free: FORBIDDENBYTE pads, CLEANBYTE 0xCD, DEADBYTE 0xDD, the serial number of
 * each call), read and retold for this library's debug layer (canaries, fillOnAlloc 0xcd, fillOnFree
 * 0xdd, quarantine, trackHistory), on Variable and FixedSize pools (guard pages turn these writes into
 * faults at the write: suite-efence runs those in child processes):
 * - test_buffer_overflow: a 16-byte block whose byte at tail+0 native code sets to 0x78 ('x'): its new
 *   bytes read 0xcd ("Data at p: cd cd cd"); its free throws BoundaryViolationError naming the block
 *   (id: the hooks' call serial; address; 16 bytes requested), the side, the first damaged byte's
 *   offset and how many canary bytes changed ("at tail+0: 0x78 *** OUCH", the rest as expected), and
 *   the allocation's stack (with trackHistory; without it the message says to turn it on, as CPython's
 *   says "Enable tracemalloc to get the memory block allocation traceback"); damage further into the
 *   canary and before the start (the leading pad) likewise;
 * - test_api_misuse ("bad ID: Allocated using API 'm', verified using API 'r'"): a block freed through
 *   another pool's deallocate (pointer, view, handle) or the helpers' deallocate is an
 *   InvalidPointerError naming the pool it belongs to and its allocation; it stays live and intact;
 * - test_pymem_malloc_without_gil / test_pyobject_malloc_without_gil (an allocator called without the
 *   thread state it needs): a debug pool of threadSafety "none" used from another Worker is a
 *   ThreadSafetyError by every route, and the owner's allocation is untouched;
 * - check_pyobject_{null,uninitialized,forbidden_bytes,freed}_is_freed (_PyObject_IsFreed guesses from
 *   the bytes): here whether a block is freed is the pool's record, never a guess: a live allocation
 *   whose bytes are all 0xcd, 0xfd or 0xdd is alive; a freed one is not, reads 0xdd while quarantined,
 *   and fromPointer of it (or of 0, the NULL case) is an InvalidPointerError;
 * - a native write into freed memory (the use after free DEADBYTE exposes): check() throws
 *   UseAfterFreeError naming the block.
 * Differs by design: CPython's hooks end the process (Fatal Python error); here the damage is a typed
 * error and the free goes through (the block is released, the handle dead), so a program can report
 * and go on. Left out: test_set_nomemory (fail the Nth allocation: maxSize, tested in suite-cupy-memory-pool
 * set_limit and suite-pytorch-memory-stats num_ooms), realloc (no realloc here), the 'r'/'m'/'o' API
 * domains (one pool is one domain: misuse across pools is the API misuse).
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { afterAll, describe, expect, test } from "bun:test";
import { BoundaryViolationError, deallocate, InvalidPointerError, PoolConfig, UseAfterFreeError } from "../../src/index";
import { attackFixture } from "../support/child";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const libc = dlopen("libc.so.6", { memset: { args: [FFIType.u64, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
afterAll(() => libc.close());
/** Native code writing `length` bytes of `value` at `address`, as a C extension's stray write would. */
const nativeWrite = (address: number, value: number, length = 1) => libc.symbols.memset(address, value, length);
const hex = (address: number) => `0x${address.toString(16)}`;

const CLEANBYTE = 0xcd;
const DEADBYTE = 0xdd;
const FORBIDDENBYTE = 0xfd;
const debugHooks: Partial<PoolConfig> = { canaries: true, fillOnAlloc: CLEANBYTE, fillOnFree: DEADBYTE, trackHistory: true };
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", debugHooks],
  ["FixedSize 64", { ...debugHooks, allocatorType: "FixedSize", blockSize: 64 }],
];

for (const [shapeName, shape] of shapes) {
  describe(`PYTHONMALLOC=debug on ${shapeName} pools`, () => {
    test("test_buffer_overflow: 'x' at tail+0 is found on free, naming the block, the byte and the stack", () => {
      const p = pool(`suite-cpython-overflow-${shapeName}`, shape);
      const a = p.allocate(16);
      expect([...a.bytes]).toEqual(new Array(16).fill(CLEANBYTE));
      nativeWrite(a.ptr + 16, 0x78);
      const err = thrown<BoundaryViolationError>(() => a.free());
      expect(err).toBeInstanceOf(BoundaryViolationError);
      expect([err.allocationId, err.ptr, err.size, err.side, err.offset, err.damagedBytes, err.poolName]).toEqual([a.id, a.ptr, 16, "after", 16, 1, p.name]);
      expect(err.message).toContain(`allocation #${a.id} (16 bytes at ${hex(a.ptr)}`);
      expect(err.message).toContain("first damaged byte at offset 16");
      expect(err.allocationStack).toContain("suite-cpython-debug-hooks.test.ts");
      expect(a.alive).toBe(false); // released all the same (CPython aborts here)
      expect(p.getStats().liveAllocations).toBe(0);
      p.check(); // nothing else is damaged
    });

    test("the pads: damage further into the trailing canary and in the leading one is measured", () => {
      const p = pool(`suite-cpython-pads-${shapeName}`, shape);
      const a = p.allocate(16);
      nativeWrite(a.ptr + 18, 0x78);
      nativeWrite(a.ptr + 20, 0x79);
      expect(thrown<BoundaryViolationError>(() => p.check())).toMatchObject({ allocationId: a.id, side: "after", offset: 18, damagedBytes: 2 });
      const b = p.allocate(16);
      nativeWrite(b.ptr - 1, 0x78);
      const before = thrown<BoundaryViolationError>(() => p.deallocate(b.ptr));
      expect(before).toMatchObject({ allocationId: b.id, side: "before", offset: -1, damagedBytes: 1 });
      expect(thrown(() => a.free())).toBeInstanceOf(BoundaryViolationError);
    });
  });
}

test("without trackHistory the report says how to get the allocation's stack (CPython: 'Enable tracemalloc')", () => {
  const p = pool("suite-cpython-no-history", { ...debugHooks, trackHistory: false });
  const a = p.allocate(16);
  nativeWrite(a.ptr + 16, 0x78);
  const err = thrown<BoundaryViolationError>(() => a.free());
  expect(err.allocationStack).toBeUndefined();
  expect(err.message).toContain("turn on trackHistory");
});

test("test_api_misuse: a block freed through another pool is refused, named, and stays live and intact", () => {
  const owner = pool("suite-cpython-owner", debugHooks);
  const other = pool("suite-cpython-other", debugHooks);
  const a = owner.allocate(16);
  const view = a.bytes;
  for (const misuse of [() => other.deallocate(a.ptr), () => other.deallocate(view), () => other.deallocate(a), () => deallocate(view)]) {
    const err = thrown<InvalidPointerError>(misuse);
    expect(err).toBeInstanceOf(InvalidPointerError);
    expect(err.message).toContain(`belongs to pool '${owner.name}'`);
  }
  expect(a.alive).toBe(true);
  expect([...view]).toEqual(new Array(16).fill(CLEANBYTE));
  owner.check();
  expect([owner.getStats().liveAllocations, other.getStats().freeCount]).toEqual([1, 0]);
  a.free();
});

test("test_pymem_malloc_without_gil: another Worker's use of a 'none' debug pool is a ThreadSafetyError by every route", async () => {
  const p = pool("suite-cpython-gil", debugHooks);
  const a = p.allocate(16);
  const worker = new Worker(attackFixture("default-none-worker.ts"));
  try {
    const answer = await new Promise<Record<string, string>>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<Record<string, string>>) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage(`use ${p.name} ${a.ptr}`);
    });
    const { flushThreadCaches, ...routes } = answer;
    expect(flushThreadCaches).toBe("ok");
    expect(Object.keys(routes).length).toBe(11);
    for (const [route, error] of Object.entries(routes)) expect({ route, error }).toEqual({ route, error: "THREAD_SAFETY" });
  } finally {
    worker.terminate();
  }
  expect([a.alive, ...a.bytes]).toEqual([true, ...new Array(16).fill(CLEANBYTE)]);
  p.check();
  a.free();
});

test("check_pyobject_*_is_freed: freed is the pool's record, not a guess from the bytes", () => {
  const p = pool("suite-cpython-is-freed", { ...debugHooks, quarantineBytes: 1 << 20 });
  for (const pattern of [CLEANBYTE, FORBIDDENBYTE, DEADBYTE]) {
    const a = p.allocate(32);
    a.bytes.fill(pattern);
    expect(a.alive).toBe(true);
    expect(p.fromPointer(a.ptr).size).toBe(32);
    const address = a.ptr;
    a.free();
    expect(a.alive).toBe(false);
    for (let i = 0; i < 32; i++) expect(read.u8(address as never, i)).toBe(DEADBYTE); // quarantined, poisoned
    expect(thrown(() => p.fromPointer(address))).toBeInstanceOf(InvalidPointerError);
  }
  expect(thrown(() => p.fromPointer(0))).toBeInstanceOf(InvalidPointerError); // the NULL case
  p.check();
});

test("a native write into a freed, quarantined block is found by check(), naming the block", () => {
  const p = pool("suite-cpython-use-after-free", { ...debugHooks, quarantineBytes: 1 << 20 });
  const a = p.allocate(64);
  const { id, ptr } = a;
  a.free();
  nativeWrite(ptr + 10, 0x41, 3);
  const err = thrown<UseAfterFreeError>(() => p.check());
  expect(err).toBeInstanceOf(UseAfterFreeError);
  expect(err.message).toContain(`#${id}`);
  expect(err.message).toContain(hex(ptr));
  expect(thrown(() => p.destroy())).toBeInstanceOf(UseAfterFreeError); // and again as the pool goes
});
