/**
 * The anchors: glibc's allocator opened through bun:ffi, so it pays the same kind of FFI call
 * as the pool does. Every goal is stated against these (or against `new Uint8Array(n)`).
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  malloc: { args: [FFIType.u64], returns: FFIType.ptr },
  free: { args: [FFIType.ptr], returns: FFIType.void },
  memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr },
  abs: { args: [FFIType.i32], returns: FFIType.i32 },
});

export const malloc = libc.symbols.malloc as (size: number) => Pointer | null;
export const free = libc.symbols.free as (pointer: Pointer | null) => void;
export const memset = libc.symbols.memset as (pointer: Pointer, value: number, size: number) => Pointer | null;
/** A libc function that does next to nothing: two calls of it are the floor of any alloc + free through bun:ffi. */
export const abs = libc.symbols.abs as (value: number) => number;
