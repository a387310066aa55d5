/**
 * MemoryPoolManager (seed): one per process. Pool names live in the core's registry, which
 * every Worker shares, so getPool finds a pool wherever it was created.
 */
import { writeSync } from "node:fs";
import { PoolConfig } from "./config";
import { withEnvironmentDebug } from "./debug/env";
import { makeLeakWatch, type LeakWatch } from "./debug/tracker";
import { ConfigError, PoolExistsError, PoolNotFoundError } from "./errors";
import { check, CONFIG_FIELDS, core, decodeName, encodeName, PoolKind, Status } from "./native";
import { CPUMemoryPool, type HostPool, type PoolKind as PoolKindName } from "./pool";

export type MemoryPool = HostPool;
export interface PoolInfo {
  name: string;
  kind: PoolKindName;
}

const STRATEGY_CODES = { FixedSize: 0, Variable: 1 } as const;
const THREAD_SAFETY_CODES = { none: 0, mutex: 1 } as const;
const GUARD_POSITION_CODES = { after: 1, before: 2 } as const;
const DEFAULT_CPU_POOL = "default_cpu_pool";

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
    threadSafety: field("threadSafety") === THREAD_SAFETY_CODES.mutex ? "mutex" : "none",
    collectStats: field("collectStats") !== 0,
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

function validName(name: unknown): Uint8Array {
  const encoded = typeof name === "string" ? encodeName(name) : undefined;
  if (encoded === undefined || encoded.length === 0 || encoded.length > 255) {
    throw new ConfigError("name", name, "a pool's name is a string of 1 to 255 bytes");
  }
  return encoded;
}

export class MemoryPoolManager {
  static #instance: MemoryPoolManager | undefined;
  readonly #pools = new Map<string, MemoryPool>();
  /** Finds Allocations garbage-collected while live; held here so it stays reachable (see tracker.ts). */
  readonly #leakWatch: LeakWatch = makeLeakWatch();
  #exitReportArmed = false;

  private constructor() {}

  /** (seed) The process's manager. */
  static getInstance(): MemoryPoolManager {
    return (MemoryPoolManager.#instance ??= new MemoryPoolManager());
  }

  /** (seed) A pool of host memory. Throws PoolExistsError if the name is taken, ConfigError for a bad config. */
  createCPUPool(name: string, config: PoolConfig = new PoolConfig()): CPUMemoryPool {
    const encoded = validName(name);
    // MEMORY_POOL_DEBUG turns debug switches on for every pool; pool.config shows what was used.
    const frozen = Object.freeze(withEnvironmentDebug(config.clone()));
    frozen.validate();
    if (this.#live(name) !== undefined) throw new PoolExistsError(`a pool named '${name}' already exists`);
    const handle = check(core.mp_pool_create(encoded, encoded.length, configRecord(PoolKind.cpu, frozen)));
    return this.#adopt(new CPUMemoryPool(name, frozen, handle, this.#leakWatch));
  }

  #adopt<P extends MemoryPool>(pool: P): P {
    this.#pools.set(pool.name, pool);
    if (pool.config.leakReport) this.#armExitReport();
    return pool;
  }

  /** With leakReport, what is still allocated when the process exits is reported, pool by pool. */
  #armExitReport(): void {
    if (this.#exitReportArmed) return;
    this.#exitReportArmed = true;
    process.on("exit", () => {
      for (const pool of this.#pools.values()) {
        if (pool.destroyed || !pool.config.leakReport) continue;
        try {
          pool.reportLeaks("process exit");
        } catch (err) {
          writeSync(2, `memory-pool: no leak report for pool '${pool.name}': ${String(err)}\n`);
        }
      }
    });
  }

  /** (seed) The pool with this name, created in this thread or in any other Worker. */
  getPool(name: string): MemoryPool {
    const known = this.#live(name);
    if (known !== undefined) return known;
    const encoded = validName(name);
    const handle = core.mp_pool_find(encoded, encoded.length);
    if (handle === Status.poolNotFound) throw new PoolNotFoundError(`no pool named '${name}'`);
    return this.#attach(name, check(handle));
  }

  /** Whether a pool of this name exists (in any thread). */
  hasPool(name: string): boolean {
    if (this.#live(name) !== undefined) return true;
    const encoded = validName(name);
    return core.mp_pool_find(encoded, encoded.length) >= 0;
  }

  /** Releases the pool's memory; its allocations and views die with it. */
  destroyPool(name: string): void {
    const pool = this.getPool(name);
    this.#pools.delete(name);
    pool.destroyNative();
  }

  /** Names and kinds of every pool in the process. */
  listPools(): PoolInfo[] {
    let handles = new Int32Array(64);
    let count = core.mp_pool_list(handles, handles.length);
    if (count > handles.length) {
      handles = new Int32Array(count);
      count = Math.min(count, core.mp_pool_list(handles, handles.length));
    }
    const nameBuffer = new Uint8Array(256);
    const infos: PoolInfo[] = [];
    for (const handle of handles.subarray(0, count)) {
      const len = core.mp_pool_name(handle, nameBuffer, nameBuffer.length);
      if (len < 0) continue; // destroyed by another Worker since the list was taken
      infos.push({ name: decodeName(nameBuffer.subarray(0, len)), kind: "cpu" });
    }
    return infos;
  }

  /** The pool that allocate()/deallocate() helpers use; made on first use. */
  get defaultCPUPool(): CPUMemoryPool {
    const known = this.#live(DEFAULT_CPU_POOL);
    if (known instanceof CPUMemoryPool) return known;
    if (this.hasPool(DEFAULT_CPU_POOL)) return this.getPool(DEFAULT_CPU_POOL) as CPUMemoryPool;
    return this.createCPUPool(DEFAULT_CPU_POOL, Object.assign(new PoolConfig(), { threadSafety: "mutex" } satisfies Partial<PoolConfig>));
  }

  #live(name: string): MemoryPool | undefined {
    const pool = this.#pools.get(name);
    if (pool === undefined || !pool.destroyed) return pool;
    this.#pools.delete(name);
    return undefined;
  }

  #attach(name: string, handle: number): MemoryPool {
    const record = new Float64Array(CONFIG_FIELDS.length);
    check(core.mp_pool_config(handle, record));
    return this.#adopt(new CPUMemoryPool(name, Object.freeze(configFromRecord(record)), handle, this.#leakWatch));
  }
}
