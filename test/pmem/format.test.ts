/**
 * Damaged and foreign files: each is refused with a PMEMFormatError whose `reason` names the
 * problem, and the file is left byte for byte as it was. The format is read through pool_file.ts;
 * a changed field gets a fresh check (header CRC, record parity, root or log CRC) where the test
 * wants the validation behind the check to fire. fuzz.test.ts damages every byte at random.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { MemoryPoolManager, PMEMFormatError, type PMEMFormatReason, type PoolConfig } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";
import { commitLog, HEADER, liveSlots, LOG_OFFSET, readField, record, recordOffset, resealHeader, ROOTS_OFFSET, rootWord, view, writeField } from "./pool_file";
import { offsetOfAllocation } from "../../src/allocation";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

/**
 * A sound pool file with three allocations, published three ways: a root, commitUnpublished, and a
 * link from the first; returns its path and the record offsets.
 */
function makePool(tag: string, overrides: Partial<PoolConfig> = {}): { path: string; offsets: number[] } {
  const path = poolPath(tag);
  const pool = manager.createPMEMPool(`fmt-${tag}`, pmemConfig(path, overrides));
  const allocations = [pool.allocate(100), pool.allocate(200), pool.allocate(300)];
  for (const allocation of allocations) pool.persist(allocation);
  pool.setRoot("first", allocations[0]!);
  pool.commitUnpublished(allocations[1]!);
  pool.link(allocations[0]!, 8, allocations[2]!);
  const offsets = allocations.map((allocation) => offsetOfAllocation(allocation));
  pool.close();
  return { path, offsets };
}

/** Opens the damaged file, expects the reason and a message containing `text`, and an untouched file. */
function expectRefused(path: string, reason: PMEMFormatReason, text: string, overrides: Partial<PoolConfig> = {}): void {
  const before = readFileSync(path);
  let error: unknown;
  try {
    manager.createPMEMPool("fmt-open", pmemConfig(path, overrides));
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(PMEMFormatError);
  const formatError = error as PMEMFormatError;
  expect(formatError.code).toBe("PMEM_FORMAT");
  expect(formatError.reason).toBe(reason);
  expect(formatError.message).toContain(path);
  expect(formatError.message).toContain(text);
  expect(readFileSync(path).equals(before)).toBe(true);
  expect(manager.hasPool("fmt-open")).toBe(false);
}

describe("the header", () => {
  test("a file that is not a pool: another program's file, an empty file, a bad magic", () => {
    const foreign = poolPath("foreign");
    writeFileSync(foreign, "#!/bin/sh\necho not a pool\n");
    expectRefused(foreign, "magic", "not a bun-memory-pool PMEM file");
    const empty = poolPath("empty");
    writeFileSync(empty, "");
    expectRefused(empty, "magic", "is empty");
    const { path } = makePool("magic");
    const bytes = readFileSync(path);
    bytes[3] = bytes[3]! ^ 0xff;
    writeFileSync(path, bytes);
    expectRefused(path, "magic", "magic");
  });

  test("another format version", () => {
    const { path } = makePool("version");
    const bytes = readFileSync(path);
    writeField(bytes, "version", 7n);
    writeFileSync(path, bytes);
    expectRefused(path, "version", "format version 7; this library reads version 3 only");
    writeField(bytes, "version", 1n); // the format before per-word checks: refused, not misread
    writeFileSync(path, bytes);
    expectRefused(path, "version", "format version 1; this library reads version 3 only");
    writeField(bytes, "version", 2n); // before publication: its records mean something else
    resealHeader(bytes);
    writeFileSync(path, bytes);
    expectRefused(path, "version", "format version 2; this library reads version 3 only");
  });

  test("a damaged header: the checksum", () => {
    const { path } = makePool("checksum");
    const bytes = readFileSync(path);
    bytes[HEADER.heapBytes[0] + 1] = bytes[HEADER.heapBytes[0] + 1]! ^ 0x01;
    writeFileSync(path, bytes);
    expectRefused(path, "checksum", "checksum is wrong");
    bytes[HEADER.heapBytes[0] + 1] = bytes[HEADER.heapBytes[0] + 1]! ^ 0x01;
    bytes[4000] = bytes[4000]! ^ 0x10; // past the header's fields, in its page: covered too
    writeFileSync(path, bytes);
    expectRefused(path, "checksum", "checksum is wrong");
  });

  test("a layout this library does not know, or parts that do not tile the file", () => {
    const { path } = makePool("layout");
    const original = readFileSync(path);
    const unknown = Buffer.from(original);
    writeField(unknown, "strategy", 7n);
    resealHeader(unknown);
    writeFileSync(path, unknown);
    expectRefused(path, "layout", "unknown allocator layout 7");
    const overlapping = Buffer.from(original);
    writeField(overlapping, "heapOffset", readField(overlapping, "heapOffset") - 4096n);
    resealHeader(overlapping);
    writeFileSync(path, overlapping);
    expectRefused(path, "layout", "do not tile the file");
  });

  test("hostile sizes with a valid checksum: a heap below the table's end, or one whose end wraps past 2^64", () => {
    const { path } = makePool("hostile");
    const original = readFileSync(path);
    const fileBytes = readField(original, "fileBytes");
    const cases: [string, [Parameters<typeof writeField>[1], bigint][]][] = [
      ["heap at 0", [["heapOffset", 0n]]],
      ["heap inside the roots", [["heapOffset", 8192n]]],
      ["heap at the table's start", [["heapOffset", readField(original, "tableOffset")]]],
      ["heap that wraps to the file's end", [["heapOffset", 2n ** 64n - 4096n], ["heapBytes", fileBytes + 4096n]]],
      ["heap bytes that wrap", [["heapBytes", 2n ** 64n - 4096n]]],
      ["a table of 2^64 - 1 records", [["tableCapacity", 2n ** 64n - 1n]]],
      ["a file of 2^64 - 4096 bytes", [["fileBytes", 2n ** 64n - 4096n]]],
      ["the reserved field", [["reserved", 1n]]],
    ];
    for (const [, fields] of cases) {
      const damaged = Buffer.from(original);
      for (const [field, value] of fields) writeField(damaged, field, value);
      resealHeader(damaged);
      writeFileSync(path, damaged);
      expectRefused(path, "layout", "");
    }
  });
});

describe("the file's size", () => {
  test("truncated: shorter than its header says, or than a header", () => {
    const { path } = makePool("truncated");
    const size = readFileSync(path).length;
    truncateSync(path, size - 4096);
    expectRefused(path, "truncated", `${size - 4096} bytes, but its header says ${size}`);
    truncateSync(path, 64);
    expectRefused(path, "truncated", "too short for its own header");
  });

  test("extended: longer than its header says", () => {
    const { path } = makePool("extended");
    const size = readFileSync(path).length;
    appendFileSync(path, Buffer.alloc(4096));
    expectRefused(path, "extended", `${size + 4096} bytes, but its header says ${size}`);
  });
});

describe("the allocation metadata", () => {
  test("two records that own the same space", () => {
    const { path } = makePool("overlap");
    const bytes = readFileSync(path);
    const [first, second] = liveSlots(bytes);
    const record = view(bytes).getBigUint64(recordOffset(bytes, first!), true);
    view(bytes).setBigUint64(recordOffset(bytes, second!), record, true);
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "two records own the same space");
  });

  test("a record outside the heap", () => {
    const { path } = makePool("outside");
    const bytes = readFileSync(path);
    const [first] = liveSlots(bytes);
    view(bytes).setBigUint64(recordOffset(bytes, first!), record(3, 256, 0), true); // offset 3 granules: the header
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "outside the heap");
  });

  test("a flipped bit in any record, free or live, fails its parity", () => {
    const { path } = makePool("parity");
    const bytes = readFileSync(path);
    const [first] = liveSlots(bytes);
    bytes[recordOffset(bytes, first!) + 4] = bytes[recordOffset(bytes, first!) + 4]! ^ 0x02; // the size: one granule more or less
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", `record ${first} (0x`);
    expectRefused(path, "metadata", "fails its parity check");
  });

  test("a FixedSize record of 0 granules with a pad (it overflowed on open): refused as metadata", () => {
    const fixed = { allocatorType: "FixedSize", blockSize: 512 } as const;
    const { path, offsets } = makePool("zero-granules", fixed);
    const bytes = readFileSync(path);
    const [first] = liveSlots(bytes);
    view(bytes).setBigUint64(recordOffset(bytes, first!), record(offsets[0]!, 0, 5), true); // parity right: only the size is wrong
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "a size of 0 granules", fixed);
    view(bytes).setBigUint64(recordOffset(bytes, first!), record(offsets[0]!, 40, 0), true); // 640 bytes in a 512-byte block
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "does not describe block", fixed);
  });

  test("a root that points where no allocation starts", () => {
    const { path, offsets } = makePool("dangling");
    const bytes = readFileSync(path);
    view(bytes).setBigUint64(ROOTS_OFFSET, rootWord(bytes, 0, offsets[0]! + 1), true); // its check is right
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "root slot 0 ('first') points at offset");
    view(bytes).setBigUint64(ROOTS_OFFSET, rootWord(bytes, 0, offsets[0]!), true);
    bytes[ROOTS_OFFSET + 9] = bytes[ROOTS_OFFSET + 9]! ^ 0x20; // the name's first letter: 'first' -> 'First'
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "root slot 0 fails its check");
  });

  test("a damaged redo log", () => {
    const { path } = makePool("log");
    const bytes = readFileSync(path);
    view(bytes).setBigUint64(LOG_OFFSET, 99n, true);
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "redo log is damaged: its entry count is 99");
    commitLog(bytes, [[100, 0n]]); // an entry aimed at the header, its check right
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "neither a record, a root nor a word of the heap");
    commitLog(bytes, [[bytes.length, 0n]]); // just past the file's end
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "neither a record, a root nor a word of the heap");
    commitLog(bytes, [[Number(readField(bytes, "heapOffset")) + 4, 0n]]); // inside a heap word
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "neither a record, a root nor a word of the heap");
    commitLog(bytes, [[recordOffset(bytes, liveSlots(bytes)[0]!), 0n]]);
    bytes[LOG_OFFSET + 64 + 8] = 1; // the committed entry's value, after its check was taken
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "fail their check");
  });

  test("a committed redo log is finished on open (a crash after its commit point)", () => {
    const { path, offsets } = makePool("replay");
    const bytes = readFileSync(path);
    const slots = liveSlots(bytes);
    // As if "free the third allocation" had committed and the process died before applying it.
    commitLog(bytes, [[recordOffset(bytes, slots[2]!), 0n]]);
    writeFileSync(path, bytes);
    const pool = manager.createPMEMPool("fmt-replay", pmemConfig(path));
    expect(pool.allocations().map((a) => offsetOfAllocation(a))).toEqual(offsets.slice(0, 2));
    pool.close();
    expect(view(readFileSync(path)).getBigUint64(LOG_OFFSET, true)).toBe(0n); // the log is empty again
  });
});
