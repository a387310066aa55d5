/**
 * copy() with PMEM pools: between PMEM and every host kind, and durability: a child process copies
 * into a pool file and dies at the next persist barrier with simulated power loss (only what was
 * flushed and drained survives); this process reopens the file and finds the bytes. A control child
 * that writes without persisting loses them, which shows the check can fail.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copy, MemoryPoolManager, OutOfBoundsError, PoolConfig, UseAfterFreeError, type PMEMMemoryPool } from "../../src/index";
import { LENGTH, pattern } from "./fixtures/copy_child";
import { pmemConfig, poolPath, removePoolFiles, runChild } from "./helpers";
import { baseOf } from "../../src/pool";

const manager = MemoryPoolManager.getInstance();
const opened: string[] = [];
function pmemPool(name: string, path = poolPath(name)): PMEMMemoryPool {
  opened.push(name);
  return manager.createPMEMPool(name, pmemConfig(path));
}
afterAll(() => {
  for (const name of opened) if (manager.hasPool(name)) manager.destroyPool(name);
  removePoolFiles();
});

describe("copy() with PMEM", () => {
  test("between PMEM and CPU allocations, typed arrays, views of PMEM and another PMEM pool", () => {
    const pm = pmemPool("copy-pm");
    const other = pmemPool("copy-pm-other");
    opened.push("copy-pm-cpu");
    const cpu = manager.createCPUPool("copy-pm-cpu", new PoolConfig());
    const expected = pattern(LENGTH);
    const sides = {
      "PMEM allocation": () => pm.allocate(LENGTH),
      "view of PMEM": () => pm.allocate(LENGTH).bytes,
      "allocation of another PMEM pool": () => other.allocate(LENGTH),
      "CPU allocation": () => cpu.allocate(LENGTH),
      "typed array": () => new Uint8Array(LENGTH),
    };
    for (const [srcName, makeSrc] of Object.entries(sides)) {
      for (const [dstName, makeDst] of Object.entries(sides)) {
        const src = makeSrc();
        const dst = makeDst();
        copy(src, expected);
        expect(copy(dst, src)).toBe(LENGTH);
        const back = new Uint8Array(LENGTH);
        copy(back, dst);
        if (Buffer.compare(back, expected) !== 0) throw new Error(`${srcName} -> ${dstName}: bytes differ`);
      }
    }
    const a = pm.allocate(100);
    expect(() => copy(a, expected)).toThrow(OutOfBoundsError);
    a.free();
    expect(() => copy(a, expected, 10)).toThrow(UseAfterFreeError);
  });

  test("within one PMEM allocation, over itself, in both directions", () => {
    const pm = pmemPool("copy-pm-overlap");
    const a = pm.allocate(LENGTH);
    const original = pattern(LENGTH);
    copy(a, original);
    copy(a, a, 1000, { dstOffset: 10 });
    expect(Buffer.compare(a.bytes.subarray(10, 1010), original.subarray(0, 1000))).toBe(0);
    copy(a, original);
    copy(a, a, 1000, { srcOffset: 10 });
    expect(Buffer.compare(a.bytes.subarray(0, 1000), original.subarray(10, 1010))).toBe(0);
  });
});

/** Runs the child's step twice: once to count its barriers, once to die at the last one with power lost. */
async function copyThenLosePower(how: string): Promise<{ bytes: Uint8Array; fileOffset: number }> {
  const counted = await runChild("copy_child.ts", [poolPath(`count-${how}`), how], { MEMORY_POOL_CRASH_AT: "0" });
  expect(counted.stderr).toBe("");
  expect(counted.stdout).toContain("survived");
  const barriers = Number(/^barriers (\d+)$/m.exec(counted.stdout)![1]);
  const path = poolPath(`power-${how}`);
  const crashed = await runChild("copy_child.ts", [path, how], { MEMORY_POOL_CRASH_AT: String(barriers + 1), MEMORY_POOL_CRASH_MODE: "power" });
  expect(crashed.signalCode).toBe("SIGKILL");
  expect(crashed.stdout).not.toContain("survived");
  const pool = pmemPool(`reopened-${how}`, path);
  const root = pool.getRoot("data")!;
  const found = { bytes: root.bytes.slice(), fileOffset: root.ptr - baseOf(pool) };
  manager.destroyPool(`reopened-${how}`);
  return found;
}

describe("a PMEM destination is durable when copy() returns", () => {
  const expected = pattern(LENGTH);
  const cases: Record<string, string> = {
    allocation: "allocation",
    view: "view",
    cpu: "allocation from a CPU pool",
    viewed: "allocation from a CPU pool, both with views made (as copy()'s fast path takes them)",
    "viewed-array": "allocation with its view made, from a Uint8Array",
  };
  for (const [how, what] of Object.entries(cases)) {
    test(`copy into a PMEM ${what} survives power loss`, async () => {
      expect(Buffer.compare((await copyThenLosePower(how)).bytes, expected)).toBe(0);
    });
  }

  test("a copy over itself: what copy() wrote survives, the plain writes before it do not", async () => {
    const { bytes, fileOffset } = await copyThenLosePower("overlap");
    expect(Buffer.compare(bytes.subarray(100), expected.subarray(0, LENGTH - 100))).toBe(0);
    // Persistence works on 64-byte cache lines: the line where the copy starts survives whole.
    const firstLine = Math.floor((fileOffset + 100) / 64) * 64 - fileOffset;
    expect(firstLine).toBeGreaterThan(0);
    expect(bytes.subarray(0, firstLine).every((b) => b === 0)).toBe(true);
  });

  test("control: bytes written without a persist are lost", async () => {
    expect((await copyThenLosePower("plain")).bytes.every((b) => b === 0)).toBe(true);
  });
});
