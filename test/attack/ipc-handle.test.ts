/**
 * SharedGPUMemory.open() with a handle whose fields are getters. Found by attacking main: open()
 * read each field to check it, then again to map the range and once more to keep it, so a getter
 * could pass the checks (a size inside the range) and keep another value (a size far past it) for
 * the copies; a field whose value's toString threw, or a getter that threw, escaped untyped. Each
 * field is now read once into a record of its own. Runs without a GPU: open() fails after its
 * checks, when it asks the driver, and the reads are counted up to there.
 */
import { expect, test } from "bun:test";
import { InvalidPointerError, MemoryPoolError, SharedGPUMemory, type GPUIPCHandle } from "../../src/index";
import { thrown } from "../support/thrown";

const fields = { pid: process.pid, fd: 3, deviceId: 0, rangeBytes: 2 << 20, offset: 0, size: 64 };

test("each field of a handle is read once", () => {
  const reads: Record<string, number> = {};
  const handle = {} as GPUIPCHandle;
  for (const [field, value] of Object.entries(fields)) {
    Object.defineProperty(handle, field, { enumerable: true, get: () => ((reads[field] = (reads[field] ?? 0) + 1) === 1 ? value : 2 ** 40) });
  }
  const error = thrown(() => SharedGPUMemory.open(handle)); // no GPU here; with one, a handle no exporter holds
  expect(error).toBeInstanceOf(MemoryPoolError);
  expect(reads).toEqual({ pid: 1, fd: 1, deviceId: 1, rangeBytes: 1, offset: 1, size: 1 });
});

test("a field that cannot be read, or is no number, is an InvalidPointerError naming it", () => {
  const hostile: [unknown, RegExp][] = [
    [{ ...fields, get size() { throw new Error("boom"); } }, /its size cannot be read/],
    [{ ...fields, fd: { toString() { throw new Error("boom"); } } }, /fd is an object/],
    [{ ...fields, pid: 12n }, /pid is 12n/],
    [{ ...fields, offset: "0" }, /offset is "0"/],
    [null, /pid is undefined/],
  ];
  for (const [handle, message] of hostile) {
    const error = thrown(() => SharedGPUMemory.open(handle as GPUIPCHandle));
    expect(error).toBeInstanceOf(InvalidPointerError);
    expect(error.message).toMatch(message);
  }
});
