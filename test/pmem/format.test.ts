/**
 * Damaged and foreign files: each is refused with a PMEMFormatError whose `reason` names the
 * problem, and the file is left byte for byte as it was. The header's layout is written here from
 * zig/src/pmem/format.zig (offsets below); a changed field gets a fresh CRC-32 where the test wants
 * the check after the checksum to fire.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { MemoryPoolManager, PMEMFormatError, type PMEMFormatReason } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

const HEADER = { version: 8, strategy: 16, fileBytes: 32, tableOffset: 64, tableCapacity: 72, heapOffset: 80, heapBytes: 88, checksum: 112 };
const LOG_OFFSET = 4096;
const ROOTS_OFFSET = 8192;

/** A sound pool file with three allocations, one of them a root; returns its path and the record offsets. */
function makePool(tag: string): { path: string; offsets: number[] } {
  const path = poolPath(tag);
  const pool = manager.createPMEMPool(`fmt-${tag}`, pmemConfig(path));
  const allocations = [pool.allocate(100), pool.allocate(200), pool.allocate(300)];
  for (const allocation of allocations) pool.persist(allocation);
  pool.setRoot("first", allocations[0]!);
  const offsets = allocations.map((allocation) => allocation.offset);
  pool.close();
  return { path, offsets };
}

function view(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function resealHeader(bytes: Buffer): void {
  view(bytes).setUint32(HEADER.checksum, Bun.hash.crc32(bytes.subarray(0, HEADER.checksum)), true);
}

/** Opens the damaged file, expects the reason and a message containing `text`, and an untouched file. */
function expectRefused(path: string, reason: PMEMFormatReason, text: string): void {
  const before = readFileSync(path);
  let error: unknown;
  try {
    manager.createPMEMPool("fmt-open", pmemConfig(path));
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
    view(bytes).setUint32(HEADER.version, 7, true);
    writeFileSync(path, bytes);
    expectRefused(path, "version", "format version 7");
  });

  test("a damaged header: the checksum", () => {
    const { path } = makePool("checksum");
    const bytes = readFileSync(path);
    bytes[HEADER.heapBytes + 1] = bytes[HEADER.heapBytes + 1]! ^ 0x01;
    writeFileSync(path, bytes);
    expectRefused(path, "checksum", "checksum is wrong");
  });

  test("a layout this library does not know, or parts that do not tile the file", () => {
    const { path } = makePool("layout");
    const original = readFileSync(path);
    const unknown = Buffer.from(original);
    view(unknown).setUint32(HEADER.strategy, 7, true);
    resealHeader(unknown);
    writeFileSync(path, unknown);
    expectRefused(path, "layout", "unknown allocator layout 7");
    const overlapping = Buffer.from(original);
    view(overlapping).setBigUint64(HEADER.heapOffset, view(overlapping).getBigUint64(HEADER.heapOffset, true) - 4096n, true);
    resealHeader(overlapping);
    writeFileSync(path, overlapping);
    expectRefused(path, "layout", "do not tile the file");
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
  const recordOffset = (bytes: Buffer, slot: number) => Number(view(bytes).getBigUint64(HEADER.tableOffset, true)) + slot * 8;
  const liveSlots = (bytes: Buffer) => {
    const capacity = Number(view(bytes).getBigUint64(HEADER.tableCapacity, true));
    const slots: number[] = [];
    for (let slot = 0; slot < capacity; slot++) if (view(bytes).getBigUint64(recordOffset(bytes, slot), true) !== 0n) slots.push(slot);
    return slots;
  };

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
    view(bytes).setBigUint64(recordOffset(bytes, first!), (1n << 40n) | 3n, true); // offset 3 granules: the header
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "outside the heap");
  });

  test("a root that points where no allocation starts", () => {
    const { path, offsets } = makePool("dangling");
    const bytes = readFileSync(path);
    view(bytes).setBigUint64(ROOTS_OFFSET, BigInt(offsets[0]! + 1), true);
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "root slot 0 ('first')");
  });

  test("a damaged redo log", () => {
    const { path } = makePool("log");
    const bytes = readFileSync(path);
    view(bytes).setBigUint64(LOG_OFFSET, 99n, true);
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "redo log is damaged");
    view(bytes).setBigUint64(LOG_OFFSET, 1n, true);
    view(bytes).setBigUint64(LOG_OFFSET + 64, 100n, true); // an entry aimed at the header
    writeFileSync(path, bytes);
    expectRefused(path, "metadata", "neither a record nor a root");
  });

  test("a committed redo log is finished on open (a crash after its commit point)", () => {
    const { path, offsets } = makePool("replay");
    const bytes = readFileSync(path);
    const slots = liveSlots(bytes);
    // As if "free the third allocation" had committed and the process died before applying it.
    view(bytes).setBigUint64(LOG_OFFSET + 64, BigInt(recordOffset(bytes, slots[2]!)), true);
    view(bytes).setBigUint64(LOG_OFFSET + 72, 0n, true);
    view(bytes).setBigUint64(LOG_OFFSET, 1n, true);
    writeFileSync(path, bytes);
    const pool = manager.createPMEMPool("fmt-replay", pmemConfig(path));
    expect(pool.allocations().map((a) => a.offset)).toEqual(offsets.slice(0, 2));
    pool.close();
    expect(view(readFileSync(path)).getBigUint64(LOG_OFFSET, true)).toBe(0n); // the log is empty again
  });
});
