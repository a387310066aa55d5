/**
 * A GPU stream's handle shadowed by an own property. test/attack/gpu-stream-handle.test.ts made
 * `handle` and `deviceId` read-only against assignment; found by attacking main:
 * Object.defineProperty(stream, "handle", { value: 0xdead }) still succeeded, and every copy, fill
 * and stream-ordered allocation reads `stream.handle` for the driver. Streams are frozen once made.
 * SharedGPUMemory's constructor, private to TypeScript only, made from JavaScript a mapping of any
 * device address for read() and write(): it now refuses any caller but open(). Needs no GPU.
 */
import { expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { GPUStream, SharedGPUMemory, UnsupportedOperationError } from "../../src/index";
import { thrown } from "../support/thrown";
import { MADE_BY_POOL } from "../../src/allocation";

test("a stream's handle, device and methods cannot be shadowed", () => {
  const stream = new GPUStream(0, 0x55d0c0a1b2c0 as Pointer, MADE_BY_POOL); // never used: no driver is called
  expect(Object.isFrozen(stream)).toBe(true);
  for (const field of ["handle", "deviceId", "synchronize"]) {
    expect(() => Object.defineProperty(stream, field, { value: 0xdead })).toThrow(TypeError);
  }
  expect(Number(stream.handle)).toBe(0x55d0c0a1b2c0);
  expect(stream.deviceId).toBe(0);
});

test("SharedGPUMemory has no public constructor: a mapping of any address cannot be made from JavaScript", () => {
  const Shared = SharedGPUMemory as unknown as new (handle: object, base: number) => SharedGPUMemory;
  const error = thrown(() => new Shared({ pid: 1, fd: 3, deviceId: 0, rangeBytes: 1 << 30, offset: 0, size: 1 << 30 }, 0x7f0000000000));
  expect(error).toBeInstanceOf(UnsupportedOperationError);
  expect(error.message).toContain("SharedGPUMemory.open(handle)");
});
