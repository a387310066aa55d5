/**
 * Members marked @internal were hidden only from the TypeScript declarations: from JavaScript,
 * `pool.exactBuffer(0, 1 << 20, 12345)` on a pool of 64 KiB made a buffer reaching unmapped memory
 * (a write to its last byte was a segmentation fault), `pool.windowView` the same, and
 * `snapshotRecords` handed the core buffers with capacities of the caller's choosing, and an
 * allocation's `settle(() => {})` marked its handle dead with the block never freed. They are
 * private now (module functions over private methods, where another file needs them). A child
 * process calls every member of every public prototype and instance with hostile arguments and
 * writes through what comes back: a crash fails, and names the member it was in.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";
import { CPUMemoryPool, GPUAllocation, GPUMemoryPool, PoolAllocation } from "../../src/index";
import { pmemUnavailableReason } from "../../src/native";

test("no member of a public class crashes the process, whatever its arguments", async () => {
  const child = await runBun(attackFixture("internals-members-child.ts"));
  const { stdout, stderr } = child;
  const lines = stdout.trim().split("\n");
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, last: lines.at(-1)!.replace(/\d+$/, "N") }).toEqual({ exitCode: 0, signalCode: null, last: "done N" });
  // Leak reports (reportLeaks(when) writes one, and a debug pool destroyed with what a member
  // allocated left live) are all that may be on stderr.
  expect(stderr.split("\n").filter((line) => line !== "" && !/^(bun-memory-pool: leak report for pool |  #\d+: |    )/.test(line))).toEqual([]);
  // It reached the members of pools, allocations and the manager, hostile arguments and all.
  expect(lines.some((line) => line.startsWith("cpu.allocate("))).toBe(true);
  expect(lines.some((line) => line.startsWith("allocation.free("))).toBe(true);
  expect(lines.some((line) => line.startsWith("manager.getPool("))).toBe(true);
  if (pmemUnavailableReason() === undefined) expect(lines.some((line) => line.startsWith("pmem.setRoot("))).toBe(true);
}, 60_000);

test("the members that made views, blocks or core records of a caller's choosing are gone from the prototypes", () => {
  const members = (prototype: object) => {
    const names = new Set<string>();
    for (let level: object | null = prototype; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level)) {
      for (const key of Object.getOwnPropertyNames(level)) names.add(key);
    }
    return names;
  };
  const pool = members(CPUMemoryPool.prototype);
  for (const name of ["exactBuffer", "windowView", "snapshotRecords", "allocOffset", "cachedAddress", "tookCoreId", "allocInCore", "flushCache"]) expect(pool.has(name)).toBe(false);
  const device = members(GPUMemoryPool.prototype);
  for (const name of ["releaseOnStream", "allocOffset", "gpuDebug"]) expect(device.has(name)).toBe(false);
  // settle marked a live allocation's handle dead with its block never freed; freedElsewhere the same.
  const allocation = members(PoolAllocation.prototype);
  for (const name of ["exactBuffer", "settle", "assertFreeable", "freedElsewhere", "assertAlive", "assertUsableAsFarAsKnown"]) expect(allocation.has(name)).toBe(false);
});

test("GPUAllocation.elementType is read-only: a getter, no setter, so `length` says what allocateGPU sized", () => {
  const descriptor = Object.getOwnPropertyDescriptor(GPUAllocation.prototype, "elementType");
  expect(typeof descriptor?.get).toBe("function");
  expect(descriptor?.set).toBeUndefined();
  // Without a device no GPUAllocation can be made here; the getter refuses what is none.
  expect(() => descriptor!.get!.call({})).toThrow(TypeError);
});
