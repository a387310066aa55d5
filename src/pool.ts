/**
 * Pools as TypeScript sees them: a handle into the core plus the address of the pool's arena.
 * NativePool holds what every kind shares (allocation ids, frees, statistics, reset, trim,
 * destruction); HostPool adds views, cut by offset from a few large ArrayBuffers over the arena
 * (one per 2 GiB window), so making a view costs no FFI call.
 */
import { ptr as addressOf, toArrayBuffer, type Pointer } from "bun:ffi";
import { Allocation, PoolAllocation, type TypedArrayConstructor } from "./allocation";
import type { PoolConfig } from "./config";
import { InvalidPointerError, InvalidSizeError, MemoryPoolError, PoolNotFoundError, UseAfterFreeError } from "./errors";
import { core, errorFor, GRANULE_BYTES, OFFSET_ERROR_BASE, STATS_FIELDS, statusOfOffset } from "./native";
import { plainConfig, takeSnapshot, type AllocationDetailsProvider, type PoolSnapshot, type SnapshotOptions } from "./snapshot";
import { MemoryStats, type MemoryStatsJSON } from "./stats";

const WINDOW_SHIFT = 27; // granules per window: 2^27 x 16 B = 2 GiB
const WINDOW_GRANULE_MASK = (1 << WINDOW_SHIFT) - 1;
const WINDOW_BYTES = 2 ** 31;
/** Windows overlap by half, so any block up to 2 GiB lies inside the window its start falls in. */
const WINDOW_SPAN_BYTES = 2 ** 32;

export type PoolKind = "cpu" | "gpu" | "pinned" | "pmem";
export type Freeable = Allocation | number | ArrayBufferView;

/** What pool.toJSON() gives: for tools, logs and dashboards. */
export interface PoolJSON {
  name: string;
  kind: PoolKind;
  config: Record<string, unknown>;
  /** Absent once the pool is destroyed. */
  stats?: MemoryStatsJSON;
  destroyed?: true;
}

/**
 * @internal The core's calls a pool makes about its blocks. Pools in the core's main table (CPU,
 * pinned, GPU) make them through mp_*; PMEM pools answer the same questions through mp_pmem_*,
 * so the handles, views and checks below serve them too.
 */
export interface PoolCalls {
  base(handle: number): number;
  addressSpace(handle: number): number;
  alloc(handle: number, size: number): number;
  free(handle: number, offset: number, id: number): number;
  liveSize(handle: number, offset: number): number;
  liveId(handle: number, offset: number): number;
  stats(handle: number, out: Float64Array): number;
  reset(handle: number): number;
  trim(handle: number): number;
  destroy(handle: number): number;
  /** zig/src/snapshot.zig: header, regions, their capacity, blocks, their capacity, statistics. */
  snapshot(handle: number, header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array): number;
}

const coreCalls: PoolCalls = {
  base: (handle) => Number(core.mp_pool_base(handle)),
  addressSpace: core.mp_pool_address_space,
  alloc: core.mp_alloc,
  free: core.mp_free,
  liveSize: core.mp_live_size,
  liveId: core.mp_live_id,
  stats: core.mp_stats,
  reset: core.mp_reset,
  trim: core.mp_trim,
  destroy: core.mp_pool_destroy,
  snapshot: core.mp_snapshot,
};

export abstract class NativePool {
  abstract readonly kind: PoolKind;
  /** @internal incremented by reset(): allocations from an older epoch are dead. */
  epoch = 0;
  /** @internal */
  destroyed = false;
  /** @internal the core's handle. */
  readonly handle: number;
  /** @internal address of the arena's first byte (a device address for GPU pools). */
  readonly base: number;
  /** @internal bytes of address space the arena spans. */
  readonly addressSpace: number;
  readonly #statsRecord = new Float64Array(STATS_FIELDS.length);
  readonly #calls: PoolCalls;

  /** @internal pools are made by MemoryPoolManager */
  constructor(
    readonly name: string,
    readonly config: Readonly<PoolConfig>,
    handle: number,
    calls: PoolCalls = coreCalls,
  ) {
    this.handle = handle;
    this.#calls = calls;
    this.base = calls.base(handle);
    this.addressSpace = calls.addressSpace(handle);
  }

  /** @internal a block's granule offset; throws the typed error where the core refuses. */
  allocOffset(size: number): number {
    const offset = this.#calls.alloc(this.handle, typeof size === "number" ? size : NaN);
    if (offset >= OFFSET_ERROR_BASE) throw this.failure(statusOfOffset(offset));
    return offset;
  }

  /** @internal the address of granule `offset`. */
  addressOf(offset: number): Pointer {
    return (this.base + offset * GRANULE_BYTES) as Pointer;
  }

  /** @internal the granule offset of an address this pool gave out; InvalidPointerError otherwise. */
  offsetOf(address: number): number {
    const delta = address - this.base;
    if (!(delta >= 0 && delta < this.addressSpace) || delta % GRANULE_BYTES !== 0) {
      throw new InvalidPointerError(`pool '${this.name}' never gave out the pointer 0x${address.toString(16)}: it lies outside the pool`);
    }
    return delta / GRANULE_BYTES;
  }

  /** @internal called by PoolAllocation.free(): frees only if the block still holds that allocation. */
  release(allocation: PoolAllocation): void {
    this.check(this.#calls.free(this.handle, allocation.offset, allocation.id));
  }

  /** @internal frees the block at `address` whoever holds it (a raw pointer free). */
  releaseAddress(address: number): void {
    this.check(this.#calls.free(this.handle, this.offsetOf(address), 0));
  }

  /** @internal whether the block at `offset` still holds allocation `id` (it may have been freed by pointer). */
  holds(offset: number, id: number): boolean {
    return this.#calls.liveId(this.handle, offset) === id;
  }

  /** @internal the size and id of the live block at `address`; InvalidPointerError where none starts there. */
  liveBlock(address: number): { offset: number; size: number; id: number } {
    const delta = address - this.base;
    const offset = delta / GRANULE_BYTES;
    const size = delta >= 0 && delta < this.addressSpace && Number.isInteger(offset) ? this.#calls.liveSize(this.handle, offset) : -1;
    if (size < 0) throw new InvalidPointerError(`0x${address.toString(16)} is not the start of a live allocation of pool '${this.name}'`);
    return { offset, size, id: core.mp_last_id() };
  }

  /** @internal the typed error for a failed status (PoolNotFoundError once destroyed). */
  failure(status: number): MemoryPoolError {
    if (this.destroyed) return new PoolNotFoundError(`pool '${this.name}' was destroyed`);
    return errorFor(status);
  }

  /** @internal throws for a negative status, returns others. */
  check(status: number): number {
    if (status < 0) throw this.failure(status);
    return status;
  }

  /** (seed) The pool's figures now. */
  getStats(): MemoryStats {
    this.check(this.#calls.stats(this.handle, this.#statsRecord));
    return new MemoryStats(this.name, this.#statsRecord.slice());
  }

  /**
   * The pool's regions and blocks (offset, size, state, id, age; allocation stacks where history is
   * on) and its statistics, at one moment, as plain JSON-serialisable data. For tools, not hot paths:
   * a pool of 10^5 blocks takes a few milliseconds. Draw it with renderMemoryMap().
   */
  snapshot(options?: SnapshotOptions): PoolSnapshot {
    return takeSnapshot(this, options);
  }

  /** @internal the core's snapshot records (see takeSnapshot), through this pool's calls. */
  snapshotRecords(header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array): number {
    return this.check(this.#calls.snapshot(this.handle, header, regions, regionCapacity, blocks, blockCapacity, stats));
  }

  /**
   * @internal where the pool keeps a history of its allocations, their ages in milliseconds and
   * their stacks, for snapshots. None here; the debug layer's history plugs in by overriding this.
   */
  detailsProvider(): AllocationDetailsProvider | undefined {
    return undefined;
  }

  /** Name, kind, config and statistics, for JSON.stringify(pool). */
  toJSON(): PoolJSON {
    const described = { name: this.name, kind: this.kind, config: plainConfig(this.config) };
    if (this.destroyed) return { ...described, destroyed: true };
    return { ...described, stats: this.getStats().toJSON() };
  }

  /** Frees every allocation at once; their handles then throw UseAfterFreeError. */
  reset(): void {
    this.check(this.#calls.reset(this.handle));
    this.epoch++;
  }

  /** Gives empty regions (all but the first) back to the OS or device; returns the bytes released. */
  trim(): number {
    return this.check(this.#calls.trim(this.handle));
  }

  /** @internal called by the manager: releases the memory. */
  destroyNative(): void {
    if (this.destroyed) throw new UseAfterFreeError(`pool '${this.name}' was already destroyed`);
    this.check(this.#calls.destroy(this.handle));
    this.destroyed = true;
  }
}

/** A pool whose memory the CPU can touch: allocations carry typed views. */
export abstract class HostPool extends NativePool {
  readonly #windows: (ArrayBuffer | undefined)[] = [];

  /** (seed) An Allocation of `size` bytes. */
  allocate(size: number): Allocation {
    const offset = this.allocOffset(size);
    return new Allocation(this, this.addressOf(offset), size, offset, core.mp_last_id());
  }

  /** A bare pointer for hot paths: no handle object; free it with deallocate(pointer). */
  allocateRaw(size: number): Pointer {
    return this.addressOf(this.allocOffset(size));
  }

  /** (seed) Frees an Allocation, its pointer, or a view that starts at its first byte. */
  deallocate(target: Freeable): void {
    if (typeof target === "number") return this.releaseAddress(target);
    if (target instanceof Allocation) {
      if (target.pool !== this) throw new InvalidPointerError(`the allocation at 0x${target.ptr.toString(16)} belongs to pool '${target.pool.name}', not '${this.name}'`);
      return target.free();
    }
    if (ArrayBuffer.isView(target)) {
      if (target.byteLength === 0) throw new InvalidPointerError("cannot free an empty or detached view: it names no memory");
      return this.releaseAddress(addressOf(target as DataView));
    }
    throw new InvalidPointerError(`deallocate takes an Allocation, a pointer or a typed array, not ${typeof target}`);
  }

  /** An Allocation over a live block of this pool, e.g. a pointer received from a Worker. */
  fromPointer(address: number): Allocation {
    const { offset, size, id } = this.liveBlock(address);
    return new Allocation(this, address as Pointer, size, offset, id);
  }

  /** @internal a Uint8Array over `size` bytes at granule `offset`. */
  view(offset: number, size: number): Uint8Array {
    if (size > WINDOW_BYTES) return new Uint8Array(this.#ownBuffer(offset, size));
    return new Uint8Array(this.#window(offset >>> WINDOW_SHIFT), (offset & WINDOW_GRANULE_MASK) * GRANULE_BYTES, size);
  }

  /** @internal a view of `type` over the whole block at granule `offset`. */
  typedView(type: TypedArrayConstructor, offset: number, size: number): ArrayBufferView {
    const length = Math.floor(size / type.BYTES_PER_ELEMENT);
    if (size > WINDOW_BYTES) return new type(this.#ownBuffer(offset, size), 0, length);
    const byteOffset = (offset & WINDOW_GRANULE_MASK) * GRANULE_BYTES;
    if (byteOffset % type.BYTES_PER_ELEMENT !== 0) {
      throw new InvalidPointerError(`a ${type.name} needs ${type.BYTES_PER_ELEMENT}-byte alignment; pool '${this.name}' aligns to ${this.config.alignment}`);
    }
    return new type(this.#window(offset >>> WINDOW_SHIFT), byteOffset, length);
  }

  #window(index: number): ArrayBuffer {
    const open = this.#windows[index];
    if (open !== undefined) return open;
    const start = index * WINDOW_BYTES;
    const buffer = toArrayBuffer((this.base + start) as Pointer, 0, Math.min(WINDOW_SPAN_BYTES, this.addressSpace - start));
    this.#windows[index] = buffer;
    return buffer;
  }

  /** Blocks over 2 GiB get a buffer of their own (JavaScript caps one buffer at 4 GiB). */
  #ownBuffer(offset: number, size: number): ArrayBuffer {
    if (size > WINDOW_SPAN_BYTES) throw new InvalidSizeError(`a JavaScript view is at most 4 GiB; this block has ${size} bytes (pass .ptr to native code instead)`);
    return toArrayBuffer(this.addressOf(offset), 0, size);
  }

  /** @internal also detaches every view: the memory is unmapped, views must not reach it. */
  override destroyNative(): void {
    super.destroyNative();
    trackedPools.delete(this);
    for (const buffer of this.#windows) buffer?.transfer(0);
    this.#windows.length = 0;
  }
}

/** (seed) A pool of host memory from the OS. */
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

/** @internal called by the constructors of pinned and PMEM pools; destroyNative forgets them. */
export function trackAddresses(pool: HostPool): void {
  trackedPools.add(pool);
}

/** @internal the pinned or PMEM pool whose memory holds all `length` bytes at `address`, if any. */
export function trackedPoolAt(address: number, length: number): HostPool | undefined {
  if (trackedPools.size === 0) return undefined;
  for (const pool of trackedPools) {
    if (!pool.destroyed && address >= pool.base && address + length <= pool.base + pool.addressSpace) return pool;
  }
  return undefined;
}
