/**
 * glibc's string/test-memmove and tst-memmove-overflow with Node's test-buffer-copy overlapping
 * cases, read and retold for this library's copy(): source and destination in the same allocation,
 * overlapping forward (destination after source) and backward, by shifts of 1, 7 and 4096 bytes and a
 * quarter of the block, sizes 2 B to 4 MiB (past the size where the core copies in parallel), with
 * each side given as the allocation, another handle of it (fromPointer), its exact view or its window
 * view (every pair up to 4 KiB; on larger blocks the allocations' path and the views' path), and a
 * subarray of the view as the source, on a CPU pool, a "mutex" one and a PMEM pool (whose destinations are
 * persisted). The result must be memmove's (Uint8Array.prototype.copyWithin's), byte for byte, and
 * nothing outside the destination range changes. A range past either side is an OutOfBoundsError
 * that moves nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { type Allocation, copy, type CopySide, type HostPool, MemoryPoolManager, OutOfBoundsError, PoolConfig } from "../../src/index";
import { pmemUnavailableReason } from "../../src/native";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const whyNot = pmemUnavailableReason();
afterAll(() => {
  if (manager.hasPool("suite-memmove-pmem")) manager.destroyPool("suite-memmove-pmem");
  removePoolFiles();
});

const sides: [string, (a: Allocation, p: HostPool) => CopySide][] = [
  ["the allocation", (a) => a],
  ["another handle", (a, p) => p.fromPointer(a.ptr as number)],
  ["its view", (a) => a.bytes],
  ["its window view", (a) => a.windowBytes()],
];

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8) + 1) & 0xff;
  return bytes;
}

const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.length).equals(y);
function firstDifference(got: Uint8Array, expected: Uint8Array): string {
  const at = got.findIndex((byte, i) => byte !== expected[i]);
  return `byte ${at} is ${got[at]}, not ${expected[at]}`;
}

function overlapping(p: HostPool): string[] {
  const wrong: string[] = [];
  for (const size of [2, 64, 4097, 1 << 20, 4 << 20]) {
    const a = p.allocate(size);
    const reference = pattern(size);
    for (const shift of [1, 7, 4096, size >> 2]) {
      if (shift === 0 || shift >= size) continue;
      const length = size - shift;
      for (const [direction, dstOffset, srcOffset] of [["forward", shift, 0], ["backward", 0, shift]] as const) {
        const expected = reference.slice().copyWithin(dstOffset, srcOffset, srcOffset + length);
        // every pair of sides on small blocks; on large ones (the core's parallel copy) the core's path and the views' path
        const pairs = size <= 4097 ? sides.flatMap((d) => sides.map((s) => [d, s] as const)) : [[sides[0]!, sides[1]!], [sides[2]!, sides[3]!]] as const;
        for (const [[dstName, dst], [srcName, src]] of pairs) {
          a.bytes.set(reference);
          copy(dst(a, p), src(a, p), length, { dstOffset, srcOffset });
          if (!same(a.bytes, expected)) wrong.push(`${size} B ${direction} by ${shift}, ${dstName} <- ${srcName}: ${firstDifference(a.bytes, expected)}`);
        }
        // a subarray of the view as the source, its offset carried by the view
        a.bytes.set(reference);
        copy(a, a.bytes.subarray(srcOffset), length, { dstOffset });
        if (!same(a.bytes, expected)) wrong.push(`${size} B ${direction} by ${shift}, from a subarray: ${firstDifference(a.bytes, expected)}`);
      }
    }
    // past either side: an OutOfBoundsError, nothing moved
    a.bytes.set(reference);
    for (const options of [{ dstOffset: 1 }, { srcOffset: 1 }, { dstOffset: size }]) {
      const error = thrown(() => copy(a, a, size, options));
      if (!(error instanceof OutOfBoundsError)) wrong.push(`${size} B with ${JSON.stringify(options)}: ${String(error)}`);
    }
    if (!same(a.bytes, reference)) wrong.push(`${size} B: a refused copy moved bytes`);
    a.free();
  }
  return wrong;
}

describe("memmove: overlapping copies within one allocation", () => {
  test("a CPU pool (JavaScript bins)", () => {
    expect(overlapping(pool("suite-memmove-cpu", { growth: 2 }))).toEqual([]);
  });
  test('a "mutex" CPU pool', () => {
    expect(overlapping(pool("suite-memmove-mutex", { growth: 2, threadSafety: "mutex" }))).toEqual([]);
  });
  test.skipIf(whyNot !== undefined)("a PMEM pool", () => {
    const pm = manager.createPMEMPool("suite-memmove-pmem", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("memmove"), initialSize: 16 << 20 }));
    expect(overlapping(pm)).toEqual([]);
    pm.close();
  });
});
