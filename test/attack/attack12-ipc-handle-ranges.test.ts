/**
 * SharedGPUMemory.open() with handle fields past what the core takes. Found by attacking main: the
 * core takes a pid and a descriptor as 32-bit ints, so a pid of 2^32 + p reached it as p (another
 * process) and a descriptor past 2^31 as another descriptor; a range past 2^52 bytes was refused
 * as "a copy's length". Each is now refused with the handle's own InvalidPointerError naming the
 * field, before the driver is asked (so this runs without a GPU: the driver is never reached).
 */
import { expect, test } from "bun:test";
import { InvalidPointerError, SharedGPUMemory, type GPUIPCHandle } from "../../src/index";
import { thrown } from "../support/thrown";

const fields = { pid: process.pid, fd: 3, deviceId: 0, rangeBytes: 2 << 20, offset: 0, size: 64 };

test("a pid, descriptor or device past 2^31 - 1, or a byte count past 2^52, is not a handle", () => {
  const wrapping: [Partial<GPUIPCHandle>, string][] = [
    [{ pid: 2 ** 32 + process.pid }, `pid is ${2 ** 32 + process.pid}`],
    [{ fd: 2 ** 31 }, `fd is ${2 ** 31}`],
    [{ deviceId: 2 ** 31 }, `deviceId is ${2 ** 31}`],
    [{ rangeBytes: 2 ** 53 - 1 }, `rangeBytes is ${2 ** 53 - 1}`],
    [{ offset: 2 ** 52 + 16 }, `offset is ${2 ** 52 + 16}`],
  ];
  for (const [fieldsOver, message] of wrapping) {
    const error = thrown(() => SharedGPUMemory.open({ ...fields, ...fieldsOver }));
    expect(error).toBeInstanceOf(InvalidPointerError);
    expect(error.message).toBe(`not a GPU IPC handle: ${message}`);
  }
});
