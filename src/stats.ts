/**
 * MemoryStats (seed): a pool's figures at one moment, read from the core in one call.
 */
import { STATS_FIELDS } from "./native";

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
  declare readonly largestFreeBlock: number;
  /** 1 - largestFreeBlock / freeBytes: 0 when free space is one piece. */
  declare readonly fragmentation: number;
  /** Mean time of an allocation inside the core, from one sample in 256 (ns). */
  declare readonly allocTimeNs: number;
  declare readonly freeTimeNs: number;
  declare readonly resetCount: number;
  declare readonly trimCount: number;
  declare readonly bytesTrimmed: number;
  declare readonly growthCount: number;
  /**
   * Free blocks held in JavaScript thread caches (fixed-size lockFree / threadLocalCache pools):
   * counted in freeBytes, never in bytesInUse; flushThreadCaches() or trim() give them back.
   */
  declare readonly cachedBytes: number;

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

  /** (seed) A readable, multi-line table. */
  getStatsString(): string {
    const rows: [string, string][] = [
      ["bytes in use", `${bytes(this.bytesInUse)} (peak ${bytes(this.peakBytesInUse)})`],
      ["bytes in blocks", bytes(this.bytesAllocated)],
      ["bytes reserved", `${bytes(this.bytesReserved)} in ${this.regionCount} region(s) (peak ${bytes(this.peakBytesReserved)})`],
      ["free", `${bytes(this.freeBytes)}, largest block ${bytes(this.largestFreeBlock)}${this.cachedBytes > 0 ? `, ${bytes(this.cachedBytes)} in thread caches` : ""}`],
      ["fragmentation", `${(this.fragmentation * 100).toFixed(1)} %`],
      ["utilization", `${(this.utilization * 100).toFixed(1)} %`],
      ["live allocations", `${this.liveAllocations} (peak ${this.peakLiveAllocations})`],
      ["allocations / frees", `${this.allocationCount} / ${this.freeCount}`],
      ["failed allocations", String(this.failedAllocations)],
      ["alloc / free time", `${this.allocTimeNs.toFixed(0)} ns / ${this.freeTimeNs.toFixed(0)} ns (sampled, in the core)`],
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
