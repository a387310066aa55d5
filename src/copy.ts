/**
 * copy(dst, src, bytes?, options?): bytes between any two allocations or typed arrays, whatever
 * memory each lies in. Each side is resolved to an endpoint (address, length, memory kind,
 * device); the length and both offsets are checked against both sides before anything moves;
 * then the pair of kinds picks the path from one table. The GPU pool's copy methods go through
 * the same checks. Host bytes whose life and length JavaScript can prove (an allocation known alive
 * here, a Uint8Array) skip the endpoints and the core's checks: see the fast path below.
 */
import { ptr as addressOf, type Pointer } from "bun:ffi";
import {
  addressOfAllocation,
  copySourceLength,
  copySourceOperand,
  copyTargetAddress,
  Allocation,
  assertLive,
  describeHandle,
  endedElsewhere,
  idOfAllocation,
  isAllocation,
  isByteArray,
  isPoolAllocation,
  knownAlive,
  liveViewHere,
  offsetOfAllocation,
  PoolAllocation,
  poolOfAllocation,
  provenAliveByView,
  sizeOfAllocation,
} from "./allocation";
import { InvalidPointerError, OutOfBoundsError, describe } from "./errors";
import { copyHost, HostMemory } from "./native";
import * as native from "./native";
import { baseOf, expectOkIn, handleOf, trackedPmemPools, trackedPoolAt, type HostPool } from "./pool";
import { streamOption, type GPUStream, type StreamOptions } from "./stream";
import { bufferPrototype, byteLengthOf, optionsArg } from "./validate";

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
  // Kept small, so that JSC inlines it into the caller and the fast path under it (see below).
  if (options === undefined) {
    const moved = ArrayBuffer.isView(dst) ? copyIntoByteArray(dst, src, bytes, 0) : copyIntoAllocation(dst, src, bytes, 0);
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
  const at = read.dstOffset ?? 0;
  const start = read.srcOffset ?? 0;
  if (read.stream === undefined && isByteCount(at) && isByteCount(start)) {
    // All of a source first, as the fast path does, with the offset (copyHostSides); then a part of
    // one allocation into another, or what that did not take between allocations, by the memmove
    // at their addresses.
    const moved = start === 0 ? copyHostSides(dst, src, bytes, at) : 0;
    if (moved !== 0) return moved;
    const part = isAllocation(dst) && isAllocation(src) ? copyAllocationBytes(dst, src, bytes, at, start) : 0;
    if (part !== 0) return part;
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
 * The fast path: no endpoint, no option record, no call into the core but the copy. It returns the
 * bytes copied, or 0 where it does not apply or a check fails: then copyChecked copies, or throws
 * the typed error that says why. A side is
 * - an Allocation of a host pool of threadSafety "none" (not PMEM) known alive by its pool's count
 *   of ends (knownAlive): no other thread can end such an allocation, and every end in this thread
 *   (a free by any route, reset, destroy) counts; or, where the count moved (an end of another
 *   block), by its `bytes` view, attached (allocation.ts #provingView: every end detaches it). One
 *   never viewed is recorded alive again by copyChecked, which asks the core, and taken there.
 * - a Uint8Array (or Buffer): a source's `length` as it claims, confirmed by element reads (one at
 *   length - 1, none at length), so a view that lies about its length is not taken; a destination's
 *   room is one element read (at the last byte the copy writes).
 * A side in PMEM (an allocation of a PMEM pool, a typed destination while a PMEM pool is open that
 * views one) is not taken: a destination there must be persisted.
 *
 * The bytes move by one memmove in the core (overlap-safe, as a copy within one allocation needs),
 * handed an allocation's address or the typed array itself (bun:ffi passes its address): at every
 * size it costs less than the engine's TypedArray.prototype.set, 5 ns against 11 ns at 64 B.
 *
 * The checks are spread over functions that JSC inlines whole into copy()'s caller: copy() (its
 * caller's callee), one function for each kind of destination under it, and under those only
 * functions with no call inside (allocation.ts's copySourceLength, copySourceOperand,
 * copyTargetAddress; byteArrayTarget; native.copyHost), each small. JSC inlines five frames deep
 * from a loop, and by default callees of at most 170 bytecode units: the same checks in one
 * function it called cost twice the inlined copy of 64 B (bench/RESULTS.md, session 8).
 */

/** A whole number of bytes from 0 (the checked path names anything else). */
function isByteCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * All of `src` (an allocation known alive or a Uint8Array) into an allocation known alive, at `at`
 * (a whole number from 0); `bytes`, where given, must say the same. 0 where any of that fails.
 */
function copyIntoAllocation(dst: CopySide, src: CopySide, bytes: number | undefined, at: number): number {
  // The source first: a typed source's claimed length may be a caller's getter, run before anything else is proven.
  const length = copySourceLength(src);
  const to = length !== 0 && (bytes === undefined || bytes === length) ? copyTargetAddress(dst, at + length) : 0;
  if (to === 0) return 0;
  copyHost((to + at) as Pointer, copySourceOperand(src) as Pointer, length);
  return length;
}

/** As copyIntoAllocation, into a Uint8Array (or Buffer) that holds the bytes at `at` and views no PMEM. */
function copyIntoByteArray(dst: ArrayBufferView, src: CopySide, bytes: number | undefined, at: number): number {
  const length = copySourceLength(src);
  const to = length !== 0 && (bytes === undefined || bytes === length) ? byteArrayTarget(dst, at, length) : undefined;
  if (to === undefined) return 0;
  copyHost(to, copySourceOperand(src) as Pointer, length);
  return length;
}

/**
 * The fast path's copy for copyChecked, with an offset: all of `src` into `dst` at `at`, after an
 * allocation known alive only by its attached view (an end in its pool since it was last known
 * alive) is recorded alive again (provenAliveByView). A typed source is measured by the engine
 * (byteLengthOf), not asked its length: the fast path asked it already, and a caller's getter runs
 * once. No caller's code runs here.
 */
function copyHostSides(dst: CopySide, src: CopySide, bytes: number | undefined, at: number): number {
  const srcIsView = ArrayBuffer.isView(src);
  let length = srcIsView ? byteLengthOf(src) : copySourceLength(src);
  if (length === 0 && !srcIsView && provenAliveByView(src)) length = copySourceLength(src);
  if (length === 0 || (bytes !== undefined && bytes !== length)) return 0;
  let to: Uint8Array | Pointer | undefined;
  if (ArrayBuffer.isView(dst)) {
    to = byteArrayTarget(dst, at, length);
  } else {
    let base = copyTargetAddress(dst, at + length);
    if (base === 0 && provenAliveByView(dst)) base = copyTargetAddress(dst, at + length);
    to = base === 0 ? undefined : ((base + at) as Pointer);
  }
  if (to === undefined) return 0;
  copyHost(to, copySourceOperand(src) as Pointer, length);
  return length;
}

/**
 * What the core writes `length` bytes at `at` of a Uint8Array (or Buffer) of this realm to: the array
 * itself at 0, else its address past `at`; undefined where its element at `at + length - 1` does not
 * exist (an element read, which no getter answers) or it views PMEM (asked only while a PMEM pool is open).
 */
function byteArrayTarget(view: ArrayBufferView, at: number, length: number): Uint8Array | Pointer | undefined {
  const proto: unknown = Object.getPrototypeOf(view);
  if ((proto !== Uint8Array.prototype && proto !== bufferPrototype) || !isByteArray(view) || (view as Uint8Array)[at + length - 1] === undefined) return undefined;
  if (trackedPmemPools !== 0 && viewsPmem(view)) return undefined;
  return at === 0 ? (view as Uint8Array) : addressOf(view as DataView, at);
}


/** Whether a view lies in a PMEM pool's memory (whose writes must be persisted). */
function viewsPmem(view: ArrayBufferView): boolean {
  return trackedPoolAt(addressOf(view as DataView), byteLengthOf(view))?.kind === "pmem";
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
 * is owed): its pool's count of ends (knownAlive), or its attached view (liveViewHere).
 */
function provenAlive(allocation: Allocation): boolean {
  return knownAlive(allocation) || liveViewHere(allocation) !== undefined;
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
