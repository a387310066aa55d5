/**
 * The FFI surface: the one file that opens the Zig core (zig/src/ffi.zig) and turns its status
 * codes into typed errors. Everything else calls through `core` and `check`.
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
import { coreFileProblem, loadCore } from "./loader";

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
  mp_cache_open: { args: [i32], returns: ptr },
  mp_cache_chunk: { args: [i32, u32], returns: ptr },
  mp_cache_ids: { args: [i32], returns: ptr },
  mp_cache_refill: { args: [i32, ptr], returns: i32 },
  mp_cache_flush: { args: [i32, ptr, u32], returns: i32 },
  mp_cache_release: { args: [ptr], returns: u32 },
  mp_pool_base: { args: [i32], returns: ptr },
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

/** PMEM pools (zig/src/pmem/): handles of their own; offsets and sizes as above. */
const pmemSymbols = {
  mp_pmem_available: { args: [], returns: i32 },
  mp_pmem_open: { args: [ptr, u32, ptr, u32, ptr], returns: i32 },
  mp_pmem_last_reason: { args: [], returns: u32 },
  mp_pmem_find: { args: [ptr, u32], returns: i32 },
  mp_pmem_close: { args: [i32], returns: i32 },
  mp_pmem_list: { args: [ptr, u32], returns: u32 },
  mp_pmem_name: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_path: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_config: { args: [i32, ptr], returns: i32 },
  mp_pmem_base: { args: [i32], returns: ptr },
  mp_pmem_file_size: { args: [i32], returns: f64 },
  mp_pmem_is_pmem: { args: [i32], returns: i32 },
  mp_pmem_created: { args: [i32], returns: i32 },
  mp_pmem_alloc: { args: [i32, f64], returns: u32 },
  mp_pmem_free: { args: [i32, u32, u32], returns: i32 },
  mp_pmem_live_size: { args: [i32, u32], returns: f64 },
  mp_pmem_live_id: { args: [i32, u32], returns: u32 },
  mp_pmem_register_dma: { args: [i32, u32], returns: i32 },
  mp_pmem_checkpoint: { args: [i32, u32, f64, ptr, f64], returns: i32 },
  mp_pmem_persist: { args: [i32, f64, f64], returns: i32 },
  mp_pmem_flush: { args: [i32, f64, f64], returns: i32 },
  mp_pmem_drain: { args: [i32], returns: i32 },
  mp_pmem_memcpy_persist: { args: [i32, f64, ptr, f64], returns: i32 },
  mp_pmem_memcpy_persist_into: { args: [i32, u32, u32, f64, ptr, f64], returns: i32 },
  mp_pmem_set_root: { args: [i32, ptr, u32, u32, u32, u32], returns: i32 },
  mp_pmem_get_root: { args: [i32, ptr, u32], returns: u32 },
  mp_pmem_root: { args: [i32, ptr, u32, f64], returns: u32 },
  mp_pmem_root_name: { args: [i32, u32, ptr, u32], returns: i32 },
  mp_pmem_live_list: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_unreachable_list: { args: [i32, ptr, u32], returns: i32 },
  mp_pmem_link: { args: [i32, u32, u32, f64, u32, u32, u32], returns: i32 },
  mp_pmem_linked: { args: [i32, u32, u32, f64], returns: u32 },
  mp_pmem_commit_unpublished: { args: [i32, u32, u32], returns: i32 },
  mp_pmem_stats: { args: [i32, ptr], returns: i32 },
  mp_pmem_reset_peaks: { args: [i32], returns: i32 },
  mp_pmem_trim: { args: [i32], returns: f64 },
  mp_pmem_check: { args: [i32], returns: i32 },
  mp_pmem_reset: { args: [i32], returns: i32 },
  mp_pmem_snapshot: { args: [i32, ptr, ptr, u32, ptr, u32, ptr], returns: i32 },
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
  const cannotOpen = (err: unknown) => {
    const problem = coreFileProblem(libraryPath);
    return new NativeLibraryError(`the core at ${libraryPath} cannot be opened (${problem ?? (err as Error)?.message}): a core built for this platform is needed`);
  };
  let version: number;
  try {
    const probe = dlopen(libraryPath, { mp_abi_version: symbols.mp_abi_version });
    version = probe.symbols.mp_abi_version();
    probe.close();
  } catch (err) {
    throw cannotOpen(err);
  }
  checkVersion(version, libraryPath);
  let library;
  try {
    library = dlopen(libraryPath, { ...symbols, ...pmemSymbols });
  } catch (err) {
    throw cannotOpen(err);
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
export const core = loadCore(open);

/** What the loaded core describes (src/abi.ts): the tables below are built from it. */
export const ABI: Abi = abi;
export const Status = abi.statuses;
/** Granule offsets from mp_alloc are below this; from it up they are errors. */
export const OFFSET_ERROR_BASE = abi.constants.offsetErrorBase;
/** mp_last_id after mp_alloc: the id in the low 31 bits, the top bit set for an allocation with guard pages. */
export const ID_MASK = abi.constants.idMask;
export const GRANULE_BYTES = abi.constants.granuleBytes;
/** The field numbers `mp_violation` takes: what it reports of the last damage found. */
export const Violation = indices(abi.records.violation);
/** The order of the f64 config record. */
export const CONFIG_FIELDS = abi.records.config.order as readonly ConfigFieldName[];
/** The order of the f64 stats record: every figure the core keeps, including any this code has no type for. */
export const STATS_FIELDS = abi.records.stats.order as readonly StatsFieldName[];
export const PoolKind = abi.enums.poolKind;
export const HostMemory = abi.enums.hostMemory;

// A Worker's blocks cached by threadLocalCache pools go back to their pools when its thread ends
// (the core's thread-exit hook); a Worker that calls process.exit() also gives them back here.
if (!Bun.isMainThread) process.on("exit", () => core.mp_thread_flush());

/**
 * A view of the last id of a FixedSize pool placed for the JavaScript cache (zig/src/ffi.zig
 * mp_cache_ids), on which the cache counts ids as the core does; null where the pool has no cache.
 */
export function cachePoolIds(handle: number): Int32Array | null {
  const address = core.mp_cache_ids(handle);
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
  return Atomics.load((lastIdWord ??= new Uint32Array(toArrayBuffer(core.mp_last_id_address()!, 0, 4))), 0);
}

// Results come back as return values, never through typed arrays the core writes into on hot
// paths: once Bun's JIT optimises a loop it may reuse an earlier read of such an array across the
// FFI call and miss the new value (seen with Bun 1.4.4). Buffers for cold calls are copied at once.

const messageBuffer = new Uint8Array(512);
const decoder = new TextDecoder();

/** The core's explanation of the last failure on this thread. */
export function lastError(): string {
  const len = core.mp_last_error(messageBuffer, messageBuffer.length);
  return decoder.decode(messageBuffer.subarray(0, len));
}

/** The setting (a PoolConfig field, or "name") the core's last config failure on this thread is about. */
function lastErrorSetting(): string {
  const len = core.mp_last_error_setting(messageBuffer, messageBuffer.length);
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
      return new PMEMFormatError(message, pmemFormatReason(core.mp_pmem_last_reason()));
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
export function check(status: number): number {
  if (status < 0) throw errorFor(status);
  return status;
}

export function statusOfOffset(offset: number): number {
  return -(offset - OFFSET_ERROR_BASE);
}

const encoder = new TextEncoder();
export function encodeName(name: string): Uint8Array {
  return encoder.encode(name);
}
export function decodeName(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export type { Pointer };
