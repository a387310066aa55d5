/**
 * A GPU stream's handle as callers can reach it. Found by reading main against the copy paths:
 * `stream.handle` and `stream.deviceId` were plain writable fields that every copy, fill and
 * stream-ordered allocation handed to the driver as they were, and a destroyed stream's handle was
 * handed on too (only synchronize() and destroy() checked): `stream.handle = 0xdead` or a copy
 * queued on a destroyed stream gave the driver a CUstream that is none. They are now read-only,
 * and the handle of a destroyed stream is refused (UseAfterFreeError) before any call. The first
 * test needs no GPU (it never calls the driver); the second runs where a device is.
 */
import { afterAll, expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { copy, GPUStream, MemoryPoolManager, UseAfterFreeError } from "../../src/index";
import { MADE_BY_POOL } from "../../src/allocation";
import { gpuUnavailableReason } from "../../src/native";
import { thrown } from "../support/thrown";

const noGPU = gpuUnavailableReason();
if (noGPU !== undefined) console.log(`[test/attack/gpu-stream-handle] the destroyed-stream case skipped: ${noGPU}`);

test("a stream's handle and device cannot be set", () => {
  const stream = new GPUStream(0, 0x55d0c0a1b2c0 as Pointer, MADE_BY_POOL); // never used: no driver is called
  for (const field of ["handle", "deviceId"]) {
    expect(thrown(() => ((stream as unknown as Record<string, unknown>)[field] = 0xdead))).toBeInstanceOf(TypeError);
  }
  expect(Number(stream.handle)).toBe(0x55d0c0a1b2c0);
  expect(stream.deviceId).toBe(0);
});

const manager = MemoryPoolManager.getInstance();
afterAll(() => {
  if (manager.hasPool("attack-stream-handle")) manager.destroyPool("attack-stream-handle");
});

test.skipIf(noGPU !== undefined)("work queued on a destroyed stream is refused before it reaches the driver", () => {
  const gpu = manager.createGPUPool("attack-stream-handle", { initialSize: 2 << 20 });
  const d = gpu.allocate(256);
  const stream = gpu.createStream();
  stream.destroy();
  const host = new Uint8Array(256);
  for (const call of [
    () => stream.handle,
    () => gpu.copyHostToDevice(d, host, 256, { stream }),
    () => gpu.copyDeviceToHost(host, d, 256, { stream }),
    () => copy(d, host, 256, { stream }),
    () => gpu.fill(d, 1, 256, { stream }),
    () => gpu.allocate(64, { stream }),
    () => gpu.deallocate(d, { stream }),
  ]) {
    expect(thrown(call)).toBeInstanceOf(UseAfterFreeError);
  }
  expect(d.alive).toBe(true);
  d.free();
});
