/**
 * copy()'s fast path asks the engine once an object whether it is a Uint8Array and keeps its word on
 * the object as a private field (allocation.ts ByteArrayBrand), where it asked every time (a call into
 * native code, 2-4 ns a typed side). Each liar here meets a fast path that has branded real arrays
 * already: a DataView given Uint8Array.prototype (with an own length and Object.prototype[63] set,
 * attack18's crash), a Proxy of a branded Uint8Array, a subclass with lying getters given
 * Uint8Array.prototype, a Uint16Array given it, another realm's Uint8Array, and one that takes no new
 * properties. Each is copied as what it is: no byte past its memory, no brand borrowed from its
 * target or from other arrays. In a child process: a write past a view's memory may crash it.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("objects that claim to be Uint8Arrays are copied as what the engine says they are, after real ones were branded", async () => {
  const child = await runBun(attackFixture("leftovers6-byte-array-brand-child.ts"));
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  expect(JSON.parse(child.stdout)).toEqual({
    dataViewFrom: 1, // its one byte, measured by its own getter
    dataViewInto: "OutOfBoundsError",
    proxyFrom: "InvalidPointerError", // a Proxy is no view: not a side at all
    proxyInto: "InvalidPointerError",
    lyingFrom: 8, // its 8 bytes, whatever its length says
    lyingInto: "OutOfBoundsError",
    lyingFromWithBytes: 8,
    wideFrom: 8, // 4 elements of 2 bytes
    wideRead: "4,4,4,4,4,4,4,4,9",
    foreignFrom: 64,
    foreignRead: 5,
    sealedFrom: 64,
    sealedRead: 6,
    sealedInto: 64,
    sealedWritten: 9,
  });
});
