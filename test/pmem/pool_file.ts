/**
 * The pool file's format as the tests read and damage it, written from zig/src/pmem/format.zig,
 * heap.zig, roots.zig and redo_log.zig: where the header's fields lie, and how each word that
 * means something carries its check (so a test can damage a field and still pass the check, to
 * reach the validation behind it).
 */
export const PAGE = 4096;
export const LOG_OFFSET = PAGE;
export const ROOTS_OFFSET = 2 * PAGE;
export const ROOT_SLOT_BYTES = 64;
export const ROOT_SLOTS = 64;
export const LOG_ENTRIES_MAX = 8;

/** Byte offsets of the header's fields, and their widths. */
export const HEADER = {
  magic: [0, 8],
  version: [8, 4],
  headerBytes: [12, 4],
  strategy: [16, 4],
  alignment: [20, 4],
  blockBytes: [24, 8],
  fileBytes: [32, 8],
  logOffset: [40, 8],
  rootsOffset: [48, 8],
  rootCapacity: [56, 8],
  tableOffset: [64, 8],
  tableCapacity: [72, 8],
  heapOffset: [80, 8],
  heapBytes: [88, 8],
  poolId: [96, 16],
  reserved: [112, 4],
  checksum: [116, 4],
} as const satisfies Record<string, readonly [number, number]>;
export type HeaderField = keyof typeof HEADER;

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A numeric header field (4 or 8 bytes) as a BigInt. */
export function readField(bytes: Uint8Array, field: HeaderField): bigint {
  const [offset, width] = HEADER[field];
  return width === 8 ? view(bytes).getBigUint64(offset, true) : BigInt(view(bytes).getUint32(offset, true));
}

export function writeField(bytes: Uint8Array, field: HeaderField, value: bigint): void {
  const [offset, width] = HEADER[field];
  if (width === 8) view(bytes).setBigUint64(offset, BigInt.asUintN(64, value), true);
  else view(bytes).setUint32(offset, Number(BigInt.asUintN(32, value)), true);
}

/** The header's checksum: CRC-32 of the whole header page with the checksum field read as zero. */
export function resealHeader(bytes: Uint8Array): void {
  const page = Uint8Array.from(bytes.subarray(0, PAGE));
  const [offset] = HEADER.checksum;
  page.fill(0, offset, offset + 4);
  view(bytes).setUint32(offset, Bun.hash.crc32(page), true);
}

/** Table records: offset (32 bits) | granules (27) | pad (4) | parity (1, makes the set bits even). */
export function record(offsetGranules: number, granules: number, pad: number): bigint {
  const word = BigInt(offsetGranules) | (BigInt(granules) << 32n) | (BigInt(pad) << 59n);
  return word | (BigInt(popCount(word) & 1) << 63n);
}

export function popCount(word: bigint): number {
  let count = 0;
  for (let rest = word; rest !== 0n; rest >>= 1n) count += Number(rest & 1n);
  return count;
}

export function tableOffset(bytes: Uint8Array): number {
  return Number(readField(bytes, "tableOffset"));
}

export function tableCapacity(bytes: Uint8Array): number {
  return Number(readField(bytes, "tableCapacity"));
}

export function recordOffset(bytes: Uint8Array, slot: number): number {
  return tableOffset(bytes) + slot * 8;
}

export function liveSlots(bytes: Uint8Array): number[] {
  const slots: number[] = [];
  for (let slot = 0; slot < tableCapacity(bytes); slot++) if (view(bytes).getBigUint64(recordOffset(bytes, slot), true) !== 0n) slots.push(slot);
  return slots;
}

/** A root slot's target word pointing at granule `g`: g | CRC-32(slot bytes 8..64, g as 4 bytes) << 32. */
export function rootWord(bytes: Uint8Array, slot: number, g: number): bigint {
  const start = ROOTS_OFFSET + slot * ROOT_SLOT_BYTES;
  const checked = new Uint8Array(ROOT_SLOT_BYTES - 8 + 4);
  checked.set(bytes.subarray(start + 8, start + ROOT_SLOT_BYTES));
  view(checked).setUint32(ROOT_SLOT_BYTES - 8, g, true);
  return BigInt(g) | (BigInt(Bun.hash.crc32(checked)) << 32n);
}

export function rootTargetWord(bytes: Uint8Array, slot: number): bigint {
  return view(bytes).getBigUint64(ROOTS_OFFSET + slot * ROOT_SLOT_BYTES, true);
}

/** Writes `entries` (file offset, value) into the redo log and commits them with their count word. */
export function commitLog(bytes: Uint8Array, entries: [number, bigint][], count = entries.length): void {
  entries.forEach(([offset, value], index) => {
    view(bytes).setBigUint64(LOG_OFFSET + 64 + index * 16, BigInt(offset), true);
    view(bytes).setBigUint64(LOG_OFFSET + 64 + index * 16 + 8, value, true);
  });
  const crc = Bun.hash.crc32(bytes.subarray(LOG_OFFSET + 64, LOG_OFFSET + 64 + count * 16));
  view(bytes).setBigUint64(LOG_OFFSET, BigInt(count) | (BigInt(crc) << 32n), true);
}
