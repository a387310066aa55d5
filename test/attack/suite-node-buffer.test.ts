/**
 * Node's test/parallel/test-buffer-* (alloc, arraybuffer, fill, write, copy, slice, readint,
 * concat, tostring), read and retold for this library's views: Node Buffers and typed arrays made
 * over an allocation's view or its `.buffer`, used the ways those tests use them, on pools of each
 * shape, with neighbours on both sides stamped from their addresses:
 * - Buffer.from(arrayBuffer, offset, length) shares the allocation's bytes; out-of-range offsets and
 *   lengths are Node's RangeErrors (the buffer is exactly the allocation: nothing past it to reach);
 * - fill (whole, ranges, strings, multi-byte patterns), write (strings cut at the end), copy and
 *   copyWithin (overlapping), slice/subarray (shared) and Uint8Array.prototype.slice (copied),
 *   read/writeUInt32LE, BigInt64 and doubles at the last offset and one past it (RangeError),
 *   Buffer.concat of views (a copy), toString of every encoding and back;
 * - every neighbour's stamp intact after all of it (no write escaped its allocation);
 * - after the allocation's free every Buffer and view made from it, on its buffer, is empty: reads
 *   are undefined, writes go nowhere, fill and write are no-ops, readUInt8 a RangeError, a new Buffer
 *   over the buffer a TypeError (Bun: "Buffer is detached"), and the neighbours still hold.
 * What Node's tests check of Buffer's own pool (allocUnsafe's slab, poolSize) has no analogue here.
 */
import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { type Allocation, type CPUMemoryPool, PoolConfig } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["FixedSize 256 (JavaScript cache)", PoolConfig.FixedSizeCPU(256)],
  ["FixedSize 256, lockFree", { ...PoolConfig.FixedSizeCPU(256), threadSafety: "lockFree" }],
];

/** An allocation of `size` between two stamped neighbours. */
function between(p: CPUMemoryPool, size: number): { a: Allocation; neighbours: Allocation[]; intact: () => boolean } {
  const before = p.allocate(size);
  const a = p.allocate(size);
  const after = p.allocate(size);
  const neighbours = [before, after];
  for (const n of neighbours) stamp(n.bytes, n.ptr as number);
  return { a, neighbours, intact: () => neighbours.every((n) => stampHolds(n.bytes, n.ptr as number)) };
}

describe("Node's test-buffer-* over allocation views", () => {
  for (const [name, shape] of shapes) {
    test(`Buffers share the allocation's bytes and never reach past it (${name})`, () => {
      const p = pool(`suite-buffer-${name}`, shape);
      const size = 200;
      const { a, neighbours, intact } = between(p, size);
      const whole = Buffer.from(a.bytes.buffer);
      const part = Buffer.from(a.bytes.buffer, 10, 20);
      expect([whole.length, part.length, part.byteOffset]).toEqual([size, 20, 10]);
      part.fill(7);
      expect([a.bytes[9], a.bytes[10], a.bytes[29], a.bytes[30]]).toEqual([a.bytes[9]!, 7, 7, a.bytes[30]!]);
      // test-buffer-arraybuffer: offsets and lengths past the buffer are RangeErrors
      expect(() => Buffer.from(a.bytes.buffer, size + 1)).toThrow(RangeError);
      expect(() => Buffer.from(a.bytes.buffer, 10, size)).toThrow(RangeError);
      expect(Buffer.from(a.bytes.buffer, size).length).toBe(0);
      // test-buffer-fill: whole, ranges, strings, patterns that do not divide the length
      whole.fill(0);
      whole.fill(0xab, 190);
      whole.fill("xyz", 0, 7);
      whole.fill(Buffer.from([1, 2, 3, 4, 5, 6, 7]), 100, 111);
      expect(whole.toString("latin1", 0, 7)).toBe("xyzxyzx");
      expect([...whole.subarray(100, 111)]).toEqual([1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4]);
      expect([...whole.subarray(188)]).toEqual([0, 0, ...Array(10).fill(0xab)]);
      expect(() => whole.fill(1, 0, size + 1)).toThrow(RangeError);
      // test-buffer-write: a string longer than the room left is cut at the end
      expect(whole.write("€".repeat(100), 150)).toBe(48); // 16 three-byte characters fit in 50 bytes
      expect(whole.write("hello", size - 2, "latin1")).toBe(2);
      expect(whole.toString("latin1", size - 2)).toBe("he");
      // test-buffer-readint: the last whole value reads and writes; one past it is a RangeError
      whole.writeUInt32LE(0xdeadbeef, size - 4);
      expect(whole.readUInt32LE(size - 4)).toBe(0xdeadbeef);
      expect(() => whole.readUInt32LE(size - 3)).toThrow(RangeError);
      expect(() => whole.writeUInt32LE(1, size - 3)).toThrow(RangeError);
      whole.writeBigInt64LE(-2n, size - 8);
      expect(whole.readBigInt64LE(size - 8)).toBe(-2n);
      expect(() => whole.writeDoubleBE(1.5, size - 7)).toThrow(RangeError);
      expect(a.as(BigInt64Array)[size / 8 - 1]).toBe(-2n);
      // test-buffer-copy: overlapping copies within, and out to another allocation
      whole.fill(0);
      for (let i = 0; i < 50; i++) whole[i] = i;
      whole.copy(whole, 10, 0, 50); // overlapping forward
      expect([...whole.subarray(10, 60)]).toEqual(Array.from({ length: 50 }, (_, i) => i));
      whole.copyWithin(0, 10, 60);
      expect([...whole.subarray(0, 50)]).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const other = p.allocate(64);
      expect(whole.copy(Buffer.from(other.bytes.buffer), 0, 150)).toBe(50);
      expect(whole.copy(Buffer.from(other.bytes.buffer), 0)).toBe(64); // no more than the target holds
      expect([...other.bytes]).toEqual([...whole.subarray(0, 64)]);
      // test-buffer-slice: Buffer slices share; Uint8Array.prototype.slice copies
      const shared = whole.subarray(5, 15);
      const copied = Uint8Array.prototype.slice.call(whole, 5, 15);
      shared[0] = 0xee;
      expect([whole[5], copied[0]]).toEqual([0xee, 5]);
      // test-buffer-concat and tostring: copies, every encoding there and back
      const joined = Buffer.concat([whole.subarray(0, 10), Buffer.from(other.bytes.buffer).subarray(0, 10)]);
      joined[0] = 0x11;
      expect(whole[0]).toBe(0);
      whole.write("héllo wörld", 0, "utf8");
      for (const encoding of ["utf8", "hex", "base64", "base64url", "latin1", "utf16le"] as const) {
        const text = whole.toString(encoding, 0, 40);
        expect([encoding, Buffer.from(text, encoding).equals(whole.subarray(0, 40))]).toEqual([encoding, true]); // bytes 13..39 are ASCII: utf8 round-trips too
      }
      expect(intact()).toBe(true);
      // after the free: every Buffer over the allocation is empty; writes go nowhere
      a.free();
      for (const view of [whole, part, shared]) {
        expect(view.length).toBe(0);
        view.fill(0xff);
        expect(view.write("overwrite")).toBe(0);
        expect(view[0]).toBeUndefined();
      }
      expect(() => whole.readUInt8(0)).toThrow(RangeError);
      expect(() => Buffer.from(whole.buffer, 0, 1)).toThrow(TypeError); // "Buffer is detached"
      expect(intact()).toBe(true);
      other.free();
      for (const n of neighbours) n.free();
    });
  }
});
