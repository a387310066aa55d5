/**
 * The damaged pool files the fuzzer (fuzz.test.ts) opens: from a sound file, one case each of
 *  - a random bit flipped in every byte of the header page, of the allocation table, of every root
 *    slot in use (and the target word of every empty one), and of the redo log's words in use;
 *  - random truncations and extensions;
 *  - crafted headers with valid checksums and hostile fields (zero, huge, wrapping, overlapping);
 *  - crafted records, roots and logs that pass their own checks but say impossible things.
 * Each case names the PMEMFormatError reason it must get. Cases are made from a seed, so the test
 * and the child processes that open the files (fixtures/fuzz_child.ts) make the same list.
 */
import type { PMEMFormatReason, PoolConfig } from "../../src/index";
import {
  commitLog,
  HEADER,
  LOG_OFFSET,
  PAGE,
  readField,
  record,
  recordOffset,
  resealHeader,
  ROOT_SLOT_BYTES,
  ROOT_SLOTS,
  ROOTS_OFFSET,
  rootTargetWord,
  rootWord,
  tableCapacity,
  view,
  writeField,
  type HeaderField,
} from "./pool_file";

export type Expected = PMEMFormatReason | "opened";

export interface DamageCase {
  name: string;
  expected: Expected;
  /** The damaged file's bytes, made from a copy of the sound file's. */
  make(sound: Uint8Array): Uint8Array;
}

/** The sound files damaged: their configs, and what is in them (made by the test). */
export const VARIANTS = {
  variable: { allocatorType: "Variable", initialSize: 64 * 1024 },
  fixed: { allocatorType: "FixedSize", blockSize: 256, alignment: 64, initialSize: 64 * 1024 },
  /** The Variable file with a committed redo log, as a crash after its commit point leaves it. */
  pendingLog: { allocatorType: "Variable", initialSize: 64 * 1024 },
} satisfies Record<string, Partial<PoolConfig>>;
export type Variant = keyof typeof VARIANTS;

/** A small deterministic generator (mulberry32). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const U64_MAX = 2n ** 64n - 1n;
const U32_MAX = 2n ** 32n - 1n;

export function damageCases(variant: Variant, sound: Uint8Array, seed: number): DamageCase[] {
  const random = generator(seed);
  const below = (n: number) => Math.floor(random() * n);
  const cases: DamageCase[] = [{ name: "the sound file", expected: "opened", make: (bytes) => bytes }];
  const add = (name: string, expected: Expected, change: (bytes: Uint8Array) => Uint8Array | void) =>
    cases.push({ name, expected, make: (bytes) => change(bytes) ?? bytes });
  const flip = (part: string, byte: number, expected: Expected) => {
    const bit = below(8);
    add(`${part}: bit ${bit} of byte ${byte} flipped`, expected, (bytes) => {
      bytes[byte] = bytes[byte]! ^ (1 << bit);
    });
  };
  const fileBytes = sound.length;
  const table = Number(readField(sound, "tableOffset"));
  const capacity = tableCapacity(sound);
  const heapStart = Number(readField(sound, "heapOffset")) / 16;
  const live: number[] = [];
  for (let slot = 0; slot < capacity; slot++) if (view(sound).getBigUint64(recordOffset(sound, slot), true) !== 0n) live.push(slot);
  const liveOffset = (index: number) => Number(view(sound).getBigUint64(recordOffset(sound, live[index]!), true) & U32_MAX);

  if (variant === "pendingLog") {
    // Only the log differs from the Variable file: its words in use, and logs crafted to pass their check.
    const count = Number(view(sound).getBigUint64(LOG_OFFSET, true) & U32_MAX);
    for (let byte = LOG_OFFSET; byte < LOG_OFFSET + 8; byte++) flip("the redo log's count word", byte, "metadata");
    for (let byte = LOG_OFFSET + 64; byte < LOG_OFFSET + 64 + count * 16; byte++) flip("a committed redo log entry", byte, "metadata");
    const crafted: [string, [number, bigint][], number?][] = [
      ["an entry aimed at the header", [[0, 0n]]],
      ...(table + capacity * 8 < heapStart * 16 ? [["an entry aimed between the table and the heap", [[table + capacity * 8, 0n]]] as [string, [number, bigint][]]] : []),
      ["an entry aimed past the file's end", [[fileBytes, 0n]]],
      ["an entry aimed inside a word of the heap", [[heapStart * 16 + 4, 0n]]],
      ["an entry aimed inside a record", [[recordOffset(sound, live[0]!) + 4, 0n]]],
      ["an entry aimed at a root slot's name", [[ROOTS_OFFSET + 8, 0n]]],
      ["an entry aimed at 2^64 - 8", [[Number(2n ** 53n), 0n]]],
      ["an entry that writes a record with a bad parity", [[recordOffset(sound, live[0]!), 1n]]],
      ["an entry that writes a record of 0 granules", [[recordOffset(sound, live[0]!), record(liveOffset(0), 0, 3)]]],
      ["an entry that makes two records own one block", [[recordOffset(sound, live[1]!), view(sound).getBigUint64(recordOffset(sound, live[0]!), true)]]],
      ["an entry that points a root at no allocation", [[ROOTS_OFFSET, rootWord(sound, 0, heapStart + 1)]]],
      ["a count of 9 entries", [[recordOffset(sound, live[0]!), 0n]], 9],
      ["a count of 0 with a check", [], 0],
    ];
    for (const [name, entries, count] of crafted) {
      add(`a redo log crafted to pass its check: ${name}`, "metadata", (bytes) => {
        commitLog(bytes, entries, count);
        if (count === 0) view(bytes).setBigUint64(LOG_OFFSET, 1n << 40n, true);
      });
    }
    // A log may write words of the heap (links): one that does, with its check right, is finished on open.
    add("a committed redo log that writes a word of the heap", "opened", (bytes) => commitLog(bytes, [[heapStart * 16 + 8, 0x1234n]]));
    return cases;
  }

  // ---- a bit flipped in every byte of the header page and of the metadata in use ----
  for (let byte = 0; byte < PAGE; byte++) {
    flip("the header page", byte, byte < HEADER.version[0] ? "magic" : byte < HEADER.version[0] + 4 ? "version" : "checksum");
  }
  for (let byte = table; byte < table + capacity * 8; byte++) flip(`table record ${Math.floor((byte - table) / 8)}`, byte, "metadata");
  for (let slot = 0; slot < ROOT_SLOTS; slot++) {
    const start = ROOTS_OFFSET + slot * ROOT_SLOT_BYTES;
    const inUse = rootTargetWord(sound, slot) !== 0n;
    for (let byte = start; byte < start + (inUse ? ROOT_SLOT_BYTES : 8); byte++) flip(`root slot ${slot} (${inUse ? "in use" : "empty"})`, byte, "metadata");
  }
  for (let byte = LOG_OFFSET; byte < LOG_OFFSET + 8; byte++) flip("the redo log's count word (empty)", byte, "metadata");

  // ---- truncated and extended files ----
  const lengths = [0, 1, 7, 8, 11, 12, 119, 120, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, table, fileBytes - PAGE, fileBytes - 1];
  for (let i = 0; i < 24; i++) lengths.push(8 + below(fileBytes - 8));
  for (const length of lengths) {
    add(`truncated to ${length} bytes`, length < 8 ? "magic" : "truncated", (bytes) => bytes.slice(0, length));
  }
  for (const extra of [1, 15, PAGE, PAGE + 1 + below(4 * PAGE)]) {
    add(`extended by ${extra} bytes`, "extended", (bytes) => {
      const longer = new Uint8Array(bytes.length + extra);
      longer.set(bytes);
      return longer;
    });
  }

  // ---- headers crafted with valid checksums and hostile fields ----
  const fieldValue = (field: HeaderField) => readField(sound, field);
  const hostile: [HeaderField, bigint, Expected][] = [
    ["version", 0n, "version"],
    ["version", 2n, "version"],
    ["version", 4n, "version"],
    ["version", U32_MAX, "version"],
    ["headerBytes", 0n, "layout"],
    ["headerBytes", 121n, "layout"],
    ["headerBytes", U32_MAX, "layout"],
    ["strategy", 2n, "layout"],
    ["strategy", U32_MAX, "layout"],
    ["alignment", 0n, "layout"],
    ["alignment", 3n, "layout"],
    ["alignment", 8192n, "layout"],
    ["alignment", 2n ** 31n, "layout"],
    ["blockBytes", variant === "fixed" ? 0n : 1n, "layout"],
    ["blockBytes", U64_MAX, "layout"],
    ["blockBytes", fieldValue("heapBytes") + 1n, "layout"],
    ["reserved", 1n, "layout"],
    ["reserved", U32_MAX, "layout"],
  ];
  const sizes: HeaderField[] = ["fileBytes", "logOffset", "rootsOffset", "rootCapacity", "tableOffset", "tableCapacity", "heapOffset", "heapBytes"];
  for (const field of sizes) {
    const value = fieldValue(field);
    for (const bad of [0n, 1n, value + 1n, value - 1n, value + 4096n, U64_MAX, U64_MAX - 4095n, 2n ** 63n, 2n ** 32n]) {
      if (bad !== value) hostile.push([field, bad, "layout"]);
    }
  }
  hostile.push(["heapOffset", BigInt(table), "layout"], ["heapOffset", BigInt(ROOTS_OFFSET), "layout"], ["heapOffset", BigInt(fileBytes), "layout"]);
  hostile.push(["tableCapacity", (fieldValue("heapOffset") - BigInt(table)) / 8n + 1n, "layout"]);
  for (const [field, value, expected] of hostile) {
    add(`a header with a valid checksum and ${field} = ${value}`, expected, (bytes) => {
      writeField(bytes, field, value);
      resealHeader(bytes);
    });
  }
  add("a header with a valid checksum whose heap starts past 2^64 - 4096 and wraps to the file's end", "layout", (bytes) => {
    writeField(bytes, "heapOffset", 2n ** 64n - 4096n);
    writeField(bytes, "heapBytes", BigInt(fileBytes) + 4096n);
    resealHeader(bytes);
  });
  add("a header with a valid checksum and another program's magic", "magic", (bytes) => {
    bytes[7] = 0x21;
    resealHeader(bytes);
  });

  // ---- records, roots and an empty log that pass their own checks but say impossible things ----
  const setRecord = (name: string, slot: number, word: bigint) =>
    add(`table record ${slot} crafted with a valid parity: ${name}`, "metadata", (bytes) => view(bytes).setBigUint64(recordOffset(bytes, slot), word, true));
  const free = capacity - 1;
  setRecord("0 granules and a pad", live[0]!, record(liveOffset(0), 0, 7));
  setRecord("0 granules and a pad, in a free slot", free, record(liveOffset(0), 0, 1));
  setRecord("offset inside the header", free, record(3, 1, 0));
  setRecord("offset past the file's end", free, record(fileBytes / 16, 1, 0));
  setRecord("offset 2^32 - 1", free, record(2 ** 32 - 1, 1, 0));
  setRecord("a block that runs past the heap", live[0]!, record(liveOffset(0), 2 ** 27 - 1, 0));
  setRecord("a copy of another live record", live.includes(1) ? 2 : 1, view(sound).getBigUint64(recordOffset(sound, live[0]!), true));
  if (variant === "fixed") {
    setRecord("a block's record in another block's slot", live[0]!, record(liveOffset(0) + 16, 1, 0));
    setRecord("more bytes than a block holds", live[0]!, record(liveOffset(0), 17, 0));
  } else {
    const byOffset = live.map((slot, index) => ({ slot, offset: liveOffset(index) })).sort((a, b) => a.offset - b.offset);
    const [lower, upper] = byOffset as [{ slot: number; offset: number }, { slot: number; offset: number }];
    setRecord("a block that overlaps the next", lower.slot, record(lower.offset, upper.offset - lower.offset + 1, 0));
  }
  const setRoot = (name: string, slot: number, change: (bytes: Uint8Array) => bigint) =>
    add(`root slot ${slot} crafted with a valid check: ${name}`, "metadata", (bytes) => {
      const word = change(bytes);
      view(bytes).setBigUint64(ROOTS_OFFSET + slot * ROOT_SLOT_BYTES, word, true);
    });
  setRoot("points inside an allocation", 0, (bytes) => rootWord(bytes, 0, liveOffset(0) + 1));
  setRoot("points at the header", 0, (bytes) => rootWord(bytes, 0, 1));
  setRoot("points at 2^32 - 1", 0, (bytes) => rootWord(bytes, 0, 2 ** 32 - 1));
  setRoot("a name of 0 bytes", 0, (bytes) => {
    bytes[ROOTS_OFFSET + 8] = 0;
    return rootWord(bytes, 0, liveOffset(0));
  });
  setRoot("a name of 200 bytes", 0, (bytes) => {
    bytes[ROOTS_OFFSET + 8] = 200;
    return rootWord(bytes, 0, liveOffset(0));
  });
  setRoot("the name of slot 0 again, on another block", 9, (bytes) => {
    bytes.copyWithin(ROOTS_OFFSET + 9 * ROOT_SLOT_BYTES + 8, ROOTS_OFFSET + 8, ROOTS_OFFSET + ROOT_SLOT_BYTES);
    return rootWord(bytes, 9, liveOffset(live.length - 1));
  });
  add("a redo log count word of 0 entries with a check", "metadata", (bytes) => view(bytes).setBigUint64(LOG_OFFSET, 0xdeadbeefn << 32n, true));
  return cases;
}
