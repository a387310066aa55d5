// copy() between host memory of every kind this machine has: CPU pool allocations and JavaScript
// typed arrays. Pinned and device memory need a GPU: test/gpu/copy.test.ts covers those pairs.
import { describe, expect, test } from "bun:test";
import {
  copy,
  InvalidPointerError,
  MemoryPoolManager,
  OutOfBoundsError,
  UseAfterFreeError,
  type Allocation,
  type CopySide,
} from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
const MiB = 1 << 20;
const pool = cpuPoolsPerTest();

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed) & 0xff;
  return bytes;
}

function bytesOf(side: CopySide): Uint8Array {
  if (ArrayBuffer.isView(side)) return new Uint8Array(side.buffer, side.byteOffset, side.byteLength);
  return (side as Allocation).bytes;
}


describe("copy between host memory", () => {
  let made = 0; // pool names, unique within a test
  // Each maker gives a fresh side of `length` bytes: the kinds of host memory without a GPU.
  const kinds: Record<string, (length: number) => CopySide> = {
    "CPU pool allocation": (length) => pool(`copy-${made++}`).allocate(length),
    "fixed-size pool allocation": (length) => pool(`copy-${made++}`, { allocatorType: "FixedSize", blockSize: length, initialSize: 4 * MiB }).allocate(length),
    Uint8Array: (length) => new Uint8Array(length),
    "Float64Array at an offset": (length) => new Float64Array(new ArrayBuffer(length + 24), 24, length / 8),
    DataView: (length) => new DataView(new ArrayBuffer(length)),
    "view of a pool allocation": (length) => pool(`copy-${made++}`).allocate(length).bytes,
  };

  for (const [dstKind, makeDst] of Object.entries(kinds)) {
    for (const [srcKind, makeSrc] of Object.entries(kinds)) {
      test(`${srcKind} -> ${dstKind}: all of it, then a range with offsets`, () => {
        const length = 4096;
        const src = makeSrc(length);
        const dst = makeDst(length);
        const expected = pattern(length, 7);
        bytesOf(src).set(expected);
        expect(copy(dst, src)).toBe(length);
        expect(Buffer.compare(bytesOf(dst), expected)).toBe(0);
        bytesOf(dst).fill(0);
        expect(copy(dst, src, 1000, { srcOffset: 3000, dstOffset: 96 })).toBe(1000);
        expect(Buffer.compare(bytesOf(dst).subarray(96, 1096), expected.subarray(3000, 4000))).toBe(0);
        expect(bytesOf(dst)[95]).toBe(0);
        expect(bytesOf(dst)[1096]).toBe(0);
      });
    }
  }

  test("large copies move every byte", () => {
    const length = 48 * MiB + 5;
    const src = pool("copy-large-src", { initialSize: 64 * MiB }).allocate(length);
    const dst = new Uint8Array(length);
    src.bytes.set(pattern(length, 3));
    copy(dst, src);
    expect(Buffer.compare(dst, src.bytes)).toBe(0);
  });

  test("a copy within one allocation behaves as if through a buffer, in both directions", () => {
    const a = pool("copy-overlap").allocate(100);
    const original = pattern(100, 1);
    a.bytes.set(original);
    copy(a, a, 60, { srcOffset: 0, dstOffset: 10 }); // forwards over itself
    expect(Buffer.compare(a.bytes.subarray(10, 70), original.subarray(0, 60))).toBe(0);
    a.bytes.set(original);
    copy(a, a, 60, { srcOffset: 10, dstOffset: 0 }); // backwards over itself
    expect(Buffer.compare(a.bytes.subarray(0, 60), original.subarray(10, 70))).toBe(0);
  });
});

describe("copy refuses before anything moves", () => {
  test("ranges past either end, bad offsets and bad lengths are OutOfBoundsErrors", () => {
    const p = pool("copy-bounds");
    const dst = p.allocate(1000);
    const src = p.allocate(2000);
    src.bytes.fill(9);
    const cases: [string, () => unknown][] = [
      ["the whole larger source", () => copy(dst, src)],
      ["one byte more than the destination", () => copy(dst, src, 1001)],
      ["a destination offset pushing past the end", () => copy(dst, src, 1000, { dstOffset: 1 })],
      ["a source offset pushing past the end", () => copy(dst, src, 10, { srcOffset: 1991 })],
      ["into a typed array too small", () => copy(new Uint8Array(10), src, 11)],
      ["a negative length", () => copy(dst, src, -1)],
      ["a zero length", () => copy(dst, src, 0)],
      ["a fractional length", () => copy(dst, src, 1.5)],
      ["a NaN offset", () => copy(dst, src, 10, { srcOffset: NaN })],
      ["a negative offset", () => copy(dst, src, 10, { dstOffset: -1 })],
      ["an empty source", () => copy(dst, new Uint8Array(0))],
      ["a detached destination", () => copy((() => { const a = new Uint8Array(8); a.buffer.transfer(); return a; })(), src, 8)],
    ];
    for (const [what, attempt] of cases) {
      const err = thrown(attempt);
      if (!(err instanceof OutOfBoundsError)) throw new Error(`${what}: expected OutOfBoundsError, got ${err}`);
      expect(err.code).toBe("OUT_OF_BOUNDS");
    }
    expect(dst.bytes.every((b) => b === 0)).toBe(true); // nothing moved
    expect(thrown(() => copy(dst, src, 1001)).message).toContain("holds 1000 bytes");
  });

  test("a freed, reset or destroyed allocation is a UseAfterFreeError on either side", () => {
    const p = pool("copy-freed");
    const live = p.allocate(64);
    const freed = p.allocate(64);
    freed.free();
    expect(thrown(() => copy(live, freed)).code).toBe("USE_AFTER_FREE");
    expect(() => copy(freed, live)).toThrow(UseAfterFreeError);
    const byPointer = p.allocate(64);
    p.deallocate(byPointer.ptr);
    expect(() => copy(byPointer, live)).toThrow(UseAfterFreeError);
    const q = pool("copy-reset");
    const old = q.allocate(64);
    q.reset();
    expect(() => copy(live, old)).toThrow(UseAfterFreeError);
    const gone = pool("copy-destroyed").allocate(64);
    manager.destroyPool("copy-destroyed");
    expect(() => copy(gone, live)).toThrow(UseAfterFreeError);
  });

  test("things that are no memory are InvalidPointerErrors", () => {
    const dst = new Uint8Array(8);
    for (const bad of [null, undefined, 42, "bytes", {}, new ArrayBuffer(8)]) {
      const err = thrown(() => copy(dst, bad as unknown as CopySide));
      expect(err).toBeInstanceOf(InvalidPointerError);
      expect(err.code).toBe("INVALID_POINTER");
      expect(() => copy(bad as unknown as CopySide, dst)).toThrow(InvalidPointerError);
    }
  });
});
