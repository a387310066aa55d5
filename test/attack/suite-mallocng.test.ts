/**
 * musl's mallocng design tests (out-of-band metadata: a write over freed memory or past a block
 * cannot derail the allocator; libc-test's malloc regressions) and glibc's mcheck / MALLOC_CHECK_
 * tests (tst-mcheck, tst-malloc-check: one byte written before or after a block is caught at its
 * free), read and retold for this library's pools:
 * - out-of-band metadata: native code that writes 0xff over every block right after freeing it
 *   (through a buffer of its own: no view of the library's) changes nothing for the pool, on every
 *   CPU shape: no later block overlaps a live one, every live block keeps its bytes, the figures
 *   balance, no crash (in a child process). The pools keep no links or headers in their blocks.
 * - mcheck: on canary pools (Variable, FixedSize, alignment 4096, mutex), one byte written at the
 *   block's end or just before its start is a BoundaryViolationError at free() naming the
 *   allocation, the side and the offset (size, or -1), one damaged byte; the block is then freed
 *   (a second free is a DoubleFreeError); check() finds a damaged live block, and the pool serves
 *   on. (glibc aborts the process; a typed error is this library's way, by design.)
 */
import { describe, expect, test } from "bun:test";
import { toArrayBuffer } from "bun:ffi";
import { BoundaryViolationError, DoubleFreeError, PoolConfig } from "../../src/index";
import { runChild } from "../pmem/helpers";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

const shapes: [string, object][] = [
  ["Variable", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["FixedSize 64 (JavaScript cache, runs)", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
  ["FixedSize 64, mutex", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex" }],
  ["FixedSize 64, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex", threadLocalCache: true }],
  ["canaries and fills", { canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd }],
];
for (const [name, config] of shapes) {
  test(`mallocng: writes over freed blocks do not derail the pool (${name})`, async () => {
    const run = await runChild("../../fixtures/attack/suite-mallocng-child.ts", [JSON.stringify(config), "6000"]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ overlaps: 0, stampsLost: 0, end: { liveAllocations: 0, bytesInUse: 0, balanced: true } });
  }, 20_000);
}

describe("glibc mcheck: one byte before or after a block, on canary pools", () => {
  const canaryShapes: [string, Partial<PoolConfig>][] = [
    ["Variable", { canaries: true }],
    ["Variable, mutex", { canaries: true, threadSafety: "mutex" }],
    ["Variable, alignment 4096", { canaries: true, alignment: 4096 }],
    ["FixedSize 64", { ...PoolConfig.FixedSizeCPU(64), canaries: true }],
  ];
  for (const [name, shape] of canaryShapes) {
    test(`caught at free and by check(), with the allocation, side and offset; the pool serves on (${name})`, () => {
      const p = pool(`suite-mcheck-${name}`, shape);
      for (const size of [1, 15, 16, 17, 63, 64, 65, 4095, 4096, 4097]) {
        for (const side of ["after", "before"] as const) {
          const a = p.allocate(size);
          const at = side === "after" ? (a.ptr as number) + size : (a.ptr as number) - 1;
          const byte = new Uint8Array(toArrayBuffer(at, 0, 1));
          byte[0] = byte[0]! ^ 0x5a;
          const checked = thrown<BoundaryViolationError>(() => p.check());
          expect(checked).toBeInstanceOf(BoundaryViolationError);
          expect(checked.allocationId).toBe(a.id);
          const error = thrown<BoundaryViolationError>(() => a.free());
          expect(error).toBeInstanceOf(BoundaryViolationError);
          expect({ id: error.allocationId, side: error.side, offset: error.offset, damaged: error.damagedBytes, size: error.size, ptr: error.ptr, pool: error.poolName })
            .toEqual({ id: a.id, side, offset: side === "after" ? size : -1, damaged: 1, size, ptr: a.ptr as number, pool: p.name });
          expect(a.alive).toBe(false);
          expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
          p.check(); // nothing damaged is left live
          const after = p.allocate(size);
          after.bytes.fill(1);
          after.free();
        }
      }
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});
