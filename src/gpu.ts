/**
 * GPU pools: device memory sub-allocated from large regions the core maps with CUDA's virtual
 * memory API, so allocate and free never call the driver. Device allocations carry an address,
 * a size and a lifetime, but no host view; bytes move with the copy methods, which check every
 * length and offset against the allocations before any DMA starts.
 */
import { ptr as addressOf, type Pointer } from "bun:ffi";
import { Allocation, PoolAllocation, type TypedArrayConstructor } from "./allocation";
import { InvalidPointerError, OutOfBoundsError, UseAfterFreeError } from "./errors";
import { core, errorFor, HostMemory, OFFSET_ERROR_BASE, Status, statusOfOffset } from "./native";
import { NativePool, PinnedMemoryPool } from "./pool";

/** A CUDA stream of a GPU pool's device: work on it runs in order, streams run concurrently. */
export class GPUStream {
  #destroyed = false;
  /** @internal */
  constructor(
    readonly deviceId: number,
    readonly handle: Pointer,
  ) {}

  /** Waits for everything queued on the stream. */
  synchronize(): void {
    this.#assertLive();
    checkGPU(core.mp_gpu_stream_synchronize(this.deviceId, this.handle));
  }

  destroy(): void {
    this.#assertLive();
    checkGPU(core.mp_gpu_stream_destroy(this.deviceId, this.handle));
    this.#destroyed = true;
  }

  [Symbol.dispose](): void {
    if (!this.#destroyed) this.destroy();
  }

  #assertLive(): void {
    if (this.#destroyed) throw new UseAfterFreeError("the stream was destroyed");
  }
}

export interface StreamOptions {
  /** Queue the work on this stream, or for allocate/deallocate: order the block's reuse by it. */
  stream?: GPUStream;
}

export interface CopyOptions extends StreamOptions {
  /** Bytes to skip at the start of the destination. */
  dstOffset?: number;
  /** Bytes to skip at the start of the source. */
  srcOffset?: number;
}

/** A block of device memory: an address, a size and a lifetime; no host view. */
export class GPUAllocation extends PoolAllocation {
  declare readonly pool: GPUMemoryPool;
  /** Set by allocateGPU(Type, length): the element type the block was sized for. */
  elementType: TypedArrayConstructor | undefined = undefined;

  /** The CUDA device the memory is on. */
  get deviceId(): number {
    return this.pool.config.deviceId;
  }

  /** Elements of `elementType` (bytes where none was given). */
  get length(): number {
    return this.elementType === undefined ? this.size : Math.floor(this.size / this.elementType.BYTES_PER_ELEMENT);
  }

  /** Frees the block; with a stream, once the work queued on that stream so far is done. */
  override free(options?: StreamOptions): void {
    this.assertFreeable();
    const stream = options?.stream;
    if (stream === undefined) this.settle(() => this.pool.release(this));
    else this.settle(() => this.pool.releaseOnStream(this, stream));
  }

  /** @internal throws UseAfterFreeError unless the block is still this allocation's. */
  assertUsable(action: string): void {
    this.assertAlive(action);
  }
}

/** Host memory a copy reads or writes: an Allocation of a host pool, or any typed array. */
export type HostSide = Allocation | ArrayBufferView;

function checkGPU(status: number): void {
  if (status < 0) throw errorFor(status);
}

interface HostRange {
  address: number;
  length: number;
  memory: number;
}

/** (seed) A pool of device memory on `config.deviceId`. */
export class GPUMemoryPool extends NativePool {
  readonly kind = "gpu" as const;
  /** @internal the pinned pools, to tell page-locked host memory from pageable (the manager keeps it). */
  pinnedPools: () => Iterable<PinnedMemoryPool> = () => [];

  /** (seed) A device allocation of `size` bytes; with a stream, blocks freed on it may be reused at once. */
  allocate(size: number, options?: StreamOptions): GPUAllocation {
    const offset = this.#allocOffset(size, options?.stream);
    return new GPUAllocation(this, this.addressOf(offset), size, offset, core.mp_last_id());
  }

  /** A bare device address for hot paths; free it with deallocate(address). */
  allocateRaw(size: number, options?: StreamOptions): number {
    return this.addressOf(this.#allocOffset(size, options?.stream));
  }

  #allocOffset(size: number, stream: GPUStream | undefined): number {
    if (stream === undefined) return this.allocOffset(size);
    const offset = core.mp_alloc_on_stream(this.handle, typeof size === "number" ? size : NaN, stream.handle);
    if (offset >= OFFSET_ERROR_BASE) throw this.failure(statusOfOffset(offset));
    return offset;
  }

  /** (seed) Frees a device allocation or address; with a stream, once that stream's queued work is done. */
  deallocate(target: GPUAllocation | number, options?: StreamOptions): void {
    const stream = options?.stream;
    if (typeof target === "number") {
      if (stream === undefined) return this.releaseAddress(target);
      this.expectOk(core.mp_free_on_stream(this.handle, this.offsetOf(target), 0, stream.handle));
      return;
    }
    if (!(target instanceof GPUAllocation)) throw new InvalidPointerError(`deallocate takes a GPUAllocation or a device address, not ${typeof target}`);
    if (target.pool !== this) throw new InvalidPointerError(`the allocation at 0x${target.ptr.toString(16)} belongs to pool '${target.pool.name}', not '${this.name}'`);
    target.free(options);
  }

  /** @internal */
  releaseOnStream(allocation: GPUAllocation, stream: GPUStream): void {
    this.expectOk(core.mp_free_on_stream(this.handle, allocation.offset, allocation.id, stream.handle));
  }

  /** A GPUAllocation over a live block of this pool, e.g. an address received from a Worker. */
  fromPointer(address: number): GPUAllocation {
    const { offset, size, id } = this.liveBlock(address);
    return new GPUAllocation(this, address as Pointer, size, offset, id);
  }

  /** A new stream on this pool's device. */
  createStream(): GPUStream {
    const handle = core.mp_gpu_stream_create(this.config.deviceId);
    if (handle === null || Number(handle) === 0) throw errorFor(Status.unavailable);
    return new GPUStream(this.config.deviceId, handle as Pointer);
  }

  /** (seed) Copies `bytes` (default: all of `src`) from host memory to the device allocation. */
  copyHostToDevice(dst: GPUAllocation, src: HostSide, bytes?: number, options: CopyOptions = {}): void {
    const host = this.#hostRange(src, "source");
    const length = this.#copyLength(bytes, host.length, options.srcOffset, dst, options.dstOffset);
    const address = dst.ptr + (options.dstOffset ?? 0);
    checkGPU(core.mp_gpu_copy_htod(this.config.deviceId, address as Pointer, (host.address + (options.srcOffset ?? 0)) as Pointer, length, host.memory, options.stream?.handle ?? null));
  }

  /** (seed) Copies `bytes` (default: all of `src`) from the device allocation to host memory. */
  copyDeviceToHost(dst: HostSide, src: GPUAllocation, bytes?: number, options: CopyOptions = {}): void {
    const host = this.#hostRange(dst, "destination");
    this.#assertOwn(src, "copy from");
    const length = this.#copyLength(bytes, src.size, options.srcOffset, { size: host.length, describe: () => "the host destination" }, options.dstOffset);
    checkGPU(core.mp_gpu_copy_dtoh(this.config.deviceId, (host.address + (options.dstOffset ?? 0)) as Pointer, (src.ptr + (options.srcOffset ?? 0)) as Pointer, length, host.memory, options.stream?.handle ?? null));
  }

  /** Copies `bytes` (default: all of `src`) between two device allocations of this device. */
  copyDeviceToDevice(dst: GPUAllocation, src: GPUAllocation, bytes?: number, options: CopyOptions = {}): void {
    this.#assertOwn(src, "copy from");
    const length = this.#copyLength(bytes, src.size, options.srcOffset, dst, options.dstOffset);
    checkGPU(core.mp_gpu_copy_dtod(this.config.deviceId, (dst.ptr + (options.dstOffset ?? 0)) as Pointer, (src.ptr + (options.srcOffset ?? 0)) as Pointer, length, options.stream?.handle ?? null));
  }

  /** Sets `bytes` (default: all) of the allocation to `value`, with the fill kernel. */
  fill(dst: GPUAllocation, value: number, bytes?: number, options: CopyOptions = {}): void {
    const length = this.#copyLength(bytes, dst.size - (options.dstOffset ?? 0), 0, dst, options.dstOffset);
    if (!(Number.isInteger(value) && value >= 0 && value <= 255)) throw new OutOfBoundsError(`a fill value is a byte (0 to 255), got ${value}`);
    checkGPU(core.mp_gpu_fill(this.config.deviceId, (dst.ptr + (options.dstOffset ?? 0)) as Pointer, value, length, options.stream?.handle ?? null));
  }

  /** The checked length of a copy: `bytes` (or what the source holds past its offset) must fit both sides. */
  #copyLength(
    bytes: number | undefined,
    sourceLength: number,
    sourceOffset: number | undefined,
    destination: { size: number; describe(): string },
    destinationOffset: number | undefined,
  ): number {
    const srcOffset = sourceOffset ?? 0;
    const dstOffset = destinationOffset ?? 0;
    for (const [name, value] of [
      ["srcOffset", srcOffset],
      ["dstOffset", dstOffset],
    ] as const) {
      if (!(Number.isSafeInteger(value) && value >= 0)) throw new OutOfBoundsError(`${name} must be a whole number of bytes from 0, got ${value}`);
    }
    if (destination instanceof GPUAllocation) {
      this.#assertOwn(destination, "copy into");
    }
    const length = bytes ?? sourceLength - srcOffset;
    if (!(Number.isSafeInteger(length) && length > 0)) throw new OutOfBoundsError(`a copy's length is a whole number of bytes above 0, got ${length}`);
    if (srcOffset + length > sourceLength) {
      throw new OutOfBoundsError(`cannot copy ${length} bytes from offset ${srcOffset}: the source holds ${sourceLength} bytes`);
    }
    if (dstOffset + length > destination.size) {
      throw new OutOfBoundsError(`cannot copy ${length} bytes to offset ${dstOffset}: ${destination.describe()} holds ${destination.size} bytes`);
    }
    return length;
  }

  #assertOwn(allocation: GPUAllocation, action: string): void {
    if (!(allocation instanceof GPUAllocation)) throw new InvalidPointerError(`cannot ${action} ${String(allocation)}: not a GPUAllocation`);
    if (allocation.deviceId !== this.config.deviceId) {
      throw new InvalidPointerError(`cannot ${action} ${allocation.describe()}: it is on device ${allocation.deviceId}, this pool on device ${this.config.deviceId}`);
    }
    allocation.assertUsable(action);
  }

  #hostRange(side: HostSide, role: string): HostRange {
    if (side instanceof Allocation) {
      const view = side.bytes; // throws UseAfterFreeError for a dead allocation
      return { address: side.ptr, length: view.length, memory: side.pool.kind === "pinned" ? HostMemory.pinned : HostMemory.pageable };
    }
    if (!ArrayBuffer.isView(side)) throw new InvalidPointerError(`the ${role} must be an Allocation or a typed array`);
    if (side.byteLength === 0) throw new OutOfBoundsError(`the ${role} is empty or detached`);
    const address = addressOf(side as DataView);
    const pinned = [...this.pinnedPools()].some((pool) => address >= pool.base && address + side.byteLength <= pool.base + pool.addressSpace);
    return { address, length: side.byteLength, memory: pinned ? HostMemory.pinned : HostMemory.pageable };
  }
}
