/**
 * MemoryPoolManager: one per process. Pool names live in the core's registry, which
 * every Worker shares, so getPool finds a pool wherever it was created.
 */
import { isAbsolute } from "node:path";
import { flushAllCaches } from "./thread_cache";
import { PoolConfig, type PoolOptions } from "./config";
import { withEnvironmentDebug } from "./debug/env";
import { makeLeakWatch, setLeakWatch, type LeakWatch } from "./debug/tracker";
import { ConfigError, PMEMFileError, PoolExistsError, PoolNotFoundError, refusedWithValue, UnsupportedOperationError } from "./errors";
import { byValue } from "./abi";
import { ABI, CONFIG_FIELDS, encodeName, PoolKind } from "./native";
import * as native from "./native";
import { GPUMemoryPool } from "./gpu";
import { PMEMMemoryPool } from "./pmem";
import { constructPool, CPUMemoryPool, damageIn, destroyedHere, destroyPoolObject, onPoolDestroyed, PinnedMemoryPool, poolExists, readableStatsOf, reportLeaksOf, type PoolJSON, type PoolKind as PoolKindName } from "./pool";
import { watchForShowStats } from "./show_stats";
import { writeReport } from "./stderr";
import { bytes, type MemoryStats } from "./stats";
import { isWellFormedName } from "./validate";
import { checkReceivers, foreignReceiver } from "./receiver";

export type MemoryPool = CPUMemoryPool | PinnedMemoryPool | GPUMemoryPool | PMEMMemoryPool;
/** The class of pool each kind names: what getPool(name, kind) returns. */
export interface PoolOfKind {
  cpu: CPUMemoryPool;
  pinned: PinnedMemoryPool;
  gpu: GPUMemoryPool;
  pmem: PMEMMemoryPool;
}
const POOL_CLASSES: Record<keyof PoolOfKind, true> = { cpu: true, pinned: true, gpu: true, pmem: true };

/**
 * `bun --hot` evaluates the library's modules again in the same thread, while the pools the
 * earlier evaluation made live on in the core's registry. Each evaluation's manager is left on
 * the thread's globalThis under this key, for the next one to find (a symbol of the registry: the
 * same in every evaluation). The key names this file's path: a second copy of the library loaded
 * from elsewhere into the thread, alive beside the first, is not an evaluation after it.
 */
const EARLIER_MANAGER = Symbol.for(`bun-memory-pool.manager ${import.meta.url}`);
/**
 * Whether this process runs under `bun --hot`: only there is an earlier evaluation of this file
 * one whose code is gone. Elsewhere a second evaluation at the same path (require.cache entries
 * deleted and the library required again, as module isolation does) runs beside the first, whose
 * code still uses its pools: taken for a reload, it destroyed them.
 */
const HOT_RELOADING = typeof process === "object" && Array.isArray(process.execArgv) && process.execArgv.includes("--hot");
/** What getInstance() hands the constructor: no other caller can make a manager. */
const THE_INSTANCE: unique symbol = Symbol("the manager");
/** A manager's method that gives up a pool it made (or its own earlier manager did): see #replaceEarlier. */
const GIVE_UP_MADE = Symbol.for("bun-memory-pool.giveUpMade");
type EarlierManager = { [GIVE_UP_MADE](name: string): boolean };
export interface PoolInfo {
  name: string;
  kind: PoolKindName;
}

// The codes of the config record, as the core describes them (src/abi.ts).
const STRATEGY_CODES = { FixedSize: ABI.enums.allocatorType.fixedSize, Variable: ABI.enums.allocatorType.variable } as const;
const THREAD_SAFETY_CODES = ABI.enums.threadSafety;
const THREAD_SAFETY_NAMES = byValue(THREAD_SAFETY_CODES);
const GUARD_POSITION_CODES = ABI.enums.guardPosition;
const DEFAULT_CPU_POOL = "default_cpu_pool";
const DEFAULT_GPU_POOL = "default_gpu_pool";
const KIND_NAMES: Record<number, PoolKindName> = { [PoolKind.cpu]: "cpu", [PoolKind.gpu]: "gpu", [PoolKind.pinned]: "pinned", [PoolKind.pmem]: "pmem" };

/**
 * Opens a pool in the core; a setting the core refuses is a ConfigError with the value `config`
 * held (the core reads the record's numbers and names only the field).
 */
function openInCore(config: Readonly<PoolConfig>, open: () => number): number {
  try {
    return open();
  } catch (err) {
    if (err instanceof ConfigError && err.value === undefined && Object.hasOwn(config, err.field)) throw refusedWithValue(err, config[err.field as keyof PoolConfig]);
    throw err;
  }
}

/**
 * The directory a relative PMEM path is in. process.cwd() throws an untyped ENOENT where the
 * working directory was removed: no file can be named relative to it, a PMEMFileError.
 */
function workingDirectory(relativePath: string): string {
  try {
    return process.cwd();
  } catch {
    throw new PMEMFileError(`the pool's path '${relativePath}' is relative, and the working directory is gone (removed while the process was in it): give an absolute path`);
  }
}

function configRecord(kind: number, config: PoolConfig): Float64Array {
  const values: Record<(typeof CONFIG_FIELDS)[number], number> = {
    kind,
    allocatorType: STRATEGY_CODES[config.allocatorType],
    blockSize: config.allocatorType === "FixedSize" ? config.blockSize : 0,
    alignment: config.alignment,
    initialSize: config.initialSize,
    maxSize: config.maxSize,
    growth: config.growth,
    threadSafety: THREAD_SAFETY_CODES[config.threadSafety],
    collectStats: config.collectStats ? 1 : 0,
    deviceId: config.deviceId,
    threadLocalCache: config.threadLocalCache ? 1 : 0,
    canaries: config.canaries ? 1 : 0,
    guardPages: config.guardPages ? GUARD_POSITION_CODES[config.guardPagePosition] : 0,
    guardSampleRate: config.guardSampleRate,
    fillOnAlloc: config.fillOnAlloc ?? -1,
    fillOnFree: config.fillOnFree ?? -1,
    quarantineBytes: config.quarantineBytes,
    trackHistory: config.trackHistory ? 1 : 0,
    leakReport: config.leakReport ? 1 : 0,
    safeViews: config.safeViews ? 1 : 0,
    historySize: config.historySize,
  };
  return Float64Array.from(CONFIG_FIELDS, (field) => values[field]);
}

function configFromRecord(record: Float64Array): PoolConfig {
  const field = (name: (typeof CONFIG_FIELDS)[number]) => record[CONFIG_FIELDS.indexOf(name)]!;
  return Object.assign(new PoolConfig(), {
    allocatorType: field("allocatorType") === STRATEGY_CODES.FixedSize ? "FixedSize" : "Variable",
    blockSize: field("blockSize") || new PoolConfig().blockSize,
    alignment: field("alignment"),
    initialSize: field("initialSize"),
    maxSize: field("maxSize"),
    growth: field("growth"),
    threadSafety: THREAD_SAFETY_NAMES[field("threadSafety")] ?? "none",
    threadLocalCache: field("threadLocalCache") !== 0,
    collectStats: field("collectStats") !== 0,
    deviceId: field("deviceId"),
    canaries: field("canaries") !== 0,
    guardPages: field("guardPages") !== 0,
    guardPagePosition: field("guardPages") === GUARD_POSITION_CODES.before ? "before" : "after",
    guardSampleRate: field("guardSampleRate"),
    fillOnAlloc: field("fillOnAlloc") < 0 ? undefined : field("fillOnAlloc"),
    fillOnFree: field("fillOnFree") < 0 ? undefined : field("fillOnFree"),
    quarantineBytes: field("quarantineBytes"),
    trackHistory: field("trackHistory") !== 0,
    leakReport: field("leakReport") !== 0,
    safeViews: field("safeViews") !== 0,
    historySize: field("historySize"),
  } satisfies Partial<PoolConfig>);
}

/**
 * A pool's name as the registry keys it: 1 to 255 bytes of UTF-8. A string with a lone surrogate
 * is refused: UTF-8 cannot hold one (it would be encoded as U+FFFD), so two different strings
 * would name one pool.
 */
function validName(name: unknown): Uint8Array {
  if (typeof name === "string" && !isWellFormedName(name)) {
    throw new ConfigError("name", name, "a pool's name must be well-formed Unicode: it has a lone surrogate (\\uD800 to \\uDFFF), which UTF-8 cannot hold", "");
  }
  const encoded = typeof name === "string" ? encodeName(name) : undefined;
  if (encoded === undefined || encoded.length === 0 || encoded.length > ABI.constants.poolNameBytesMax) {
    throw new ConfigError("name", name, `a pool's name is a string of 1 to ${ABI.constants.poolNameBytesMax} bytes`, "");
  }
  return encoded;
}

/** Whether a value is the manager getInstance() gives (src/receiver.ts). */
let isManager: (value: unknown) => boolean;

export class MemoryPoolManager {
  static #instance: MemoryPoolManager | undefined;
  readonly #pools = new Map<string, MemoryPool>();
  /** Finds Allocations garbage-collected while live; held here so it stays reachable (see tracker.ts). */
  readonly #leakWatch: LeakWatch = makeLeakWatch();
  #exitReportArmed = false;
  /** The pools this thread made (or opened), as opposed to ones it found that other Workers made. */
  readonly #made = new WeakSet<MemoryPool>();

  /** The manager of the library's evaluation before this one in this thread (bun --hot), if any. */
  readonly #earlier: EarlierManager | undefined;

  static {
    isManager = (value) => typeof value === "object" && value !== null && #pools in value;
  }

  /**
   * Only getInstance() makes one (`private` binds TypeScript only): a second manager made from
   * JavaScript took over the thread's leak watch and the hook that tells the manager of destroyed
   * pools, from the one every call of the library goes through.
   */
  private constructor(earlier: EarlierManager | undefined, made?: typeof THE_INSTANCE) {
    if (made !== THE_INSTANCE) throw new UnsupportedOperationError("MemoryPoolManager has no public constructor: MemoryPoolManager.getInstance() gives the process's manager");
    this.#earlier = earlier;
    setLeakWatch(this.#leakWatch);
    // However a pool of this thread is destroyed (destroyPool, pool.destroy(), close(), `using`),
    // the manager lets go of it: a program that makes and destroys pools of ever new names would
    // otherwise keep every one (its records, views and history) for the life of the thread.
    onPoolDestroyed((pool) => {
      if (this.#pools.get(pool.name) === pool) this.#pools.delete(pool.name);
    });
  }

  /** The process's manager. */
  static getInstance(): MemoryPoolManager {
    if (MemoryPoolManager.#instance !== undefined) return MemoryPoolManager.#instance;
    const scope = globalThis as { [EARLIER_MANAGER]?: EarlierManager };
    const instance = new MemoryPoolManager(HOT_RELOADING ? scope[EARLIER_MANAGER] : undefined, THE_INSTANCE);
    scope[EARLIER_MANAGER] = instance;
    return (MemoryPoolManager.#instance = instance);
  }

  /** A pool of host memory. Throws PoolExistsError if the name is taken, ConfigError for a bad config. */
  createCPUPool(name: string, config?: PoolConfig | PoolOptions): CPUMemoryPool {
    return this.#create(name, config, PoolKind.cpu) as CPUMemoryPool;
  }

  /**
   * A pool of device memory on GPU `config.deviceId`. Throws GPUUnavailableError where no
   * CUDA driver or device answers, ConfigError for a deviceId that names no device.
   */
  createGPUPool(name: string, config?: PoolConfig | PoolOptions): GPUMemoryPool {
    return this.#create(name, config, PoolKind.gpu) as GPUMemoryPool;
  }

  /** A pool of page-locked host memory: host views, and the fastest source and target of GPU copies. */
  createPinnedPool(name: string, config?: PoolConfig | PoolOptions): PinnedMemoryPool {
    return this.#create(name, config, PoolKind.pinned) as PinnedMemoryPool;
  }

  #create(name: string, config: PoolConfig | PoolOptions | undefined, kind: number): MemoryPool {
    const encoded = validName(name);
    // MEMORY_POOL_DEBUG turns debug switches on for every pool; pool.config shows what was used.
    const frozen = Object.freeze(withEnvironmentDebug(PoolConfig.from(config), KIND_NAMES[kind] as "cpu" | "gpu" | "pinned"));
    frozen.validate();
    this.#claim(name);
    const handle = openInCore(frozen, () => native.createPool(encoded, configRecord(kind, frozen)));
    return this.#wrap(name, frozen, handle, kind, true);
  }

  #wrap(name: string, config: Readonly<PoolConfig>, handle: number, kind: number, made: boolean): MemoryPool {
    const pool = constructPool((): MemoryPool =>
      kind === PoolKind.gpu
        ? new GPUMemoryPool(name, config, handle)
        : kind === PoolKind.pinned
          ? new PinnedMemoryPool(name, config, handle)
          : new CPUMemoryPool(name, config, handle),
    );
    return this.#adopt(pool, made);
  }

  /** `made`: this thread made the pool (or opened its file), rather than finding one another Worker made. */
  #adopt<P extends MemoryPool>(pool: P, made: boolean): P {
    if (this.#pools.size >= this.#sweepAt) this.#sweep();
    this.#pools.set(pool.name, pool);
    if (made) this.#made.add(pool);
    if (pool.config.leakReport && made) this.#armExitReport();
    watchForShowStats(pool);
    return pool;
  }

  /** With leakReport, what is still allocated when the process exits is reported, pool by pool. */
  #armExitReport(): void {
    if (this.#exitReportArmed) return;
    this.#exitReportArmed = true;
    // What is still allocated when the process ends, in the pools this thread made; a Worker's end
    // is not the process's: there, only its threadSafety "none" pools end with it. A pool another
    // Worker made is that Worker's to report (this thread's view of it would call the allocations
    // of every other thread leaks).
    const when = Bun.isMainThread ? "process exit" : "Worker exit";
    process.on("exit", () => {
      for (const pool of this.#pools.values()) {
        if (destroyedHere(pool) || !pool.config.leakReport || pool instanceof GPUMemoryPool || !this.#made.has(pool)) continue;
        if (!Bun.isMainThread && pool.config.threadSafety !== "none") continue;
        if (!poolExists(pool)) continue;
        try {
          reportLeaksOf(pool, when);
          // No destroy comes to check the canaries and quarantine: an overrun of a leaked block would go unsaid.
          const damage = damageIn(pool);
          if (damage !== undefined) writeReport(`bun-memory-pool: damage found in pool '${pool.name}' (${when}): ${damage.name}: ${damage.message}\n`);
        } catch (err) {
          writeReport(`bun-memory-pool: no leak report for pool '${pool.name}': ${String(err)}\n`);
        }
      }
      // A Worker's "none" pools end with its thread, a moment later: the core writes their report
      // there only where this one was not written (terminate() runs no exit listener).
      if (!Bun.isMainThread) native.threadExitReported();
    });
  }

  /**
   * A persistent pool over the file at `config.pmemPoolPath`: created with `initialSize` bytes
   * where there is no file, else opened and recovered, with every allocation and root it held.
   * The file keeps its size (growth and maxSize do not apply) and its layout (allocatorType, blockSize,
   * alignment). Throws PMEMUnavailableError without libpmem, PMEMFileError for a path that cannot be
   * used, PMEMFormatError for a file that is not a sound pool (left untouched), ConfigError, PoolExistsError.
   */
  createPMEMPool(name: string, config?: PoolConfig | PoolOptions): PMEMMemoryPool {
    native.requirePmem();
    const encoded = validName(name);
    const frozen = Object.freeze(withEnvironmentDebug(PoolConfig.from(config), "pmem"));
    frozen.validate();
    if (frozen.pmemPoolPath === "") {
      throw new ConfigError("pmemPoolPath", "", "a PMEM pool needs the path of its file (on a DAX file system for real PMEM, or e.g. under /dev/shm to emulate it)");
    }
    this.#claim(name);
    // Made absolute, never normalised: path.resolve would fold "link/../x.pool" to the file beside
    // the link, where the kernel (and every other program) opens the one beside the link's target.
    const path = encodeName(isAbsolute(frozen.pmemPoolPath) ? frozen.pmemPoolPath : `${workingDirectory(frozen.pmemPoolPath)}/${frozen.pmemPoolPath}`);
    const handle = openInCore(frozen, () => native.openPmemPool(encoded, path, configRecord(PoolKind.cpu, frozen)));
    return this.#adopt(constructPool(() => new PMEMMemoryPool(name, frozen, handle)), true);
  }

  /**
   * The pool with this name, created in this thread or in any other Worker (the C++ API's name).
   * With a kind, the pool of that kind: `getPool("main", "cpu")` is a CPUMemoryPool, checked, and a
   * pool of another kind is a PoolNotFoundError saying which kind it is.
   */
  getPool(name: string): MemoryPool;
  getPool<K extends PoolKindName>(name: string, kind: K): PoolOfKind[K];
  getPool(name: string, kind?: PoolKindName): MemoryPool {
    // The kind is checked first, whether or not the pool exists: an own key of POOL_CLASSES, so
    // "toString" is no kind and an object's toString never runs.
    if (kind !== undefined && !(typeof kind === "string" && Object.hasOwn(POOL_CLASSES, kind))) {
      throw new ConfigError("kind", kind, `getPool's kind is one of ${Object.keys(POOL_CLASSES).map((k) => `"${k}"`).join(", ")}`, "");
    }
    const pool = this.#find(name);
    if (kind !== undefined && pool.kind !== kind) {
      throw new PoolNotFoundError(`no ${kind} pool named '${name}': '${name}' is a ${pool.kind} pool (a ${pool.constructor.name})`);
    }
    return pool;
  }

  #find(name: string): MemoryPool {
    const known = this.#live(name);
    if (known !== undefined) return known;
    const encoded = validName(name);
    const handle = native.findPool(encoded);
    if (handle !== undefined) return this.#attach(name, handle);
    throw new PoolNotFoundError(`no pool named '${name}'`);
  }

  /** Whether a pool of this name exists (in any thread). */
  hasPool(name: string): boolean {
    if (this.#live(name) !== undefined) return true;
    const encoded = validName(name);
    return native.findPool(encoded) !== undefined;
  }

  /** Releases the pool's memory; its allocations and views die with it. A PMEM pool is closed; its file stays. */
  destroyPool(name: string): void {
    destroyPoolObject(this.getPool(name));
  }

  /**
   * `using manager = MemoryPoolManager.getInstance()`: at the end of the block, destroys every pool
   * this thread made or opened that is still alive (pools it only found by name, with getPool, are
   * their makers' and are left alone). Each is destroyed even where another's destruction throws; the first error is thrown then.
   */
  [Symbol.dispose](): void {
    let first: unknown;
    for (const pool of [...this.#pools.values()]) {
      if (!this.#made.has(pool)) continue; // found with getPool: its maker's to destroy
      if (destroyedHere(pool) || !poolExists(pool)) continue; // destroyed here, or by another Worker
      try {
        destroyPoolObject(pool); // this object's pool, not one another Worker made under its name since
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /**
   * Gives the blocks this thread keeps in its caches (its JavaScript caches of fixed-size lockFree
   * and threadLocalCache pools, and the core's) back to their pools, for other threads to use. A
   * Worker's caches go back by themselves when it ends.
   */
  flushThreadCaches(): void {
    flushAllCaches();
    native.flushThreadCaches();
  }

  /** Names and kinds of every pool in the process. */
  listPools(): PoolInfo[] {
    const infos: PoolInfo[] = [];
    for (const handle of native.listPools()) {
      const name = native.poolName(handle);
      if (name === undefined) continue; // destroyed by another Worker since the list was taken
      const kind = KIND_NAMES[this.#kindOf(handle)];
      if (kind !== undefined) infos.push({ name, kind });
    }
    return infos;
  }

  /** The kind code of a listed pool, or -1 where another Worker destroyed it since the list was taken. */
  #kindOf(handle: number): number {
    try {
      return native.poolKind(handle);
    } catch (err) {
      if (err instanceof PoolNotFoundError) return -1;
      throw err;
    }
  }

  /** Every pool in the process (created in any Worker), as for JSON.stringify(manager). */
  toJSON(): { pools: PoolJSON[] } {
    return { pools: this.#everyPool().map((pool) => pool.toJSON()) };
  }

  /** One table of every pool in the process: what each holds, reserves and wastes. */
  getStatsString(): string {
    const listed = this.#everyPool().map((pool) => ({ pool, stats: readableStatsOf(pool) }));
    const rows = listed.flatMap(({ pool, stats }) => (typeof stats === "string" ? [] : [{ pool, stats }]));
    // Another thread's "none" pools are named, without figures: only their owner may read them.
    const elsewhere = listed.filter(({ stats }) => stats === "ownedByAnotherThread").map(({ pool }) => pool);
    const header = ["pool", "kind", "allocator", "in use", "peak", "reserved", "live", "fragmentation", "utilization", "allocs / frees", "failed"];
    const allocator = (pool: MemoryPool) => (pool.config.allocatorType === "FixedSize" ? `FixedSize ${bytes(pool.config.blockSize)}` : "Variable");
    const cells = rows.map(({ pool, stats }) => [
      pool.name,
      pool.kind,
      allocator(pool),
      bytes(stats.bytesInUse),
      bytes(stats.peakBytesInUse),
      bytes(stats.bytesReserved),
      String(stats.liveAllocations),
      `${(stats.fragmentation * 100).toFixed(1)} %`,
      `${(stats.utilization * 100).toFixed(1)} %`,
      `${stats.allocationCount} / ${stats.freeCount}`,
      String(stats.failedAllocations),
    ]);
    const sum = (field: keyof MemoryStats & ("bytesInUse" | "bytesReserved" | "liveAllocations" | "failedAllocations")) =>
      rows.reduce((total, { stats }) => total + stats[field], 0);
    const total = ["total", "", "", bytes(sum("bytesInUse")), "", bytes(sum("bytesReserved")), String(sum("liveAllocations")), "", "", "", String(sum("failedAllocations"))];
    const table = [header, ...cells, total];
    const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
    const numeric = new Set([3, 4, 5, 6, 7, 8, 9, 10]);
    const line = (row: string[]) => `  ${row.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ")}`.trimEnd();
    const unread = elsewhere.map((pool) => line([pool.name, pool.kind, allocator(pool), "(threadSafety \"none\": another thread's)", ...Array<string>(7).fill("")]));
    return [`Memory pools: ${rows.length + elsewhere.length}`, line(header), ...cells.map(line), ...unread, line(total)].join("\n");
  }

  /** Every pool in the process, skipping any another Worker destroys meanwhile. */
  #everyPool(): MemoryPool[] {
    return this.listPools().flatMap(({ name }) => {
      try {
        return [this.getPool(name)];
      } catch (err) {
        if (err instanceof PoolNotFoundError) return [];
        throw err;
      }
    });
  }

  /** The pool that allocate()/deallocate() helpers use; made on first use. */
  get defaultCPUPool(): CPUMemoryPool {
    return this.#defaultPool(DEFAULT_CPU_POOL, "cpu", () => this.createCPUPool(DEFAULT_CPU_POOL, { threadSafety: "mutex" }));
  }

  /** The pool that allocateGPU()/deallocateGPU() use: device 0, made on first use. */
  get defaultGPUPool(): GPUMemoryPool {
    return this.#defaultPool(DEFAULT_GPU_POOL, "gpu", () => this.createGPUPool(DEFAULT_GPU_POOL, { threadSafety: "mutex", initialSize: 2 << 20 }));
  }

  /**
   * A default pool: this thread's, the one another Worker made, or a new one. Workers using the
   * helpers for the first time at once race to make it: the losers find the winner's (a check
   * with hasPool() first would leave the race open between the check and the make).
   */
  #defaultPool<K extends "cpu" | "gpu">(name: string, kind: K, make: () => PoolOfKind[K]): PoolOfKind[K] {
    const known = this.#live(name);
    if (known !== undefined && known.kind === kind) return known as PoolOfKind[K];
    try {
      return make();
    } catch (err) {
      if (err instanceof PoolExistsError) return this.getPool(name, kind);
      throw err;
    }
  }

  /** CUDA devices the driver sees: ordinal, name and memory. Empty where no driver or device answers. */
  listDevices(): { deviceId: number; name: string; totalMemory: number }[] {
    return Array.from({ length: native.gpuDeviceCount() }, (_, deviceId) => ({ deviceId, name: native.gpuDeviceName(deviceId), totalMemory: native.gpuDeviceMemory(deviceId) }));
  }

  /** Pools the map may hold before #sweep() looks for ones other Workers destroyed. */
  #sweepAt = 64;

  /**
   * Lets go of the pools that other Workers destroyed (this thread's own go as it destroys them):
   * a thread that finds pools of ever new names by getPool would keep every one. Run as the map
   * doubles, so its cost per pool adopted stays constant.
   */
  #sweep(): void {
    for (const [name, pool] of this.#pools) if (destroyedHere(pool) || !poolExists(pool)) this.#pools.delete(name);
    this.#sweepAt = Math.max(64, 2 * this.#pools.size);
  }

  /**
   * Before a pool named `name` is made: a PoolExistsError where this evaluation's manager holds
   * one; a pool of that name that an earlier evaluation of the library made in this thread (the
   * module that made it was reloaded by `bun --hot`) is destroyed first, as a restart would have
   * ended it, so the reloaded module's create call makes the pool it asks for.
   */
  #claim(name: string): void {
    if (this.#live(name) !== undefined) {
      throw new PoolExistsError(`a pool named '${name}' already exists: manager.getPool('${name}') gives it, manager.destroyPool('${name}') ends it`);
    }
    this.#earlier?.[GIVE_UP_MADE](name);
  }

  /**
   * Destroys the live pool named `name` that this manager made, or else one that its own earlier
   * manager made; returns whether there was one. Called by the manager of a later evaluation.
   */
  [GIVE_UP_MADE](name: string): boolean {
    const pool = this.#live(name);
    if (pool === undefined || !this.#made.has(pool)) return this.#earlier?.[GIVE_UP_MADE](name) ?? false;
    destroyPoolObject(pool); // through its own objects: its views are detached, its handles throw
    return true;
  }

  /**
   * This thread's object for the pool named `name`, while that pool lives: another Worker may have
   * destroyed it (and made a new pool of that name since), which this thread's object does not know.
   */
  #live(name: string): MemoryPool | undefined {
    const pool = this.#pools.get(name);
    if (pool === undefined || (!destroyedHere(pool) && poolExists(pool))) return pool;
    this.#pools.delete(name);
    return undefined;
  }

  /** A pool made in another Worker (a PMEM pool: the same file and allocations). */
  #attach(name: string, handle: number): MemoryPool {
    const record = native.poolConfig(handle);
    const kind = native.poolKind(handle);
    if (kind === PoolKind.pmem) {
      const config = Object.assign(configFromRecord(record), { pmemPoolPath: native.pmemPoolPath(handle) });
      return this.#adopt(constructPool(() => new PMEMMemoryPool(name, Object.freeze(config), handle)), false);
    }
    return this.#wrap(name, Object.freeze(configFromRecord(record)), handle, kind, false);
  }
}

// The public members, behind the check of their receiver (src/receiver.ts).
checkReceivers(
  MemoryPoolManager.prototype,
  "manager",
  isManager,
  ["createCPUPool", "createGPUPool", "createPinnedPool", "createPMEMPool", "getPool", "hasPool", "destroyPool", "flushThreadCaches", "listPools", "toJSON", "getStatsString", "defaultCPUPool", "defaultGPUPool", "listDevices", Symbol.dispose],
  foreignReceiver("the MemoryPoolManager that MemoryPoolManager.getInstance() gives"),
);
