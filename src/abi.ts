/**
 * The ABI as the core describes it (zig/src/abi.zig, `mp_abi_describe`): read once when the core
 * loads, checked against the names this side uses, and turned into the tables src/native.ts
 * exports. Records, statuses, enums and constants are written once, in Zig: here are only the
 * names TypeScript code refers to (so its types know them); their values, indices and offsets
 * come from the core that was loaded, so they cannot drift from it.
 */
import { NativeLibraryError } from "./errors";

/**
 * The version of the exports' signatures this code calls (zig/src/abi.zig `version`). Records,
 * statuses and constants are matched by name and need no bump.
 */
export const ABI_VERSION = 26;

/** The statuses this side tells apart (zig/src/status.zig Code). */
const STATUSES = [
  "ok",
  "freedGuarded",
  "outOfMemory",
  "invalidPointer",
  "doubleFree",
  "config",
  "poolExists",
  "poolNotFound",
  "invalidSize",
  "unavailable",
  "tooManyPools",
  "threadMisuse",
  "unsupported",
  "boundaryViolation",
  "useAfterFree",
  "pmemUnavailable",
  "pmemFormat",
  "pmemFile",
  "pmemRoot",
] as const;

const CONSTANTS = [
  "granuleBytes",
  "offsetErrorBase",
  "idMask",
  "guardedIdFlag",
  "timingSamplePeriod",
  "deviceCanaryBytesMin",
  "alignmentMax",
  "historySizeMax",
  "poolNameBytesMax",
  // The JavaScript thread caches (src/block_cache.ts).
  "cacheNumbersOffset",
  "cacheCapacity",
  "cacheChunkShift",
  "cacheChunkBytes",
  "cacheChunkRequestedOffset",
  "cacheChunkStartOffset",
  "cachePendingAlloc",
  "cachePendingFree",
  "cachePendingKindMask",
  "cachePendingSequenceStep",
  "cacheMaxRequest",
  "blockFreedFlag",
  "blockContinuedFlag",
  "blockDeadState",
  // A Variable pool's JavaScript bins (src/size_bins.ts).
  "binsSlotsOffset",
  "binsHashOffset",
  "binsSlotCapacity",
  "binsHashBits",
  "binsHashMultiplier",
  "binsBinnedFlag",
] as const;

const ENUMS = {
  poolKind: ["cpu", "gpu", "pinned", "pmem"],
  hostMemory: ["pageable", "pinned"],
  blockState: ["free", "live", "pending", "guard", "quarantined", "guardFree"],
  stackKind: ["allocation", "free"],
  pmemFormatReason: ["none", "magic", "version", "checksum", "layout", "truncated", "extended", "metadata"],
  nvtxState: ["built", "registerMemory", "ranges", "toolAttached", "toolInjected"],
  allocatorType: ["fixedSize", "variable"],
  threadSafety: ["none", "mutex", "lockFree"],
  guardPosition: ["after", "before"],
} as const;

/** The statistics this side declares (MemoryStats); the core may have more, which are carried through as they are. */
const STATS = [
  "bytesInUse",
  "bytesAllocated",
  "peakBytesInUse",
  "bytesReserved",
  "peakBytesReserved",
  "addressSpaceBytes",
  "regionCount",
  "allocationCount",
  "freeCount",
  "failedAllocations",
  "liveAllocations",
  "peakLiveAllocations",
  "freeBytes",
  "largestFreeBlock",
  "fragmentation",
  "allocTimeNs",
  "freeTimeNs",
  "resetCount",
  "trimCount",
  "bytesTrimmed",
  "growthCount",
  "bytesAllocatedTotal",
  "bytesFreedTotal",
  "allocTimeSamples",
  "freeTimeSamples",
  "guardPageBytes",
  "guardFreeBytes",
  "quarantinedBytes",
  "canaryBytes",
  "cachedBytes",
] as const;

/** The config record: every field is filled by src/manager.ts, so the core may have none this side lacks. */
const CONFIG = [
  "kind",
  "allocatorType",
  "blockSize",
  "alignment",
  "initialSize",
  "maxSize",
  "growth",
  "threadSafety",
  "collectStats",
  "deviceId",
  "threadLocalCache",
  "canaries",
  "guardPages",
  "guardSampleRate",
  "fillOnAlloc",
  "fillOnFree",
  "quarantineBytes",
  "trackHistory",
  "leakReport",
  "safeViews",
  "historySize",
] as const;

const RECORDS = {
  config: CONFIG,
  stats: STATS,
  violation: ["id", "userGranule", "size", "side", "offset", "damagedBytes"],
  snapshotHeader: ["regionCount", "blockCount", "lastId", "idMax"],
  snapshotRegion: ["index", "start", "granules"],
  snapshotBlock: ["start", "granules", "id", "state", "requestedBytes"],
  cacheRecord: ["allocations", "frees", "allocatedBytes", "freedBytes", "ownerSerial", "count", "strideGranules", "capacity", "pendingNumber", "pendingKind", "freer"],
  binsHeader: ["allocations", "frees", "allocatedBytes", "freedBytes", "liveRequestedBytes", "cachedBytes", "cachedBlocks", "capBytes", "idsAddress", "slotCapacity", "hashBits", "liveRequestedHigh", "cachedBlocksLow"],
} as const;

/** Every name this side uses, by part of the description (the ABI test compares them with the core's). */
export const TYPESCRIPT_NAMES = { statuses: STATUSES, constants: CONSTANTS, enums: ENUMS, records: RECORDS } as const;

export type StatusName = (typeof STATUSES)[number];
export type ConstantName = (typeof CONSTANTS)[number];
type EnumName = keyof typeof ENUMS;
type RecordName = keyof typeof RECORDS;
export type StatsFieldName = (typeof STATS)[number];
export type ConfigFieldName = (typeof CONFIG)[number];

const TYPE_BYTES = { u32: 4, f64: 8 } as const;
export type FieldType = keyof typeof TYPE_BYTES;

export interface RecordField {
  type: FieldType;
  /** Bytes from the record's start. */
  offset: number;
  /** offset / the type's size: the element of a typed array of that type over the record. */
  index: number;
}

export interface AbiRecord<Name extends string> {
  bytes: number;
  /** Every field the core writes, in its order (names this side does not know included). */
  order: readonly string[];
  fields: Readonly<Record<Name, RecordField>>;
}

/** The description as the core writes it. */
export interface Description {
  version: number;
  constants: Record<string, number>;
  statuses: Record<string, number>;
  enums: Record<string, Record<string, number>>;
  records: Record<string, { bytes: number; fields: [string, string, number][] }>;
}

export interface Abi {
  version: number;
  constants: Readonly<Record<ConstantName, number>>;
  statuses: Readonly<Record<StatusName, number>>;
  enums: { readonly [E in EnumName]: Readonly<Record<(typeof ENUMS)[E][number], number>> };
  records: { readonly [R in RecordName]: AbiRecord<(typeof RECORDS)[R][number]> };
}

/** A NativeLibraryError for a core at `source` that does not fit this code: `what` says how. */
function mismatch(source: string, what: string): NativeLibraryError {
  return new NativeLibraryError(`the core at ${source} ${what}: use the core of the same version as this code`);
}

/** Throws the NativeLibraryError that names both versions where the core's is not ABI_VERSION. */
export function checkVersion(version: unknown, source: string): void {
  if (version !== ABI_VERSION) throw mismatch(source, `speaks ABI ${version}, this code expects ${ABI_VERSION}`);
}

/**
 * Reads the core's description: a NativeLibraryError where it is not one, where its version is
 * not ABI_VERSION, or where it lacks a name this side uses (or has a config field this side would
 * leave unset). `source` names the core in messages.
 */
export function readAbi(text: string, source: string): Abi {
  const fail = (what: string) => mismatch(source, what);
  let description: Description;
  try {
    description = JSON.parse(text) as Description;
  } catch (err) {
    throw fail(`describes its ABI in a form this code cannot read (${(err as Error).message})`);
  }
  if (typeof description !== "object" || description === null) throw fail("describes its ABI in a form this code cannot read");
  checkVersion(description.version, source);

  const missing: string[] = [];
  const table = <Name extends string>(part: string, given: Record<string, number> | undefined, names: readonly Name[]): Record<Name, number> => {
    const out = {} as Record<Name, number>;
    for (const name of names) {
      const value = given?.[name];
      if (typeof value === "number") out[name] = value;
      else missing.push(`${part} ${name}`);
    }
    return Object.freeze(out);
  };
  const enums = {} as Record<EnumName, Record<string, number>>;
  for (const name of Object.keys(ENUMS) as EnumName[]) enums[name] = table(`enum ${name} value`, description.enums?.[name], ENUMS[name]);
  const records = {} as Record<RecordName, AbiRecord<string>>;
  for (const name of Object.keys(RECORDS) as RecordName[]) {
    const given = description.records?.[name];
    if (given === undefined) {
      missing.push(`record ${name}`);
      continue;
    }
    records[name] = record(given, RECORDS[name], (field) => missing.push(`${name} field ${field}`), (problem) => {
      throw fail(`describes its ${name} record ${problem}`);
    });
  }
  const abi = {
    version: description.version,
    constants: table("constant", description.constants, CONSTANTS),
    statuses: table("status", description.statuses, STATUSES),
    enums,
    records,
  } as unknown as Abi;
  if (missing.length > 0) throw fail(`lacks what this code uses: ${missing.join(", ")}`);
  const unknownConfig = abi.records.config.order.filter((field) => !(CONFIG as readonly string[]).includes(field));
  if (unknownConfig.length > 0) throw fail(`takes config fields this code cannot set: ${unknownConfig.join(", ")}`);
  return abi;
}

function record<Name extends string>(
  given: { bytes: number; fields: [string, string, number][] },
  names: readonly Name[],
  missing: (field: string) => void,
  malformed: (problem: string) => never,
): AbiRecord<Name> {
  const fields = {} as Record<string, RecordField>;
  const order: string[] = [];
  for (const [name, type, offset] of given.fields ?? []) {
    const size = TYPE_BYTES[type as FieldType];
    if (size === undefined) malformed(`with field ${name} of type ${type}, which this code cannot read`);
    if (!(Number.isInteger(offset) && offset >= 0 && offset % size === 0 && offset + size <= given.bytes)) {
      malformed(`with field ${name} at byte ${offset}, which a ${type} cannot be read at in ${given.bytes} bytes`);
    }
    fields[name] = Object.freeze({ type: type as FieldType, offset, index: offset / size });
    order.push(name);
  }
  for (const name of names) if (!(name in fields)) missing(name);
  // `order` is not frozen: JavaScriptCore iterates a frozen array several times slower (MemoryStats walks it).
  return Object.freeze({ bytes: given.bytes, order, fields: Object.freeze(fields) as Record<Name, RecordField> });
}

/**
 * The tables while no core is loaded: every value NaN, every record empty. Nothing reads them:
 * every call into the core throws the loader's NativeLibraryError first.
 */
export function absentAbi(): Abi {
  const nan = <Name extends string>(names: readonly Name[]) => Object.freeze(Object.fromEntries(names.map((name) => [name, NaN]))) as Record<Name, number>;
  const enums = Object.fromEntries(Object.entries(ENUMS).map(([name, values]) => [name, nan(values)]));
  const records = Object.fromEntries(Object.keys(RECORDS).map((name) => [name, { bytes: 0, order: [], fields: {} }]));
  return { version: NaN, constants: nan(CONSTANTS), statuses: nan(STATUSES), enums, records } as unknown as Abi;
}

/** The names of a table of small whole values, indexed by value (a gap where no name has it). */
export function byValue<Name extends string>(values: Readonly<Record<Name, number>>): readonly Name[] {
  const names: Name[] = [];
  for (const name in values) {
    const value = values[name];
    if (Number.isInteger(value) && value >= 0 && value < 256) names[value] = name;
  }
  return names;
}

/** Each field's index in a record of one type: what the core's field numbers are (mp_violation). */
export function indices<Name extends string>(record: AbiRecord<Name>): Readonly<Record<Name, number>> {
  return Object.freeze(Object.fromEntries(Object.entries<RecordField>(record.fields).map(([name, field]) => [name, field.index]))) as Record<Name, number>;
}
