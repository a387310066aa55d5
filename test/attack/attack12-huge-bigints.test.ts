/**
 * A bigint of millions of bits where a size, an option or a pointer is wanted. Found by attacking
 * main: the typed error's message held every decimal digit of it (1.2 MB for 2^4000000, half a
 * second to write), where a long string is named by its length. Bigints up to 2^64 are still shown
 * whole up to 64 bits; wider ones by their size.
 */
import { expect, test } from "bun:test";
import { ConfigError, InvalidPointerError, InvalidSizeError, MemoryPoolManager } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const huge = 1n << 4_000_000n;

test("a huge bigint is named by its size in every message, and one of 64 bits whole", () => {
  const p = pool("attack12-huge-bigints");
  const size = thrown(() => p.allocate(huge as never));
  expect(size).toBeInstanceOf(InvalidSizeError);
  expect(size.message).toBe("cannot allocate a bigint of 1000001 hexadecimal digits bytes: a size is a number, a whole number of bytes above 0");
  const option = thrown(() => MemoryPoolManager.getInstance().createCPUPool("attack12-huge-bigints-config", { maxSize: -huge as never }));
  expect(option).toBeInstanceOf(ConfigError);
  expect(option.message.length).toBeLessThan(200);
  expect(option.message).toContain("a bigint of 1000001 hexadecimal digits");
  const pointer = thrown(() => p.fromPointer(huge as never));
  expect(pointer).toBeInstanceOf(InvalidPointerError);
  expect(pointer.message.length).toBeLessThan(200);
  expect(thrown(() => p.allocate((2n ** 64n - 1n) as never)).message).toContain("cannot allocate 18446744073709551615n bytes");
  expect(thrown(() => p.allocate(-(2n ** 64n - 1n) as never)).message).toContain("cannot allocate -18446744073709551615n bytes");
  expect(thrown(() => p.allocate((2n ** 64n) as never)).message).toContain("cannot allocate a bigint of 17 hexadecimal digits bytes");
});
