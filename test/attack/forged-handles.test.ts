/**
 * Allocations and GPU streams made with their exported classes' constructors. Found by attacking
 * main: Allocation, GPUAllocation and GPUStream are exported (for instanceof), and their
 * constructors took whatever they were given: `new Allocation(pool, a.ptr, 1 << 28, a.offset,
 * a.id)` passed every liveness check (the block does hold that id) and its view reached 256 MiB
 * past a 64-byte block (SIGSEGV); a GPUStream over any number went to the driver as a CUstream.
 * They now refuse to be made outside the library (the test never makes a view of a forged handle).
 */
import { expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { Allocation, GPUAllocation, GPUStream, MemoryPoolManager, UnsupportedOperationError } from "../../src/index";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

test("the constructors of Allocation, GPUAllocation and GPUStream refuse callers outside the library", () => {
  using pool = MemoryPoolManager.getInstance().createCPUPool("attack-forged");
  const real = pool.allocate(64);
  const forge = (Type: unknown, ...args: unknown[]) => () => new (Type as new (...a: unknown[]) => unknown)(...args);
  for (const make of [
    forge(Allocation, pool, real.ptr, 1 << 28, offsetOfAllocation(real), real.id),
    forge(Allocation, pool, real.ptr, 64, offsetOfAllocation(real), real.id, Symbol("made by a pool")),
    forge(GPUAllocation, pool, real.ptr, 64, offsetOfAllocation(real), real.id),
    forge(GPUStream, 0, 0x1234 as Pointer),
  ]) {
    const error = thrown(make);
    expect(error).toBeInstanceOf(UnsupportedOperationError);
    expect(error.message).toContain("has no public constructor");
  }
  // What pools make is unchanged.
  expect(real.bytes.length).toBe(64);
  expect(pool.fromPointer(real.ptr).size).toBe(64);
  expect(real instanceof Allocation).toBe(true);
});
