/**
 * A GPU stream's handle shadowed by an own property. test/attack/gpu-stream-handle.test.ts made
 * `handle` and `deviceId` read-only against assignment; found by attacking main:
 * Object.defineProperty(stream, "handle", { value: 0xdead }) still succeeded, and every copy, fill
 * and stream-ordered allocation reads `stream.handle` for the driver. Streams are frozen once made.
 * Needs no GPU: the stream is never used.
 */
import { expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { GPUStream } from "../../src/index";
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
