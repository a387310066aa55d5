/**
 * Small defects the first wave of session 5 found and left: options from another realm refused as
 * "not a plain object"; trim() on lock-free and thread-cache pools not counted in trimCount; a
 * detached view of the JavaScript heap handed to deallocate called a double free; a blockSize a
 * Variable pool ignores (negative ones too) taken silently; PMEM's threadSafety refusal without the
 * field and value other ConfigErrors carry.
 */
import { afterEach, expect, test } from "bun:test";
import { runInNewContext } from "node:vm";
import { ConfigError, DoubleFreeError, InvalidPointerError, MemoryPoolManager, PoolConfig, type PoolOptions } from "../../src/index";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { pmemUnavailableReason } from "../../src/native";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pmemAvailable = pmemUnavailableReason() === undefined;
const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();
// Pools made from options as given (cpuPoolsPerTest copies them into a PoolConfig first).
let made: string[] = [];
afterEach(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
  made = [];
});
const fromOptions = (name: string, options: unknown) => {
  made.push(name);
  return manager.createCPUPool(name, options as PoolOptions);
};

test("a plain object of another realm is options, as one of this realm is", () => {
  const options = runInNewContext("({ maxSize: 1 << 20, threadSafety: 'mutex' })") as PoolOptions;
  expect(Object.getPrototypeOf(options)).not.toBe(Object.prototype);
  const p = fromOptions("internals-realm-options", options);
  expect([p.config.maxSize, p.config.threadSafety]).toEqual([1 << 20, "mutex"]);
  const snapshot = p.snapshot(runInNewContext("({})"));
  expect(snapshot.pool).toBe("internals-realm-options");
  // Another realm's arrays, class instances and Object.prototype-less chains are still no options.
  for (const value of [runInNewContext("[]"), runInNewContext("new (class Options { maxSize = 1 << 20 })()"), Object.create(Object.create(null))]) {
    expect(thrown(() => fromOptions("internals-realm-refused", value))).toBeInstanceOf(ConfigError);
  }
});

test("every trim() counts in trimCount, on pools that give nothing back too", () => {
  const shapes: [string, PoolOptions][] = [
    ["lockFree FixedSize", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
    ["lockFree Variable", { threadSafety: "lockFree" }],
    ["threadLocalCache", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex", threadLocalCache: true }],
    ["mutex", { threadSafety: "mutex" }],
    ["none", {}],
  ];
  for (const [name, options] of shapes) {
    const p = pool(`internals-trim-${name}`, options);
    const released = [p.trim(), p.trim()];
    const stats = p.getStats();
    expect({ name, trimCount: stats.trimCount, bytesTrimmed: stats.bytesTrimmed }).toEqual({ name, trimCount: 2, bytesTrimmed: released[0]! + released[1]! });
  }
});

test("deallocate of a detached view that was never the pool's is an InvalidPointerError; of a freed allocation's, a DoubleFreeError", () => {
  const p = pool("internals-detached-views", {});
  const heap = new Uint8Array(64);
  heap.buffer.transfer();
  const error = thrown(() => p.deallocate(heap));
  expect(error).toBeInstanceOf(InvalidPointerError);
  expect(error.message).toContain("never one of pool 'internals-detached-views''s allocations");
  // A view of an allocation this thread freed is a double free: right after, after other frees, after reset.
  const freed = p.allocate(64);
  const view = freed.bytes;
  freed.free();
  expect(thrown(() => p.deallocate(view))).toBeInstanceOf(DoubleFreeError);
  const others = Array.from({ length: 8 }, () => p.allocate(64));
  for (const other of others) other.bytes.fill(1);
  const kept = others.map((other) => other.bytes);
  p.reset();
  for (const stale of [view, ...kept]) expect(thrown(() => p.deallocate(stale))).toBeInstanceOf(DoubleFreeError);
  expect(p.getStats().liveAllocations).toBe(0);
  expect(thrown(() => p.deallocate(heap))).toBeInstanceOf(InvalidPointerError);
});

test("options of a blockSize without allocatorType are refused, not a Variable pool; a bad blockSize always", () => {
  for (const blockSize of [64, 256]) {
    const error = thrown(() => fromOptions(`internals-blocksize-${blockSize}`, { blockSize }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toStartWith(`PoolConfig.blockSize = ${blockSize}: is given without allocatorType`);
  }
  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    for (const blockSize of [-64, 0, 1.5, 2 ** 32]) {
      const error = thrown(() => fromOptions(`internals-blocksize-${allocatorType}`, { allocatorType, blockSize, initialSize: 2 ** 33 }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toStartWith(`PoolConfig.blockSize = ${blockSize}: must be`);
      expect(thrown(() => Object.assign(new PoolConfig(), { allocatorType, blockSize }).validate())).toBeInstanceOf(ConfigError);
    }
  }
  // Given with its allocatorType, it is taken (a Variable pool ignores it, as the README says).
  expect(fromOptions("internals-blocksize-fixed", { allocatorType: "FixedSize", blockSize: 64 }).config.blockSize).toBe(64);
  expect(fromOptions("internals-blocksize-variable", { allocatorType: "Variable", blockSize: 64 }).config.allocatorType).toBe("Variable");
  expect(pool("internals-blocksize-config", { blockSize: 64 }).config.allocatorType).toBe("Variable"); // a PoolConfig holds an allocatorType always
});

test.skipIf(!pmemAvailable)(`PMEM's threadSafety refusal names the field and value, as other ConfigErrors do${pmemAvailable ? "" : " (skipped: no libpmem here)"}`, () => {
  const cases: [PoolOptions, string][] = [
    // What a PMEM pool of either strategy still refuses ("lockFree" and threadLocalCache it takes: test/pmem/threads-modes.test.ts).
    [{ allocatorType: "Variable", threadSafety: "none", threadLocalCache: true }, 'PoolConfig.threadLocalCache = true: needs threadSafety "mutex" or "lockFree"'],
    [{ allocatorType: "FixedSize", blockSize: 64, threadSafety: "none", threadLocalCache: true }, 'PoolConfig.threadLocalCache = true: needs threadSafety "mutex" or "lockFree"'],
  ];
  for (const [options, start] of cases) {
    const error = thrown(() => manager.createPMEMPool("internals-pmem-safety", { ...options, pmemPoolPath: join(tmpdir(), `internals-pmem-safety-${process.pid}.pool`), initialSize: 1 << 20 }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toStartWith(start);
  }
});

test("a setting the core refuses reads as PoolConfig.field = value, as the ones TypeScript refuses", () => {
  const error = thrown(() => fromOptions("internals-core-refusal", { guardPages: true, guardSampleRate: 0 }));
  expect(error).toBeInstanceOf(ConfigError);
  expect(error.message).toStartWith("PoolConfig.guardSampleRate = 0: ");
  expect((error as ConfigError).value).toBe(0);
});
