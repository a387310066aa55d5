/**
 * copy(dst, src, bytes?, options?): bytes between any two allocations or typed arrays, whatever
 * memory each lies in. Each side is resolved to an endpoint (address, length, memory kind,
 * device); the length and both offsets are checked against both sides before anything moves;
 * then the pair of kinds picks the path from one table. The GPU pool's copy methods go through
 * the same checks.
 */
import { ptr as addressOf, type Pointer } from "bun:ffi";
import { PoolAllocation } from "./allocation";
import { InvalidPointerError, OutOfBoundsError, describe } from "./errors";
import type { GPUStream, StreamOptions } from "./gpu";
import { core, errorFor, HostMemory } from "./native";
import { isPinned } from "./pool";

/**
 * Where bytes live, as far as moving them goes: pageable host memory (CPU pools, JavaScript
 * arrays), page-locked host memory (pinned pools: direct DMA), device memory (GPU pools).
 * PMEM pools add "pmem" (see PATHS).
 */
export type MemoryKind = "pageable" | "pinned" | "device";

/** One side of a copy: an allocation of any pool, or any typed array or DataView. */
export type CopySide = PoolAllocation | ArrayBufferView;

export interface CopyOptions extends StreamOptions {
  /** Bytes to skip at the start of the destination. */
  dstOffset?: number;
  /** Bytes to skip at the start of the source. */
  srcOffset?: number;
}

/** @internal a side of a copy, resolved. */
export interface Endpoint {
  kind: MemoryKind;
  address: number;
  /** Bytes the side holds. */
  length: number;
  /** The CUDA device of device memory; -1 for host memory. */
  deviceId: number;
  /** For messages: "allocation #3 of 100 bytes at 0x... (pool 'x')", "the destination Float32Array". */
  name: string;
}

type CopyPath = (dst: Endpoint, src: Endpoint, length: number, stream: GPUStream | undefined) => void;

/**
 * The path for each (destination kind, source kind). Adding a kind to MemoryKind makes the
 * compiler ask for its rows. PMEM (the pmem branch) adds, each persisting a PMEM destination
 * before it returns:
 *   pmem<-pageable, pmem<-pinned, pmem<-pmem: pmem_memcpy_persist
 *   pageable<-pmem, pinned<-pmem: hostCopy
 *   pmem<-device: cuMemcpyDtoH straight into the PMEM mapping, which the pool registers with the
 *     driver (cuMemHostRegister, as pinned regions are: zig/src/backend/pinned.zig), then persist:
 *     a GPU checkpoint by direct DMA, with no extra host copy
 *   device<-pmem: cuMemcpyHtoD from the registered mapping
 */
const PATHS: Record<`${MemoryKind}<-${MemoryKind}`, CopyPath> = {
  "pageable<-pageable": hostCopy,
  "pageable<-pinned": hostCopy,
  "pinned<-pageable": hostCopy,
  "pinned<-pinned": hostCopy,
  "device<-pageable": hostToDevice,
  "device<-pinned": hostToDevice,
  "pageable<-device": deviceToHost,
  "pinned<-device": deviceToHost,
  "device<-device": deviceToDevice,
};

/**
 * Copies `bytes` (default: all of `src` past `srcOffset`) from `src` to `dst`, each an allocation
 * of any pool (CPU, pinned, GPU) or a typed array; returns the bytes copied. Offsets and lengths
 * are in bytes. Nothing moves unless the whole range fits both sides (OutOfBoundsError); a freed
 * allocation is a UseAfterFreeError. Done when it returns, unless `stream` is given and a GPU
 * path can queue the copy on it (then synchronize the stream before touching the bytes).
 */
export function copy(dst: CopySide, src: CopySide, bytes?: number, options: CopyOptions = {}): number {
  const to = endpointOf(dst, "destination");
  const from = endpointOf(src, "source");
  return copyBetween(to, from, bytes, options);
}

/** @internal checks the range against both endpoints, then moves the bytes by the pair's path. */
export function copyBetween(dst: Endpoint, src: Endpoint, bytes: number | undefined, options: CopyOptions): number {
  const srcOffset = checkedOffset("srcOffset", options.srcOffset);
  const dstOffset = checkedOffset("dstOffset", options.dstOffset);
  const length = bytes ?? src.length - srcOffset;
  if (!(Number.isSafeInteger(length) && length > 0)) throw new OutOfBoundsError(`a copy's length is a whole number of bytes above 0, got ${describe(length)}`);
  checkRange(src, srcOffset, length, "from");
  checkRange(dst, dstOffset, length, "to");
  const path = PATHS[`${dst.kind}<-${src.kind}`];
  path({ ...dst, address: dst.address + dstOffset }, { ...src, address: src.address + srcOffset }, length, options.stream);
  return length;
}

/** @internal a side of a copy as an endpoint; throws for freed allocations and things that are no memory. */
export function endpointOf(side: CopySide, role: "source" | "destination"): Endpoint {
  const action = role === "source" ? "copy from" : "copy into";
  if (side instanceof PoolAllocation) {
    side.assertUsable(action);
    const kind = side.pool.kind;
    return {
      kind: kind === "gpu" ? "device" : kind === "pinned" ? "pinned" : "pageable",
      address: side.ptr,
      length: side.size,
      deviceId: kind === "gpu" ? side.pool.config.deviceId : -1,
      name: side.describe(),
    };
  }
  if (ArrayBuffer.isView(side)) {
    const name = `the ${role} ${side.constructor.name}`;
    if (side.byteLength === 0) throw new OutOfBoundsError(`cannot ${action} ${name}: it is empty or detached`);
    const address = addressOf(side as DataView);
    return { kind: isPinned(address, side.byteLength) ? "pinned" : "pageable", address, length: side.byteLength, deviceId: -1, name };
  }
  throw new InvalidPointerError(`the ${role} of a copy is an allocation or a typed array, not ${side === null ? "null" : typeof side}`);
}

/** @internal an offset of a copy or fill: a whole number of bytes from 0. */
export function checkedOffset(name: string, value: number | undefined): number {
  const offset = value ?? 0;
  if (!(Number.isSafeInteger(offset) && offset >= 0)) throw new OutOfBoundsError(`${name} must be a whole number of bytes from 0, got ${describe(offset)}`);
  return offset;
}

/** @internal throws unless `length` bytes from `offset` lie inside the endpoint. */
export function checkRange(side: Endpoint, offset: number, length: number, direction: "from" | "to"): void {
  if (offset + length > side.length) {
    throw new OutOfBoundsError(`cannot copy ${length} bytes ${direction} offset ${offset} of ${side.name}: it holds ${side.length} bytes`);
  }
}

function checkCore(status: number): void {
  if (status < 0) throw errorFor(status);
}

/** Host to host: one memmove in the core (the ranges may overlap). */
function hostCopy(dst: Endpoint, src: Endpoint, length: number, stream: GPUStream | undefined): void {
  // Work queued on the stream may still read or write these bytes; a host copy runs now.
  stream?.synchronize();
  checkCore(core.mp_copy_host(dst.address as Pointer, src.address as Pointer, length));
}

function hostMemory(side: Endpoint): number {
  return side.kind === "pinned" ? HostMemory.pinned : HostMemory.pageable;
}

/** Pinned memory goes straight to the DMA engine; pageable memory is staged (zig/src/gpu/copy.zig). */
function hostToDevice(dst: Endpoint, src: Endpoint, length: number, stream: GPUStream | undefined): void {
  checkCore(core.mp_gpu_copy_htod(dst.deviceId, dst.address as Pointer, src.address as Pointer, length, hostMemory(src), stream?.handle ?? null));
}

function deviceToHost(dst: Endpoint, src: Endpoint, length: number, stream: GPUStream | undefined): void {
  checkCore(core.mp_gpu_copy_dtoh(src.deviceId, dst.address as Pointer, src.address as Pointer, length, hostMemory(dst), stream?.handle ?? null));
}

/** Bytes per step of a copy that goes through host memory. */
const BOUNCE_BYTES = 64 * 1024 * 1024;

/**
 * On one device the copy engine moves the bytes. Between devices (whose memory the other cannot
 * map) and between overlapping ranges (which cuMemcpy does not allow), they go through host
 * memory in steps, in the order that reads every byte before it is overwritten.
 */
function deviceToDevice(dst: Endpoint, src: Endpoint, length: number, stream: GPUStream | undefined): void {
  const sameDevice = dst.deviceId === src.deviceId;
  const overlap = sameDevice && dst.address < src.address + length && src.address < dst.address + length;
  if (sameDevice && !overlap) {
    checkCore(core.mp_gpu_copy_dtod(dst.deviceId, dst.address as Pointer, src.address as Pointer, length, stream?.handle ?? null));
    return;
  }
  stream?.synchronize();
  const bounce = new Uint8Array(Math.min(length, BOUNCE_BYTES));
  const backwards = overlap && dst.address > src.address;
  for (let done = 0; done < length; ) {
    const step = Math.min(bounce.length, length - done);
    const at = backwards ? length - done - step : done;
    checkCore(core.mp_gpu_copy_dtoh(src.deviceId, bounce, (src.address + at) as Pointer, step, HostMemory.pageable, null));
    checkCore(core.mp_gpu_copy_htod(dst.deviceId, (dst.address + at) as Pointer, bounce, step, HostMemory.pageable, null));
    done += step;
  }
}
