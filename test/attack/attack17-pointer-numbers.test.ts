/**
 * deallocate() handed a number that is no pointer: fractional, negative, NaN, infinite, past 2^53.
 * Found by attack17: each was an InvalidPointerError, but its message wrote the number in hex as if
 * it were an address, "never gave out the pointer 0x7fbff8200000.8", "0x-7fbff8200000", "0xNaN",
 * "0x10000000000000000: it lies outside the pool", where fromPointer says what a pointer is. Now every
 * pool says so in fromPointer's words, naming the value; a whole number is still written in hex.
 */
import { expect, test } from "bun:test";
import { InvalidPointerError, type PoolOptions } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

const kinds: [string, PoolOptions][] = [
  ["Variable", { allocatorType: "Variable" }],
  ["FixedSize", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize mutex", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "mutex" }],
  ["Variable lockFree", { allocatorType: "Variable", threadSafety: "lockFree" }],
];

for (const [label, options] of kinds) {
  test(`a ${label} pool's deallocate names a number that is no pointer as fromPointer does, and frees nothing`, () => {
    const p = pool(`attack17-pointer-numbers-${label.replace(" ", "-")}`, options as object);
    const kept = p.allocate(64);
    for (const value of [kept.ptr + 0.5, -kept.ptr, Number.NaN, Infinity, -Infinity, 2 ** 64, 2 ** 53 + 2]) {
      const error = thrown<InvalidPointerError>(() => p.deallocate(value));
      expect(error).toBeInstanceOf(InvalidPointerError);
      expect(error.message).toBe(`pool '${p.name}' takes a pointer, a whole number from 0 (a bun:ffi Pointer), not ${value}`);
    }
    expect(thrown<InvalidPointerError>(() => p.deallocate(kept.ptr + 8)).message).toStartWith(`pool '${p.name}' never gave out the pointer 0x${(kept.ptr + 8).toString(16)}`);
    expect(kept.alive).toBe(true);
    kept.free();
  });
}
