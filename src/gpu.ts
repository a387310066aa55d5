/**
 * GPU pools: device memory sub-allocated from large regions the core maps with CUDA's virtual
 * memory API, so allocate and free never call the driver. Device allocations carry an address,
 * a size and a lifetime, but no host view; bytes move with the copy methods (or copy()), which
 * check every length and offset against both sides before any DMA starts (src/copy.ts).
 */
import type { Pointer } from "bun:ffi";
import { addressOfAllocation, Allocation, assertFreeable, describeHandle, assertLive, foreignAllocation, idOfAllocation, isAllocation, isPoolAllocation, MADE_BY_POOL, offsetOfAllocation, PoolAllocation, poolOfAllocation, settleFree, sizeOfAllocation, type TypedArrayConstructor } from "./allocation";
import { checkedOffset, checkRange, copyBetween, copyOptionsArg, endpointOf, type CopyOptions, type Endpoint } from "./copy";
import type { PoolConfig } from "./config";
import type { HistoryEvent } from "./debug/history";
import type { LeakInfo } from "./debug/report";
import { describe, InvalidPointerError, OutOfBoundsError, type MemoryPoolError } from "./errors";
import { GPUDebug } from "./gpu_debug";
import { exportAllocation, type GPUIPCHandle } from "./ipc";
import { allocationIdOf } from "./native";
import * as native from "./native";
import { addressIn, allocInCore, allocOffsetIn, assertOwnAllocationIn, baseOf, binsFailedIn, endedIn, expectOkIn, failureIn, foreignPool, handleOf, lastTaggedIdOf, liveBlockIn, liveIdIn, NATIVE_STEPS, NativePool, offsetIn, rawBinsIn, releaseAddressIn, releaseIn, tookCoreId, type PoolCalls, type PoolSteps } from "./pool";
import { checkReceivers } from "./receiver";
import { GPUStream, streamOf, type StreamOptions } from "./stream";
import { pointerArg, sizeArg } from "./validate";

export { GPUStream, type StreamOptions };
export type { CopyOptions };

/** A block of device memory: an address, a size and a lifetime; no host view. */
/** @internal allocateGPU(Type, length)'s: the element type it sized the block for (once, as it makes the allocation). */
export let setElementType: (allocation: GPUAllocation, type: TypedArrayConstructor) => void;
/** GPUAllocation.free's: a free once the work queued on `stream` so far is done (GPUMemoryPool's private method). */
let releaseOnStream: (pool: GPUMemoryPool, offset: number, id: number, stream: GPUStream) => MemoryPoolError | undefined;

export class GPUAllocation extends PoolAllocation<GPUMemoryPool> {
  // Private, behind a getter: `length` reads it, and a writable field let any caller change what `length` says.
  #elementType: TypedArrayConstructor | undefined = undefined;

  static {
    setElementType = (allocation, type) => {
      allocation.#elementType = type;
    };
  }

  /** Set by allocateGPU(Type, length): the element type the block was sized for. Read-only. */
  get elementType(): TypedArrayConstructor | undefined {
    return this.#elementType;
  }

  /** The CUDA device the memory is on. */
  get deviceId(): number {
    return this.pool.config.deviceId;
  }

  /** Elements of `elementType` (bytes where none was given). */
  get length(): number {
    const type = this.#elementType;
    return type === undefined ? this.size : Math.floor(this.size / type.BYTES_PER_ELEMENT);
  }

  /** Frees the block; with a stream, once the work queued on that stream so far is done. */
  override free(options?: StreamOptions): void {
    if (!isGPUAllocation(this)) throw foreignAllocation("allocation.free", this);
    const stream = streamOf(options); // first: what its getters do is done before the handle is checked
    assertFreeable(this);
    // Its pool, offset and id as the pool made them (own properties may shadow the getters).
    const pool = poolOfAllocation(this);
    const offset = offsetOfAllocation(this);
    const id = idOfAllocation(this);
    if (stream === undefined) settleFree(this, () => releaseIn(pool, offset, id));
    else settleFree(this, () => releaseOnStream(pool, offset, id, stream));
  }
}

/**
 * @internal whether `value` is a GPUAllocation a pool made: `instanceof` alone passes
 * Object.create(GPUAllocation.prototype) and Proxies, whose missing private fields would then
 * throw a TypeError inside the library instead of the InvalidPointerError the caller is owed.
 */
export function isGPUAllocation(value: unknown): value is GPUAllocation {
  return isPoolAllocation(value) && value instanceof GPUAllocation;
}

/** Host memory a copy reads or writes: an Allocation of a host pool, or any typed array. */
export type HostSide = Allocation | ArrayBufferView;

/** A pool of device memory on `config.deviceId`. */
/** Whether a value is a GPU pool the manager made (src/receiver.ts). */
let isGPUPool: (value: unknown) => boolean;
/** A DebugGPU pool's steps beyond NativePool's (PoolSteps): frees that check the canaries, and a check of all before the memory goes. */
let DEBUG_GPU_STEPS: PoolSteps<GPUMemoryPool>;

export class GPUMemoryPool extends NativePool {
  readonly kind = "gpu" as const;
  /** The device-side checks (DebugGPU): canaries and fills by kernel, history, leaks. Private: its calls take offsets and streams as given. */
  readonly #gpuDebug: GPUDebug | undefined;

  static {
    isGPUPool = (value) => typeof value === "object" && value !== null && #allocOffset in value;
    releaseOnStream = (pool, offset, id, stream) => pool.#releaseOnStream(offset, id, stream);
    DEBUG_GPU_STEPS = {
      ...NATIVE_STEPS,
      release: (pool, offset, id) => pool.#freeChecked(offset, id, undefined),
      // The leak report is the base class's, from getLeaks.
      beforeAllEnd: (pool) => pool.#gpuDebug!.checkAll(),
      // reset and destroy: the ended allocations' records go with them (else leaks and checks read them).
      endedAll: (pool, destroyed) => pool.#gpuDebug!.forgetAll(destroyed),
      afterDestroy: (pool) => pool.#gpuDebug!.forgetAll(true),
    };
  }

  /** @internal pools are made by MemoryPoolManager */
  constructor(name: string, config: Readonly<PoolConfig>, handle: number, calls?: PoolCalls) {
    super(name, config, handle, calls, (made) => (GPUDebug.wanted(made) ? DEBUG_GPU_STEPS : NATIVE_STEPS) as PoolSteps);
    this.#gpuDebug = GPUDebug.wanted(config) ? new GPUDebug(name, config) : undefined;
  }

  /** A device allocation of `size` bytes; with a stream, blocks freed on it may be reused at once. */
  allocate(size: number, options?: StreamOptions): GPUAllocation {
    if (!(typeof this === "object" && this !== null && #allocOffset in this)) throw foreignPool("pool.allocate", this);
    const debug = this.#gpuDebug;
    const stream = streamOf(options);
    if (debug === undefined) {
      const offset = this.#allocOffset(size, stream);
      return new GPUAllocation(this, addressIn(this, offset), size, offset, lastTaggedIdOf(this), MADE_BY_POOL);
    }
    const offset = this.#allocOffset(debug.blockBytes(size), stream);
    const id = allocationIdOf(lastTaggedIdOf(this));
    const ptr = debug.allocated(offset, addressIn(this, offset), id, size, stream?.handle ?? null);
    return new GPUAllocation(this, ptr as Pointer, size, offset, id, MADE_BY_POOL);
  }

  /** A bare device address for hot paths; free it with deallocate(address). */
  allocateRaw(size: number, options?: StreamOptions): number {
    if (!(typeof this === "object" && this !== null && #allocOffset in this)) throw foreignPool("pool.allocateRaw", this);
    const debug = this.#gpuDebug;
    const stream = streamOf(options);
    if (debug === undefined) {
      // A size the JavaScript bins serve: its address with no call into the core (src/size_bins.ts; the hit from this body, as HostPool's).
      const bins = stream === undefined ? rawBinsIn(this) : null;
      if (bins !== null && typeof size === "number" && size >>> 0 === size && size !== 0 && size <= bins.maxBytes) {
        const binned = bins.allocAddress(size);
        return binned > 0 ? binned : binsFailedIn(this, bins, binned);
      }
      return addressIn(this, this.#allocOffset(size, stream));
    }
    const offset = this.#allocOffset(debug.blockBytes(size), stream);
    return debug.allocated(offset, addressIn(this, offset), allocationIdOf(lastTaggedIdOf(this)), size, stream?.handle ?? null);
  }

  #allocOffset(size: number, stream: GPUStream | undefined): number {
    if (stream === undefined) return allocOffsetIn(this, size);
    const bytes = sizeArg(size);
    const offset = allocInCore(this, () => native.allocOnStream(handleOf(this), bytes, stream.handle));
    if (offset < 0) throw failureIn(this, offset);
    tookCoreId(this);
    return offset;
  }

  /** Frees a device allocation or address; with a stream, once that stream's queued work is done. */
  deallocate(target: GPUAllocation | number, options?: StreamOptions): void {
    if (!(typeof this === "object" && this !== null && #allocOffset in this)) throw foreignPool("pool.deallocate", this);
    const stream = streamOf(options);
    if (typeof target === "number") {
      const debug = this.#gpuDebug;
      if (debug !== undefined) {
        const damage = this.#freeChecked(offsetIn(this, target - debug.canaryBytes), 0, stream);
        if (damage !== undefined) throw damage;
        return;
      }
      if (stream === undefined) {
        const bins = rawBinsIn(this);
        const binned = bins !== null ? bins.freeAddress(target) : -1;
        const offset = binned >= 0 ? binned : releaseAddressIn(this, target);
        if (offset >= 0) endedIn(this, offset);
        return;
      }
      expectOkIn(this, native.freeOnStream(handleOf(this), offsetIn(this, target), 0, stream.handle));
      return;
    }
    if (!isGPUAllocation(target)) throw new InvalidPointerError(`deallocate takes a GPUAllocation or a device address, not ${typeof target}`);
    assertOwnAllocationIn(this, target);
    target.free(options);
  }

  #releaseOnStream(offset: number, id: number, stream: GPUStream): MemoryPoolError | undefined {
    if (this.#gpuDebug !== undefined) return this.#freeChecked(offset, id, stream);
    expectOkIn(this, native.freeOnStream(handleOf(this), offset, id, stream.handle));
    return undefined;
  }

  /**
   * A free under DebugGPU: the core frees the block (by id where a handle frees it); the damage its
   * canaries showed is returned for the caller to throw once it is released.
   */
  #freeChecked(blockOffset: number, id: number, stream: GPUStream | undefined): MemoryPoolError | undefined {
    const debug = this.#gpuDebug!;
    const live = liveIdIn(this, blockOffset);
    const damage = live !== 0 && (id === 0 || live === id) ? debug.freeing(blockOffset, stream?.handle ?? null) : undefined;
    if (stream === undefined) expectOkIn(this, native.free(handleOf(this), blockOffset, id));
    else expectOkIn(this, native.freeOnStream(handleOf(this), blockOffset, id, stream.handle));
    debug.freed(blockOffset);
    return damage;
  }

  /** A GPUAllocation over a live block of this pool, e.g. an address received from a Worker. */
  fromPointer(address: number): GPUAllocation {
    const canary = this.#gpuDebug?.canaryBytes ?? 0;
    const { offset, size, id } = liveBlockIn(this, pointerArg("fromPointer", address) - canary);
    return new GPUAllocation(this, address as Pointer, size - 2 * canary, offset, id, MADE_BY_POOL);
  }

  /** DebugGPU: checks the canaries of every live allocation in one kernel launch; throws BoundaryViolationError for damage. */
  override check(): void {
    const damage = this.#gpuDebug?.checkAll();
    if (damage !== undefined) throw damage;
  }

  /** Live allocations (with age and stack where DebugGPU's switches keep them). */
  override getLeaks(): LeakInfo[] {
    return this.#gpuDebug?.leaks() ?? super.getLeaks();
  }

  override getHistory(): HistoryEvent[] {
    return this.#gpuDebug?.history() ?? super.getHistory();
  }


  /** A handle another Bun process opens with SharedGPUMemory.open() to see the same device bytes. */
  exportAllocation(allocation: GPUAllocation): GPUIPCHandle {
    if (!isGPUAllocation(allocation) || poolOfAllocation(allocation) !== this) throw new InvalidPointerError("exportAllocation takes a GPUAllocation of this pool");
    // The fields as the pool made them (own properties may shadow the getters).
    return exportAllocation({ pool: { handle: handleOf(this), base: baseOf(this) }, offset: offsetOfAllocation(allocation), ptr: addressOfAllocation(allocation), size: sizeOfAllocation(allocation), deviceId: this.config.deviceId, assertUsable: (action) => assertLive(allocation, action) });
  }

  /** A new stream on this pool's device. */
  createStream(): GPUStream {
    return new GPUStream(this.config.deviceId, native.createStream(this.config.deviceId), MADE_BY_POOL);
  }

  /** Copies `bytes` (default: all of `src`) from host memory to the device allocation. */
  // Each reads its options first (copyOptionsArg): their getters run before the sides are checked.

  copyHostToDevice(dst: GPUAllocation, src: HostSide, bytes?: number, options?: CopyOptions): void {
    const read = copyOptionsArg(options);
    const to = this.#ownEndpoint(dst, "copy into");
    copyBetween(to, hostEndpoint(src, "source"), bytes, read);
  }

  /** Copies `bytes` (default: all of `src`) from the device allocation to host memory. */
  copyDeviceToHost(dst: HostSide, src: GPUAllocation, bytes?: number, options?: CopyOptions): void {
    const read = copyOptionsArg(options);
    const to = hostEndpoint(dst, "destination");
    copyBetween(to, this.#ownEndpoint(src, "copy from"), bytes, read);
  }

  /** Copies `bytes` (default: all of `src`) between two device allocations of this device. */
  copyDeviceToDevice(dst: GPUAllocation, src: GPUAllocation, bytes?: number, options?: CopyOptions): void {
    const read = copyOptionsArg(options);
    const from = this.#ownEndpoint(src, "copy from");
    copyBetween(this.#ownEndpoint(dst, "copy into"), from, bytes, read);
  }

  /** Sets `bytes` (default: all past dstOffset) of the allocation to `value`, with the fill kernel. */
  fill(dst: GPUAllocation, value: number, bytes?: number, options?: CopyOptions): void {
    const read = copyOptionsArg(options);
    const target = this.#ownEndpoint(dst, "fill");
    const offset = checkedOffset("dstOffset", read.dstOffset);
    const length = bytes ?? target.length - offset;
    if (!(Number.isSafeInteger(length) && length > 0)) throw new OutOfBoundsError(`a fill's length is a whole number of bytes above 0, got ${describe(length)}`);
    checkRange(target, offset, length);
    if (!(Number.isInteger(value) && value >= 0 && value <= 255)) throw new OutOfBoundsError(`a fill value is a byte (0 to 255), got ${describe(value)}`);
    native.fillDevice(this.config.deviceId, (target.address + offset) as Pointer, value, length, read.stream?.handle ?? null);
  }

  /** A live device allocation on this pool's device, as a copy endpoint. */
  #ownEndpoint(allocation: GPUAllocation, action: string): Endpoint {
    if (!isGPUAllocation(allocation)) throw new InvalidPointerError(`cannot ${action} ${describe(allocation)}: not a GPUAllocation`);
    if (allocation.deviceId !== this.config.deviceId) {
      throw new InvalidPointerError(`cannot ${action} ${describeHandle(allocation)}: it is on device ${allocation.deviceId}, this pool on device ${this.config.deviceId}`);
    }
    return endpointOf(allocation, action === "copy from" ? "source" : "destination");
  }
}

/** Host memory as a copy endpoint: an Allocation of a CPU or pinned pool, or a typed array. */
function hostEndpoint(side: HostSide, role: "source" | "destination"): Endpoint {
  if (!isAllocation(side) && !ArrayBuffer.isView(side)) throw new InvalidPointerError(`the ${role} must be an Allocation or a typed array`);
  return endpointOf(side, role);
}

// The public members, behind the check of their receiver (src/receiver.ts).
// The hot ones (a pool's allocate, allocateRaw and deallocate, a handle's free) check it in their
// bodies instead: behind the wrapper the GPU pool's allocateRaw + deallocate cost 72-146 ns a pair
// on the GPU machine against 37-83 ns before (bench/gpu.ts, bench/RESULTS.md), as the CPU pools'
// did (bench/receivers.ts).
checkReceivers(GPUAllocation.prototype, "allocation", isGPUAllocation, ["deviceId", "length"], foreignAllocation);
checkReceivers(GPUMemoryPool.prototype, "pool", isGPUPool, ["fromPointer", "check", "getLeaks", "getHistory", "exportAllocation", "createStream", "copyHostToDevice", "copyDeviceToHost", "copyDeviceToDevice", "fill"], foreignPool);
