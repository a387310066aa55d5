/**
 * The anchors: glibc's allocator opened through bun:ffi, so it pays the same kind of FFI call
 * as the pool does. Every goal is stated against these (or against `new Uint8Array(n)`).
 */
import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  malloc: { args: [FFIType.u64], returns: FFIType.ptr },
  free: { args: [FFIType.ptr], returns: FFIType.void },
  memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr },
  abs: { args: [FFIType.i32], returns: FFIType.i32 },
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
});

export const malloc = libc.symbols.malloc as (size: number) => Pointer | null;
export const free = libc.symbols.free as (pointer: Pointer | null) => void;
export const memset = libc.symbols.memset as (pointer: Pointer, value: number, size: number) => Pointer | null;
/** A libc function that does next to nothing: two calls of it are the floor of any alloc + free through bun:ffi. */
export const abs = libc.symbols.abs as (value: number) => number;

const CLOCK_THREAD_CPUTIME_ID = 3;
const timespec = new BigInt64Array(2);
const timespecAddress = ptr(timespec);
/**
 * The calling thread's CPU time in ns (clock_gettime CLOCK_THREAD_CPUTIME_ID, exact to the ns):
 * process.threadCpuUsage moves in steps of up to a scheduler tick here (0, 649, 1177 µs between
 * reads 60 µs apart), which put errors of several ns a call on rounds of 10^6 calls.
 */
export function threadCpuNs(): number {
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, timespecAddress);
  return Number(timespec[0]) * 1e9 + Number(timespec[1]);
}
const clock_gettime = libc.symbols.clock_gettime as (clock: number, out: Pointer) => number;
