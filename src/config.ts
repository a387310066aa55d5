/**
 * PoolConfig: the seed's fields, presets and validation. `validate` runs before a pool is
 * created, so every bad field is a ConfigError that names the field and the value.
 */
import { ConfigError } from "./errors";
import { isPlainObject, isWellFormedName, optionEntries } from "./validate";

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE_BYTES = 4096;
/**
 * The most bytes one pool may reserve, and so the most any size field may hold: the core's
 * reserve_bytes_max (zig/src/arena.zig: 64 GiB less a 2 MiB device granule). validate() refuses
 * past it, as the core does, so that it is what create*Pool does first (test/attack/suite-malloc-api).
 */
const POOL_BYTES_MAX = 64 * 1024 * MiB - 2 * MiB;

export type AllocatorType = "FixedSize" | "Variable";
export type ThreadSafety = "none" | "mutex" | "lockFree";
export type GuardPagePosition = "after" | "before";


export class PoolConfig {
  /** PoolConfig.AllocatorType.FixedSize | Variable */
  static readonly AllocatorType = { FixedSize: "FixedSize", Variable: "Variable" } as const;

  /** FixedSize: every block has blockSize bytes, O(1). Variable: any size, TLSF, O(1) bounded. */
  allocatorType: AllocatorType = "Variable";
  /** Bytes per block of a FixedSize pool. */
  blockSize = 256;
  /** CUDA device of a GPU pool. */
  deviceId = 0;
  /** Bytes committed when the pool is created. */
  initialSize = 1 * MiB;
  /** Most bytes the pool may ever hold (it commits whole 64 KiB units up to maxSize rounded up, and hands out none past maxSize); 0 = as much as its address space allows (64 GiB). */
  maxSize = 0;
  /** Size of each new region as a multiple of the last one grown (a larger request gets a region of its own size; trim() brings the pace down to the largest region left); 0 = never grow (the largest request is then what the first region holds). */
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

  // ---- debugging (see README "Debugging") ----

  /**
   * Each allocation gets pages of its own, its end against an inaccessible page (or its start,
   * with guardPagePosition "before"): a native write past it faults at that write, and a report
   * names the allocation. Freed guarded memory is inaccessible too (views, exact by default, are
   * detached; a guarded allocation has no window view). Costs two pages of address space and a
   * system call per allocation.
   */
  guardPages = false;
  /** "after": overflows fault (the default). "before": underflows fault. */
  guardPagePosition: GuardPagePosition = "after";
  /** Guard one allocation in this many (on average, at random): cheap enough for production. 1: every one. */
  guardSampleRate = 1;
  /** Known bytes before and after each allocation, checked on free, on check() and on destroy. */
  canaries = false;
  /** A byte written over every allocation when it is made; undefined: off. */
  fillOnAlloc: number | undefined = undefined;
  /** A byte written over every allocation when it is freed; undefined: off. */
  fillOnFree: number | undefined = undefined;
  /**
   * Freed memory is held back from reuse, up to this many bytes (0: off), counted as
   * stats.quarantinedBytes counts it (accessible bytes: guard pages are not). While held it is
   * poisoned (fillOnFree, else 0xdd) and a write to it is found when it leaves or on check();
   * with guard pages it is inaccessible, so any use faults.
   */
  quarantineBytes = 0;
  /**
   * Views are exact and detached on free by default (issue 12); this switch keeps a record per
   * allocation so that a stale view handed back to deallocate() is named in the DoubleFreeError.
   */
  safeViews = false;
  /** Keep a ring of recent allocate / free / violation events, with the JavaScript stack of each. */
  trackHistory = false;
  /** Events the history keeps (trackHistory). */
  historySize = 1000;
  /** Report live allocations when the pool is destroyed and at process exit, and Allocations garbage-collected while live. */
  leakReport = false;

  /** A large variable-size pool that grows by doubling. */
  static HighPerformanceCPU(): PoolConfig {
    return Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 16 * MiB, growth: 2 } satisfies Partial<PoolConfig>);
  }

  /** A fixed-size pool of `blockSize`-byte blocks. */
  static FixedSizeCPU(blockSize: number): PoolConfig {
    return Object.assign(new PoolConfig(), { allocatorType: "FixedSize", blockSize } satisfies Partial<PoolConfig>);
  }

  /** A device pool on GPU `deviceId`. */
  static HighPerformanceGPU(deviceId = 0): PoolConfig {
    return Object.assign(new PoolConfig(), { deviceId, initialSize: 64 * MiB, growth: 2 } satisfies Partial<PoolConfig>);
  }

  /**
   * A device pool configured for debugging: canaries around every allocation and fill
   * patterns, written and checked by the debug kernels (on free, check() and destroy), history
   * with stacks, leak reports.
   */
  static DebugGPU(deviceId = 0): PoolConfig {
    return Object.assign(new PoolConfig(), {
      deviceId,
      collectStats: true,
      threadSafety: "mutex",
      canaries: true,
      fillOnAlloc: FILL_ON_ALLOC,
      fillOnFree: FILL_ON_FREE,
      trackHistory: true,
      leakReport: true,
    } satisfies Partial<PoolConfig>);
  }

  /** A CPU pool with every check on: guard pages on every allocation, canaries, fills, quarantine, safe views, history, leak reports. */
  static DebugCPU(): PoolConfig {
    return Object.assign(new PoolConfig(), { collectStats: true, threadSafety: "mutex", ...FULL_DEBUG } satisfies Partial<PoolConfig>);
  }

  /**
   * A persistent pool at `path` with the checks that act in TypeScript: safe views, history, leak
   * reports. (Canaries, fills, guard pages and quarantine would change the file's bytes and layout;
   * a PMEM pool refuses them.)
   */
  static DebugPMEM(path = ""): PoolConfig {
    return Object.assign(new PoolConfig(), { pmemPoolPath: path, collectStats: true, threadSafety: "mutex", ...HOST_SIDE_DEBUG } satisfies Partial<PoolConfig>);
  }

  /**
   * A CPU pool with guard pages on one allocation in `sampleRate` (at random), cheap enough to leave
   * on in production (GWP-ASan's way; its default rate is the same): over many runs, every kind
   * of overflow and use after free is caught on some run, with a report naming the allocation.
   */
  static SampledGuardsCPU(sampleRate = SAMPLED_GUARD_RATE): PoolConfig {
    return Object.assign(new PoolConfig(), { guardPages: true, guardSampleRate: sampleRate } satisfies Partial<PoolConfig>);
  }

  /** Whether any debug switch is on. */
  get debugging(): boolean {
    return this.guardPages || this.canaries || this.fillOnAlloc !== undefined || this.fillOnFree !== undefined || this.quarantineBytes > 0 || this.safeViews || this.trackHistory || this.leakReport;
  }

  clone(): PoolConfig {
    return Object.assign(new PoolConfig(), this);
  }

  /**
   * A new PoolConfig from what a create*Pool call was given: a PoolConfig, a plain object of its
   * fields (`{ blockSize: 64 }`, `{ ...PoolConfig.DebugCPU(), initialSize: 1 << 20 }`; fields left
   * out keep their defaults), or nothing. A key that is no field is a ConfigError naming it,
   * either way; validate() then checks every field's type and range (undefined is a value too:
   * only fillOnAlloc and fillOnFree take it). Options of a blockSize without allocatorType are a
   * ConfigError too: they would make a Variable pool (the default), which has no blocks of one size.
   * Every create*Pool call makes its PoolConfig here, so each refuses what this refuses.
   */
  static from(config: PoolConfig | PoolOptions | undefined): PoolConfig {
    if (config === undefined) return new PoolConfig();
    const { made, keys } = PoolConfig.#fromFields(config);
    // `{ blockSize: 64 }` alone meant a FixedSize pool to its writer, and made a Variable one (the
    // default), which ignores blockSize: refused, as a field its pool would not use. (A PoolConfig
    // holds an allocatorType always.)
    if (keys.has("blockSize") && !keys.has("allocatorType") && !isPoolConfig(config)) {
      throw invalid("blockSize", made.blockSize, 'is given without allocatorType: the default, a Variable pool, has no blocks of one size (give allocatorType "FixedSize" with it)');
    }
    return made;
  }

  /** The PoolConfig of a PoolConfig or plain object of its fields, and which keys it held. */
  static #fromFields(config: PoolConfig | PoolOptions): { made: PoolConfig; keys: Set<string> } {
    if (!(isPlainObject(config) || isPoolConfig(config))) {
      throw new ConfigError("config", config, "a pool's configuration is a PoolConfig or a plain object of its fields", "");
    }
    const made = new PoolConfig();
    const keys = new Set<string>();
    for (const [key, value] of optionEntries(config, undefined, "config")) {
      if (!FIELDS.has(key)) throw invalid(key, value, `is not a PoolConfig field (the fields: ${[...FIELDS].join(", ")})`);
      (made as unknown as Record<string, unknown>)[key] = value;
      keys.add(key);
    }
    return { made, keys };
  }

  /** Throws a ConfigError for the first field out of range. */
  validate(): void {
    if (this.allocatorType !== "FixedSize" && this.allocatorType !== "Variable") {
      throw invalid("allocatorType", this.allocatorType, 'must be PoolConfig.AllocatorType.FixedSize or .Variable');
    }
    positiveSize("initialSize", this.initialSize);
    // Checked whatever the allocator: a Variable pool ignores it, but a bad value is one still.
    if (typeof this.blockSize !== "number") throw invalid("blockSize", this.blockSize, "must be a whole number of bytes above 0");
    positiveSize("blockSize", this.blockSize);
    if (this.blockSize > 0xffff_ffff) throw invalid("blockSize", this.blockSize, "must be below 4 GiB");
    if (this.allocatorType === "FixedSize") {
      if (this.blockSize > this.initialSize) {
        throw invalid("blockSize", this.blockSize, `is larger than initialSize (${this.initialSize}): no block would fit`);
      }
    }
    if (!(Number.isSafeInteger(this.maxSize) && this.maxSize >= 0 && this.maxSize <= POOL_BYTES_MAX)) {
      throw invalid("maxSize", this.maxSize, `must be a whole number of bytes from 0 (no limit) to ${POOL_BYTES_MAX}`);
    }
    if (this.maxSize > 0 && this.initialSize > this.maxSize) {
      throw invalid("initialSize", this.initialSize, `is larger than maxSize (${this.maxSize})`);
    }
    if (!(Number.isInteger(this.alignment) && this.alignment >= 1 && this.alignment <= PAGE_BYTES && (this.alignment & (this.alignment - 1)) === 0)) {
      throw invalid("alignment", this.alignment, `must be a power of two from 1 to ${PAGE_BYTES}`);
    }
    if (!(typeof this.growth === "number" && (this.growth === 0 || (this.growth >= 1 && this.growth <= 64)))) {
      throw invalid("growth", this.growth, "must be 0 (never grow) or a factor from 1 to 64");
    }
    if (this.threadSafety !== "none" && this.threadSafety !== "mutex" && this.threadSafety !== "lockFree") {
      throw invalid("threadSafety", this.threadSafety, 'must be "none", "mutex" or "lockFree"');
    }
    if (typeof this.threadLocalCache !== "boolean") throw invalid("threadLocalCache", this.threadLocalCache, "must be true or false");
    if (this.threadLocalCache && this.threadSafety === "none") {
      throw invalid("threadLocalCache", true, 'needs threadSafety "mutex" or "lockFree": caches serve pools that many threads share');
    }
    if (!(Number.isInteger(this.deviceId) && this.deviceId >= 0)) {
      throw invalid("deviceId", this.deviceId, "must be a whole number from 0");
    }
    if (typeof this.collectStats !== "boolean") throw invalid("collectStats", this.collectStats, "must be true or false");
    if (!isWellFormedName(this.pmemPoolPath)) throw invalid("pmemPoolPath", this.pmemPoolPath, "must be a string of well-formed Unicode (a lone surrogate would name another file)");
    validateDebug(this);
  }
}

/** A pool's configuration as a plain object: any of PoolConfig's fields; the rest keep their defaults. */
export type PoolOptions = Partial<Omit<PoolConfig, "debugging" | "clone" | "validate">>;

/** A ConfigError about a PoolConfig field: the message names the field and the value, whatever it is. */
function invalid(field: string, value: unknown, reason: string): ConfigError {
  return new ConfigError(field, value, reason, "PoolConfig");
}

/** Whether `value` is a PoolConfig; a revoked Proxy, or one whose getPrototypeOf trap throws, is not. */
function isPoolConfig(value: unknown): value is PoolConfig {
  try {
    return value instanceof PoolConfig;
  } catch {
    return false;
  }
}

/** PoolConfig's fields: the keys a plain configuration may have. */
const FIELDS: ReadonlySet<string> = new Set(Object.keys(new PoolConfig()));

/** The debug switches' fields, checked by PoolConfig.validate(). */
function validateDebug(config: PoolConfig): void {
  for (const field of ["guardPages", "canaries", "safeViews", "trackHistory", "leakReport"] as const) {
    if (typeof config[field] !== "boolean") throw invalid(field, config[field], "must be true or false");
  }
  if (config.guardPagePosition !== "after" && config.guardPagePosition !== "before") {
    throw invalid("guardPagePosition", config.guardPagePosition, 'must be "after" (overflows fault) or "before" (underflows fault)');
  }
  if (!(Number.isInteger(config.guardSampleRate) && config.guardSampleRate >= 1 && config.guardSampleRate <= 0xffff_ffff)) {
    throw invalid("guardSampleRate", config.guardSampleRate, "must be a whole number from 1 (every allocation) to 4294967295: one allocation in N gets guard pages");
  }
  for (const field of ["fillOnAlloc", "fillOnFree"] as const) {
    const value = config[field];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 255)) {
      throw invalid(field, value, "must be a byte (0 to 255), or undefined for no fill");
    }
  }
  if (!(Number.isSafeInteger(config.quarantineBytes) && config.quarantineBytes >= 0 && config.quarantineBytes <= POOL_BYTES_MAX)) {
    throw invalid("quarantineBytes", config.quarantineBytes, `must be a whole number of bytes from 0 (no quarantine) to ${POOL_BYTES_MAX}`);
  }
  if (!(Number.isInteger(config.historySize) && config.historySize >= 1 && config.historySize <= 1 << 20)) {
    throw invalid("historySize", config.historySize, `must be a whole number of events from 1 to ${1 << 20}`);
  }
}

/** One allocation in this many gets guard pages in SampledGuardsCPU() and MEMORY_POOL_DEBUG=sampled. */
export const SAMPLED_GUARD_RATE = 5000;
const FILL_ON_ALLOC = 0xcd;
const FILL_ON_FREE = 0xdd;

/** The switches that act in TypeScript, for any kind of memory. */
export const HOST_SIDE_DEBUG = { safeViews: true, trackHistory: true, leakReport: true } as const satisfies Partial<PoolConfig>;

/** Every switch on: what DebugCPU() and MEMORY_POOL_DEBUG=1 give. */
export const FULL_DEBUG = {
  ...HOST_SIDE_DEBUG,
  guardPages: true,
  guardSampleRate: 1,
  canaries: true,
  fillOnAlloc: FILL_ON_ALLOC,
  fillOnFree: FILL_ON_FREE,
  quarantineBytes: 32 * MiB,
} as const satisfies Partial<PoolConfig>;

function positiveSize(field: string, value: unknown): void {
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value > 0 && value <= POOL_BYTES_MAX)) {
    throw invalid(field, value, `must be a whole number of bytes from 1 to ${POOL_BYTES_MAX}`);
  }
}
