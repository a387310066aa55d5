// Whether native code could read a byte without faulting, asked of the kernel: write(2) of that byte
// to a pipe copies it, or answers EFAULT where the page is inaccessible (a guard page, memory given
// back), so a test probes guard pages without a fault ending its process.
import { dlopen, FFIType } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  pipe: { args: [FFIType.ptr], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i64 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
});
let pipe: Int32Array | undefined;
const drained = new Uint8Array(1);

/** Whether the byte at `address` may be read: the kernel copies it into a pipe, or says EFAULT. */
export function accessible(address: number): boolean {
  if (pipe === undefined) {
    pipe = new Int32Array(2);
    if (libc.symbols.pipe(pipe) !== 0) throw new Error("pipe(2) failed: no probe of addresses");
  }
  if (Number(libc.symbols.write(pipe[1]!, address, 1)) !== 1) return false;
  libc.symbols.read(pipe[0]!, drained, 1);
  return true;
}
