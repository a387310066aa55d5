/**
 * copy(dst, src, bytes?, options?): bytes between any two allocations or typed arrays, whatever
 * memory each lies in. Each side is resolved to an endpoint (address, length, memory kind,
 * device); the length and both offsets are checked against both sides before anything moves;
 * then the pair of kinds picks the path from one table. The GPU pool's copy methods go through
 * the same checks. Host bytes whose life and length JavaScript can prove (an allocation's attached
 * view, a Uint8Array) skip the endpoints and the core's checks: see the fast paths below.
 */
import { ptr as addressOf, type Pointer } from "bun:ffi";
import {
  addressOfAllocation,
  Allocation,
  assertLive,
  describeHandle,
  endedElsewhere,
  idOfAllocation,
  isAllocation,
  isPoolAllocation,
  knownAlive,
  liveViewHere,
  offsetOfAllocation,
  PoolAllocation,
  poolOfAllocation,
  sizeOfAllocation,
} from "./allocation";
import { InvalidPointerError, OutOfBoundsError, describe } from "./errors";
import { HostMemory } from "./native";
import * as native from "./native";
import { baseOf, expectOkIn, handleOf, trackedPoolAt, tracksPmemMemory, type HostPool } from "./pool";
import { streamOption, type GPUStream, type StreamOptions } from "./stream";
import { byteLengthOf, optionsArg } from "./validate";

/**
 * Where bytes live, as far as moving them goes: pageable host memory (CPU pools, JavaScript
 * arrays), page-locked host memory (pinned pools: direct DMA), device memory (GPU pools), and
 * persistent memory (PMEM pools: what is written there is persisted before the copy returns).
 */
export type MemoryKind = "pageable" | "pinned" | "device" | "pmem";

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
  /** The pool whose memory it is, where a path needs it (PMEM: to persist). */
  pool: HostPool | undefined;
  /** What the side was given as, for messages (built only when one is needed). */
  side: CopySide;
  role: "source" | "destination";
}

type CopyPath = (dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined) => void;

/**
 * The path for each destination kind (row) and source kind (column). Adding a kind to MemoryKind
 * makes the compiler ask for its row and column.
 */
const PATHS: Record<MemoryKind, Record<MemoryKind, CopyPath>> = {
  pageable: { pageable: hostCopy, pinned: hostCopy, device: deviceToHost, pmem: hostCopy },
  pinned: { pageable: hostCopy, pinned: hostCopy, device: deviceToHost, pmem: hostCopy },
  device: { pageable: hostToDevice, pinned: hostToDevice, device: deviceToDevice, pmem: pmemToDevice },
  pmem: { pageable: intoPmem, pinned: intoPmem, device: deviceToPmem, pmem: intoPmem },
};

/**
 * Copies `bytes` (default: all of `src` past `srcOffset`) from `src` to `dst`, each an allocation
 * of any pool (CPU, pinned, GPU, PMEM) or a typed array; returns the bytes copied. Offsets and
 * lengths are in bytes. Nothing moves unless the whole range fits both sides (OutOfBoundsError); a
 * freed allocation is a UseAfterFreeError. Done when it returns, unless `stream` is given and a GPU
 * path can queue the copy on it (then synchronize the stream before touching the bytes). A PMEM
 * destination (an allocation or a view of one) is durable when it returns.
 */
export function copy(dst: CopySide, src: CopySide, bytes?: number, options?: CopyOptions): number {
  // Kept small, so that JSC inlines it into the caller: no options, host bytes on both sides.
  if (options === undefined) {
    const moved = copyHostBytes(dst, src, bytes, 0);
    if (moved !== 0) return moved;
  }
  return copyChecked(dst, src, bytes, options);
}

/**
 * copy() where the fast path did not take it: the options read once, the fast path again with their
 * offsets, then sides checked live by the core (a memmove with no endpoints built), then endpoints.
 */
function copyChecked(dst: CopySide, src: CopySide, bytes: number | undefined, options: CopyOptions | undefined): number {
  // Read once, first: a getter that frees or destroys runs before either side is checked.
  const read = copyOptionsArg(options);
  if (options !== undefined && read.stream === undefined) {
    const at = read.dstOffset ?? 0;
    const start = read.srcOffset ?? 0;
    if (isByteCount(at) && isByteCount(start)) {
      // All of a source first (its movers); a part of one allocation into another, or what those
      // did not take between allocations, by the memmove at their addresses.
      const moved = start === 0 ? copyHostBytes(dst, src, bytes, at) : 0;
      if (moved !== 0) return moved;
      const part = isAllocation(dst) && isAllocation(src) ? copyAllocationBytes(dst, src, bytes, at, start) : 0;
      if (part !== 0) return part;
    }
  }
  // Two typed arrays are host memory on both sides: one memmove, with no endpoints built (a third
  // of the cost of a small copy), unless the destination views PMEM, which must be persisted.
  const dstBytes = ArrayBuffer.isView(dst) ? byteLengthOf(dst) : 0;
  const srcBytes = ArrayBuffer.isView(src) ? byteLengthOf(src) : 0;
  if (dstBytes > 0 && srcBytes > 0) {
    const srcOffset = checkedOffset("srcOffset", read.srcOffset);
    const dstOffset = checkedOffset("dstOffset", read.dstOffset);
    const length = bytes ?? srcBytes - srcOffset;
    if (Number.isSafeInteger(length) && length > 0 && srcOffset + length <= srcBytes && dstOffset + length <= dstBytes) {
      const dstAddress = addressOf(dst as DataView);
      if (trackedPoolAt(dstAddress, dstBytes)?.kind !== "pmem") {
        read.stream?.synchronize();
        native.copyHost((dstAddress + dstOffset) as Pointer, (addressOf(src as DataView) + srcOffset) as Pointer, length);
        return length;
      }
    }
  }
  // Two allocations of host pools (no PMEM destination), whole or from the start: liveness checked, one memmove, no endpoints built.
  if (options === undefined && isAllocation(dst) && isAllocation(src) && poolOfAllocation(dst).kind !== "pmem") {
    const length = bytes ?? sizeOfAllocation(src);
    if (Number.isSafeInteger(length) && length > 0 && length <= sizeOfAllocation(src) && length <= sizeOfAllocation(dst)) {
      assertLive(dst, "copy into");
      assertLive(src, "copy from");
      native.copyHost(addressOfAllocation(dst) as Pointer, addressOfAllocation(src) as Pointer, length);
      return length;
    }
  }
  const to = endpointOf(dst, "destination");
  const from = endpointOf(src, "source");
  return copyBetween(to, from, bytes, read);
}

/*
 * The fast paths: no endpoint, no option record, no call into the core but the copy. Each returns
 * the bytes copied, or 0 where it does not apply or a check fails: then copyChecked copies, or
 * throws the typed error that says why. A side is
 * - an Allocation of a host pool of threadSafety "none" (not PMEM) known alive by its pool's count
 *   of ends (knownAlive), or whose `bytes` view was made and is attached (liveViewHere): no other
 *   thread can end such an allocation, and every end in this thread (a free by any route, reset,
 *   destroy) counts and detaches that view.
 * - a Uint8Array (or Buffer): its `length` as it claims, confirmed by element reads (one at
 *   length - 1, none at length), so a view that lies about its length is not taken.
 * A side in PMEM (an allocation of a PMEM pool, a typed destination that views one) is not taken:
 * a destination there must be persisted. The bytes move by the engine's TypedArray.prototype.set
 * where both sides have a view (a typed array's address would cost more to ask for than the copy,
 * and a crossing into the core more than set), else by one memmove in the core at two allocations'
 * addresses; both are overlap-safe, as a copy within one allocation needs.
 */

// The engine's own set, taken when this module loads: what a caller patches later changes no copy.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const setBytes = typedArrayPrototype.set as (this: Uint8Array, source: Uint8Array, offset: number) => void;
const bufferPrototype: object = typeof Buffer === "function" ? Buffer.prototype : Uint8Array.prototype;

/** A whole number of bytes from 0 (the checked path names anything else). */
function isByteCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Between two allocations, `bytes` (default: all of `src` past `start`) from `start` to `at` (whole
 * numbers from 0): one memmove at their addresses (the ranges may overlap, within one allocation).
 * Their views are read only to prove them alive.
 */
function copyAllocationBytes(dst: Allocation, src: Allocation, bytes: number | undefined, at: number, start: number): number {
  const size = sizeOfAllocation(src);
  const length = bytes ?? size - start;
  if (!(Number.isSafeInteger(length) && length > 0 && start + length <= size && at + length <= sizeOfAllocation(dst))) return 0;
  if (!provenAlive(dst) || !provenAlive(src)) return 0;
  native.copyHost((addressOfAllocation(dst) + at) as Pointer, (addressOfAllocation(src) + start) as Pointer, length);
  return length;
}

/**
 * Whether this thread knows, with no call into the core, that an allocation lives, and that it is
 * one whose every end this thread makes (a host pool of threadSafety "none", not PMEM: no persist
 * is owed): its pool's count of ends (knownAlive), or its attached view (see above).
 */
function provenAlive(allocation: Allocation): boolean {
  return knownAlive(allocation) || liveViewHere(allocation) !== undefined;
}

/** Whether a view is a Uint8Array (or Buffer) of its own: `set` copies its bytes as they are. */
function hasOwnBytes(view: ArrayBufferView): view is Uint8Array {
  const proto: unknown = Object.getPrototypeOf(view);
  return proto === Uint8Array.prototype || proto === bufferPrototype;
}

/**
 * All of `src` into `dst` at `at` (a whole number from 0), each side an allocation or a Uint8Array
 * (or Buffer), by the mover for the pair; 0 for any other pair. A part of a typed source goes to
 * the checked path: cutting it (subarray) would run a caller's code (its species constructor)
 * between the checks and the copy.
 *
 * An allocation's side is its live view (liveViewHere: one call tells what the side is and proves
 * it alive), which spans exactly its bytes; so a destination's room is one element read (the last
 * byte the copy writes exists), and neither side's size is read but the source's. Allocations
 * proven alive otherwise (their pool's count of ends, never viewed) go to copyAllocationBytes.
 */
function copyHostBytes(dst: CopySide, src: CopySide, bytes: number | undefined, at: number): number {
  // ArrayBuffer.isView first: it costs less than a brand check that fails (liveViewHere of a typed array).
  if (!ArrayBuffer.isView(dst)) {
    const to = liveViewHere(dst);
    if (to !== undefined) {
      if (ArrayBuffer.isView(src)) return hasOwnBytes(src) ? copyIntoView(to, src, confirmedLength(src), bytes, at) : 0;
      const from = liveViewHere(src);
      if (from !== undefined) return copyBetweenViewed(dst as Allocation, to, src as Allocation, bytes, at);
    }
    return isAllocation(dst) && isAllocation(src) ? copyAllocationBytes(dst, src, bytes, at, 0) : 0;
  }
  if (!hasOwnBytes(dst)) return 0;
  if (ArrayBuffer.isView(src)) return hasOwnBytes(src) ? copyIntoByteArray(dst, src, confirmedLength(src), bytes, at) : 0;
  const from = liveViewHere(src);
  return from !== undefined ? copyIntoByteArray(dst, from, sizeOfAllocation(src as Allocation), bytes, at) : 0;
}

/**
 * A Uint8Array's `length` where it is true: the claim (read first: a patched `length` getter is a
 * caller's code and may end an allocation or detach a view; after it only elements are read),
 * confirmed by two element reads (one at length - 1, none at length); 0 where it lies or the view
 * is empty or detached.
 */
function confirmedLength(view: Uint8Array): number {
  const claimed: unknown = view.length;
  return typeof claimed === "number" && view[claimed - 1] !== undefined && view[claimed] === undefined ? claimed : 0;
}

/**
 * Whether `length` bytes (all of a source: `bytes` as copy() was given it must say the same, or
 * nothing) fit `to` at `at`: its element at `at + length - 1` exists, an element read that no
 * getter answers.
 */
function fits(to: Uint8Array, length: number, bytes: number | undefined, at: number): boolean {
  return length > 0 && (bytes === undefined || bytes === length) && to[at + length - 1] !== undefined;
}

/**
 * All of one allocation into another at `at`, both proven alive by their live views (`to` is the
 * destination's): one memmove in the core at their addresses, which costs less than the engine's
 * set on the two views at every size (bench/RESULTS.md, session 6), and is overlap-safe.
 */
function copyBetweenViewed(dst: Allocation, to: Uint8Array, src: Allocation, bytes: number | undefined, at: number): number {
  const length = sizeOfAllocation(src);
  if (!fits(to, length, bytes, at)) return 0;
  native.copyHost((addressOfAllocation(dst) + at) as Pointer, addressOfAllocation(src) as Pointer, length);
  return length;
}

/** All of `from` (`length` bytes, confirmed) into an allocation's live view at `at`, by the engine's set. */
function copyIntoView(to: Uint8Array, from: Uint8Array, length: number, bytes: number | undefined, at: number): number {
  if (!fits(to, length, bytes, at)) return 0;
  setBytes.call(to, from, at);
  return length;
}

/** All of `from` (`length` bytes, confirmed) into a Uint8Array (or Buffer) at `at`, by the engine's set, unless it views PMEM. */
function copyIntoByteArray(dst: Uint8Array, from: Uint8Array, length: number, bytes: number | undefined, at: number): number {
  if (!fits(dst, length, bytes, at)) return 0;
  if (tracksPmemMemory() && trackedPoolAt(addressOf(dst), byteLengthOf(dst))?.kind === "pmem") return 0;
  setBytes.call(dst, from, at);
  return length;
}

/**
 * @internal checks the range against both endpoints, then moves the bytes by the pair's path.
 * `options` are as copyOptionsArg read them, before the endpoints were made.
 */
export function copyBetween(dst: Endpoint, src: Endpoint, bytes: number | undefined, options: Readonly<CopyOptions>): number {
  const srcOffset = checkedOffset("srcOffset", options.srcOffset);
  const dstOffset = checkedOffset("dstOffset", options.dstOffset);
  const length = bytes ?? src.length - srcOffset;
  if (!(Number.isSafeInteger(length) && length > 0)) throw new OutOfBoundsError(`a copy's length is a whole number of bytes above 0, got ${describe(length)}`);
  checkRange(src, srcOffset, length);
  checkRange(dst, dstOffset, length);
  PATHS[dst.kind][src.kind](dst, dst.address + dstOffset, src, src.address + srcOffset, length, options.stream);
  return length;
}

/** @internal a side of a copy as an endpoint; throws for freed allocations and things that are no memory. */
export function endpointOf(side: CopySide, role: "source" | "destination"): Endpoint {
  if (isPoolAllocation(side)) {
    assertLive(side, role === "source" ? "copy from" : "copy into");
    const pool = poolOfAllocation(side);
    const address = addressOfAllocation(side);
    const length = sizeOfAllocation(side);
    if (pool.kind === "gpu") return { kind: "device", address, length, deviceId: pool.config.deviceId, pool: undefined, side, role };
    const host = pool as HostPool;
    return { kind: hostMemoryKind(host), address, length, deviceId: -1, pool: host, side, role };
  }
  if (ArrayBuffer.isView(side)) {
    const length = byteLengthOf(side);
    if (length === 0) throw new OutOfBoundsError(`cannot copy ${role === "source" ? "from" : "into"} the ${role}, ${describe(side)}: it is empty or detached`);
    const address = addressOf(side as DataView);
    const pool = trackedPoolAt(address, length);
    return { kind: pool === undefined ? "pageable" : hostMemoryKind(pool), address, length, deviceId: -1, pool, side, role };
  }
  throw new InvalidPointerError(`the ${role} of a copy is an allocation or a typed array (or DataView), not ${describeSide(side)}`);
}

/** What a side of a copy that is no memory is, for a message: an object made from an allocation's prototype is named as no pool's. */
function describeSide(side: unknown): string {
  try {
    if (Object.prototype.isPrototypeOf.call(PoolAllocation.prototype, side as object)) return `an object with an allocation's prototype that no pool made`;
  } catch {
    // a Proxy whose getPrototypeOf trap throws: described as any object
  }
  return describe(side);
}

function hostMemoryKind(pool: HostPool): MemoryKind {
  return pool.kind === "pinned" ? "pinned" : pool.kind === "pmem" ? "pmem" : "pageable";
}

const COPY_OPTIONS = ["dstOffset", "srcOffset", "stream"] as const;

/** No prototype: a copy without options reads no option from a polluted Object.prototype (see optionsArg). */
const NO_OPTIONS: Readonly<CopyOptions> = Object.freeze(Object.create(null));

/**
 * @internal the options of a copy or fill, read once into a record of their own: a plain object of
 * COPY_OPTIONS whose stream, where given, is a GPUStream (a ConfigError otherwise); the offsets are
 * checked where they are used. Callers read them before anything else, so what a getter does (free
 * an allocation, destroy a pool) is done before the sides are checked, and a getter cannot give
 * the check one stream or offset and the copy another.
 */
export function copyOptionsArg(options: unknown): Readonly<CopyOptions> {
  if (options === undefined) return NO_OPTIONS;
  const read = optionsArg("CopyOptions", options, COPY_OPTIONS);
  return { dstOffset: read.dstOffset as number | undefined, srcOffset: read.srcOffset as number | undefined, stream: streamOption(read.stream, "CopyOptions") };
}

/** @internal an offset of a copy or fill: a whole number of bytes from 0. */
export function checkedOffset(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!(Number.isSafeInteger(value) && value >= 0)) throw new OutOfBoundsError(`${name} must be a whole number of bytes from 0, got ${describe(value)}`);
  return value;
}

/** @internal throws unless `length` bytes from `offset` lie inside the endpoint. */
export function checkRange(side: Endpoint, offset: number, length: number): void {
  if (offset + length <= side.length) return;
  const name = isPoolAllocation(side.side) ? describeHandle(side.side) : `the ${side.role} ${side.side.constructor.name}`;
  const direction = side.role === "source" ? "from" : "to";
  throw new OutOfBoundsError(`cannot copy ${length} bytes ${direction} offset ${offset} of ${name}: it holds ${side.length} bytes`);
}

/** Host to host: one memmove in the core (the ranges may overlap). */
function hostCopy(_dst: Endpoint, dstAddress: number, _src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  // Work queued on the stream may still read or write these bytes; a host copy runs now.
  stream?.synchronize();
  native.copyHost(dstAddress as Pointer, srcAddress as Pointer, length);
}

function hostMemory(side: Endpoint): number {
  return side.kind === "pinned" ? HostMemory.pinned : HostMemory.pageable;
}

/** Pinned memory goes straight to the DMA engine; pageable memory is staged (zig/src/gpu/copy.zig). */
function hostToDevice(dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  native.copyHostToDevice(dst.deviceId, dstAddress as Pointer, srcAddress as Pointer, length, hostMemory(src), stream?.handle ?? null);
}

function deviceToHost(dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  native.copyDeviceToHost(src.deviceId, dstAddress as Pointer, srcAddress as Pointer, length, hostMemory(dst), stream?.handle ?? null);
}

/**
 * Into persistent memory from the host: one call that copies and persists (pmem_memmove_persist,
 * non-temporal stores, nothing left to flush); source and destination may overlap (one PMEM allocation).
 * Into an allocation, the core checks it (offset and id) under the pool's lock, which the copy holds:
 * a free by another Worker after the check above never lets the copy into the block's next allocation.
 */
function intoPmem(dst: Endpoint, dstAddress: number, _src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  stream?.synchronize();
  const pool = dst.pool!;
  const side = dst.side;
  if (isAllocation(side)) {
    // The handle's fields as the pool made them (own properties may shadow the getters).
    const status = native.memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(side), idOfAllocation(side), dstAddress - addressOfAllocation(side), srcAddress as Pointer, length);
    if (status === native.Status.useAfterFree) endedElsewhere(side, "copy into");
    expectOkIn(pool, status);
    return;
  }
  expectOkIn(pool, native.memcpyPersistPmem(handleOf(pool), dstAddress - baseOf(pool), srcAddress as Pointer, length));
}

/**
 * Whether a PMEM pool's mapping is registered with the driver for direct DMA: registered on the
 * first GPU copy that touches it (cuMemHostRegister over the whole file); where the driver refuses,
 * copies take the staged pageable path.
 */
function pmemDmaMemory(pool: NonNullable<Endpoint["pool"]>, deviceId: number): number {
  return native.pmemRegisteredForDma(handleOf(pool), deviceId) ? HostMemory.pinned : HostMemory.pageable;
}

/**
 * A GPU checkpoint: one DMA from the device straight into the PMEM mapping (registered with the
 * driver), then the bytes are persisted before this returns.
 */
function deviceToPmem(dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  const pool = dst.pool!;
  stream?.synchronize(); // the checkpoint reads what work queued on the stream writes
  // One call: DMA into the registered mapping, pipelined with the flushes (zig/src/gpu/checkpoint.zig).
  if (expectOkIn(pool, native.checkpointPmem(handleOf(pool), src.deviceId, dstAddress - baseOf(pool), srcAddress as Pointer, length)) === 1) return;
  native.copyDeviceToHost(src.deviceId, dstAddress as Pointer, srcAddress as Pointer, length, pmemDmaMemory(pool, src.deviceId), stream?.handle ?? null);
  stream?.synchronize(); // on a stream the DMA is queued: the bytes must land before they are persisted
  expectOkIn(pool, native.persistPmem(handleOf(pool), dstAddress - baseOf(pool), length));
}

/** A restore from persistent memory: one DMA from the registered mapping to the device. */
function pmemToDevice(dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  native.copyHostToDevice(dst.deviceId, dstAddress as Pointer, srcAddress as Pointer, length, pmemDmaMemory(src.pool!, dst.deviceId), stream?.handle ?? null);
}

/** Bytes per step of a copy that goes through host memory. */
const BOUNCE_BYTES = 64 * 1024 * 1024;

/**
 * On one device the copy engine moves the bytes. Between devices (whose memory the other cannot
 * map) and between overlapping ranges (which cuMemcpy does not allow), they go through host
 * memory in steps, in the order that reads every byte before it is overwritten.
 */
function deviceToDevice(dst: Endpoint, dstAddress: number, src: Endpoint, srcAddress: number, length: number, stream: GPUStream | undefined): void {
  const sameDevice = dst.deviceId === src.deviceId;
  const overlap = sameDevice && dstAddress < srcAddress + length && srcAddress < dstAddress + length;
  if (sameDevice && !overlap) {
    native.copyDeviceToDevice(dst.deviceId, dstAddress as Pointer, srcAddress as Pointer, length, stream?.handle ?? null);
    return;
  }
  stream?.synchronize();
  const bounce = new Uint8Array(Math.min(length, BOUNCE_BYTES));
  const backwards = overlap && dstAddress > srcAddress;
  for (let done = 0; done < length; ) {
    const step = Math.min(bounce.length, length - done);
    const at = backwards ? length - done - step : done;
    native.copyDeviceToHost(src.deviceId, bounce, (srcAddress + at) as Pointer, step, HostMemory.pageable, null);
    native.copyHostToDevice(dst.deviceId, (dstAddress + at) as Pointer, bounce, step, HostMemory.pageable, null);
    done += step;
  }
}
