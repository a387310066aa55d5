/**
 * The GPU half of DebugGPU(): canaries around device allocations and fill patterns, written and
 * checked by the debug kernels (cuda/debug_kernels.cu) since the CPU cannot touch device memory,
 * plus the history and leak records every debug pool keeps. A GPU pool makes one only where one
 * of its switches is on; a plain GPU pool never calls into this file.
 *
 * Layout of a block with canaries: [canary][user bytes][canary], each canary
 * `deviceCanaryBytes(alignment)` long (zig/src/pool.zig sizes fixed-size blocks to match), so the
 * user pointer keeps the pool's alignment. Canaries are checked on free, by check() (every live
 * allocation in one kernel launch) and on destroy.
 */
import type { Pointer } from "bun:ffi";
import type { PoolConfig } from "./config";
import { BoundaryViolationError, GPUUnavailableError } from "./errors";
import { History, now, type HistoryEvent } from "./debug/history";
import { describeAllocation, describeBoundaryViolation, type LeakInfo } from "./debug/report";
import { captureStack, formatStack, type StackTrace } from "./debug/stack";
import { ABI, GRANULE_BYTES, HostMemory } from "./native";
import * as native from "./native";

/** What a canary byte holds on the device. */
export const DEVICE_CANARY_BYTE = 0xca;

/** As zig/src/pool.zig deviceCanaryBytes sizes them: the alignment, and at least the core's minimum. */
export function deviceCanaryBytes(alignment: number): number {
  return Math.max(ABI.constants.deviceCanaryBytesMin, alignment);
}

interface DeviceRecord {
  readonly id: number;
  readonly ptr: number;
  readonly size: number;
  readonly time: number;
  readonly trace: StackTrace | undefined;
}

export class GPUDebug {
  /** Bytes of canary on each side; 0 without canaries. */
  readonly canaryBytes: number;
  readonly #records = new Map<number, DeviceRecord>();
  readonly #history: History;
  readonly #deviceId: number;

  static wanted(config: Readonly<PoolConfig>): boolean {
    return config.canaries || config.fillOnAlloc !== undefined || config.fillOnFree !== undefined || config.trackHistory || config.leakReport;
  }

  constructor(
    readonly poolName: string,
    readonly config: Readonly<PoolConfig>,
  ) {
    this.canaryBytes = config.canaries ? deviceCanaryBytes(config.alignment) : 0;
    this.#history = new History(config.historySize);
    this.#deviceId = config.deviceId;
    if ((config.canaries || config.fillOnAlloc !== undefined || config.fillOnFree !== undefined) && !native.gpuKernelsAvailable()) {
      throw new GPUUnavailableError(`pool '${poolName}': canaries and fill patterns need the debug kernels, and this core was built without nvcc (reinstall where nvcc is, or turn them off)`);
    }
  }

  /** Bytes to ask the core for, for `size` user bytes. */
  blockBytes(size: number): number {
    return typeof size === "number" && size > 0 ? size + 2 * this.canaryBytes : size;
  }

  /** A new block at `blockAddress` holds allocation `id` of `size` bytes: canaries, fill, record. */
  allocated(blockOffset: number, blockAddress: number, id: number, size: number, stream: Pointer | null): number {
    const ptr = blockAddress + this.canaryBytes;
    if (this.canaryBytes > 0) {
      this.#fill(blockAddress, DEVICE_CANARY_BYTE, this.canaryBytes, stream);
      this.#fill(ptr + size, DEVICE_CANARY_BYTE, this.canaryBytes, stream);
    }
    if (this.config.fillOnAlloc !== undefined) this.#fill(ptr, this.config.fillOnAlloc, size, stream);
    const trace = this.config.trackHistory ? captureStack() : undefined;
    this.#records.set(blockOffset, { id, ptr, size, time: now(), trace });
    if (this.config.trackHistory) this.#history.record("allocate", id, ptr, size, trace);
    return ptr;
  }

  /** The block offset of a user address this layout made. */
  blockOffsetOf(address: number, base: number): number {
    return (address - this.canaryBytes - base) / GRANULE_BYTES;
  }

  /**
   * Before the block at `blockOffset` is freed: its canaries are checked (the damage is returned,
   * for the caller to throw once the block is freed) and its bytes poisoned.
   */
  freeing(blockOffset: number, stream: Pointer | null): BoundaryViolationError | undefined {
    const record = this.#records.get(blockOffset);
    if (record === undefined) return undefined;
    if (stream !== null) native.synchronizeStream(this.#deviceId, stream); // the check reads what the stream wrote
    const damage = this.canaryBytes > 0 ? this.#check([record]) : undefined;
    if (this.config.fillOnFree !== undefined) this.#fill(record.ptr, this.config.fillOnFree, record.size, stream);
    return damage;
  }

  /** The block at `blockOffset` was freed. */
  freed(blockOffset: number): void {
    const record = this.#records.get(blockOffset);
    if (record === undefined) return;
    this.#records.delete(blockOffset);
    if (this.config.trackHistory) this.#history.record("free", record.id, record.ptr, record.size, captureStack());
  }

  /** The canaries of every live allocation, in one launch: the first damage found, or undefined. */
  checkAll(): BoundaryViolationError | undefined {
    if (this.canaryBytes === 0 || this.#records.size === 0) return undefined;
    return this.#check([...this.#records.values()]);
  }

  #check(records: DeviceRecord[]): BoundaryViolationError | undefined {
    const table = new BigUint64Array(records.length * 2);
    records.forEach((record, index) => {
      table[2 * index] = BigInt(record.ptr);
      table[2 * index + 1] = BigInt(record.size);
    });
    const damage = native.checkDeviceCanaries(this.#deviceId, table, this.canaryBytes, DEVICE_CANARY_BYTE);
    return damage === undefined ? undefined : this.#violation(records[damage.index]!, damage.after);
  }

  /** Reads the damaged canary back to say exactly which bytes changed. */
  #violation(record: DeviceRecord, after: boolean): BoundaryViolationError {
    const canary = new Uint8Array(this.canaryBytes);
    const start = after ? record.ptr + record.size : record.ptr - this.canaryBytes;
    native.copyDeviceToHost(this.#deviceId, canary, start as Pointer, canary.length, HostMemory.pageable, null);
    const damaged = canary.filter((byte) => byte !== DEVICE_CANARY_BYTE).length;
    // The damaged byte nearest the allocation: the last one before it, the first one after it.
    const nearest = after ? canary.findIndex((byte) => byte !== DEVICE_CANARY_BYTE) : canary.findLastIndex((byte) => byte !== DEVICE_CANARY_BYTE);
    const offset = after ? record.size + nearest : nearest - this.canaryBytes;
    const stack = formatStack(record.trace);
    const what = describeAllocation(record.id, record.size, record.ptr, this.poolName);
    const message = describeBoundaryViolation(what, record.size, offset, damaged, stack);
    this.#history.record("violation", record.id, record.ptr, record.size, undefined, message.split("\n")[0]);
    return new BoundaryViolationError(message, this.poolName, { allocationId: record.id, ptr: record.ptr, size: record.size, offset, damagedBytes: damaged, allocationStack: stack });
  }

  leaks(): LeakInfo[] {
    const time = now();
    return [...this.#records.values()].map((record) => ({
      id: record.id,
      ptr: record.ptr,
      size: record.size,
      age: time - record.time,
      stack: formatStack(record.trace),
      collected: false,
    }));
  }

  history(): HistoryEvent[] {
    return this.#history.events();
  }

  /** Every allocation is gone at once: a reset frees each one, and the history says so, newest first (see DebugTracker.forgetAll). */
  forgetAll(destroyed: boolean): void {
    if (!destroyed && this.config.trackHistory) {
      const trace = captureStack();
      const records = [...this.#records.values()];
      for (let i = records.length - 1; i >= 0; i--) this.#history.record("free", records[i]!.id, records[i]!.ptr, records[i]!.size, trace);
    }
    this.#records.clear();
  }

  #fill(address: number, value: number, length: number, stream: Pointer | null): void {
    if (length > 0) native.fillDevice(this.#deviceId, address as Pointer, value, length, stream);
  }
}

