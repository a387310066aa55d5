/**
 * copy()'s fast path took a DataView dressed as a Uint8Array (Object.setPrototypeOf(view,
 * Uint8Array.prototype)) as one: it passes ArrayBuffer.isView and the prototype check, and the
 * element reads meant to prove its length are, on a DataView, property reads a caller answers
 * (Object.prototype[63] = 1, or an own `length`). A 1-byte DataView then took 64 bytes (63 written
 * past it), and read as 64. The fast path now asks the engine whether a side is a Uint8Array
 * (allocation.ts ByteArrayBrand): a DataView takes the checked path, which measures it by its own getter.
 * In a child process: a write past a view's memory may crash it.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("a DataView dressed as a Uint8Array is measured as what it is, on either side of a copy", async () => {
  const child = await runBun(attackFixture("attack18-forged-view-child.ts"));
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  expect(JSON.parse(child.stdout)).toEqual({
    intoView: "OutOfBoundsError",
    intoViewAt: "OutOfBoundsError",
    pastView: 0,
    intoLoneByte: "OutOfBoundsError",
    fromView: 1,
    fromViewRead: 9,
    fromViewIntoAllocation: 1,
    allocationRead: 9,
  });
});
