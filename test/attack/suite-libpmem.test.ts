/**
 * PMDK's libpmem tests (src/test/pmem_memcpy, pmem_memset, pmem_memmove, pmem_map_file, pmem_is_pmem),
 * read and retold for this library's PMEM calls: memcpyPersist is pmem_memcpy_persist (and, given a view
 * of its own target, pmem_memmove_persist), a fill plus persist or flush + drain is pmem_memset_persist,
 * createPMEMPool is pmem_map_file with PMEM_FILE_CREATE:
 * - pmem_memcpy / pmem_memmove: copies at every offset edge (start, middle, the last byte, empty at the
 *   end), from every kind of source (typed arrays of 1 to 8 byte elements, DataView, ArrayBuffer, a
 *   view of another allocation, an overlapping view of the target itself), into an allocation and into
 *   a view of one: the bytes land exactly there, the bytes around them stay; a copy one byte too long,
 *   at a negative, fractional or NaN offset, is an InvalidSizeError that writes nothing; what was copied
 *   and published is there after the pool is closed and opened again;
 * - pmem_memset: a range filled and persisted (or flushed and drained) at every edge; persist(view) of a
 *   subarray, of a typed view; the ranges one byte past the end refused as above;
 * - the destination that is not the pool's (pmem_memcpy's "bad dest" cases): a plain Uint8Array, a CPU
 *   pool's view, another PMEM pool's view are InvalidPointerErrors naming the pool, from persist, flush
 *   and memcpyPersist alike (a view of other memory was sent to the core as an "offset" made of two
 *   unrelated addresses, and refused with a message quoting that huge negative offset: fixed, see the
 *   commit); a freed allocation and its detached views are UseAfterFreeErrors;
 * - pmem_map_file: a file created at sizes 64 B (one block) to 1 MiB + 1 is a whole number of pages and serves
 *   allocations to its end; opened again with another initialSize it keeps its size (created false);
 *   an empty file is a PMEMFormatError (truncated) and stays empty; a path ending in '/', an empty path
 *   or one with a NUL is a ConfigError, a file name past NAME_MAX a PMEMFileError; a relative path
 *   names the file in the working directory, and pool.path says so.
 * Left out: pmem_is_pmem's answers on real DAX mappings (no such device here: isPmem follows
 * PMEM_IS_PMEM_FORCE, which test/pmem checks), pmem_map_file's PMEM_FILE_TMPFILE and PMEM_FILE_SPARSE
 * (the pool file is always made whole before it is linked, by design), the non-temporal store
 * thresholds (libpmem's own business), and creating a file larger than the file system (it would fill
 * the shared machine's /dev/shm).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Allocation, ConfigError, InvalidPointerError, InvalidSizeError, MemoryPoolManager, type PMEMMemoryPool, PMEMFileError, PMEMFormatError, PoolConfig, UseAfterFreeError } from "../../src/index";
import { pmemUnavailableReason } from "../../src/native";
import { poolDirectory, poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const whyNot = pmemUnavailableReason();
if (whyNot !== undefined) console.log(`[test/attack/suite-libpmem] PMEM tests skipped: ${whyNot}`);
const opened: string[] = [];
afterAll(() => {
  for (const name of opened) if (manager.hasPool(name)) manager.destroyPool(name);
  removePoolFiles();
});
let count = 0;
function open(path: string, fields: Partial<PoolConfig> = {}): PMEMMemoryPool {
  const name = `suite-libpmem-${count++}`;
  opened.push(name);
  return manager.createPMEMPool(name, Object.assign(new PoolConfig(), { initialSize: 256 * 1024 }, fields, { pmemPoolPath: path }));
}
const SIZE = 1000;
/** The allocation's bytes as a pattern of its own, so a stray write shows. */
function pattern(a: Allocation): Uint8Array<ArrayBuffer> {
  const expected = new Uint8Array(a.size).map((_, i) => (i * 7 + 3) & 0xff);
  a.bytes.set(expected);
  return expected;
}

describe.skipIf(whyNot !== undefined)("pmem_memcpy_persist and pmem_memmove_persist: memcpyPersist", () => {
  const sources: [string, (n: number) => ArrayBufferView | ArrayBuffer][] = [
    ["Uint8Array", (n) => new Uint8Array(n).map((_, i) => 200 - (i & 0x7f))],
    ["Uint16Array", (n) => new Uint16Array(n / 2).map((_, i) => 0xabcd + i)],
    ["Float64Array", (n) => new Float64Array(n / 8).map((_, i) => i + 0.5)],
    ["DataView", (n) => new DataView(new Uint8Array(n).fill(0x42).buffer)],
    ["ArrayBuffer", (n) => new Uint8Array(n).fill(0x24).buffer],
  ];
  const asBytes = (s: ArrayBufferView | ArrayBuffer) => (ArrayBuffer.isView(s) ? new Uint8Array(s.buffer, s.byteOffset, s.byteLength) : new Uint8Array(s));

  for (const [sourceName, make] of sources) {
    test(`from a ${sourceName}, at every offset edge, into an allocation and into a view of one`, () => {
      const pm = open(poolPath("memcpy"));
      for (const into of ["allocation", "view"] as const) {
        const a = pm.allocate(SIZE);
        // a view target starts 8 bytes in: its offsets are the view's
        const base = into === "view" ? 8 : 0;
        const extent = SIZE - base;
        const target = () => (into === "view" ? a.bytes.subarray(base) : a);
        for (const [offset, length] of [[0, 8], [0, extent], [extent >> 1, 16], [extent - 8, 8], [extent, 0]] as const) {
          const expected = pattern(a);
          const source = make(length);
          pm.memcpyPersist(target(), source, offset);
          expected.set(asBytes(source), base + offset);
          expect(a.bytes).toEqual(expected);
        }
        const expected = pattern(a);
        for (const [offset, length] of [[0, extent + 8], [extent - 8, 16], [-8, 8], [1.5, 8], [NaN, 8], [extent + 8, 0]] as const) {
          expect(thrown(() => pm.memcpyPersist(target(), make(length), offset))).toBeInstanceOf(InvalidSizeError);
          expect(a.bytes).toEqual(expected);
        }
        a.free();
      }
      expect(pm.getStats().liveAllocations).toBe(0);
    });
  }

  test("overlapping: a view of the target itself moves as memmove does, either way", () => {
    const pm = open(poolPath("memmove"));
    const a = pm.allocate(SIZE);
    for (const [from, to, length] of [[0, 100, 500], [100, 0, 500], [0, 1, SIZE - 1], [1, 0, SIZE - 1]] as const) {
      const expected = pattern(a);
      expected.copyWithin(to, from, from + length);
      pm.memcpyPersist(a, a.bytes.subarray(from, from + length), to);
      expect(a.bytes).toEqual(expected);
    }
    const b = pm.allocate(SIZE);
    const expected = pattern(b);
    pm.memcpyPersist(a, b.bytes);
    expect(a.bytes).toEqual(expected);
  });

  test("copied, published, closed and opened again: the bytes are in the file", () => {
    const path = poolPath("reopen");
    const pm = open(path);
    const a = pm.allocate(SIZE);
    const source = new Uint8Array(SIZE).map((_, i) => (i * 13) & 0xff);
    pm.memcpyPersist(a, source);
    pm.setRoot("copied", a);
    pm.close();
    const again = open(path);
    expect(again.created).toBe(false);
    expect(again.getRoot("copied")!.bytes).toEqual(source);
    again.close();
  });
});

describe.skipIf(whyNot !== undefined)("pmem_memset_persist: a fill, then persist or flush + drain", () => {
  test("every edge of an allocation, by allocation and offsets and by view", () => {
    const pm = open(poolPath("memset"));
    const a = pm.allocate(SIZE);
    for (const [offset, length] of [[0, 1], [0, SIZE], [SIZE - 1, 1], [SIZE >> 1, 64], [SIZE, 0]] as const) {
      const expected = pattern(a);
      a.bytes.fill(0xee, offset, offset + length);
      expected.fill(0xee, offset, offset + length);
      pm.persist(a, length, offset);
      pm.flush(a, length, offset);
      pm.drain();
      pm.persist(a.bytes.subarray(offset, offset + length));
      pm.persist(a.as(Uint32Array).subarray(offset >> 2, (offset + length) >> 2));
      expect(a.bytes).toEqual(expected);
    }
    for (const [offset, length] of [[0, SIZE + 1], [SIZE - 1, 2], [SIZE + 1, 0], [-1, 1], [0.5, 1]] as const) {
      expect(thrown(() => pm.persist(a, length, offset))).toBeInstanceOf(InvalidSizeError);
      expect(thrown(() => pm.flush(a, length, offset))).toBeInstanceOf(InvalidSizeError);
    }
    const view = a.bytes.subarray(10, 20);
    expect(thrown(() => pm.persist(view, 11))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pm.persist(view, 1, 10))).toBeInstanceOf(InvalidSizeError);
  });
});

describe.skipIf(whyNot !== undefined)("a destination that is not the pool's", () => {
  test("plain memory, a CPU pool's view, another PMEM pool's view: InvalidPointerErrors naming the pool", () => {
    const pm = open(poolPath("dest"));
    const other = open(poolPath("dest-other"));
    const cpuName = `suite-libpmem-cpu-${count++}`;
    opened.push(cpuName);
    const cpu = manager.createCPUPool(cpuName, {});
    const foreign: [string, Uint8Array][] = [
      ["a plain Uint8Array", new Uint8Array(64)],
      ["a CPU pool's view", cpu.allocate(64).bytes],
      ["another PMEM pool's view", other.allocate(64).bytes],
    ];
    const mine = pm.allocate(64);
    const before = pattern(mine);
    for (const [what, view] of foreign) {
      for (const [call, act] of [
        ["persist", () => pm.persist(view)],
        ["flush", () => pm.flush(view, 8)],
        ["memcpyPersist", () => pm.memcpyPersist(view, new Uint8Array(8))],
      ] as const) {
        const err = thrown<InvalidPointerError>(act);
        expect({ what, call, error: err.constructor.name }).toEqual({ what, call, error: "InvalidPointerError" });
        expect(err.message).toContain(`pool '${pm.name}'`);
        expect(err.message).not.toMatch(/offset -?\d{6,}/);
      }
    }
    expect(mine.bytes).toEqual(before);
    // its own freed allocation: UseAfterFreeErrors, and the detached view copies nothing
    const { bytes } = mine;
    mine.free();
    expect(thrown(() => pm.persist(mine))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => pm.memcpyPersist(mine, new Uint8Array(8)))).toBeInstanceOf(UseAfterFreeError);
    expect(bytes.byteLength).toBe(0);
  });
});

describe.skipIf(whyNot !== undefined)("pmem_map_file: creating, opening again, and paths", () => {
  test("a file created at any size is whole pages and serves allocations to its end", () => {
    for (const initialSize of [64, 4095, 4097, 65537, (1 << 20) + 1]) {
      const path = poolPath("sizes");
      const pm = open(path, { initialSize, allocatorType: "FixedSize", blockSize: 64 });
      expect(pm.created).toBe(true);
      const fileBytes = statSync(path).size;
      expect(fileBytes % 4096).toBe(0);
      expect(fileBytes).toBeGreaterThanOrEqual(initialSize);
      const s = pm.getStats();
      let served = 0;
      try {
        for (;;) {
          pm.allocate(64).bytes[63] = 1;
          served++;
        }
      } catch {
        // full
      }
      expect(served * 64).toBe(s.freeBytes);
      pm.close();
      const again = open(path, { initialSize: initialSize * 2 + 8192, allocatorType: "FixedSize", blockSize: 64 });
      expect([again.created, statSync(path).size, again.getStats().bytesReserved]).toEqual([false, fileBytes, s.bytesReserved]);
      again.close();
    }
  });

  test("an empty file, bad paths, a name past NAME_MAX, a relative path", () => {
    const empty = poolPath("empty");
    writeFileSync(empty, "");
    const err = thrown<PMEMFormatError>(() => open(empty));
    expect(err).toBeInstanceOf(PMEMFormatError);
    expect(readFileSync(empty).length).toBe(0);
    expect(thrown(() => open(`${poolDirectory}/`))).toBeInstanceOf(ConfigError);
    expect(thrown(() => open(""))).toBeInstanceOf(ConfigError);
    expect(thrown(() => open(`${poolDirectory}/a\0b.pool`))).toBeInstanceOf(ConfigError);
    const tooLong = join(poolDirectory, `${"n".repeat(256)}.pool`);
    expect(thrown(() => open(tooLong))).toBeInstanceOf(PMEMFileError);
    expect(existsSync(tooLong)).toBe(false);
    const directory = mkdtempSync(join(poolDirectory, "suite-libpmem-"));
    const cwd = process.cwd();
    try {
      process.chdir(directory);
      const pm = open("relative.pool");
      expect(pm.path).toBe(join(directory, "relative.pool"));
      pm.close();
      expect(existsSync(join(directory, "relative.pool"))).toBe(true);
    } finally {
      process.chdir(cwd);
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
