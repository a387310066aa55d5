/**
 * CUDA streams, and the `stream` option of the calls that take one. Apart from src/gpu.ts so that
 * src/copy.ts (which GPU pools' copy methods use) can take a stream without importing GPU pools.
 */
import type { Pointer } from "bun:ffi";
import { MADE_BY_POOL } from "./allocation";
import { ConfigError, UnsupportedOperationError, UseAfterFreeError } from "./errors";
import { streamLine } from "./inspect";
import * as native from "./native";
import { optionsArg } from "./validate";
import { checkReceivers, foreignReceiver } from "./receiver";

/**
 * Whether `value` is a stream gpuPool.createStream() made, by its private field: a Proxy's
 * traps never run (instanceof calls getPrototypeOf, which may throw) and an object made from the
 * prototype (Object.create) is none.
 */
let madeStream: (value: unknown) => value is GPUStream;

/** A CUDA stream of a GPU pool's device: work on it runs in order, streams run concurrently. */
export class GPUStream {
  #destroyed = false;
  readonly #deviceId: number;
  readonly #handle: Pointer;
  /** @internal made by gpuPool.createStream(): a handle from anywhere else would go to the driver as a CUstream */
  constructor(deviceId: number, handle: Pointer, made?: typeof MADE_BY_POOL) {
    if (made !== MADE_BY_POOL) throw new UnsupportedOperationError("GPUStream has no public constructor: gpuPool.createStream() makes streams");
    this.#deviceId = deviceId;
    this.#handle = handle;
    // Every call that queues work reads `handle`: an own property could shadow the getter
    // (Object.defineProperty(stream, "handle", ...)), and the driver would be given a CUstream that is none.
    Object.freeze(this);
  }

  static {
    madeStream = (value): value is GPUStream => typeof value === "object" && value !== null && #handle in value;
  }

  /** The device the stream is on. */
  get deviceId(): number {
    return this.#deviceId;
  }

  /**
   * The CUstream, for native code (and every call that queues work on the stream): refused with
   * UseAfterFreeError once the stream is destroyed, so a destroyed stream never reaches the driver.
   * Read-only: a handle set by a caller would go to the driver as a CUstream.
   */
  get handle(): Pointer {
    this.#assertLive();
    return this.#handle;
  }

  /** Waits for everything queued on the stream. */
  synchronize(): void {
    native.synchronizeStream(this.#deviceId, this.handle);
  }

  destroy(): void {
    native.destroyStream(this.#deviceId, this.handle);
    this.#destroyed = true;
  }

  [Symbol.dispose](): void {
    if (!this.#destroyed) this.destroy();
  }

  /** One line: `GPUStream 0x55d0c0a1b2c0 on device 0`. */
  toString(): string {
    return streamLine(Number(this.#handle), this.#deviceId, this.#destroyed);
  }

  [Bun.inspect.custom](): string {
    return this.toString();
  }

  #assertLive(): void {
    if (this.#destroyed) throw new UseAfterFreeError("the stream was destroyed");
  }
}

/**
 * @internal the stream of a call's options (StreamOptions, or `owner` with `keys`): a GPUStream or
 * none; an options object that is not one, an unknown key or another stream is a ConfigError.
 */
export function streamOf(options: unknown, owner = "StreamOptions", keys: readonly string[] = ["stream"]): GPUStream | undefined {
  if (options === undefined) return undefined;
  return streamOption(optionsArg(owner, options, keys).stream, owner);
}

/** @internal the `stream` option of `owner`, as read: a GPUStream or none (ConfigError otherwise). */
export function streamOption(stream: unknown, owner: string): GPUStream | undefined {
  if (stream !== undefined && !madeStream(stream)) throw new ConfigError("stream", stream, "must be a GPUStream (from gpuPool.createStream())", owner);
  return stream;
}

export interface StreamOptions {
  /** Queue the work on this stream, or for allocate/deallocate: order the block's reuse by it. */
  stream?: GPUStream;
}

// The public members, behind the check of their receiver (src/receiver.ts).
checkReceivers(GPUStream.prototype, "stream", madeStream, ["deviceId", "handle", "synchronize", "destroy", "toString", Symbol.dispose, Bun.inspect.custom], foreignReceiver("a GPUStream that gpuPool.createStream() made"));
