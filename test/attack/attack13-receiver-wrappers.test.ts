/**
 * The receiver checks of src/receiver.ts wrap public members in functions of their own. Found by
 * attacking main: the wrapper was a plain function, so a wrapped method was a constructor with a
 * `prototype` (`new pool.getStats()` was a refusal of the object `new` made, "called on a getStats the
 * library did not make") and printed as `[Function: wrapper]`; and the inspect hooks threw at
 * console.log(CPUMemoryPool.prototype) (a REPL, a test failure printing the class). The wrappers are
 * methods, named as what they wrap, and an inspect hook prints an object the library did not make.
 */
import { expect, test } from "bun:test";
import { Allocation, CPUMemoryPool, GPUStream, InvalidArgumentError, MemoryPoolManager, MemoryStats, PMEMMemoryPool } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();

test("wrapped members are methods, as the class's own: no constructor, no prototype, their own name", () => {
  const p = pool("attack13-wrappers");
  const manager = MemoryPoolManager.getInstance();
  class Plain {
    getStats(): void {}
  }
  const members: [string, Function][] = [
    ["getStats", p.getStats],
    ["trim", p.trim],
    ["listPools", manager.listPools],
    ["utilization", Object.getOwnPropertyDescriptor(MemoryStats.prototype, "utilization")!.get!],
    ["toJSON", p.allocate(8).toJSON],
  ];
  for (const [name, member] of members) {
    expect([name, Object.hasOwn(member, "prototype")]).toEqual([name, Object.hasOwn(Plain.prototype.getStats, "prototype")]);
    expect(() => new (member as new () => unknown)()).toThrow(TypeError); // not a constructor, as a class's method is not
    expect(Bun.inspect(member)).toContain(name);
  }
  expect(p.getStats.length).toBe(0);
  // A receiver that is not the class's object is still refused, typed.
  expect(() => p.getStats.call({})).toThrow(InvalidArgumentError);
});

test("printing a class's prototype does not throw; printing its objects is unchanged", () => {
  const p = pool("attack13-print");
  for (const prototype of [CPUMemoryPool.prototype, Allocation.prototype, PMEMMemoryPool.prototype, GPUStream.prototype]) {
    expect(Bun.inspect(prototype)).toContain("the library did not make");
  }
  const a = p.allocate(16);
  expect(Bun.inspect(a)).toStartWith(`Allocation #${a.id} of 'attack13-print' 16 B`);
  expect(Bun.inspect(p)).toContain("'attack13-print'");
});
