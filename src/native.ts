/**
 * The FFI surface: the one file that opens the Zig core (zig/src/ffi.zig), binds its symbols and
 * turns its status codes into typed errors. Every other file calls the core through the typed
 * functions below, one per core operation, which take and give JavaScript values and throw the
 * typed error (src/errors.ts) where the core refuses. A pool's block calls (alloc, free, liveId...)
 * give statuses back instead: the pool turns them into errors with what only it knows (its name,
 * its debug records), through errorFor(), the one table from statuses to errors.
 * test/ffi_boundary.test.ts checks that no other file in src/ binds or calls the core itself.
 */
import { dlopen, FFIType, toArrayBuffer, type Pointer } from "bun:ffi";
import {
  ConfigError,
  CoreError,
  DoubleFreeError,
  GPUUnavailableError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  NativeLibraryError,
  OutOfMemoryError,
  PMEMFileError,
  PMEMFormatError,
  PMEMRootError,
  PMEMUnavailableError,
  PoolExistsError,
  PoolNotFoundError,
  ThreadSafetyError,
  TooManyPoolsError,
  UnsupportedOperationError,
  type PMEMFormatReason,
} from "./errors";
import { absentAbi, type Abi, byValue, checkVersion, type ConfigFieldName, indices, readAbi, type StatsFieldName } from "./abi";
import { coreFileHazard, coreFileProblem, loadCore } from "./loader";

const { i32, u32, f64, ptr } = FFIType;
const symbols = {
  mp_abi_version: { args: [], returns: u32 },
  mp_abi_describe: { args: [ptr, u32], returns: u32 },
  mp_last_error: { args: [ptr, u32], returns: u32 },
  mp_last_error_setting: { args: [ptr, u32], returns: u32 },
  mp_pool_create: { args: [ptr, u32, ptr], returns: i32 },
  mp_pool_find: { args: [ptr, u32], returns: i32 },
  mp_pool_destroy: { args: [i32], returns: i32 },
  mp_pool_list: { args: [ptr, u32], returns: u32 },
  mp_thread_flush: { args: [], returns: FFIType.void },
  mp_thread_exit_reported: { args: [], returns: FFIType.void },
  mp_cache_open: { args: [i32], returns: ptr },
  mp_cache_viewed: { args: [i32], returns: i32 },
  mp_cache_chunk: { args: [i32, u32], returns: ptr },
  mp_cache_ids: { args: [i32], returns: ptr },
  mp_cache_refill: { args: [i32, ptr], returns: i32 },
  mp_cache_flush: { args: [i32, ptr, u32], returns: i32 },
  mp_cache_release: { args: [ptr], returns: u32 },
  mp_bins_open: { args: [i32], returns: ptr },
  mp_bins_alloc: { args: [i32, f64, f64], returns: u32 },
  mp_bins_flush: { args: [i32, ptr], returns: i32 },
  mp_pool_base: { args: [i32], returns: ptr },
  mp_pool_end_count: { args: [i32], returns: ptr },
  mp_pool_address_space: { args: [i32], returns: f64 },
  mp_pool_config: { args: [i32, ptr], returns: i32 },
  mp_pool_name: { args: [i32, ptr, u32], returns: i32 },
  mp_alloc: { args: [i32, f64], returns: u32 },
  mp_last_id: { args: [], returns: u32 },
  mp_last_id_address: { args: [], returns: ptr },
  mp_free: { args: [i32, u32, u32], returns: i32 },
  mp_live_size: { args: [i32, u32], returns: f64 },
  mp_live_id: { args: [i32, u32], returns: u32 },
  mp_stats: { args: [i32, ptr], returns: i32 },
  mp_reset_peaks: { args: [i32], returns: i32 },
  mp_reset: { args: [i32], returns: i32 },
  mp_trim: { args: [i32], returns: f64 },
  mp_check: { args: [i32], returns: i32 },
  mp_violation: { args: [u32], returns: f64 },
  mp_live_list: { args: [i32, ptr, u32], returns: i32 },
  mp_is_guarded: { args: [i32, u32], returns: u32 },
  mp_set_stack: { args: [i32, u32, u32, ptr, u32], returns: i32 },
  mp_debug_layer: { args: [], returns: u32 },
  mp_snapshot: { args: [i32, ptr, ptr, u32, ptr, u32, ptr], returns: i32 },
  mp_copy_host: { args: [ptr, ptr, f64], returns: i32 },
  mp_pool_kind: { args: [i32], returns: i32 },
  mp_alloc_on_stream: { args: [i32, f64, ptr], returns: u32 },
  mp_free_on_stream: { args: [i32, u32, u32, ptr], returns: i32 },
  mp_gpu_device_count: { args: [], returns: i32 },
  mp_gpu_device_name: { args: [u32, ptr, u32], returns: i32 },
  mp_gpu_device_memory: { args: [u32], returns: f64 },
  mp_gpu_kernels_available: { args: [], returns: u32 },
  mp_gpu_copy_htod: { args: [u32, ptr, ptr, f64, u32, ptr], returns: i32 },
  mp_gpu_copy_dtoh: { args: [u32, ptr, ptr, f64, u32, ptr], returns: i32 },
  mp_gpu_copy_dtod: { args: [u32, ptr, ptr, f64, ptr], returns: i32 },
  mp_gpu_stream_create: { args: [u32], returns: ptr },
  mp_gpu_stream_synchronize: { args: [u32, ptr], returns: i32 },
  mp_gpu_stream_destroy: { args: [u32, ptr], returns: i32 },
  mp_gpu_fill: { args: [u32, ptr, u32, f64, ptr], returns: i32 },
  mp_gpu_last_check: { args: [], returns: f64 },
  mp_gpu_check_pattern: { args: [u32, ptr, u32, f64], returns: i32 },
  mp_gpu_export: { args: [i32, u32], returns: i32 },
  mp_gpu_export_region_offset: { args: [], returns: f64 },
  mp_gpu_export_region_len: { args: [], returns: f64 },
  mp_gpu_ipc_open: { args: [u32, i32, i32, f64], returns: ptr },
  mp_gpu_ipc_close: { args: [ptr], returns: i32 },
  mp_last_status: { args: [], returns: i32 },
  mp_gpu_check_canaries: { args: [u32, ptr, u32, u32, u32], returns: i32 },
  mp_nvtx_state: { args: [], returns: u32 },
  mp_nvtx_configure: { args: [u32, u32], returns: u32 },
} as const;

/** PMEM pools (zig/src/pmem/): opening, durability, roots and links; everything else a pool does goes through the calls above with the pool's handle. */
const pmemSymbols = {
  mp_pmem_available: { args: [], returns: i32 },
  mp_pmem_open: { args: [ptr, u32, ptr, u32, ptr], returns: i32 },
  mp_pmem_last_reason: { args: [], returns: u32 },
  mp_pmem_path: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_is_pmem: { args: [i32], returns: i32 },
  mp_pmem_created: { args: [i32], returns: i32 },
  mp_pmem_register_dma: { args: [i32, u32], returns: i32 },
  mp_pmem_checkpoint: { args: [i32, u32, f64, ptr, f64], returns: i32 },
  mp_pmem_persist: { args: [i32, f64, f64], returns: i32 },
  mp_pmem_flush: { args: [i32, f64, f64], returns: i32 },
  mp_pmem_drain: { args: [i32], returns: i32 },
  mp_pmem_persist_allocation: { args: [i32, u32, u32, f64, f64], returns: i32 },
  mp_pmem_flush_allocation: { args: [i32, u32, u32, f64, f64], returns: i32 },
  mp_pmem_memcpy_persist: { args: [i32, f64, ptr, f64], returns: i32 },
  mp_pmem_memcpy_persist_into: { args: [i32, u32, u32, f64, ptr, f64], returns: i32 },
  mp_pmem_set_root: { args: [i32, ptr, u32, u32, u32, u32], returns: i32 },
  mp_pmem_get_root: { args: [i32, ptr, u32], returns: u32 },
  mp_pmem_root: { args: [i32, ptr, u32, f64], returns: u32 },
  mp_pmem_root_name: { args: [i32, u32, ptr, u32], returns: i32 },
  mp_pmem_unreachable_list: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_link: { args: [i32, u32, u32, f64, u32, u32, u32], returns: i32 },
  mp_pmem_linked: { args: [i32, u32, u32, f64], returns: u32 },
  mp_pmem_commit_unpublished: { args: [i32, u32, u32], returns: i32 },
  mp_pmem_barrier_count: { args: [], returns: f64 },
} as const;

// ---- the ABI's description ----

/** The core's description of its records, statuses and constants (src/abi.ts); absentAbi() until one loads. */
let abi: Abi = absentAbi();

/**
 * Opens the core at `libraryPath` (found by src/loader.ts) and reads its ABI description. The
 * version comes first, through the one export every core has had, so an older core (without
 * the description or with other signatures) is named as such rather than failing to bind.
 */
function open(libraryPath: string) {
  // A file that is no core for this process says why; one that is, the dynamic loader says why not.
  const cannotOpen = (why: string) => new NativeLibraryError(`the core at ${libraryPath} cannot be opened (${why})`);
  const refused = (problem: string) => cannotOpen(`${problem}: a core built for this platform is needed`);
  const hazard = coreFileHazard(libraryPath);
  if (hazard !== undefined) throw refused(hazard);
  let version: number;
  try {
    const probe = dlopen(libraryPath, { mp_abi_version: symbols.mp_abi_version });
    version = probe.symbols.mp_abi_version();
    probe.close();
  } catch (err) {
    const problem = coreFileProblem(libraryPath);
    throw problem === undefined ? cannotOpen((err as Error)?.message) : refused(problem);
  }
  checkVersion(version, libraryPath);
  let library;
  try {
    library = dlopen(libraryPath, { ...symbols, ...pmemSymbols });
  } catch (err) {
    const problem = coreFileProblem(libraryPath);
    throw problem === undefined ? cannotOpen((err as Error)?.message) : refused(problem);
  }
  abi = readAbi(describeCore(library.symbols.mp_abi_describe), libraryPath);
  return library.symbols;
}

/** The core's description text, with a buffer as long as it says it needs. */
export function describeCore(describe: (buffer: Uint8Array, capacity: number) => number): string {
  let buffer = new Uint8Array(8192);
  for (;;) {
    const len = describe(buffer, buffer.length);
    if (len <= buffer.length) return new TextDecoder().decode(buffer.subarray(0, len));
    buffer = new Uint8Array(len);
  }
}

/** Never throws at import: without a core, every call throws the loader's NativeLibraryError. */
const lib = loadCore(open);

/**
 * @internal the core's symbols, raw, for test/ and bench/ only: the ABI tests, tests that hand the
 * core what the typed functions below refuse and check its status, tests that wrap a symbol to count
 * calls, and benches of the bare crossing. Nothing in src/ uses it (test/ffi_boundary.test.ts).
 */
export const rawCoreForTests = lib;

/** What the loaded core describes (src/abi.ts): the tables below are built from it. */
export const ABI: Abi = abi;
export const Status = abi.statuses;
/** Granule offsets from alloc and liveId are below this; from it up they are errors (statusOfOffset). */
export const OFFSET_ERROR_BASE = abi.constants.offsetErrorBase;
/** mp_last_id after mp_alloc: the id in the low 31 bits, the top bit set for an allocation with guard pages. */
const ID_MASK = abi.constants.idMask;
export const GRANULE_BYTES = abi.constants.granuleBytes;
/** The field numbers `mp_violation` takes: what it reports of the last damage found. */
const Violation = indices(abi.records.violation);
/** The order of the f64 config record. */
export const CONFIG_FIELDS = abi.records.config.order as readonly ConfigFieldName[];
/** The order of the f64 stats record: every figure the core keeps, including any this code has no type for. */
export const STATS_FIELDS = abi.records.stats.order as readonly StatsFieldName[];
export const PoolKind = abi.enums.poolKind;
export const HostMemory = abi.enums.hostMemory;

// A Worker's blocks cached by threadLocalCache pools go back to their pools when its thread ends
// (the core's thread-exit hook); a Worker that calls process.exit() also gives them back here.
if (!Bun.isMainThread) process.on("exit", () => lib.mp_thread_flush());

/**
 * A view of the last id of a FixedSize pool placed for the JavaScript cache (zig/src/ffi.zig
 * mp_cache_ids), on which the cache counts ids as the core does; null where the pool has no cache.
 */
export function cachePoolIds(handle: number): Int32Array | null {
  const address = lib.mp_cache_ids(handle);
  if (address === null || Number(address) === 0) return null;
  return new Int32Array(toArrayBuffer(address as Pointer, 0, 4));
}

/**
 * The calling thread's `last_id` word in the core (mp_last_id's answer), viewed once per thread
 * (on first use: importing never calls the core): after mp_alloc or mp_live_size, lastId() reads
 * it with Atomics.load (never a plain read, which the JIT may reuse across the call that wrote it)
 * instead of crossing the FFI again.
 */
let lastIdWord: Uint32Array | undefined;
export function lastId(): number {
  return Atomics.load((lastIdWord ??= new Uint32Array(toArrayBuffer(lib.mp_last_id_address()!, 0, 4))), 0);
}

// Results come back as return values, never through typed arrays the core writes into on hot
// paths: once Bun's JIT optimises a loop it may reuse an earlier read of such an array across the
// FFI call and miss the new value (seen with Bun 1.4.4). Buffers for cold calls are copied at once.

const messageBuffer = new Uint8Array(512);
const decoder = new TextDecoder();

/** The core's explanation of the last failure on this thread. */
export function lastError(): string {
  const len = lib.mp_last_error(messageBuffer, messageBuffer.length);
  return decoder.decode(messageBuffer.subarray(0, len));
}

/** The setting (a PoolConfig field, or "name") the core's last config failure on this thread is about. */
function lastErrorSetting(): string {
  const len = lib.mp_last_error_setting(messageBuffer, messageBuffer.length);
  return len === 0 ? "config" : decoder.decode(messageBuffer.subarray(0, Math.min(len, messageBuffer.length)));
}

const PMEM_FORMAT_REASONS = byValue(abi.enums.pmemFormatReason);
/** What mp_pmem_last_reason says was wrong with a file ("metadata" where it says nothing known). */
function pmemFormatReason(value: number): PMEMFormatReason {
  const reason = PMEM_FORMAT_REASONS[value];
  return reason === undefined || reason === "none" ? "metadata" : reason;
}

/** The typed error for a failed status; `message` replaces the core's own where given. */
export function errorFor(status: number, message = lastError()): MemoryPoolError {
  switch (status) {
    case Status.outOfMemory:
      return new OutOfMemoryError(message);
    case Status.invalidPointer:
      return new InvalidPointerError(message);
    case Status.doubleFree:
      return new DoubleFreeError(message);
    case Status.config:
      return new ConfigError(lastErrorSetting(), undefined, message);
    case Status.poolExists:
      return new PoolExistsError(message);
    case Status.poolNotFound:
      return new PoolNotFoundError(message);
    case Status.invalidSize:
      return new InvalidSizeError(message);
    case Status.pmemUnavailable:
      return new PMEMUnavailableError(message);
    case Status.pmemFormat:
      return new PMEMFormatError(message, pmemFormatReason(lib.mp_pmem_last_reason()));
    case Status.pmemFile:
      return new PMEMFileError(message);
    case Status.pmemRoot:
      return new PMEMRootError(message);
    case Status.tooManyPools:
      return new TooManyPoolsError(message);
    case Status.threadMisuse:
      return new ThreadSafetyError(message);
    case Status.unsupported:
      return new UnsupportedOperationError(message);
    case Status.unavailable:
      return new GPUUnavailableError(message);
    default:
      return new CoreError(message, status);
  }
}

/** Throws the typed error for a negative status; returns non-negative results as they are. */
function check(status: number): number {
  if (status < 0) throw errorFor(status);
  return status;
}

/**
 * The status an offset error stands for. Only src/pool.ts's hot path (alloc, liveId) sees offset
 * errors; every other call that gives an offset decodes them here (offsetOrStatus).
 */
export function statusOfOffset(offset: number): number {
  return -(offset - OFFSET_ERROR_BASE);
}

/** A granule offset (or id) the core gave, as it is; an offset error as its (negative) status. */
function offsetOrStatus(offset: number): number {
  return offset >= OFFSET_ERROR_BASE ? statusOfOffset(offset) : offset;
}

const encoder = new TextEncoder();
export function encodeName(name: string): Uint8Array {
  return encoder.encode(name);
}

// ---- the typed functions: one per core operation ----
// Names are buffers of UTF-8 (encodeName), checked by the caller for what it reports (ConfigError).

/** A name the core wrote into `buffer`: its length comes back (negative: a status), longer than the buffer where it did not fit. */
function readName(write: (buffer: Uint8Array, capacity: number) => number, capacity: number): string | number {
  let buffer = new Uint8Array(capacity);
  let len = write(buffer, buffer.length);
  if (len > buffer.length) {
    buffer = new Uint8Array(len);
    len = Math.min(len, write(buffer, buffer.length));
  }
  return len < 0 ? len : decoder.decode(buffer.subarray(0, len));
}

function nameOrThrow(name: string | number): string {
  if (typeof name === "number") throw errorFor(name);
  return name;
}

/** The handles a list call wrote (the core says how many there are; a second call where they did not fit). */
function readHandles(list: (out: Int32Array, capacity: number) => number): Int32Array {
  let handles = new Int32Array(64);
  let count = list(handles, handles.length);
  if (count > handles.length) {
    handles = new Int32Array(count);
    count = Math.min(count, list(handles, handles.length));
  }
  return handles.subarray(0, count);
}

// -- the registry of pools (every Worker's) --

/** A new pool of `config` (the f64 record in CONFIG_FIELDS order, its kind included): its handle. */
export function createPool(name: Uint8Array, config: Float64Array): number {
  return check(lib.mp_pool_create(name, name.length, config));
}

/** The handle of the pool named `name` (made in any Worker), or undefined where there is none. */
export function findPool(name: Uint8Array): number | undefined {
  const handle = lib.mp_pool_find(name, name.length);
  return handle === Status.poolNotFound ? undefined : check(handle);
}

/** The handles of every pool in the process (PMEM pools apart). */
export function listPools(): Int32Array {
  return readHandles(lib.mp_pool_list);
}

/** The name of the pool `handle`, or undefined where another Worker destroyed it. */
export function poolName(handle: number): string | undefined {
  return nameWhileOpen(lib.mp_pool_name, handle);
}

/** A pool's name, by a call that fails for a pool that is gone: undefined then. */
function nameWhileOpen(nameOf: (handle: number, buffer: Uint8Array, capacity: number) => number, handle: number): string | undefined {
  const name = readName((buffer, capacity) => nameOf(handle, buffer, capacity), abi.constants.poolNameBytesMax);
  return typeof name === "string" ? name : undefined;
}

/** What the pool `handle` is (a PoolKind code). */
export function poolKind(handle: number): number {
  return check(lib.mp_pool_kind(handle));
}

/** The pool's config record (CONFIG_FIELDS order), as the core keeps it. */
export function poolConfig(handle: number): Float64Array {
  return configRecord(lib.mp_pool_config, handle);
}

function configRecord(read: (handle: number, record: Float64Array) => number, handle: number): Float64Array {
  const record = new Float64Array(CONFIG_FIELDS.length);
  check(read(handle, record));
  return record;
}

/** This thread's exit report is written: the core writes none for its "none" pools as the thread ends (it does for a terminated Worker's). */
export function threadExitReported(): void {
  lib.mp_thread_exit_reported();
}

/** Gives the blocks the core caches for this thread (threadLocalCache pools) back to their pools. */
export function flushThreadCaches(): void {
  lib.mp_thread_flush();
}

// -- a pool's blocks: statuses, for the pool to turn into errors (src/pool.ts PoolCalls) --
// alloc and liveId, on the pool's hot path, give the core's answer as it is: OFFSET_ERROR_BASE + a
// status's magnitude for a failure (statusOfOffset()); the others give a negative status. Like every function here they
// read the symbol when called (a test may wrap the core's symbols to count calls); Bun's JIT
// inlines them into the pool's hot paths (bench/boundary.ts measures those).

/** The address of the pool's arena (a device address for GPU pools). */
export function poolBase(handle: number): number {
  return Number(lib.mp_pool_base(handle));
}
/**
 * The address of the word (one f64) every copy of the library in this thread counts the pool's
 * ends on (zig/src/end_counts.zig); 0 where the handle names no pool.
 */
export function poolEndCount(handle: number): number {
  return Number(lib.mp_pool_end_count(handle));
}
/** Bytes of address space the arena spans; a negative status where the pool is gone. */
export function poolAddressSpace(handle: number): number {
  return lib.mp_pool_address_space(handle);
}
/** A block of `size` bytes: its granule offset (the allocation's id in lastId()), or an offset error. */
export function alloc(handle: number, size: number): number {
  return lib.mp_alloc(handle, size);
}
/** Frees the block at a granule offset (only while it holds allocation `id`, where not 0): 0, Status.freedGuarded, or a status. */
export function free(handle: number, offset: number, id: number): number {
  return lib.mp_free(handle, offset, id);
}
/** The size asked for by the live allocation at an offset (its id in lastId()), -1 where none starts there, or a status below -1. */
export function liveSize(handle: number, offset: number): number {
  return lib.mp_live_size(handle, offset);
}
/** The id of the allocation at an offset, 0 where the block is free, or an offset error. */
export function liveId(handle: number, offset: number): number {
  return lib.mp_live_id(handle, offset);
}
/** Writes the pool's figures (STATS_FIELDS order). */
export function poolStats(handle: number, out: Float64Array): number {
  return lib.mp_stats(handle, out);
}
export function resetPoolPeaks(handle: number): number {
  return lib.mp_reset_peaks(handle);
}
/** Frees every allocation at once. */
export function resetPool(handle: number): number {
  return lib.mp_reset(handle);
}
/** Gives empty regions back: the bytes released, or a status. */
export function trimPool(handle: number): number {
  return lib.mp_trim(handle);
}
export function destroyPool(handle: number): number {
  return lib.mp_pool_destroy(handle);
}
/** Canaries and quarantine: 0, or the status of the first damage (then lastViolation() says what). */
export function checkPool(handle: number): number {
  return lib.mp_check(handle);
}
/** Writes the offsets of live allocations: how many there are. */
export function listLiveOffsets(handle: number, out: Uint32Array, capacity: number): number {
  return lib.mp_live_list(handle, out, capacity);
}
/** zig/src/snapshot.zig: header, regions, their capacity, blocks, their capacity, statistics. */
export function poolSnapshot(handle: number, header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array): number {
  return lib.mp_snapshot(handle, header, regions, regionCapacity, blocks, blockCapacity, stats);
}
/** As alloc, with the block's reuse ordered by a CUDA stream (GPU pools): its granule offset, or a negative status. */
export function allocOnStream(handle: number, size: number, stream: Pointer): number {
  return offsetOrStatus(lib.mp_alloc_on_stream(handle, size, stream));
}
/** As free, once the work queued on the stream so far is done (GPU pools). */
export function freeOnStream(handle: number, offset: number, id: number, stream: Pointer): number {
  return lib.mp_free_on_stream(handle, offset, id, stream);
}

/** The id of the allocation a tagged id names (lastId()'s answer after alloc: the top bit says whether it has guard pages). */
export function allocationIdOf(tagged: number): number {
  return tagged & ID_MASK;
}
/** Whether the allocation of a tagged id has guard pages. */
export function hasGuardPages(tagged: number): boolean {
  return tagged > ID_MASK;
}

/** What the core found of the last damage on this thread (a free, check or quarantine's eviction that gave a violation status). */
export interface ViolationReport {
  /** The allocation's id and the size it asked for. */
  id: number;
  size: number;
  /** Where the first damaged byte is, from the allocation's start (negative: before it). */
  offset: number;
  damagedBytes: number;
  /** The granule offset of the allocation's first byte. */
  userGranule: number;
}
export function lastViolation(): ViolationReport {
  return {
    id: lib.mp_violation(Violation.id),
    size: lib.mp_violation(Violation.size),
    offset: lib.mp_violation(Violation.offset),
    damagedBytes: lib.mp_violation(Violation.damagedBytes),
    userGranule: lib.mp_violation(Violation.userGranule),
  };
}

/** Whether the allocation at a granule offset has guard pages. */
export function isGuarded(handle: number, offset: number): boolean {
  return lib.mp_is_guarded(handle, offset) === 1;
}

/** Hands the core an allocation's stack (`kind`: allocation or free), which its fault report names as the process dies. */
export function setAllocationStack(handle: number, offset: number, kind: number, stack: string): void {
  const text = encoder.encode(stack);
  lib.mp_set_stack(handle, offset, kind, text, text.length);
}

// -- the JavaScript thread cache's record and chunks (src/block_cache.ts, zig/src/sync/js_cache.zig) --

/** The address of this thread's cache record of the pool, or 0 where the pool has no JavaScript cache. */
export function openCache(handle: number): number {
  return Number(lib.mp_cache_open(handle) ?? 0);
}
/** Whether this thread's cache record of the pool is held by a JavaScript cache (one copy of the library's). */
export function cacheViewed(handle: number): boolean {
  return lib.mp_cache_viewed(handle) === 1;
}
/** The address of the pool's block-state chunk `index`, or 0 where the core gives this thread none. */
export function cacheChunk(handle: number, index: number): number {
  return Number(lib.mp_cache_chunk(handle, index) ?? 0);
}
/** Fills the record's stack with free blocks: the new count, or a status. */
/** The address of a Variable pool's JavaScript bins table (zig/src/sync/js_bins.zig), made on first use; 0 where the pool has none. */
export function openBins(handle: number): number {
  return Number(lib.mp_bins_open(handle) ?? 0);
}

/** A miss of the bins: a block of `capacity` bytes for `size`, registered in the bins' table; its granule offset, or a negative status. */
export function allocBinned(handle: number, size: number, capacity: number): number {
  const offset = lib.mp_bins_alloc(handle, size, capacity);
  return offset >= OFFSET_ERROR_BASE ? statusOfOffset(offset) : offset;
}

/** Gives every block the bins at `table` hold back to the pool: how many, or a negative status. */
export function flushBins(handle: number, table: number): number {
  return lib.mp_bins_flush(handle, table as Pointer);
}

export function refillCache(handle: number, record: Pointer): number {
  return lib.mp_cache_refill(handle, record);
}
/** Gives all but `keep` of the record's blocks back: the new count, or a status. */
export function flushCache(handle: number, record: Pointer, keep: number): number {
  return lib.mp_cache_flush(handle, record, keep);
}
/** This thread is done with the record (its pool is gone). */
export function releaseCache(address: number): void {
  lib.mp_cache_release(address as Pointer);
}

// -- copies --

/** memmove of `length` bytes between host addresses (a Uint8Array passes the address of its first byte). */
export function copyHost(dst: Pointer | Uint8Array, src: Pointer | Uint8Array, length: number): void {
  const status = lib.mp_copy_host(dst, src, length);
  if (status < 0) throw errorFor(status);
}

// -- CUDA devices, streams, copies and kernels --

/** CUDA devices the driver sees; 0 where no driver or device answers. */
export function gpuDeviceCount(): number {
  return Math.max(0, lib.mp_gpu_device_count());
}
/** Why no GPU is usable here (the core's reason where the driver does not answer), or undefined where a device answers. */
export function gpuUnavailableReason(): string | undefined {
  const count = lib.mp_gpu_device_count();
  return count > 0 ? undefined : count < 0 ? lastError() : "the CUDA driver sees no device";
}
export function gpuDeviceName(deviceId: number): string {
  return nameOrThrow(readName((buffer, capacity) => lib.mp_gpu_device_name(deviceId, buffer, capacity), 96));
}
/** Bytes of memory of the device. */
export function gpuDeviceMemory(deviceId: number): number {
  return lib.mp_gpu_device_memory(deviceId);
}
/** Whether the core was built with the debug kernels (nvcc): canaries and fill patterns on the device. */
export function gpuKernelsAvailable(): boolean {
  return lib.mp_gpu_kernels_available() !== 0;
}

type HostBytes = Pointer | NodeJS.TypedArray;

/** Host to device on `deviceId`; `hostMemory` (HostMemory) says whether the host side is pinned (direct DMA) or pageable (staged). */
export function copyHostToDevice(deviceId: number, dst: Pointer, src: HostBytes, length: number, hostMemory: number, stream: Pointer | null): void {
  check(lib.mp_gpu_copy_htod(deviceId, dst, src, length, hostMemory, stream));
}
export function copyDeviceToHost(deviceId: number, dst: HostBytes, src: Pointer, length: number, hostMemory: number, stream: Pointer | null): void {
  check(lib.mp_gpu_copy_dtoh(deviceId, dst, src, length, hostMemory, stream));
}
export function copyDeviceToDevice(deviceId: number, dst: Pointer, src: Pointer, length: number, stream: Pointer | null): void {
  check(lib.mp_gpu_copy_dtod(deviceId, dst, src, length, stream));
}

/** A new CUDA stream on the device: its handle. */
export function createStream(deviceId: number): Pointer {
  const handle = lib.mp_gpu_stream_create(deviceId);
  if (handle === null || Number(handle) === 0) throw errorFor(Status.unavailable);
  return handle as Pointer;
}
/** Waits for everything queued on the stream. */
export function synchronizeStream(deviceId: number, stream: Pointer): void {
  check(lib.mp_gpu_stream_synchronize(deviceId, stream));
}
export function destroyStream(deviceId: number, stream: Pointer): void {
  check(lib.mp_gpu_stream_destroy(deviceId, stream));
}

/** Sets `length` device bytes at `address` to `value`, with the fill kernel (queued on `stream` where given). */
export function fillDevice(deviceId: number, address: Pointer, value: number, length: number, stream: Pointer | null): void {
  check(lib.mp_gpu_fill(deviceId, address, value, length, stream));
}

/**
 * Checks the canaries (`canaryBytes` of `canaryByte` each side) of the device allocations in
 * `table` (address, size pairs) in one launch: undefined where all are intact, else where the first
 * damage is: the record's index, and whether it is after the allocation (else before it).
 */
export function checkDeviceCanaries(deviceId: number, table: BigUint64Array, canaryBytes: number, canaryByte: number): { index: number; after: boolean } | undefined {
  if (check(lib.mp_gpu_check_canaries(deviceId, table, table.length / 2, canaryBytes, canaryByte)) === 0) return undefined;
  const found = lib.mp_gpu_last_check();
  return { index: Math.floor(found / 2 ** 32), after: found % 2 ** 32 >= 2 ** 31 };
}

// -- CUDA IPC --

/** Exports the region of the GPU pool `handle` that holds the block at a granule offset: a descriptor and where the region lies. */
export function exportDeviceRegion(handle: number, offset: number): { fd: number; regionOffset: number; regionBytes: number } {
  const fd = check(lib.mp_gpu_export(handle, offset));
  return { fd, regionOffset: lib.mp_gpu_export_region_offset(), regionBytes: lib.mp_gpu_export_region_len() };
}
/** Maps another process's exported region here: its base address. */
export function openDeviceRegion(deviceId: number, pid: number, fd: number, rangeBytes: number): number {
  const base = lib.mp_gpu_ipc_open(deviceId, pid, fd, rangeBytes);
  if (base === null || Number(base) === 0) throw errorFor(lib.mp_last_status());
  return Number(base);
}
export function closeDeviceRegion(base: number): void {
  check(lib.mp_gpu_ipc_close(base as Pointer));
}

// -- NVTX (zig/src/gpu/nvtx.zig) --

/** The NVTX switches and what is attached, as the bits of abi.enums.nvtxState. */
export function nvtxState(): number {
  return lib.mp_nvtx_state();
}
/** Sets the switches (0 off, 1 on, 2 as it is); the state bits after. */
export function setNvtx(registerMemory: number, ranges: number): number {
  return lib.mp_nvtx_configure(registerMemory, ranges);
}

// -- PMEM: opening, durability, roots and links (a PMEM pool is an ordinary pool for everything else) --

/** Throws PMEMUnavailableError where libpmem cannot be loaded. */
export function requirePmem(): void {
  check(lib.mp_pmem_available());
}
/** Why PMEM pools cannot be made here (the core's reason), or undefined where libpmem loads. */
export function pmemUnavailableReason(): string | undefined {
  return lib.mp_pmem_available() < 0 ? lastError() : undefined;
}
/** Opens (or creates) the PMEM pool of the file at `path` (UTF-8): its handle. */
export function openPmemPool(name: Uint8Array, path: Uint8Array, config: Float64Array): number {
  return check(lib.mp_pmem_open(name, name.length, path, path.length, config));
}
/** The PMEM pool's file (an absolute path). */
export function pmemPoolPath(handle: number): string {
  return nameOrThrow(readName((buffer, capacity) => lib.mp_pmem_path(handle, buffer, capacity), 4096));
}
/** Whether the file is on persistent memory, real or emulated (persists flush CPU caches; else they msync). */
export function isOnPersistentMemory(handle: number): boolean {
  return lib.mp_pmem_is_pmem(handle) === 1;
}
/** Whether opening the pool created its file (false: an existing pool was opened and recovered). */
export function pmemFileCreated(handle: number): boolean {
  return lib.mp_pmem_created(handle) === 1;
}

// The calls below give statuses (or granule offsets, else a negative status) for the pool to turn
// into errors (PMEMMemoryPool, src/copy.ts), as a pool's block calls do.

/** Makes `length` bytes at a file offset durable: a status. */
export function persistPmem(handle: number, fileOffset: number, length: number): number {
  return lib.mp_pmem_persist(handle, fileOffset, length);
}
/**
 * Makes `length` bytes at byte `at` of the allocation `id` at a granule offset durable, checked in
 * the same call: a status (useAfterFree where the block no longer holds allocation `id`).
 */
export function persistPmemAllocation(handle: number, offset: number, id: number, at: number, length: number): number {
  return lib.mp_pmem_persist_allocation(handle, offset, id, at, length);
}
/** As persistPmemAllocation, but only starts writing the range back (drainPmem waits): a status. */
export function flushPmemAllocation(handle: number, offset: number, id: number, at: number, length: number): number {
  return lib.mp_pmem_flush_allocation(handle, offset, id, at, length);
}
/** Starts writing `length` bytes at a file offset back without waiting (drainPmem waits): a status. */
export function flushPmem(handle: number, fileOffset: number, length: number): number {
  return lib.mp_pmem_flush(handle, fileOffset, length);
}
/** Waits until everything flushed so far is durable: a status. */
export function drainPmem(handle: number): number {
  return lib.mp_pmem_drain(handle);
}
/** Copies host bytes to a file offset and makes them durable: a status. */
export function memcpyPersistPmem(handle: number, fileOffset: number, src: Pointer, length: number): number {
  return lib.mp_pmem_memcpy_persist(handle, fileOffset, src, length);
}
/** As memcpyPersistPmem, into the allocation `id` at a granule offset, at byte `at` of it (the core checks that it fits): a status (useAfterFree where the block no longer holds allocation `id`). */
export function memcpyPersistIntoPmem(handle: number, offset: number, id: number, at: number, src: Pointer, length: number): number {
  return lib.mp_pmem_memcpy_persist_into(handle, offset, id, at, src, length);
}

/** Publishes the allocation `id` at a granule offset (0: none, removing the root) as root `name`; `freePrevious` frees the block it published before in the same step: a status. */
export function setPmemRoot(handle: number, name: Uint8Array, offset: number, id: number, freePrevious: boolean): number {
  return lib.mp_pmem_set_root(handle, name, name.length, offset, id, freePrevious ? 1 : 0);
}
/** The granule offset root `name` publishes, 0 where there is no such root, or a negative status. */
export function pmemRootOffset(handle: number, name: Uint8Array): number {
  return offsetOrStatus(lib.mp_pmem_get_root(handle, name, name.length));
}
/** As pmemRootOffset; where there is no such root, a zero-filled block of `size` bytes allocated and published as it in one step. */
export function pmemRootOrNew(handle: number, name: Uint8Array, size: number): number {
  return offsetOrStatus(lib.mp_pmem_root(handle, name, name.length, size));
}
/** The name of root number `index`: "" past the last root, or a negative status. */
export function pmemRootName(handle: number, index: number): string | number {
  return readName((buffer, capacity) => lib.mp_pmem_root_name(handle, index, buffer, capacity), 64);
}
/** Writes the offsets of the live allocations no root or link reaches: how many there are (or a negative status). */
export function listUnreachableOffsets(handle: number, out: Uint32Array, capacity: number): number {
  return lib.mp_pmem_unreachable_list(handle, out, capacity);
}
/**
 * Writes a link to the allocation `childId` at `childOffset` (0: none) into the word at byte `at` of
 * the allocation `parentId` at `parentOffset`, publishing the child with it; `freePrevious` frees
 * what the word linked to in the same step: a status.
 */
export function linkPmem(handle: number, parentOffset: number, parentId: number, at: number, childOffset: number, childId: number, freePrevious: boolean): number {
  return lib.mp_pmem_link(handle, parentOffset, parentId, at, childOffset, childId, freePrevious ? 1 : 0);
}
/** The granule offset the link word at byte `at` of the parent names, 0 where the word is 0, or a negative status. */
export function pmemLinked(handle: number, parentOffset: number, parentId: number, at: number): number {
  return offsetOrStatus(lib.mp_pmem_linked(handle, parentOffset, parentId, at));
}
/** Makes the allocation `id` at a granule offset durable without a root or link: a status. */
export function commitUnpublishedPmem(handle: number, offset: number, id: number): number {
  return lib.mp_pmem_commit_unpublished(handle, offset, id);
}
/** Persist barriers passed in this process (counted only where MEMORY_POOL_CRASH_AT is set: the crash tests). */
export function pmemBarrierCount(): number {
  return lib.mp_pmem_barrier_count();
}
/** One DMA from the device into the registered mapping, then persisted: 1 where done, 0 where the caller copies, or a status. */
export function checkpointPmem(handle: number, deviceId: number, fileOffset: number, src: Pointer, length: number): number {
  return lib.mp_pmem_checkpoint(handle, deviceId, fileOffset, src, length);
}
/** Whether the PMEM pool's mapping is registered with the driver for direct DMA (registered on first use). */
export function pmemRegisteredForDma(handle: number, deviceId: number): boolean {
  return lib.mp_pmem_register_dma(handle, deviceId) === 1;
}

export type { Pointer };
