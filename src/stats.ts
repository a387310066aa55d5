/**
 * MemoryStats (the C++ API's name): a pool's figures at one moment, read from the core in one
 * call, and the table a person reads them in. The reserved bytes are split by what holds them
 * (reservedParts), the same rows renderMemoryMap draws from a snapshot's blocks.
 */
import { ABI, STATS_FIELDS } from "./native";
import { checkReceivers, foreignReceiver } from "./receiver";

export type StatsField = (typeof STATS_FIELDS)[number];
/** What MemoryStats.toJSON() gives: every figure by name, and the pool's name. */
export type MemoryStatsJSON = { poolName: string } & Record<StatsField | "utilization", number>;

export class MemoryStats {
  /** Bytes asked for by live allocations. */
  declare readonly bytesInUse: number;
  /** Bytes of the blocks holding them (rounded up to granules or blockSize). */
  declare readonly bytesAllocated: number;
  declare readonly peakBytesInUse: number;
  /** Bytes committed from the OS (or device, or file) right now. */
  declare readonly bytesReserved: number;
  declare readonly peakBytesReserved: number;
  /** Address space set aside for the pool (not memory). */
  declare readonly addressSpaceBytes: number;
  declare readonly regionCount: number;
  declare readonly allocationCount: number;
  declare readonly freeCount: number;
  /** Allocations refused for lack of memory (OutOfMemoryError). */
  declare readonly failedAllocations: number;
  declare readonly liveAllocations: number;
  declare readonly peakLiveAllocations: number;
  /** Free bytes inside committed regions. */
  declare readonly freeBytes: number;
  /**
   * The largest request the free space serves at once: allocate(largestFreeBlock) succeeds right after
   * (on this thread). Past the largest piece's gap before its first aligned byte, and its canaries.
   */
  declare readonly largestFreeBlock: number;
  /** 1 - (the largest piece of free space) / freeBytes: 0 when free space is one piece. */
  declare readonly fragmentation: number;
  /** Mean time of an allocation inside the core, from one sample in 256 (ns); 0 while allocTimeSamples is 0. */
  declare readonly allocTimeNs: number;
  declare readonly freeTimeNs: number;
  /** How many allocations and frees the timings were measured on: 0 means no sample yet (a short run may have none). */
  declare readonly allocTimeSamples: number;
  declare readonly freeTimeSamples: number;
  /** Bytes asked for by every allocation so far, and by every free (reset() frees what was live): cumulative. */
  declare readonly bytesAllocatedTotal: number;
  declare readonly bytesFreedTotal: number;
  /** Debug layer: inaccessible guard pages of live and quarantined allocations. */
  declare readonly guardPageBytes: number;
  /** Debug layer: free pages of its guard regions (where guarded allocations are placed). */
  declare readonly guardFreeBytes: number;
  /** Debug layer: freed blocks held back from reuse (their accessible bytes). */
  declare readonly quarantinedBytes: number;
  /** Debug layer: canary bytes around live allocations (part of bytesAllocated). */
  declare readonly canaryBytes: number;
  declare readonly resetCount: number;
  /** Calls of trim() on a pool that gives regions back ("lockFree" and threadLocalCache pools keep theirs: 0). */
  declare readonly trimCount: number;
  /** Bytes of empty regions given back: by trim(), and by a pool at its maxSize that gives them back to grow for a request. */
  declare readonly bytesTrimmed: number;
  declare readonly growthCount: number;
  /**
   * Free blocks held in JavaScript thread caches (fixed-size lockFree / threadLocalCache pools):
   * counted in freeBytes, never in bytesInUse; flushThreadCaches() or trim() give them back.
   */
  declare readonly cachedBytes: number;

  /** @internal from the core's statistics record: pool.getStats() makes them. */
  constructor(
    readonly poolName: string,
    record: Float64Array,
  ) {
    const self = this as unknown as Record<StatsField, number>;
    STATS_FIELDS.forEach((field, index) => (self[field] = record[index]!));
  }

  /** Live bytes as a share of committed bytes. */
  get utilization(): number {
    return this.bytesReserved === 0 ? 0 : this.bytesAllocated / this.bytesReserved;
  }

  /** A readable, multi-line table; the reserved bytes split by what holds them, as the memory map shows them. */
  getStatsString(): string {
    const rows: [string, string][] = [
      ["bytes in use", `${bytes(this.bytesInUse)} ${peakNote(this.peakBytesInUse, this.bytesInUse, bytes)}`],
      ["live allocations", `${this.liveAllocations} ${peakNote(this.peakLiveAllocations, this.liveAllocations, String)}`],
      ["allocated / freed", `${bytes(this.bytesAllocatedTotal)} / ${bytes(this.bytesFreedTotal)} in ${this.allocationCount} / ${this.freeCount} calls, since the start`],
      ["failed allocations", String(this.failedAllocations)],
      ...reservedParts(figuresOf(this)).map(([label, value], index): [string, string] => [index === 0 ? label : `  ${label}`, value]),
      ["utilization", `${(this.utilization * 100).toFixed(1)} % of reserved bytes in live blocks`],
      ["alloc / free time", `${timing(this.allocTimeNs, this.allocTimeSamples)} / ${timing(this.freeTimeNs, this.freeTimeSamples)} (in the core, one call in ${TIMING_SAMPLE_PERIOD} timed)`],
      ["growths / trims / resets", `${this.growthCount} / ${this.trimCount} (${bytes(this.bytesTrimmed)} released) / ${this.resetCount}`],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    return [`Memory pool '${this.poolName}'`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join("\n");
  }

  toJSON(): MemoryStatsJSON {
    const out = { poolName: this.poolName } as MemoryStatsJSON;
    for (const field of STATS_FIELDS) out[field] = this[field];
    out.utilization = this.utilization;
    return out;
  }
}

/**
 * "(peak X)" beside a figure. A peak below the figure it is the peak of is one the pool does not
 * keep (collectStats: false keeps none, and reads 0): the table said "1.00 MiB (peak 0 B)".
 */
function peakNote(peak: number, now: number, shown: (n: number) => string): string {
  return peak < now ? "(peak not kept: collectStats is off)" : `(peak ${shown(peak)})`;
}

/**
 * Whether a value holds every figure of a MemoryStats (what its members read): one getStats() made,
 * or one rebuilt from its JSON over the prototype. An object that only has the prototype has none,
 * and its members are refused (src/receiver.ts), not a TypeError from inside a figure's formatting.
 */
function holdsFigures(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const figures = value as Record<string, unknown>;
  return typeof figures.poolName === "string" && STATS_FIELDS.every((field) => typeof figures[field] === "number");
}

checkReceivers(MemoryStats.prototype, "stats", holdsFigures, ["utilization", "getStatsString", "toJSON"], foreignReceiver("MemoryStats that pool.getStats() made (or one rebuilt from its JSON)"));

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** One operation in this many is timed (zig/src/stats.zig timing_sample_period). */
const TIMING_SAMPLE_PERIOD = ABI.constants.timingSamplePeriod;

function timing(ns: number, samples: number): string {
  return samples === 0 ? "no sample yet" : `${ns.toFixed(0)} ns (${count(samples, "sample")})`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** What a pool's reserved bytes hold, from its statistics or from a snapshot's blocks. */
export interface ReservedFigures {
  reserved: number;
  regions: number;
  peakReserved: number;
  /** Blocks of live allocations (their guard pages apart), canaries included. */
  liveBlocks: number;
  canaries: number;
  /** Free space for ordinary allocations, its largest piece, and fragmentation (0 to 1). */
  free: number;
  largestFree: number;
  fragmentation: number;
  guardPages: number;
  guardFree: number;
  quarantined: number;
  /** Of the free space, blocks held in JavaScript thread caches (statistics only; a snapshot does not see them). */
  cached?: number;
}

/** The figures of a MemoryStats (or its JSON). */
export function figuresOf(stats: MemoryStats | MemoryStatsJSON): ReservedFigures {
  return {
    reserved: stats.bytesReserved,
    regions: stats.regionCount,
    peakReserved: stats.peakBytesReserved,
    liveBlocks: stats.bytesAllocated,
    canaries: stats.canaryBytes,
    free: stats.freeBytes,
    largestFree: stats.largestFreeBlock,
    fragmentation: stats.fragmentation,
    guardPages: stats.guardPageBytes,
    guardFree: stats.guardFreeBytes,
    quarantined: stats.quarantinedBytes,
    cached: stats.cachedBytes,
  };
}

/**
 * The reserved bytes as rows (label, value): the total first, then each part. The debug layer's
 * parts appear where they hold anything; bytes no part accounts for (a fixed-size region's tail
 * too short for a block, GPU blocks whose stream-ordered free is pending) are the last row.
 * getStatsString() and renderMemoryMap() both print these rows, so they say the same.
 */
export function reservedParts(f: ReservedFigures): [string, string][] {
  const rows: [string, string][] = [
    ["bytes reserved", `${bytes(f.reserved)} in ${count(f.regions, "region")} (peak ${bytes(f.peakReserved)})`],
    ["live blocks", f.canaries > 0 ? `${bytes(f.liveBlocks)}, of which canaries ${bytes(f.canaries)}` : bytes(f.liveBlocks)],
    ["free", `${bytes(f.free)}, largest block ${bytes(f.largestFree)}, fragmentation ${(f.fragmentation * 100).toFixed(1)} %`],
  ];
  if ((f.cached ?? 0) > 0) rows.push(["  of which in thread caches", bytes(f.cached!)]);
  if (f.guardPages > 0) rows.push(["guard pages", bytes(f.guardPages)]);
  if (f.guardFree > 0) rows.push(["free guard-region pages", bytes(f.guardFree)]);
  if (f.quarantined > 0) rows.push(["quarantined", bytes(f.quarantined)]);
  const other = f.reserved - f.liveBlocks - f.free - f.guardPages - f.guardFree - f.quarantined;
  if (other > 0) rows.push(["in no block", bytes(other)]); // a fixed-size region's tail, a region's unplaced end
  return rows;
}
