/**
 * Pools as TypeScript sees them: a handle into the core plus the address of the pool's arena.
 * NativePool holds what every kind shares (allocation ids, frees, statistics, reset, trim,
 * destruction); HostPool adds views (each over exactly its allocation, detached when it ends; the
 * pool's windows only where asked for by name), and the TypeScript half of the debug layer
 * (src/debug/), which a pool without debug switches never calls.
 */
import { ptr as addressOf, toArrayBuffer, type Pointer } from "bun:ffi";
import { addressOfAllocation, Allocation, idOfAllocation, isAllocation, MADE_BY_POOL, offsetOfAllocation, PoolAllocation, poolOfAllocation, provideHostViews, providePoolReads, providePoolRelease, sizeOfAllocation, type EndCount } from "./allocation";
import type { PoolConfig } from "./config";
import { History, type HistoryEvent } from "./debug/history";
import { describeAllocation, describeBoundaryViolation, describeWriteAfterFree, leakReport, stackSection, type LeakInfo } from "./debug/report";
import { DebugTracker, leakWatch } from "./debug/tracker";
import {
  BoundaryViolationError,
  describe,
  DoubleFreeError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  PoolNotFoundError,
  ThreadSafetyError,
  UnsupportedOperationError,
  UseAfterFreeError,
  type MemoryErrorDetails,
} from "./errors";
import { BlockCache, CACHE_CANNOT_TELL } from "./block_cache";
import { SizeBins } from "./size_bins";
import type { ThreadCache } from "./thread_cache";
import { allocationIdOf, errorFor, GRANULE_BYTES, lastError, lastId, OFFSET_ERROR_BASE, Status, STATS_FIELDS, statusOfOffset } from "./native";
import * as native from "./native";
import { bufferOf, byteLengthOf, pointerArg, sizeArg } from "./validate";
import { plainConfig, takeSnapshot, type AllocationDetailsProvider, type PoolSnapshot, type SnapshotOptions } from "./snapshot";
import { poolLine } from "./inspect";
import { showStatsBeforeDestroy } from "./show_stats";
import { writeReport } from "./stderr";
import { MemoryStats, type MemoryStatsJSON } from "./stats";
import { checkReceivers, foreignReceiver } from "./receiver";

/**
 * 1 / GRANULE_BYTES, exact (a power of two): an address becomes a granule offset with a multiply,
 * where a division by the imported binding costs a divide's latency on every deallocate.
 */
const PER_GRANULE = 1 / GRANULE_BYTES;
const WINDOW_SHIFT = 27; // granules per window: 2^27 x 16 B = 2 GiB
const WINDOW_GRANULES = 2 ** WINDOW_SHIFT;
const WINDOW_GRANULE_MASK = WINDOW_GRANULES - 1;
const WINDOW_BYTES = 2 ** 31;
/** The least a window spans (see HostPool.#window): below a few MiB, JSC's heap accounting does not notice it. */
const WINDOW_MIN_BYTES = 2 ** 20;
/** Windows overlap by half, so any block up to 2 GiB lies inside the window its start falls in. */
const WINDOW_SPAN_BYTES = 2 ** 32;
/** The largest block a JavaScript view (`.bytes`, `.as()`, the helpers' arrays) can span. */
export const LARGEST_VIEW_BYTES = 2 ** 32;

export type PoolKind = "cpu" | "gpu" | "pinned" | "pmem";
export type Freeable = Allocation | number | ArrayBufferView;

/** What pool.toJSON() gives: for tools, logs and dashboards. */
export interface PoolJSON {
  name: string;
  kind: PoolKind;
  config: Record<string, unknown>;
  /** Absent once the pool is destroyed, and where it is another thread's threadSafety "none" pool. */
  stats?: MemoryStatsJSON;
  destroyed?: true;
  /** A threadSafety "none" pool of another thread: only its owner may read its statistics. */
  ownedByAnotherThread?: true;
}

/**
 * @internal The core's calls a pool makes about its blocks. Every pool in the core's one table
 * (CPU, pinned, GPU, PMEM) makes them through mp_*; a kind of pool may answer some differently
 * (gpu_debug.ts), so the handles, views and checks below serve all of them. The debug calls are optional: a kind of
 * pool without them has no canaries to check, and its live allocations are known from records.
 */
export interface PoolCalls {
  base(handle: number): number;
  addressSpace(handle: number): number;
  alloc(handle: number, size: number): number;
  free(handle: number, offset: number, id: number): number;
  /** The size asked for by the live allocation at `offset`, -1 where none starts there, or a status below -1. */
  liveSize(handle: number, offset: number): number;
  /** The id of the allocation at `offset`, 0 where it is free, or OFFSET_ERROR_BASE + a status's magnitude. */
  liveId(handle: number, offset: number): number;
  stats(handle: number, out: Float64Array): number;
  resetPeaks(handle: number): number;
  reset(handle: number): number;
  trim(handle: number): number;
  destroy(handle: number): number;
  /** Canaries and quarantine: 0, or the status of the first damage (details from mp_violation). */
  check?(handle: number): number;
  /** The offsets of live allocations: how many there are, as many as fit written to `out`. */
  liveList?(handle: number, out: Uint32Array, capacity: number): number;
  /** This thread's JavaScript cache of the pool's free blocks, or null where the pool has none (src/block_cache.ts). */
  openCache?(handle: number, maxBytes: number, poolName: string, exclusive: boolean): ThreadCache | null;
  /** zig/src/snapshot.zig: header, regions, their capacity, blocks, their capacity, statistics. */
  snapshot(handle: number, header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array): number;
}

const coreCalls: PoolCalls = {
  base: native.poolBase,
  addressSpace: native.poolAddressSpace,
  alloc: native.alloc,
  free: native.free,
  liveSize: native.liveSize,
  liveId: native.liveId,
  stats: native.poolStats,
  resetPeaks: native.resetPoolPeaks,
  reset: native.resetPool,
  trim: native.trimPool,
  destroy: native.destroyPool,
  check: native.checkPool,
  liveList: native.listLiveOffsets,
  snapshot: native.poolSnapshot,
  openCache: BlockCache.open,
};

/** This thread's live pools: a pointer freed into the wrong pool is named with the pool it belongs to. */
const livePools = new Set<NativePool>();

/** Told of every pool this thread destroys, by whatever route (the manager forgets it then). */
let destroyedListener: ((pool: NativePool) => void) | undefined;

/** @internal the manager's: called with each pool as this thread destroys it. */
export function onPoolDestroyed(listener: (pool: NativePool) => void): void {
  destroyedListener = listener;
}

/**
 * Whether a pool object may be made now: only inside constructPool. A pool object made from
 * JavaScript over another pool's handle (`new CPUMemoryPool(name, config, handle)`) would hold
 * its core pool without its manager knowing, and could destroy it under its owner.
 */
let poolConstructionOpen = false;

/**
 * @internal makes a pool object (the manager's one way to): `make` runs its constructor. The object
 * is frozen once made: its handles and views call its methods (holds, ended, release...), and an
 * own property could shadow one (Object.defineProperty(pool, "holds", { value: () => true })
 * made a stale handle's `bytes` view the block's next allocation). Its state is in private fields,
 * which freezing leaves as they are (test/attack/frozen-objects.test.ts).
 */
export function constructPool<T extends NativePool>(make: () => T): T {
  poolConstructionOpen = true;
  try {
    return Object.freeze(make());
  } finally {
    poolConstructionOpen = false;
  }
}

/** Whether a value is a pool the manager made (of any kind): its private fields are the proof (src/receiver.ts). */
let isNativePool: (value: unknown) => boolean;
let isHostPool: (value: unknown) => boolean;

/*
 * The calls on a pool that only the library's own classes make (GPU and PMEM pools): module
 * functions over its private methods, not members, so that no caller can reach them from a pool
 * (a block taken for no handle, an id the cache then gives again). See allocation.ts's own.
 */
/** A block's granule offset (its id in lastTaggedId), from this thread's cache or the core; throws the typed error. */
export let allocOffsetIn: (pool: NativePool, size: number) => number;
/** A core allocation that is not allocOffsetIn's (an offset, or a negative status), tried once more after this thread's cached blocks go back where it runs out of memory. */
export let allocInCore: (pool: NativePool, allocate: () => number) => number;
/** After the core made an allocation (mp_alloc and its kin): the pool takes its id, as lastTaggedId. */
export let tookCoreId: (pool: NativePool) => void;
/** A raw pointer's allocation from this thread's block cache, or 0 (HostPool's allocateRaw, in this file only). */
let cachedAddressIn: (pool: NativePool, size: number) => number;
/**
 * The pool's size bins where raw pointers take them (a Variable pool's, with no debug records),
 * else null: HostPool's and GPUMemoryPool's allocateRaw and deallocate call their hit from their
 * own bodies (SizeBins.allocAddress, freeAddress), one level shallower than through a function
 * of this file, so that all of the hit lies within the five levels JSC inlines from a caller's loop.
 */
export let rawBinsIn: (pool: NativePool) => SizeBins | null;
/** Throws the typed error for a failure `status` of the pool's bins (a raw allocation's). */
export let binsFailedIn: (pool: NativePool, bins: SizeBins, status: number) => never;
/**
 * A raw pointer's free (HostPool's deallocate, GPUMemoryPool's): the granule offset of the block
 * where this thread's block cache freed it, the kind's `ended` step still to run (HostPool runs its
 * own, with no call between); -1 where the free went the slow way, which ran every step.
 */
export let releaseAddressIn: (pool: NativePool, address: number) => number;
/** PoolAllocation's free(): frees allocation `id` at granule `offset` (see NativePool's #release). */
export let releaseIn: (pool: NativePool, offset: number, id: number) => MemoryPoolError | undefined;
/** The allocation at granule `offset` ended by a route the pool did not see (a PMEM root's freePrevious): the kind's `ended` step. */
export let endedIn: (pool: NativePool, offset: number) => void;
/** Destroys the pool (the manager's destroyPool and dispose, pool.destroy(), a PMEM pool's close()). */
export let destroyPoolObject: (pool: NativePool) => void;
/** Writes the leak report to stderr where anything is still allocated; returns it. */
export let reportLeaksOf: (pool: NativePool, when: string) => string | undefined;
/** What destroy() would find and throw (canaries, quarantine), checked now: for the exit report, where no destroy comes. */
export let damageIn: (pool: NativePool) => MemoryPoolError | undefined;

/*
 * What the library's own files read of a pool, and the checks they ask of it: module functions
 * over its private fields and methods, as the calls above. Members they were (`pool.handle`,
 * `pool.base`, `pool.holds(offset, id)`...), reachable from JavaScript, though the API names none.
 */
/** The core's handle. */
export let handleOf: (pool: NativePool) => number;
/** The address of the arena's first byte (a device address for GPU pools). */
export let baseOf: (pool: NativePool) => number;
/** The bytes of address space the arena spans. */
export let addressSpaceOf: (pool: NativePool) => number;
/** Incremented by reset(): allocations from an older epoch are dead. */
export let epochOf: (pool: NativePool) => number;
/** Whether this thread destroyed the pool (another Worker may have: see poolExists). */
export let destroyedHere: (pool: NativePool) => boolean;
/** The id of the allocation allocOffsetIn made last; its top bit set where it has guard pages. */
export let lastTaggedIdOf: (pool: NativePool) => number;
/** The TypeScript half of the debug layer, where a switch that acts here is on (host pools). */
export let debugOf: (pool: NativePool) => DebugTracker | undefined;
/** Whether the debug layer keeps a record of every allocation (history, leaks, safeViews' reports): it hears of each allocate and free. */
export let tracksAllocations: (pool: NativePool) => boolean;
/** A host pool's constructor, once: its debug layer (DebugTracker). */
let trackWith: (pool: NativePool, debug: DebugTracker) => void;
/** The pool's history ring (made on first use). */
let eventsOf: (pool: NativePool) => History;
/** The address of granule `offset`. */
export let addressIn: (pool: NativePool, offset: number) => Pointer;
/** The granule offset of an address this pool gave out; InvalidPointerError otherwise. */
export let offsetIn: (pool: NativePool, address: number) => number;
/** The id of the allocation at `offset`, 0 where the block is free; a refused call throws its typed error. */
export let liveIdIn: (pool: NativePool, offset: number) => number;
/** The size and id of the live block at `address`; InvalidPointerError where none starts there. */
export let liveBlockIn: (pool: NativePool, address: number) => { offset: number; size: number; id: number };
/** Whether the block at `offset` still holds allocation `id` (it may have been freed by pointer). */
export let holdsIn: (pool: NativePool, offset: number, id: number) => boolean;
/** As holdsIn, but false where another Worker destroyed the pool (for `alive` and the leak watch). */
export let stillHoldsIn: (pool: NativePool, offset: number, id: number) => boolean;
/** Whether the pool still exists (another Worker may have destroyed it; destroyedHere says only this thread did). */
export let poolExists: (pool: NativePool) => boolean;
/** The typed error for a failed status (PoolNotFoundError once destroyed). */
export let failureIn: (pool: NativePool, status: number) => MemoryPoolError;
/** Throws for a negative status, returns others. */
export let expectOkIn: (pool: NativePool, status: number) => number;
/** Throws InvalidPointerError where `allocation` is a live pool's other than this one. */
export let assertOwnAllocationIn: (pool: NativePool, allocation: PoolAllocation) => void;
/** A note for error messages: where allocation `id` at granule `offset` was made and freed (trackHistory). */
export let stackNoteIn: (pool: NativePool, id: number, offset: number) => string;
/** The statistics, or why there are none (for tables of every pool in the process). */
export let readableStatsOf: (pool: NativePool) => MemoryStats | "destroyed" | "ownedByAnotherThread";

/**
 * What a kind of pool does beyond NativePool's own steps, as functions of the pool: its class's
 * private methods, handed to NativePool's constructor. Members they were: `pool.ended(offset)`
 * called from JavaScript detached a live allocation's views and made its handles fail, and
 * `pool.destroyNative()` destroyed a pool behind its manager's back.
 */
export interface PoolSteps<P extends NativePool = NativePool> {
  /** The allocation at granule `offset` has ended (its block is free): host pools detach this thread's views of it. */
  ended(pool: P, offset: number): void;
  /** Every allocation ended at once (reset, destroy); `destroyed`: the memory is gone too. */
  endedAll(pool: P, destroyed: boolean): void;
  /** A handle's free of allocation `id` at `offset`, where the kind frees otherwise; undefined: NativePool's. */
  release: ((pool: P, offset: number, id: number) => MemoryPoolError | undefined) | undefined;
  /** Before every allocation ends at once (reset, destroy): the damage to throw once they have (canaries a kind checks itself), or undefined. */
  beforeAllEnd(pool: P): MemoryPoolError | undefined;
  /** After the core destroyed the pool. */
  afterDestroy(pool: P): void;
  /** Whether allocation `id` at `offset`, whose handle was just garbage-collected, is lost with it (the leak watch reports it). */
  lostWithHandle(pool: P, offset: number, id: number): boolean;
  /** What a leak report lists (a PMEM pool's published allocations are its data, not leaks). */
  leaked(pool: P): LeakInfo[];
}

/** A kind of pool with no steps of its own: views, canaries and leaks as NativePool has them. */
export const NATIVE_STEPS: PoolSteps = {
  ended: () => {},
  endedAll: () => {},
  release: undefined,
  beforeAllEnd: () => undefined,
  afterDestroy: () => {},
  lostWithHandle: (pool, offset, id) => stillHoldsIn(pool, offset, id),
  leaked: (pool) => pool.getLeaks(),
};

/** The refusal of a pool's member called on anything but a pool (src/receiver.ts). */
export const foreignPool = foreignReceiver("a pool that MemoryPoolManager made");

export abstract class NativePool {
  abstract readonly kind: PoolKind;
  // The state the pool changes after it is made lives in private fields: a program that freezes
  // its objects (a deep freeze of state holding a pool) must not stop the pool from changing it,
  // nor can code outside set it (a pool whose `destroyed` was set back to false).
  #epoch = 0;
  #destroyed = false;
  #lastTaggedId = 0;
  // What the pool is, fixed when it is made, in private fields: views, copies and the core are
  // given addresses from `base` and sizes from `config`, so they must not be settable from outside.
  readonly #name: string;
  readonly #config: Readonly<PoolConfig>;
  readonly #handle: number;
  readonly #base: number;
  readonly #addressSpace: number;
  /** Granules the arena spans: every offset this pool gives out is below it. */
  readonly #granules: number;
  /** The TypeScript half of the debug layer, where a switch that acts here is on (host pools). */
  #debug: DebugTracker | undefined = undefined;
  /** The tracker keeps a record of every allocation (history, leaks, safeViews' reports): it hears of each allocate and free. */
  #tracking = false;
  readonly #statsRecord = new Float64Array(STATS_FIELDS.length);
  readonly #calls: PoolCalls;
  /** Recent events: every one with trackHistory, violations and leaks always (made on first use). */
  #history: History | undefined;
  /** This thread's cache of free blocks: undefined until the first allocation asks, null where the pool has none. */
  #cache: ThreadCache | null | undefined = undefined;
  /**
   * The cache again where it is a block stack (a FixedSize pool's) and no debug record is kept: raw
   * pointers' allocations and frees take it by address (cachedAddress, releaseAddressIn), with no
   * granule offset, no id and no tracking between. Null until the cache opens, and after destroy.
   */
  #blockCache: BlockCache | null = null;
  /** The cache again where it is a Variable pool's size bins and no debug record is kept: raw pointers and window views take them by address, from the bodies of allocateRaw, deallocate and allocateWindowBytes (rawBinsIn). */
  #sizeBins: SizeBins | null = null;
  /** Whether #blockCache is a pool's only this thread may use (threadSafety "none"): its allocations are another method of the cache (see BlockCache.allocAddress). */
  #exclusiveBlocks = false;
  /** The message of a failure found by the cache (the core's last message is not about it). */
  #cacheMessage: string | undefined = undefined;
  /** What this kind of pool does beyond NativePool's steps (PoolSteps). */
  readonly #steps: PoolSteps;

  static {
    isNativePool = (value) => typeof value === "object" && value !== null && #handle in value;
    // The hit is kept small so that JSC inlines it into callers (HostPool.allocate); everything else
    // is #allocOffsetSlow. The body is here, not in a private method this calls: one call level
    // more cost allocate+free 3 ns (bench/RESULTS.md, session 5: internals).
    allocOffsetIn = (pool, size) => {
      const cache = pool.#cache;
      if (cache != null && typeof size === "number" && size >>> 0 === size && size !== 0 && size <= cache.maxBytes) {
        const offset = cache.alloc(size);
        if (offset >= 0) {
          pool.#lastTaggedId = cache.lastId;
          return offset;
        }
        return pool.#cacheFailed(cache, offset);
      }
      return pool.#allocOffsetSlow(size);
    };
    allocInCore = (pool, allocate) => pool.#allocInCore(allocate);
    tookCoreId = (pool) => pool.#tookCoreId();
    cachedAddressIn = (pool, size) => pool.#cachedAddress(size);
    rawBinsIn = (pool) => pool.#sizeBins;
    binsFailedIn = (pool, bins, status) => pool.#cacheFailed(bins, status);
    // The hit in the body, as allocOffsetIn's: HostPool's deallocate runs its `ended` with no call between.
    releaseAddressIn = (pool, address) => {
      const cache = pool.#blockCache;
      if (cache !== null && cache.freeAddress(address) === 0) return (address - pool.#base) * PER_GRANULE;
      pool.#releaseAddressSlow(address);
      return -1;
    };
    releaseIn = (pool, offset, id) => {
      const release = pool.#steps.release;
      return release === undefined ? pool.#release(offset, id) : release(pool, offset, id);
    };
    endedIn = (pool, offset) => pool.#steps.ended(pool, offset);
    destroyPoolObject = (pool) => pool.#destroy();
    reportLeaksOf = (pool, when) => pool.#reportLeaks(when);
    damageIn = (pool) => pool.#damageBeforeAllEnd();
    handleOf = (pool) => pool.#handle;
    baseOf = (pool) => pool.#base;
    addressSpaceOf = (pool) => pool.#addressSpace;
    epochOf = (pool) => pool.#epoch;
    destroyedHere = (pool) => pool.#destroyed;
    lastTaggedIdOf = (pool) => pool.#lastTaggedId;
    debugOf = (pool) => pool.#debug;
    tracksAllocations = (pool) => pool.#tracking;
    trackWith = (pool, debug) => {
      pool.#debug = debug;
      pool.#tracking = debug.keepsRecords;
    };
    eventsOf = (pool) => pool.#events();
    addressIn = (pool, offset) => pool.#addressOf(offset);
    offsetIn = (pool, address) => pool.#offsetOf(address);
    liveIdIn = (pool, offset) => pool.#liveIdAt(offset);
    liveBlockIn = (pool, address) => pool.#liveBlock(address);
    holdsIn = (pool, offset, id) => pool.#holds(offset, id);
    stillHoldsIn = (pool, offset, id) => pool.#stillHolds(offset, id);
    poolExists = (pool) => pool.#exists();
    failureIn = (pool, status) => pool.#failure(status);
    expectOkIn = (pool, status) => pool.#expectOk(status);
    assertOwnAllocationIn = (pool, allocation) => pool.#assertOwnAllocation(allocation);
    stackNoteIn = (pool, id, offset) => pool.#stackNote(id, offset);
    readableStatsOf = (pool) => pool.#readableStats();
    providePoolRelease(releaseIn);
    providePoolReads({ epoch: epochOf, destroyed: destroyedHere, holds: holdsIn, stillHolds: stillHoldsIn, stackNote: stackNoteIn });
  }

  /** @internal pools are made by MemoryPoolManager */
  constructor(name: string, config: Readonly<PoolConfig>, handle: number, calls: PoolCalls = coreCalls, steps: PoolSteps | ((config: Readonly<PoolConfig>) => PoolSteps) = NATIVE_STEPS) {
    if (!poolConstructionOpen) throw new UnsupportedOperationError(`${new.target.name} has no public constructor: MemoryPoolManager's create and open methods make pools`);
    this.#name = name;
    this.#config = config;
    this.#handle = handle;
    this.#calls = calls;
    // Chosen by the config only once the pool may be made: a forged call's config is never read.
    this.#steps = typeof steps === "function" ? steps(config) : steps;
    this.#base = calls.base(handle);
    this.#addressSpace = calls.addressSpace(handle);
    this.#granules = this.#addressSpace * PER_GRANULE;
    livePools.add(this);
  }

  /** The pool's name. */
  get name(): string {
    return this.#name;
  }

  /** The configuration it was made with (frozen). */
  get config(): Readonly<PoolConfig> {
    return this.#config;
  }

  /** After the core made an allocation (mp_alloc and its kin): takes its id, as lastTaggedId. */
  #tookCoreId(): void {
    this.#lastTaggedId = lastId();
  }

  /** The pool's history ring. */
  #events(): History {
    return (this.#history ??= new History(this.#config.historySize));
  }

  #cacheFailed(cache: ThreadCache, status: number): never {
    if (cache.message !== "") this.#cacheMessage = cache.message;
    throw this.#failure(status);
  }

  /** allocOffset where the cache is not open yet, or does not serve the request. */
  #allocOffsetSlow(size: number): number {
    const cache = this.#cache === undefined ? this.#openCache() : this.#cache;
    if (cache !== null && typeof size === "number" && size >>> 0 === size && size !== 0 && size <= cache.maxBytes) return allocOffsetIn(this, size);
    // A run of blocks is gathered from the pool's free stack: this thread's cached blocks go back first.
    if (cache !== null && cache.holdsBlocks) cache.flush();
    this.#publish();
    const offset = this.#calls.alloc(this.#handle, sizeArg(size));
    if (offset >= OFFSET_ERROR_BASE) throw this.#failure(statusOfOffset(offset));
    this.#tookCoreId();
    return offset;
  }

  #openCache(): ThreadCache | null {
    const open = this.#calls.openCache;
    // A "none" pool is this thread's alone (the core refuses every other): its cache frees with plain
    // stores. A Variable pool's bins (src/size_bins.ts) are for "none" pools only.
    const config = this.#config;
    if (open === undefined || this.#destroyed) this.#cache = null;
    else if (config.allocatorType === "FixedSize") this.#cache = open(this.#handle, config.blockSize, this.#name, config.threadSafety === "none");
    else this.#cache = config.threadSafety === "none" ? SizeBins.open(this.#handle, this.#name) : null;
    this.#blockCache = this.#cache instanceof BlockCache && !this.#tracking ? this.#cache : null;
    this.#sizeBins = this.#cache instanceof SizeBins && !this.#tracking ? this.#cache : null;
    this.#exclusiveBlocks = config.threadSafety === "none";
    return this.#cache;
  }

  /**
   * A raw pointer's allocation of `size` bytes from this thread's block cache: its
   * address, or 0 where the cache is not open (yet) or does not serve the request (the caller
   * takes allocOffset). Throws where the cache fails. Sets no lastTaggedId.
   */
  #cachedAddress(size: number): number {
    const cache = this.#blockCache;
    if (cache === null || typeof size !== "number" || !(size >>> 0 === size && size !== 0 && size <= cache.maxBytes)) return 0;
    const address = this.#exclusiveBlocks ? cache.allocAddress(size) : cache.allocSharedAddress(size);
    return address > 0 ? address : this.#cacheFailed(cache, address);
  }

  /** Frees the block at `offset` (by allocation `id` where not 0): in this thread's cache where it serves the block, else in the core. */
  #free(offset: number, id: number): number {
    const cache = this.#cache === undefined ? this.#openCache() : this.#cache;
    if (cache !== null) {
      const status = cache.free(offset, id);
      if (status < 0) this.#cacheMessage = cache.message;
      if (status !== 1) return status;
      this.#publish();
    }
    return this.#calls.free(this.#handle, offset, id);
  }

  /** What this thread's cache keeps in JavaScript alone goes into the core's memory, for a core call that reads it next. */
  #publish(): void {
    this.#cache?.publish?.();
  }

  /** Gives this thread's cached blocks back to the pool (trim, reset, snapshot). */
  #flushCache(): void {
    this.#cache?.flush();
  }

  /**
   * A core allocation that is not allocOffset's (`allocate`: an offset, or a negative
   * status): where it fails for lack of memory while this thread's cache holds free blocks, they go
   * back to the pool and it runs once more, as a miss of the cache does (src/size_bins.ts).
   */
  #allocInCore(allocate: () => number): number {
    this.#publish();
    const offset = allocate();
    const cache = this.#cache;
    if (offset !== Status.outOfMemory || cache == null || !cache.holdsBlocks) return offset;
    cache.flush();
    return allocate();
  }

  /** The address of granule `offset`. */
  #addressOf(offset: number): Pointer {
    return (this.#base + offset * GRANULE_BYTES) as Pointer;
  }

  /** The granule offset of an address this pool gave out; InvalidPointerError otherwise. */
  #offsetOf(address: number): number {
    // Addresses are doubles above 2^32: multiplying by 1/16 is exact, and `% 16` on a double would be a call to fmod.
    const offset = (address - this.#base) * PER_GRANULE;
    if (offset >>> 0 === offset && offset < this.#granules) return offset;
    const delta = address - this.#base;
    throw this.#strangePointer(address, delta >= 0 && delta < this.#addressSpace);
  }

  /**
   * PoolAllocation.free()'s (releaseIn): frees allocation `id` at granule `offset` only if
   * the block still holds it. The caller passes its handle's private fields, never its `offset` and
   * `id` getters: an own property can shadow those (Object.defineProperty), and a handle claiming
   * another allocation's offset and id freed that one, leaking its own block.
   * Throws where nothing was freed; returns the error to throw after marking the handle dead
   * where the free went through but found damage (BoundaryViolationError, UseAfterFreeError).
   */
  #release(offset: number, id: number): MemoryPoolError | undefined {
    const status = this.#free(offset, id);
    if (status >= 0) {
      this.#steps.ended(this, offset);
      if (this.#tracking || status === Status.freedGuarded) this.#debug!.freed(offset);
      return undefined;
    }
    // A block this pool gave the handle is missing only once the allocation ended (by its pointer
    // or a view) and trim() gave its region back: a double free, not a pointer it never gave out.
    if (status === Status.invalidPointer) {
      throw new DoubleFreeError(`double free: allocation #${id} at 0x${this.#addressOf(offset).toString(16)} (pool '${this.#name}') was already freed, through its pointer or a view, and trim() has given its memory back since`);
    }
    return this.#afterFailedFree(status, offset);
  }

  /**
   * A raw pointer's free where this thread's block cache did not take it (releaseAddressIn has the
   * hit: kept apart so that the hit stays small enough for JSC to inline into deallocate, and its
   * calls within the five levels JSC inlines from a caller's loop: bench/RESULTS.md).
   */
  #releaseAddressSlow(address: number): void {
    const offset = this.#offsetOf(address);
    const status = this.#free(offset, 0);
    if (status === 0 && !this.#tracking) return this.#steps.ended(this, offset);
    this.#afterFree(status, address, offset);
  }

  #afterFree(status: number, address: number, offset: number): void {
    if (status >= 0) {
      this.#steps.ended(this, offset);
      if (this.#tracking || status === Status.freedGuarded) this.#debug!.freed(offset);
      return;
    }
    if (status === Status.doubleFree || status === Status.invalidPointer) throw this.#badFree(status, address, offset);
    throw this.#afterFailedFree(status, offset);
  }

  #afterFailedFree(status: number, offset: number): MemoryPoolError {
    if (status !== Status.boundaryViolation && status !== Status.useAfterFree) throw this.#failure(status);
    const damage = this.#violation(status); // read before any other call to the core
    this.#steps.ended(this, offset);
    this.#debug?.freed(offset);
    return damage;
  }

  /**
   * The id of the allocation at `offset`, 0 where the block is free. A call the core
   * refuses throws its typed error (PoolNotFoundError where another Worker destroyed the pool,
   * ThreadSafetyError on another thread's "none" pool): it must not read as a freed block.
   */
  #liveIdAt(offset: number): number {
    const id = this.#calls.liveId(this.#handle, offset);
    if (id >= OFFSET_ERROR_BASE) throw this.#failure(statusOfOffset(id));
    return id;
  }

  /** Whether the pool still exists (another Worker may have destroyed it; this object's `destroyed` says only this thread did). */
  #exists(): boolean {
    return !this.#destroyed && this.#calls.addressSpace(this.#handle) >= 0;
  }

  /** Whether the block at `offset` still holds allocation `id` (it may have been freed by pointer). */
  #holds(offset: number, id: number): boolean {
    const cache = this.#cache;
    if (cache != null && cache.open) {
      // Another Worker may destroy the pool after the check above: then the core says so (PoolNotFoundError).
      const live = cache.liveId(offset);
      if (live !== CACHE_CANNOT_TELL) return live === id;
    }
    return this.#liveIdAt(offset) === id; // once the cache is closed, the core says why
  }

  /** As holds(), but false where another Worker destroyed the pool (for `alive` and the leak watch). */
  #stillHolds(offset: number, id: number): boolean {
    try {
      return this.#holds(offset, id);
    } catch (err) {
      if (err instanceof PoolNotFoundError) return false;
      throw err;
    }
  }

  /**
   * The size asked for by the live allocation at `offset` (its id is then
   * mp_last_id()), -1 where none starts there; a refused call throws, as liveIdAt.
   */
  #liveSizeAt(offset: number): number {
    const size = this.#calls.liveSize(this.#handle, offset);
    if (size < -1) throw this.#failure(size); // -1 is "no live block" (OutOfMemory, also -1, cannot happen here)
    return size;
  }

  /** The size and id of the live block at `address`; InvalidPointerError where none starts there. */
  #liveBlock(address: number): { offset: number; size: number; id: number } {
    const delta = address - this.#base;
    const offset = delta / GRANULE_BYTES;
    if (!(delta >= 0 && delta < this.#addressSpace)) throw this.#strangePointer(address, false); // names the pool it lies in, if any
    const size = Number.isInteger(offset) ? this.#liveSizeAt(offset) : -1;
    if (size < 0) throw new InvalidPointerError(`0x${address.toString(16)} is not the start of a live allocation of pool '${this.#name}'`);
    return { offset, size, id: lastId() };
  }

  /** The typed error for a failed status (PoolNotFoundError once destroyed). */
  #failure(status: number): MemoryPoolError {
    if (this.#destroyed) return new PoolNotFoundError(`pool '${this.#name}' was destroyed`);
    if (status === Status.boundaryViolation || status === Status.useAfterFree) return this.#violation(status);
    const message = this.#cacheMessage ?? lastError();
    this.#cacheMessage = undefined;
    return errorFor(status, message);
  }

  /** Throws for a negative status, returns others. */
  #expectOk(status: number): number {
    if (status < 0) throw this.#failure(status);
    return status;
  }

  // ---- what the debug layer knows, for error messages ----

  /** The error for the damage the core just reported (its details are the thread's last violation). */
  #violation(status: number): MemoryPoolError {
    const { id, size, offset, damagedBytes, userGranule } = native.lastViolation();
    const ptr = this.#base + userGranule * GRANULE_BYTES;
    const stacks = this.#debug?.stacksOf(id, userGranule) ?? { allocated: undefined, freed: undefined };
    const what = describeAllocation(id, size, ptr, this.#name);
    const details: MemoryErrorDetails = { allocationId: id, ptr, size, offset, damagedBytes, allocationStack: stacks.allocated };
    const error =
      status === Status.useAfterFree
        ? new UseAfterFreeError(describeWriteAfterFree(what, offset, damagedBytes, stacks, this.#config.trackHistory), { ...details, freeStack: stacks.freed })
        : new BoundaryViolationError(describeBoundaryViolation(what, size, offset, damagedBytes, stacks.allocated, this.#config.trackHistory), this.#name, details);
    this.#events().record("violation", id, ptr, size, undefined, error.message.split("\n")[0]);
    return error;
  }

  /**
   * Throws InvalidPointerError where `allocation` is a live pool's other than this one
   * (every kind of pool says it the same way). A handle of a destroyed pool passes: its own calls
   * say UseAfterFreeError (another pool of the same name may have taken its place: not "of 'p', not 'p'").
   */
  #assertOwnAllocation(allocation: PoolAllocation): void {
    const owner = poolOfAllocation(allocation); // not its `pool` getter, which an own property can shadow
    if (owner === this || owner.#destroyed) return;
    const id = idOfAllocation(allocation);
    const what = describeAllocation(id, sizeOfAllocation(allocation), addressOfAllocation(allocation), owner.name);
    throw new InvalidPointerError(`${what} belongs to pool '${owner.name}', not '${this.name}'${owner.#stackNote(id, offsetOfAllocation(allocation))}`);
  }

  /** A note for error messages: where allocation `id` at granule `offset` was made and freed (trackHistory). */
  #stackNote(id: number, offset: number): string {
    if (this.#debug === undefined || !this.#config.trackHistory) return "";
    const stacks = this.#debug.stacksOf(id, offset);
    return stackSection("allocated at", stacks.allocated) + (stacks.freed === undefined ? "" : stackSection("freed at", stacks.freed));
  }

  /** A pointer that cannot name a block of this pool: off a granule, or outside the pool (maybe in another). */
  #strangePointer(address: number, inside: boolean): InvalidPointerError {
    // A number no pointer is (fractional, negative, past 2^53, NaN): said as fromPointer says it, not in hex ("0x-7f...", "0x7f...0.8").
    if (!(Number.isSafeInteger(address) && address >= 0)) return new InvalidPointerError(`pool '${this.#name}' takes a pointer, a whole number from 0 (a bun:ffi Pointer), not ${describe(address)}`);
    const pointer = `0x${address.toString(16)}`;
    if (inside) return new InvalidPointerError(`pool '${this.#name}' never gave out the pointer ${pointer}: no block starts there${this.#describePointer(address)}`);
    for (const other of livePools) {
      if (other !== this && other.#owns(address)) {
        return new InvalidPointerError(`pool '${this.#name}' never gave out the pointer ${pointer}: it belongs to pool '${other.name}'${other.#describePointer(address)}`);
      }
    }
    return new InvalidPointerError(`pool '${this.#name}' never gave out the pointer ${pointer}: it lies outside the pool, in memory no pool of this thread gave out`);
  }

  #owns(address: number): boolean {
    return !this.#destroyed && address >= this.#base && address < this.#base + this.#addressSpace;
  }

  /** The core refused a free by pointer: says which allocation it was, where the debug records know. */
  #badFree(status: number, address: number, offset: number): MemoryPoolError {
    const error = this.#failure(status);
    if (this.#debug === undefined) return error;
    if (status === Status.doubleFree) {
      const freed = this.#debug.freedAt(offset);
      if (freed === undefined) return error;
      const note = `\nthe pointer was ${describeAllocation(freed.id, freed.size, freed.ptr, this.#name)}${stackSection("allocated at", freed.stacks.allocated)}${stackSection("freed at", freed.stacks.freed)}`;
      return new DoubleFreeError(error.message + note);
    }
    return new InvalidPointerError(error.message + this.#describePointer(address));
  }

  /** What the debug records know of `address`: the live allocation it lies in, and its stack. */
  #describePointer(address: number): string {
    const holder = this.#debug?.containing(address);
    if (holder === undefined) return "";
    const into = address - holder.ptr;
    const where = into === 0 ? "it is the start of" : `it lies ${into} bytes into`;
    return `\n${where} ${describeAllocation(holder.id, holder.size, holder.ptr, this.#name)}${stackSection("allocated at", holder.stack)}`;
  }

  // ---- the pool as a whole ----

  /** The pool's figures now. */
  getStats(): MemoryStats {
    this.#publish();
    this.#expectOk(this.#calls.stats(this.#handle, this.#statsRecord));
    return new MemoryStats(this.#name, this.#statsRecord.slice());
  }

  /** Peaks (bytes in use, live allocations, bytes reserved) start again from the figures now: to measure one phase of a program. */
  resetPeaks(): void {
    this.#publish();
    this.#expectOk(this.#calls.resetPeaks(this.#handle));
  }

  /**
   * Checks every live allocation's canaries and every quarantined block's poison. Throws a
   * BoundaryViolationError (or, for a write into freed memory, a UseAfterFreeError) for the
   * first damage found. A pool without canaries or quarantine has nothing to check.
   */
  check(): void {
    if (this.#calls.check === undefined) return;
    this.#expectOk(this.#calls.check(this.#handle));
  }

  /** Live allocations: id, address, size, age and stack (age and stack where a debug switch kept them). */
  getLeaks(): LeakInfo[] {
    const time = performance.timeOrigin + performance.now();
    const leaks: LeakInfo[] = [];
    for (const offset of this.#liveOffsets()) {
      const size = this.#liveSizeAt(offset);
      if (size < 0) continue;
      const id = lastId();
      const record = this.#debug?.record(offset);
      const known = record !== undefined && record.id === id ? record : undefined;
      leaks.push({
        id,
        ptr: this.#base + offset * GRANULE_BYTES,
        size,
        age: known === undefined ? undefined : time - known.time,
        stack: known === undefined ? undefined : this.#debug!.stacksOf(id, offset).allocated,
        collected: known?.collected ?? false,
      });
    }
    return leaks.sort((a, b) => a.id - b.id);
  }

  /** The offsets of live allocations: from the core where it lists them, else from the debug records. */
  #liveOffsets(): Iterable<number> {
    const list = this.#calls.liveList;
    if (list === undefined) return this.#debug?.recordedOffsets() ?? [];
    let offsets = new Uint32Array(256);
    let count = this.#expectOk(list(this.#handle, offsets, offsets.length));
    if (count > offsets.length) {
      offsets = new Uint32Array(count);
      count = Math.min(count, this.#expectOk(list(this.#handle, offsets, offsets.length)));
    }
    return offsets.subarray(0, count);
  }

  /** Recent events, oldest first: allocations and frees with trackHistory, violations and leaks always. */
  getHistory(): HistoryEvent[] {
    return this.#history?.events() ?? [];
  }

  /** Writes the leak report to stderr where anything is still allocated; returns it (reportLeaksOf). */
  #reportLeaks(when: string): string | undefined {
    const report = leakReport(this.#name, when, this.#steps.leaked(this), this.#config.trackHistory);
    if (report !== undefined) writeReport(report);
    return report;
  }

  /**
   * The pool's regions and blocks (offset, size, state, id, age; allocation stacks where history is
   * on) and its statistics, at one moment, as plain JSON-serialisable data. For tools, not hot paths:
   * a pool of 10^5 blocks takes a few milliseconds. Draw it with renderMemoryMap().
   */
  snapshot(options?: SnapshotOptions): PoolSnapshot {
    this.#flushCache(); // this thread's cached blocks go back first: the snapshot shows the placement they leave
    return takeSnapshot(this, this.#base, this.#detailsProvider(), options, (header, regions, regionCapacity, blocks, blockCapacity, stats) => this.#snapshotRecords(header, regions, regionCapacity, blocks, blockCapacity, stats));
  }

  /** The core's snapshot records (see takeSnapshot), through this pool's calls. */
  #snapshotRecords(header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array): number {
    this.#publish();
    return this.#expectOk(this.#calls.snapshot(this.#handle, header, regions, regionCapacity, blocks, blockCapacity, stats));
  }

  /**
   * Where the pool keeps a history of its allocations, their ages in milliseconds and
   * their stacks, for snapshots: the debug layer's records, where it keeps them.
   */
  #detailsProvider(): AllocationDetailsProvider | undefined {
    return this.#tracking ? this.#debug!.detailsProvider() : undefined;
  }

  /** Name, kind, config and statistics, for JSON.stringify(pool). */
  toJSON(): PoolJSON {
    const described = { name: this.#name, kind: this.kind, config: plainConfig(this.#config) };
    if (this.#destroyed) return { ...described, destroyed: true };
    const stats = this.#readableStats();
    if (stats === "destroyed") return { ...described, destroyed: true };
    if (stats === "ownedByAnotherThread") return { ...described, ownedByAnotherThread: true };
    return { ...described, stats: stats.toJSON() };
  }

  /**
   * The statistics, for tables of every pool in the process: or why there are none, the
   * pool being destroyed by another Worker, or another thread's threadSafety "none" pool (whose
   * owner changes it without a lock, so only the owner may read it).
   */
  #readableStats(): MemoryStats | "destroyed" | "ownedByAnotherThread" {
    try {
      return this.getStats();
    } catch (err) {
      if (err instanceof PoolNotFoundError) return "destroyed";
      if (err instanceof ThreadSafetyError) return "ownedByAnotherThread";
      throw err;
    }
  }

  /** One line: name, kind, allocator, live allocations, bytes in use and reserved, base address in hex. */
  toString(): string {
    return poolLine(this.constructor.name, this, this.#base, this.#destroyed ? "destroyed" : this.#readableStats());
  }

  /** console.log and Bun.inspect print the one line, not the pool's internals. */
  [Bun.inspect.custom](): string {
    return this.toString();
  }

  /**
   * Releases the pool's memory, as manager.destroyPool(name) does: checks canaries, quarantine and
   * guard pages first (throwing what it found once the pool is gone) and, with leakReport, reports
   * what is still allocated. Every handle and view of the pool is dead afterwards.
   */
  destroy(): void {
    this.#destroy();
  }

  /** `using pool = manager.createCPUPool(...)`: destroyed at the end of the block, unless it already was. */
  [Symbol.dispose](): void {
    if (!this.#destroyed) this.destroy();
  }

  /** Frees every allocation at once; their handles then throw UseAfterFreeError, and this thread's views of them are detached. Damage a free would find (canaries, quarantine) is thrown once the pool is reset. */
  reset(): void {
    // A JavaScript cache of another copy of the library in this thread keeps the pool's free blocks
    // in its own memory: a reset under it leaves them there, free in the pool too, for both to hand out.
    const cache = this.#cache === undefined ? this.#openCache() : this.#cache;
    if (cache === null && this.#calls.openCache !== undefined && native.cacheViewed(this.#handle)) throw this.#resetUnderAnotherCopy();
    const damage = this.#damageBeforeAllEnd();
    this.#flushCache();
    this.#expectOk(this.#calls.reset(this.#handle));
    this.#epoch++;
    this.#steps.endedAll(this, false);
    this.#debug?.forgetAll(false);
    if (damage !== undefined) throw damage;
  }

  #resetUnderAnotherCopy(): UnsupportedOperationError {
    return new UnsupportedOperationError(
      `reset() of pool '${this.#name}': another copy of the library in this thread (a second install of bun-memory-pool loaded from another path) keeps this thread's cache of the pool's free blocks: reset it through that copy's pool object, or free the allocations`,
    );
  }

  /**
   * What a free of each allocation would find (canaries, writes into quarantine), checked before
   * reset or destroy ends them all and the evidence with them: thrown once they have ended.
   */
  #damageBeforeAllEnd(): MemoryPoolError | undefined {
    const damage = this.#steps.beforeAllEnd(this);
    if (damage !== undefined || this.#calls.check === undefined || !(this.#config.canaries || this.#config.quarantineBytes > 0 || this.#config.guardPages)) return damage;
    const status = this.#calls.check(this.#handle);
    return status === 0 ? undefined : this.#failure(status);
  }

  /** Gives empty regions (all but the first) back to the OS or device; returns the bytes released. */
  trim(): number {
    this.#flushCache();
    return this.#expectOk(this.#calls.trim(this.#handle));
  }

  /**
   * Releases the memory (destroyPoolObject, destroy()). With canaries, quarantine or guard
   * pages, checks them first and throws what it found once the pool is gone; with leakReport,
   * reports what is still allocated.
   */
  #destroy(): void {
    if (this.#destroyed) throw new UseAfterFreeError(`pool '${this.#name}' was already destroyed`);
    const steps = this.#steps;
    const damage = this.#damageBeforeAllEnd();
    showStatsBeforeDestroy(this);
    if (this.#config.leakReport) this.#reportLeaks("destroyPool");
    this.#expectOk(this.#calls.destroy(this.#handle));
    this.#destroyed = true;
    try {
      livePools.delete(this);
      destroyedListener?.(this);
      this.#cache?.flush(); // the core closed it: this forgets it
      this.#cache = null;
      this.#blockCache = null;
      this.#sizeBins = null;
      steps.endedAll(this, true);
      this.#debug?.forgetAll(true);
    } finally {
      steps.afterDestroy(this);
    }
    if (damage !== undefined) throw damage;
  }
}

/**
 * A block this thread made a view buffer for. While `live`, `buffer` is the exact buffer handed out
 * for allocation `id`; once that allocation ended, `buffer` is its successor from transfer(), a
 * spare never handed out, for the block's next allocation of the same size.
 */
interface ViewedBlock {
  id: number;
  buffer: ArrayBuffer;
  /** `buffer`'s length as made (0: no spare), read here rather than from a getter a caller may patch. */
  size: number;
  live: boolean;
  /** The buffer the block's last ended allocation was viewed through, detached since: a view of it handed to deallocate is a double free. */
  retired: ArrayBuffer | undefined;
  /**
   * With leakReport, the live buffer, held weakly (`buffer` is then HELD_WEAKLY): the leak watch
   * follows the buffer, which every view of it holds and any of them frees, so the pool must not
   * keep it alive. Collected, no view is left to detach.
   */
  weak: WeakRef<ArrayBuffer> | undefined;
}

/** Spare buffers kept per pool and thread (see HostPool.#blocks); past this many they are dropped. */
const VIEWED_BLOCKS_MAX = 1024;
/**
 * Bytes of spare buffers kept per pool and thread; a block freed past this keeps none. JSC counts
 * an external buffer's bytes as heap: some MiB of them, live, make every JavaScript allocation of
 * the process dearer (bench/RESULTS.md), and a spare saves only a toArrayBuffer call.
 */
const SPARE_BYTES_MAX = 2 ** 20;
/** What a block without a spare holds: it fits no allocation (sizes are at least 1) and is never handed out. */
const NO_SPARE = new ArrayBuffer(0);
/** What a live block holds as `buffer` where it holds its buffer in `weak`: detached, so the one check of the fast path sends it to the slow one. */
const HELD_WEAKLY = new ArrayBuffer(0);
HELD_WEAKLY.transfer();

/**
 * Buffers this thread's views of ended allocations were over, detached when they ended, once the
 * entries of their blocks are gone (reset, destroy, a sweep of spares), of every host pool: a pool
 * of the same name may take a destroyed one's place. With each block's `retired`, what tells a
 * view of a freed allocation (a double free) from any other detached view, one of the JavaScript
 * heap or a window its caller transferred away (no memory freed: an InvalidPointerError).
 */
const retiredBuffers = new WeakSet<ArrayBuffer>();
/** Window views kept per pool and thread for reuse (see HostPool.#windowViews); past this many they are dropped. */
const WINDOW_VIEWS_MAX = 4096;

/**
 * A pool whose memory the CPU can touch: allocations carry typed views.
 *
 * A view's buffer is exactly its allocation (an external ArrayBuffer over the block, made by
 * toArrayBuffer), and it is detached when the allocation ends by any route in this thread:
 * free(), deallocate(pointer or view), reset(), destroyPool. Detaching is `buffer.transfer()`:
 * it moves the bytes' ownership to a new buffer without copying, and every view of the old one
 * reads length 0. The new buffer was never handed out, so it is kept as a spare for the block:
 * the next allocation of the same block and size views through it instead of paying for
 * another toArrayBuffer (the costly step: bench/views.ts). The pool's window views
 * (windowView) stay for hot loops that ask for them by name.
 */
/** HostPool's steps (PoolSteps): views detached as allocations end, windows as the pool goes. */
export let HOST_STEPS: PoolSteps<HostPool>;

export abstract class HostPool extends NativePool {
  readonly #windows: (ArrayBuffer | undefined)[] = [];
  /** Each window's length as made (read here, not from the buffer, whose getter a caller may patch). */
  readonly #windowLengths: number[] = [];
  /** Windows a larger one replaced: views made of them still reach the pool, so destroy detaches them too. */
  readonly #outgrownWindows: ArrayBuffer[] = [];
  /**
   * By granule offset: the window view made last for each block, handed out again while the
   * block's allocation has the same size (making one is JSC's slow constructor path, ~40 ns). A
   * window view outlives its allocation anyway (see windowView), so reusing it gives up nothing more.
   */
  readonly #windowViews = new Map<number, Uint8Array<ArrayBuffer>>();
  /**
   * Every window view this pool made (while it lives), to the granule offset of its block: what
   * deallocate(view) frees, found by the view itself (no getter of the caller's asked, no address).
   */
  #windowViewOffsets = new WeakMap<object, number>();
  /** By granule offset: the blocks this thread made view buffers for (live ones and spares). One entry per block, reused, so a view costs one lookup. */
  readonly #blocks = new Map<number, ViewedBlock>();
  /** How many of #blocks are live: frees skip the lookup while none is. */
  #liveViews = 0;
  /** leakReport: live blocks hold their buffers weakly (ViewedBlock.weak), so the leak watch can follow them. */
  readonly #buffersHeldWeakly: boolean;
  /** Bytes of the spares in #blocks (at most SPARE_BYTES_MAX). */
  #spareBytes = 0;
  /**
   * The count of ends #ended/#endedAll add to: the core's word for the pool where it is a "none"
   * pool's, on which every copy of the library in this thread counts (zig/src/end_counts.zig), else
   * one of its own. Handed to this pool's handles where it proves life (#endsProof).
   */
  readonly #endCount: EndCount;
  /** What #endCount reads while every end since this object was made is one it counted: where it reads more, another copy of the library ended some. */
  #endsIfOnlyOwn: number;
  /** Whether #endCount proves life: decided on first use, the subclass's `kind` being set after this constructor. */
  #endsProveLife: boolean | undefined = undefined;

  static {
    isHostPool = (value) => typeof value === "object" && value !== null && #windows in value;
    HOST_STEPS = {
      ...NATIVE_STEPS,
      ended: (pool, offset) => pool.#ended(offset),
      endedAll: (pool, destroyed) => pool.#endedAll(destroyed),
    };
    provideHostViews(
      (pool, offset, size, id) => pool.#exactBuffer(offset, size, id),
      (pool, offset, size, id) => pool.#windowView(offset, size, id),
      (allocation, view) => {
        const pool = poolOfAllocation(allocation);
        if (tracksAllocations(pool)) debugOf(pool)!.viewMade(offsetOfAllocation(allocation), idOfAllocation(allocation), view);
      },
      (pool) => pool.#endCount[0]! === pool.#endsIfOnlyOwn,
    );
  }

  /** @internal pools are made by MemoryPoolManager */
  constructor(name: string, config: Readonly<PoolConfig>, handle: number, calls?: PoolCalls, steps: PoolSteps<HostPool> = HOST_STEPS) {
    super(name, config, handle, calls, steps as PoolSteps);
    const shared = config.threadSafety === "none" ? native.poolEndCount(handle) : 0;
    this.#endCount = shared === 0 ? new Float64Array(1) : new Float64Array(toArrayBuffer(shared as Pointer, 0, 8));
    this.#endsIfOnlyOwn = this.#endCount[0]!;
    this.#buffersHeldWeakly = config.leakReport;
    if (DebugTracker.wanted(config)) {
      trackWith(this, new DebugTracker(name, config, handle, baseOf(this), eventsOf(this), leakWatch(), (offset, id) => steps.lostWithHandle(this, offset, id)));
    }
  }

  /** An Allocation of `size` bytes. */
  allocate(size: number): Allocation {
    if (!(typeof this === "object" && this !== null && #windows in this)) throw foreignPool("pool.allocate", this);
    const offset = allocOffsetIn(this, size);
    const tagged = lastTaggedIdOf(this); // the id, and in its top bit whether the allocation has guard pages
    const allocation = new Allocation(this, addressIn(this, offset), size, offset, allocationIdOf(tagged), MADE_BY_POOL, this.#endsProof());
    if (tracksAllocations(this)) debugOf(this)!.allocated(offset, tagged, size, allocation);
    return allocation;
  }

  /** A bare pointer for hot paths: no handle object; free it with deallocate(pointer). */
  allocateRaw(size: number): Pointer {
    if (!(typeof this === "object" && this !== null && #windows in this)) throw foreignPool("pool.allocateRaw", this);
    const address = cachedAddressIn(this, size);
    if (address !== 0) return address as Pointer;
    const bins = rawBinsIn(this);
    if (bins !== null && typeof size === "number" && size >>> 0 === size && size !== 0 && size <= bins.maxBytes) {
      const binned = bins.allocAddress(size);
      return binned > 0 ? (binned as Pointer) : binsFailedIn(this, bins, binned);
    }
    return this.#allocateRawSlow(size); // kept small for JSC's inliner, as releaseAddressIn
  }

  #allocateRawSlow(size: number): Pointer {
    const offset = allocOffsetIn(this, size);
    if (tracksAllocations(this)) debugOf(this)!.allocated(offset, lastTaggedIdOf(this), size, undefined);
    return addressIn(this, offset);
  }

  /**
   * UNSAFE, for hot loops only: `allocate(size).windowBytes()` in one step, with no handle made:
   * the block's window view (see Allocation.windowBytes() for all it gives up: its `.buffer` reaches
   * the pool's other allocations, and nothing detaches it when the block is freed). Free it with
   * deallocate(view) (or its pointer); a view kept past that reaches the block's next allocation.
   */
  allocateWindowBytes(size: number): Uint8Array<ArrayBuffer> {
    if (!(typeof this === "object" && this !== null && #windows in this)) throw foreignPool("pool.allocateWindowBytes", this);
    // Checked before the block is taken: a block with no view would have to be given back.
    // Infinity is no size (sizeArg says so), not a block too large for a window.
    if (size > WINDOW_BYTES) throw this.#windowTooLarge(sizeArg(size));
    if (debugOf(this) !== undefined) return this.#windowBytesTracked(size);
    // A Variable pool's bins' hit from this body, as allocateRaw's (within JSC's inlining depth).
    const bins = rawBinsIn(this);
    const binned = bins !== null && typeof size === "number" && size >>> 0 === size && size !== 0 && size <= bins.maxBytes ? bins.allocAddress(size) : 0;
    if (binned < 0) binsFailedIn(this, bins!, binned);
    const offset = binned > 0 ? (binned - baseOf(this)) * PER_GRANULE : allocOffsetIn(this, size);
    const made = this.#windowViews.get(offset);
    if (made !== undefined && made[size - 1] !== undefined && made[size] === undefined) return made;
    return this.#newWindowView(offset, size);
  }

  /**
   * allocateWindowBytes with the debug layer on: it hears of the allocation. A pool with guard pages
   * gives none, whatever its sample rate, and takes no block for the call: which allocation is
   * guarded is the core's choice as it places it, and a guarded block has no window view (its
   * memory moves out of reach when freed, and a window view outlives its allocation). Refused only
   * once placed, the call counted an allocation and a free the caller never saw, and failed at
   * random (one call in guardSampleRate) in a loop that had run.
   */
  #windowBytesTracked(size: number): Uint8Array<ArrayBuffer> {
    if (this.config.guardPages) {
      throw new UnsupportedOperationError(`pool '${this.name}' has guard pages: it gives no window views (a guarded block's memory moves out of reach when freed, and a window view outlives its allocation): use allocate(n).bytes`);
    }
    const offset = allocOffsetIn(this, size);
    if (tracksAllocations(this)) debugOf(this)!.allocated(offset, lastTaggedIdOf(this), size, undefined);
    return this.#windowView(offset, size, allocationIdOf(lastTaggedIdOf(this))); // no guard pages here: refused above
  }

  /** Frees an Allocation, its pointer, or a view that starts at its first byte. */
  deallocate(target: Freeable): void {
    if (!(typeof this === "object" && this !== null && #windows in this)) throw foreignPool("pool.deallocate", this);
    if (typeof target === "number") {
      const bins = rawBinsIn(this);
      const binned = bins !== null ? bins.freeAddress(target) : -1;
      const offset = binned >= 0 ? binned : releaseAddressIn(this, target);
      if (offset >= 0) this.#ended(offset);
      return;
    }
    // A window view this pool handed out frees its block by address, as a pointer would: one
    // lookup, with no address asked of the engine (a window view outlives its allocation anyway).
    // Asked first, and kept small for JSC's inliner: the loops that free window views are hot ones.
    // Attached (an element read): a view whose window the caller transferred away names no memory.
    const windowed = typeof target === "object" ? this.#windowViewOffsets.get(target) : undefined;
    if (windowed !== undefined && (target as Uint8Array)[0] !== undefined) {
      const bins = rawBinsIn(this); // a Variable pool's bins' hit from this body, as a pointer's
      return bins !== null && bins.free(windowed, 0) === 0 ? this.#ended(windowed) : this.#releaseAddress(addressIn(this, windowed));
    }
    this.#deallocateObject(target);
  }

  #deallocateObject(target: Allocation | ArrayBufferView): void {
    if (isAllocation(target)) {
      // A handle of a destroyed pool (another of the same name may have taken its place) is a
      // UseAfterFreeError, as its free() says, not an InvalidPointerError "of 'p', not 'p'".
      assertOwnAllocationIn(this, target);
      return target.free();
    }
    if (ArrayBuffer.isView(target)) {
      const buffer = bufferOf(target);
      if (byteLengthOf(target) === 0) throw this.#emptyView(buffer);
      const address = addressOf(target as DataView);
      const offset = offsetIn(this, address);
      const block = this.#blocks.get(offset);
      // A view this thread made of an allocation frees that allocation, by its id, as its handle
      // does: another Worker may have ended it and its block be another allocation's since (this
      // thread's view stays attached until it next views the block), which a free by address
      // would take from its owner.
      if (block === undefined || !block.live || (block.buffer !== buffer && block.weak?.deref() !== buffer)) return this.#releaseAddress(address);
      let damage: MemoryPoolError | undefined;
      try {
        damage = releaseIn(this, offset, block.id);
      } catch (err) {
        if (err instanceof DoubleFreeError) this.#ended(offset); // ended elsewhere: its views die now
        throw err;
      }
      if (damage !== undefined) throw damage;
      return;
    }
    throw new InvalidPointerError(`deallocate takes an Allocation, a pointer or a typed array, not ${describe(target)}`);
  }

  /**
   * A view of length 0 handed to deallocate: detached when its allocation ended (a double free),
   * detached by whoever owned its buffer (a view of the JavaScript heap: no memory of the pool's), or
   * empty. Once the pool is destroyed, which detached every view, it is what any other free there
   * is (a pointer's: PoolNotFoundError), not a double free of an allocation the caller never freed.
   */
  #emptyView(buffer: ArrayBufferLike): MemoryPoolError {
    if (destroyedHere(this)) return failureIn(this, Status.poolNotFound);
    if (!(buffer instanceof ArrayBuffer && buffer.detached)) return new InvalidPointerError("cannot free an empty view: it names no memory");
    const freed = debugOf(this)?.detachedFrom(buffer);
    if (freed !== undefined) return new DoubleFreeError(`double free: this view of ${describeAllocation(freed.id, freed.size, freed.ptr, this.name)} was detached when it was freed`);
    if (this.#retired(buffer)) return new DoubleFreeError(`double free: this view was detached when its allocation was freed (pool '${this.name}')`);
    return new InvalidPointerError(`cannot free a detached view that was never one of pool '${this.name}''s allocations in this thread: it names no memory (its buffer was transferred or detached by its owner)`);
  }

  /** Whether `buffer` is one this thread's views of an ended allocation were over (error paths only: a scan of the blocks). */
  #retired(buffer: ArrayBuffer): boolean {
    if (retiredBuffers.has(buffer)) return true;
    for (const block of this.#blocks.values()) if (block.retired === buffer) return true;
    return false;
  }

  /** An Allocation over a live block of this pool, e.g. a pointer received from a Worker. */
  fromPointer(address: number): Allocation {
    const { offset, size, id } = liveBlockIn(this, pointerArg("fromPointer", address));
    const allocation = new Allocation(this, address as Pointer, size, offset, id, MADE_BY_POOL, this.#endsProof());
    if (tracksAllocations(this)) debugOf(this)!.adopted(offset, id, size, allocation);
    return allocation;
  }

  /**
   * The buffer over exactly the `size` bytes of allocation `id` at granule `offset`:
   * the one this thread already made for it, a spare of the same block and size, or a new one.
   */
  #exactBuffer(offset: number, size: number, id: number): ArrayBuffer {
    const block = this.#blocks.get(offset);
    if (block === undefined) {
      // Past VIEWED_BLOCKS_MAX spares, all of them go (a sweep per that many new blocks: amortised O(1)).
      if (this.#blocks.size - this.#liveViews >= VIEWED_BLOCKS_MAX) this.#dropSpares();
      const buffer = this.#newBuffer(offset, size);
      this.#blocks.set(offset, { id, buffer, size, live: true, retired: undefined, weak: undefined });
      this.#liveViews++;
      return this.#buffersHeldWeakly ? this.#holdWeakly(this.#blocks.get(offset)!) : buffer;
    }
    if (block.live) {
      if (block.id === id && !block.buffer.detached) return block.buffer;
      const held = block.weak?.deref();
      if (held !== undefined && block.id === id && !held.detached) return held;
      // The allocation it was made for ended in another Worker; its views die now, not later.
      // (Or the caller transferred the buffer away, and this one was detached by it: a new one.
      // Or, held weakly, it was collected with every view of it.)
      this.#retire(offset, block);
    }
    this.#spareBytes -= block.size; // the spare is handed out, or replaced
    if (block.size !== size) {
      block.buffer = this.#newBuffer(offset, size);
      block.size = size;
    }
    block.id = id;
    block.live = true;
    this.#liveViews++;
    return this.#buffersHeldWeakly ? this.#holdWeakly(block) : block.buffer;
  }

  /** leakReport: the live block's buffer moves to a WeakRef (see ViewedBlock.weak); returns it. */
  #holdWeakly(block: ViewedBlock): ArrayBuffer {
    const buffer = block.buffer;
    block.weak = new WeakRef(buffer);
    block.buffer = HELD_WEAKLY;
    return buffer;
  }

  /** The live block's buffer, wherever it is held; undefined where it was held weakly and collected. */
  static #liveBuffer(block: ViewedBlock): ArrayBuffer | undefined {
    return block.weak === undefined ? block.buffer : block.weak.deref();
  }

  /** The buffer a block held weakly as it ends (undefined: collected, with every view of it); the block holds it no more. */
  #weakBufferOut(block: ViewedBlock): ArrayBuffer | undefined {
    const buffer = block.weak!.deref();
    block.weak = undefined;
    block.buffer = NO_SPARE;
    return buffer;
  }

  /** #retire of a block whose buffer, held weakly, was collected: no view is left to detach, and no spare. */
  #retireCollected(block: ViewedBlock): void {
    block.size = 0;
    block.live = false;
    this.#liveViews--;
  }

  #dropSpares(): void {
    for (const [offset, block] of this.#blocks) {
      if (block.live) continue;
      if (block.retired !== undefined) retiredBuffers.add(block.retired);
      this.#blocks.delete(offset);
    }
    this.#spareBytes = 0;
  }

  #newBuffer(offset: number, size: number): ArrayBuffer {
    if (size > LARGEST_VIEW_BYTES) throw new InvalidSizeError(`a JavaScript view is at most 4 GiB; this block has ${size} bytes (pass .ptr to native code instead)`);
    return toArrayBuffer(addressIn(this, offset), 0, size);
  }

  /**
   * Detaches every view of the block's live buffer; what took its bytes over stays as the block's
   * spare, within SPARE_BYTES_MAX (past it the buffer is detached with transfer(0) and the block
   * keeps none). A buffer the caller already transferred away (`buffer.transfer()`, a postMessage or
   * structuredClone transfer list) is detached here, and left with no spare: whoever holds the
   * transferred buffer keeps reaching the block, which only its owner can prevent (see the README).
   */
  #retire(offset: number, block: ViewedBlock): void {
    const buffer = block.weak === undefined ? block.buffer : this.#weakBufferOut(block);
    if (buffer === undefined) return this.#retireCollected(block);
    debugOf(this)?.viewDetached(buffer, offset);
    if (buffer.detached || this.#spareBytes + block.size > SPARE_BYTES_MAX) {
      if (!buffer.detached) buffer.transfer(0);
      block.buffer = NO_SPARE;
      block.size = 0;
    } else {
      block.buffer = buffer.transfer();
      this.#spareBytes += block.size;
    }
    block.retired = buffer;
    block.live = false;
    this.#liveViews--;
  }

  /**
   * The count handles of this pool may take as proof of life, or undefined. A "none" pool's
   * allocations end only in its own thread (the core refuses any other), and only by the routes
   * that call #ended or #endedAll. Not PMEM pools: their core also frees blocks named by links
   * and roots, which is told here by #ended too but is not worth the proof's risk.
   */
  #endsProof(): EndCount | undefined {
    const proves = this.#endsProveLife ?? (this.#endsProveLife = this.config.threadSafety === "none" && this.kind !== "pmem");
    return proves ? this.#endCount : undefined;
  }

  /** A raw pointer's free, off the hot path (deallocate's own has the body). */
  #releaseAddress(address: number): void {
    const offset = releaseAddressIn(this, address);
    if (offset >= 0) this.#ended(offset);
  }

  /** The allocation at granule `offset` has ended: this thread's views of it are detached. */
  #ended(offset: number): void {
    this.#endCount[0]!++;
    this.#endsIfOnlyOwn++;
    if (this.#liveViews === 0) return;
    const block = this.#blocks.get(offset);
    if (block !== undefined && block.live) this.#retire(offset, block);
  }

  /** Every allocation ended at once (reset, destroy): their views are detached; `destroyed`: the windows too, the memory is unmapped. */
  #endedAll(destroyed: boolean): void {
    this.#endCount[0]!++;
    this.#endsIfOnlyOwn++;
    for (const [offset, block] of this.#blocks) {
      if (block.retired !== undefined) retiredBuffers.add(block.retired);
      const buffer = block.live ? HostPool.#liveBuffer(block) : undefined;
      if (buffer === undefined) continue;
      debugOf(this)?.viewDetached(buffer, offset);
      if (!buffer.detached) buffer.transfer(0);
      retiredBuffers.add(buffer);
    }
    this.#blocks.clear();
    this.#liveViews = 0;
    this.#spareBytes = 0;
    if (destroyed) this.#closeWindows();
  }

  /**
   * A Uint8Array over allocation `id`'s bytes cut from one of the pool's windows: no buffer of its
   * own, so nothing detaches it, and its `.buffer` reaches other allocations of the pool. The
   * block's last window view is handed out again while it spans the same size. On a pool with guard
   * pages it is the exact view `bytes` gives (a buffer over exactly its bytes, detached when it
   * ends): a window there would span the guard pages of the blocks around it, guarded or not
   * itself, and a read of the whole window (`view.buffer.slice()`, structuredClone) faulted on the
   * first; a guarded block's memory moves out of reach when freed besides, which a window view,
   * outliving its allocation, reached.
   */
  #windowView(offset: number, size: number, id: number): Uint8Array<ArrayBuffer> {
    if (debugOf(this) !== undefined && this.config.guardPages) return new Uint8Array(this.#exactBuffer(offset, size, id));
    // The view this block's last window view was, where it spans exactly `size` bytes: its length is
    // read as elements (one at size - 1, none at size), which no patched getter can answer.
    const made = this.#windowViews.get(offset);
    if (made !== undefined && made[size - 1] !== undefined && made[size] === undefined) return made;
    return this.#newWindowView(offset, size);
  }

  #windowTooLarge(size: number): InvalidSizeError {
    return new InvalidSizeError(`a window view is at most 2 GiB; this block has ${size} bytes: use .bytes`);
  }

  #newWindowView(offset: number, size: number): Uint8Array<ArrayBuffer> {
    if (size > WINDOW_BYTES) throw this.#windowTooLarge(size);
    const at = (offset & WINDOW_GRANULE_MASK) * GRANULE_BYTES;
    // (Never on a pool with guard pages: #windowView gives the exact view there.)
    const view = new Uint8Array(this.#window(offset >>> WINDOW_SHIFT, at + size), at, size);
    if (this.#windowViews.size >= WINDOW_VIEWS_MAX) this.#windowViews.clear();
    this.#windowViews.set(offset, view);
    this.#windowViewOffsets.set(view, offset);
    return view;
  }

  /**
   * Window `index` (from byte index x 2 GiB of the pool), reaching at least `end` bytes into it. A
   * window spans twice what its views need so far (at least 1 MiB), not the pool's whole address
   * space: JSC counts an external buffer's bytes as heap, and a live buffer of 64 MiB or more makes
   * every JavaScript allocation of the process 3-5x dearer (bench/RESULTS.md). A view further in
   * makes a larger window; the one it outgrew stays in #outgrownWindows, for destroy to detach.
   */
  #window(index: number, end: number): ArrayBuffer {
    const open = this.#windows[index];
    // A window the caller detached by transferring its buffer away is made again.
    if (open !== undefined && !open.detached) {
      if (this.#windowLengths[index]! >= end) return open;
      this.#outgrownWindows.push(open);
    }
    const start = index * WINDOW_BYTES;
    // It may span past the memory the pool committed: the core's reservation reads as zeros there
    // (zig/src/backend/host.zig), so whatever reads the whole window (structuredClone, postMessage,
    // view.buffer.slice()) reads zeros where it faulted.
    const length = Math.min(WINDOW_SPAN_BYTES, addressSpaceOf(this) - start, Math.max(WINDOW_MIN_BYTES, 2 ** Math.ceil(Math.log2(2 * end))));
    const buffer = toArrayBuffer((baseOf(this) + start) as Pointer, 0, length);
    this.#windows[index] = buffer;
    this.#windowLengths[index] = length;
    return buffer;
  }

  /** Once the pool is destroyed: every window is detached, the memory is unmapped and views must not reach it. */
  #closeWindows(): void {
    if (trackedPools.delete(this) && this.kind === "pmem") trackedPmemPools--;
    for (const buffer of [...this.#windows, ...this.#outgrownWindows]) {
      if (buffer === undefined || buffer.detached) continue;
      buffer.transfer(0);
      retiredBuffers.add(buffer);
    }
    this.#windows.length = 0;
    this.#outgrownWindows.length = 0;
    this.#windowViews.clear();
    this.#windowViewOffsets = new WeakMap();
  }
}

// The public members, behind the check of their receiver (src/receiver.ts).
const POOL_MEMBERS = ["name", "config", "getStats", "resetPeaks", "check", "getLeaks", "getHistory", "snapshot", "toJSON", "toString", "destroy", "reset", "trim", Symbol.dispose, Bun.inspect.custom] as const;
checkReceivers(NativePool.prototype, "pool", isNativePool, POOL_MEMBERS, foreignPool);
// allocate, allocateRaw, allocateWindowBytes and deallocate check theirs in their bodies: a wrapper's call cost the raw pair 2x (bench/receivers.ts).
checkReceivers(HostPool.prototype, "pool", isHostPool, ["fromPointer"], foreignPool);

/** A pool of host memory from the OS. */
export class CPUMemoryPool extends HostPool {
  readonly kind = "cpu" as const;
}

/** A pool of page-locked host memory: host views, and the fastest source and target of GPU copies. */
export class PinnedMemoryPool extends HostPool {
  readonly kind = "pinned" as const;

  /** @internal */
  constructor(name: string, config: Readonly<PoolConfig>, handle: number) {
    super(name, config, handle);
    trackAddresses(this);
  }
}

/**
 * Pools whose memory a copy must tell apart by address (a typed array carries no pool): pinned
 * memory goes straight to the DMA engine, PMEM must be persisted. CPU pools are ordinary memory.
 */
const trackedPools = new Set<HostPool>();

/**
 * @internal the PMEM pools among trackedPools (read only, outside this file): until one is open no
 * typed array views PMEM, and copy()'s fast path asks so with one read, no call (no address looked up).
 */
export let trackedPmemPools = 0;

/** @internal called by the constructors of pinned and PMEM pools; #closeWindows forgets them. */
export function trackAddresses(pool: HostPool): void {
  if (!trackedPools.has(pool) && pool.kind === "pmem") trackedPmemPools++;
  trackedPools.add(pool);
}

/** @internal the pinned or PMEM pool whose memory holds all `length` bytes at `address`, if any. */
export function trackedPoolAt(address: number, length: number): HostPool | undefined {
  if (trackedPools.size === 0) return undefined;
  for (const pool of trackedPools) {
    if (!destroyedHere(pool) && address >= baseOf(pool) && address + length <= baseOf(pool) + addressSpaceOf(pool)) return pool;
  }
  return undefined;
}
