/**
 * PoolConfig: the seed's fields, presets and validation. `validate` runs before a pool is
 * created, so every bad field is a ConfigError that names the field and the value.
 */
import { ConfigError } from "./errors";

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE_BYTES = 4096;

export type AllocatorType = "FixedSize" | "Variable";
export type ThreadSafety = "none" | "mutex" | "lockFree";

export class PoolConfig {
  /** (seed) PoolConfig.AllocatorType.FixedSize | Variable */
  static readonly AllocatorType = { FixedSize: "FixedSize", Variable: "Variable" } as const;

  /** FixedSize: every block has blockSize bytes, O(1). Variable: any size, TLSF, O(1) bounded. */
  allocatorType: AllocatorType = "Variable";
  /** Bytes per block of a FixedSize pool. */
  blockSize = 256;
  /** CUDA device of a GPU pool. */
  deviceId = 0;
  /** Bytes committed when the pool is created. */
  initialSize = 1 * MiB;
  /** Most bytes the pool may ever commit; 0 = as much as its address space allows (64 GiB). */
  maxSize = 0;
  /** Size of each new region as a multiple of the last one; 0 = never grow. */
  growth = 1;
  /** Every block starts at a multiple of this (a power of two up to 4096). */
  alignment = 16;
  /**
   * "none": only the thread that made the pool uses it (another thread gets ThreadSafetyError).
   * "mutex": any Worker may use the pool at once, one call at a time. "lockFree": any Worker, no
   * lock on allocate and free (FixedSize pools).
   */
  threadSafety: ThreadSafety = "none";
  /**
   * Per-thread caches of free blocks in front of a shared FixedSize pool ("mutex" or "lockFree"):
   * most allocations and frees touch only the calling thread's cache. Flushed when a Worker ends.
   */
  threadLocalCache = false;
  /** Count peaks and sample timings (counts of bytes and blocks are always kept). */
  collectStats = true;
  /** File of a PMEM pool. */
  pmemPoolPath = "";

  /** (seed) A large variable-size pool that grows by doubling. */
  static HighPerformanceCPU(): PoolConfig {
    return Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 16 * MiB, growth: 2 } satisfies Partial<PoolConfig>);
  }

  /** (seed) A fixed-size pool of `blockSize`-byte blocks. */
  static FixedSizeCPU(blockSize: number): PoolConfig {
    return Object.assign(new PoolConfig(), { allocatorType: "FixedSize", blockSize } satisfies Partial<PoolConfig>);
  }

  /** (seed) A device pool on GPU `deviceId`. */
  static HighPerformanceGPU(deviceId = 0): PoolConfig {
    return Object.assign(new PoolConfig(), { deviceId, initialSize: 64 * MiB, growth: 2 } satisfies Partial<PoolConfig>);
  }

  /** (seed) A device pool configured for debugging. */
  static DebugGPU(deviceId = 0): PoolConfig {
    return Object.assign(new PoolConfig(), { deviceId, collectStats: true, threadSafety: "mutex" } satisfies Partial<PoolConfig>);
  }

  /** A CPU pool configured for debugging. */
  static DebugCPU(): PoolConfig {
    return Object.assign(new PoolConfig(), { collectStats: true, threadSafety: "mutex" } satisfies Partial<PoolConfig>);
  }

  /** A persistent pool at `path`. */
  static DebugPMEM(path = ""): PoolConfig {
    return Object.assign(new PoolConfig(), { pmemPoolPath: path, collectStats: true, threadSafety: "mutex" } satisfies Partial<PoolConfig>);
  }

  clone(): PoolConfig {
    return Object.assign(new PoolConfig(), this);
  }

  /** Throws a ConfigError for the first field out of range. */
  validate(): void {
    if (this.allocatorType !== "FixedSize" && this.allocatorType !== "Variable") {
      throw new ConfigError("allocatorType", this.allocatorType, 'must be PoolConfig.AllocatorType.FixedSize or .Variable');
    }
    positiveSize("initialSize", this.initialSize);
    if (this.allocatorType === "FixedSize") {
      positiveSize("blockSize", this.blockSize);
      if (this.blockSize > 0xffff_ffff) throw new ConfigError("blockSize", this.blockSize, "must be below 4 GiB");
      if (this.blockSize > this.initialSize) {
        throw new ConfigError("blockSize", this.blockSize, `is larger than initialSize (${this.initialSize}): no block would fit`);
      }
    }
    if (!(Number.isSafeInteger(this.maxSize) && this.maxSize >= 0)) {
      throw new ConfigError("maxSize", this.maxSize, "must be a whole number of bytes, or 0 for no limit");
    }
    if (this.maxSize > 0 && this.initialSize > this.maxSize) {
      throw new ConfigError("initialSize", this.initialSize, `is larger than maxSize (${this.maxSize})`);
    }
    if (!(Number.isInteger(this.alignment) && this.alignment >= 1 && this.alignment <= PAGE_BYTES && (this.alignment & (this.alignment - 1)) === 0)) {
      throw new ConfigError("alignment", this.alignment, `must be a power of two from 1 to ${PAGE_BYTES}`);
    }
    if (!(typeof this.growth === "number" && (this.growth === 0 || (this.growth >= 1 && this.growth <= 64)))) {
      throw new ConfigError("growth", this.growth, "must be 0 (never grow) or a factor from 1 to 64");
    }
    if (this.threadSafety !== "none" && this.threadSafety !== "mutex" && this.threadSafety !== "lockFree") {
      throw new ConfigError("threadSafety", this.threadSafety, 'must be "none", "mutex" or "lockFree"');
    }
    if (typeof this.threadLocalCache !== "boolean") throw new ConfigError("threadLocalCache", this.threadLocalCache, "must be true or false");
    if (this.threadLocalCache && this.threadSafety === "none") {
      throw new ConfigError("threadLocalCache", true, 'needs threadSafety "mutex" or "lockFree": caches serve pools that many threads share');
    }
    if ((this.threadLocalCache || this.threadSafety === "lockFree") && this.allocatorType !== "FixedSize") {
      throw new ConfigError(this.threadLocalCache ? "threadLocalCache" : "threadSafety", this.threadLocalCache || this.threadSafety, 'needs a FixedSize pool for now (a Variable pool takes threadSafety "mutex")');
    }
    if (!(Number.isInteger(this.deviceId) && this.deviceId >= 0)) {
      throw new ConfigError("deviceId", this.deviceId, "must be a whole number from 0");
    }
    if (typeof this.collectStats !== "boolean") throw new ConfigError("collectStats", this.collectStats, "must be true or false");
    if (typeof this.pmemPoolPath !== "string") throw new ConfigError("pmemPoolPath", this.pmemPoolPath, "must be a string");
  }
}

function positiveSize(field: string, value: unknown): void {
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value > 0)) {
    throw new ConfigError(field, value, "must be a whole number of bytes above 0");
  }
}
