/**
 * Sizes as glibc's tst-malloc-too-large and a JavaScript caller send them. Found by attacking
 * main: a size that is no number (a string "64", a bigint, an object with valueOf) reached the
 * core as NaN, so the error said "cannot allocate nan bytes" of allocate("64"); NaN and Infinity
 * were "nan" and "inf"; on a pool with the JavaScript cache a bigint size threw an untyped
 * TypeError ("BigInt does not support >>> operator") and an object's valueOf ran. Each is now an
 * InvalidSizeError that names it as JavaScript writes it. Sizes near 2^52, 2^53 and 2^64
 * are InvalidSizeErrors or OutOfMemoryErrors, never a crash or a wrapped small block.
 */
import { expect, test } from "bun:test";
import { InvalidSizeError, MemoryPoolError, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const kinds: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["FixedSize with the JavaScript cache", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
];

for (const [kind, fields] of kinds) {
  test(`${kind}: a size that is no finite number is named as JavaScript writes it`, () => {
    const p = pool(`attack-size-names-${kind}`, fields);
    const cases: [unknown, string][] = [
      ["64", 'cannot allocate "64" bytes'],
      [64n, "cannot allocate 64n bytes"],
      [{ valueOf: () => 64 }, "cannot allocate an object bytes"],
      [[64], "cannot allocate an array bytes"],
      [null, "cannot allocate null bytes"],
      [undefined, "cannot allocate undefined bytes"],
      [NaN, "cannot allocate NaN bytes"],
      [Infinity, "cannot allocate Infinity bytes"],
      [-Infinity, "cannot allocate -Infinity bytes"],
    ];
    for (const [size, message] of cases) {
      for (const call of [() => p.allocate(size as number), () => p.allocateRaw(size as number)]) {
        const error = thrown(call);
        expect(error).toBeInstanceOf(InvalidSizeError);
        expect(error.message).toStartWith(message);
      }
    }
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test(`${kind}: sizes near 2^52, 2^53 and 2^64 are refused with a typed error`, () => {
    const p = pool(`attack-size-huge-${kind}`, fields);
    for (const size of [2 ** 52 - 1, 2 ** 52, 2 ** 52 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 2 ** 64 + 2 ** 12, Number.MAX_VALUE, Number.MIN_VALUE, -0, -1, -(2 ** 53)]) {
      const error = thrown(() => p.allocate(size));
      expect(error).toBeInstanceOf(MemoryPoolError);
      expect(["INVALID_SIZE", "OUT_OF_MEMORY"]).toContain(error.code);
    }
    expect(p.getStats().liveAllocations).toBe(0);
  });
}
