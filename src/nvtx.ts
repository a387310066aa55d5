/**
 * What CUDA's tools see of GPU and pinned pools (zig/src/gpu/nvtx.zig). Each committed region of
 * such a pool is an NVTX memory heap and each live allocation a region of it, so compute-sanitizer
 * reports a kernel's access outside a live allocation (past its end, or after its free) where it
 * happens. Ranges around pool operations and copies (off by default) show in Nsight Systems.
 * Without a tool attached every NVTX call is a no-op, so registration stays on by default.
 *
 * The switches are process-wide; their first values come from the environment when the process
 * starts: MEMORY_POOL_NVTX=0 turns registration off, MEMORY_POOL_NVTX_RANGES=1 turns ranges on.
 * Registration applies to pools made after it is set (a pool keeps what it started with).
 */
import { ConfigError } from "./errors";
import { ABI } from "./native";
import * as native from "./native";
import { optionsArg } from "./validate";

/** The bits of mp_nvtx_state (zig/src/gpu/nvtx.zig state_*). */
const Bit = ABI.enums.nvtxState;
/** What mp_nvtx_configure takes for "leave this switch as it is". */
const UNCHANGED = 2;

export interface NvtxOptions {
  /** GPU and pinned pools made from now on register their regions and allocations. */
  registerMemory: boolean;
  /** Ranges around allocate, free, reset, trim, copies and fills. */
  ranges: boolean;
}

export interface NvtxStatus extends NvtxOptions {
  /** The core was built with the CUDA toolkit's NVTX headers (else nothing is registered). */
  builtIn: boolean;
  /** A tool (compute-sanitizer, Nsight) answered a pool's registration in this process. */
  toolAttached: boolean;
  /**
   * A tool injected itself into NVTX when the process started (NVTX_INJECTION64_PATH is set, as
   * compute-sanitizer and Nsight Systems do). GPU pools made with registerMemory on then take their
   * memory from one cuMemAlloc the tool can check, instead of VMM mappings it refuses as heaps.
   */
  toolInjected: boolean;
}

function statusOf(bits: number): NvtxStatus {
  return {
    builtIn: (bits & Bit.built) !== 0,
    registerMemory: (bits & Bit.registerMemory) !== 0,
    ranges: (bits & Bit.ranges) !== 0,
    toolAttached: (bits & Bit.toolAttached) !== 0,
    toolInjected: (bits & Bit.toolInjected) !== 0,
  };
}

/** The NVTX switches and whether a tool is attached. */
export function nvtxStatus(): NvtxStatus {
  return statusOf(native.nvtxState());
}

/** Sets the NVTX switches given (the others stay); returns the status after. */
export function configureNvtx(options: Partial<NvtxOptions>): NvtxStatus {
  // Read as every call's options are (optionsArg): a hostile object is a ConfigError, in one format.
  const given = optionsArg("NvtxOptions", options ?? null, ["registerMemory", "ranges"]);
  const switchOf = (name: keyof NvtxOptions): number => {
    const value = given[name];
    if (value === undefined) return UNCHANGED;
    if (typeof value !== "boolean") throw new ConfigError(name, value, "must be true or false", "NvtxOptions");
    return value ? 1 : 0;
  };
  return statusOf(native.setNvtx(switchOf("registerMemory"), switchOf("ranges")));
}
