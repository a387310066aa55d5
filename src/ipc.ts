/**
 * GPU memory shared between processes on one machine. The exporting process turns an allocation
 * into a plain, JSON-serialisable handle; another Bun process opens it and sees the same device
 * bytes. The driver keeps the memory alive while either side maps it: the exporter may free or
 * destroy at any time without pulling memory from under the importer, who sees the range until
 * it closes it (and should stop using the bytes once the exporter has reused them: the sharing
 * is of memory, not of the allocation's lifetime).
 */
import type { Pointer } from "bun:ffi";
import { describe, InvalidArgumentError, InvalidPointerError, OutOfBoundsError, UnsupportedOperationError, UseAfterFreeError } from "./errors";
import { GRANULE_BYTES, HostMemory } from "./native";
import * as native from "./native";
import { byteLengthOf } from "./validate";
import { checkReceivers, foreignReceiver } from "./receiver";

/** What travels to the other process (postMessage it, write it to a pipe, pass it on argv). */
export interface GPUIPCHandle {
  /** The exporting process, whose descriptor `fd` the importer takes a copy of. */
  pid: number;
  fd: number;
  deviceId: number;
  /** Bytes of the exported range (a whole region of the pool). */
  rangeBytes: number;
  /** Where the allocation starts in the range, and its size. */
  offset: number;
  size: number;
}

/** What exporting reads of a device allocation (a GPUAllocation, src/gpu.ts, which calls this). */
export interface ExportedAllocation {
  readonly pool: { readonly handle: number; readonly base: number };
  readonly offset: number;
  readonly ptr: number;
  readonly size: number;
  readonly deviceId: number;
  assertUsable(action: string): void;
}

/** @internal the handle for `allocation`, exported by its pool's core. */
export function exportAllocation(allocation: ExportedAllocation): GPUIPCHandle {
  allocation.assertUsable("export");
  const { fd, regionOffset, regionBytes } = native.exportDeviceRegion(allocation.pool.handle, allocation.offset);
  return {
    pid: process.pid,
    fd,
    deviceId: allocation.deviceId,
    rangeBytes: regionBytes,
    offset: allocation.ptr - allocation.pool.base - regionOffset,
    size: allocation.size,
  };
}

/**
 * Each field of a handle and the most it can be: the core takes a pid and a descriptor as 32-bit
 * ints (a larger number wrapped there, to another process's pid or another descriptor), and byte
 * counts up to 2^52 (past it, the core's refusal spoke of "a copy's length").
 */
const HANDLE_FIELDS = { pid: 0x7fff_ffff, fd: 0x7fff_ffff, deviceId: 0x7fff_ffff, rangeBytes: 2 ** 52, offset: 2 ** 52, size: 2 ** 52 } as const;

/** What open() hands the constructor: `private` binds only TypeScript, and JavaScript can call it. */
const OPENED: unique symbol = Symbol("opened by SharedGPUMemory.open");

/** Whether a value is memory SharedGPUMemory.open() mapped (src/receiver.ts). */
let isSharedGPUMemory: (value: unknown) => boolean;

/** Device memory of another process, mapped here. */
export class SharedGPUMemory {
  readonly #base: number;
  #closed = false;

  static {
    isSharedGPUMemory = (value) => typeof value === "object" && value !== null && #base in value;
  }

  /**
   * Only open() makes one: `new SharedGPUMemory(handle, address)` from JavaScript read and wrote any
   * device address through read() and write(). Frozen: `handle` (its size bounds every copy) is not
   * to be replaced or shadowed.
   */
  private constructor(
    readonly handle: Readonly<GPUIPCHandle>,
    base: number,
    opened?: typeof OPENED,
  ) {
    if (opened !== OPENED) throw new UnsupportedOperationError("SharedGPUMemory has no public constructor: SharedGPUMemory.open(handle) maps a handle");
    this.#base = base;
    Object.freeze(this);
  }

  /**
   * Maps what `handle` names; InvalidPointerError where the exporter or its descriptor is gone.
   * Each field is read once, into a record of its own, before anything is checked: a getter
   * cannot pass the checks with one value and map or copy with another.
   */
  static open(handle: GPUIPCHandle): SharedGPUMemory {
    const read: Record<string, number> = {};
    for (const [field, most] of Object.entries(HANDLE_FIELDS)) {
      let value: unknown;
      try {
        value = (handle as unknown as Record<string, unknown> | null | undefined)?.[field];
      } catch (thrown) {
        throw new InvalidPointerError(`not a GPU IPC handle: its ${field} cannot be read (${describe(thrown)} thrown)`);
      }
      if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= most)) throw new InvalidPointerError(`not a GPU IPC handle: ${field} is ${describe(value)}`);
      read[field] = value;
    }
    const checked = Object.freeze(read as unknown as GPUIPCHandle);
    if (checked.offset % GRANULE_BYTES !== 0 || checked.offset + checked.size > checked.rangeBytes) {
      throw new InvalidPointerError(`not a GPU IPC handle: the allocation (offset ${checked.offset}, ${checked.size} bytes) lies outside its range of ${checked.rangeBytes} bytes`);
    }
    const base = native.openDeviceRegion(checked.deviceId, checked.pid, checked.fd, checked.rangeBytes);
    return new SharedGPUMemory(checked, base, OPENED);
  }

  /** The allocation's device address in this process. */
  get ptr(): number {
    this.#assertOpen();
    return this.#base + this.handle.offset;
  }

  get size(): number {
    return this.handle.size;
  }

  /** Copies the allocation's bytes (or the first `bytes`) into `dst`. */
  read(dst: ArrayBufferView, bytes = Math.min(hostBytes(dst), this.size)): void {
    this.#check(bytes, hostBytes(dst));
    native.copyDeviceToHost(this.handle.deviceId, dst as unknown as Pointer, this.ptr as Pointer, bytes, HostMemory.pageable, null);
  }

  /** Copies `src` (or its first `bytes`) into the allocation. */
  write(src: ArrayBufferView, bytes = Math.min(hostBytes(src), this.size)): void {
    this.#check(bytes, hostBytes(src));
    native.copyHostToDevice(this.handle.deviceId, this.ptr as Pointer, src as unknown as Pointer, bytes, HostMemory.pageable, null);
  }

  /** Unmaps the range here; the memory goes once no process maps it. */
  close(): void {
    this.#assertOpen();
    native.closeDeviceRegion(this.#base);
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  #check(bytes: number, hostBytes: number): void {
    this.#assertOpen();
    if (!(Number.isSafeInteger(bytes) && bytes > 0 && bytes <= this.size && bytes <= hostBytes)) {
      throw new OutOfBoundsError(`cannot copy ${bytes} bytes: the shared allocation holds ${this.size}, the host side ${hostBytes}`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new UseAfterFreeError("the shared GPU memory was closed");
  }
}

/** The bytes of the host side of a read or write: a typed array or DataView, measured as it really is. */
function hostBytes(view: ArrayBufferView): number {
  if (!ArrayBuffer.isView(view)) throw new InvalidArgumentError("view", `SharedGPUMemory copies to and from a typed array or DataView, not ${describe(view)}`);
  return byteLengthOf(view);
}

// The public members, behind the check of their receiver (src/receiver.ts).
checkReceivers(SharedGPUMemory.prototype, "sharedMemory", isSharedGPUMemory, ["ptr", "size", "read", "write", "close", Symbol.dispose], foreignReceiver("memory that SharedGPUMemory.open() mapped"));
