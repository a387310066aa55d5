/**
 * A call's options written as an object literal are read the cheap way (validate.ts literalOptions:
 * keys by for-in, no descriptor made per key); what the careful way guaranteed holds for them too:
 * each getter read once, in the object's order; only own keys read (a polluted Object.prototype
 * gives no option, nor does a key a getter deleted before it was read); an unknown key, a symbol
 * key and a getter that throws are ConfigErrors naming them; a key a getter adds is not read.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { ConfigError, copy, MemoryPoolManager, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("leftovers4-literal-options", PoolConfig.FixedSizeCPU(128));
afterAll(() => manager.destroyPool(pool.name));
const polluted = Object.prototype as Record<string, unknown>;
afterEach(() => {
  delete polluted.dstOffset;
  delete polluted.srcOffset;
});

/** A 64-byte source of 1..64 and a zeroed 128-byte destination. */
function sides() {
  const dst = pool.allocate(128);
  const src = pool.allocate(64);
  dst.bytes.fill(0);
  src.bytes.set(Array.from({ length: 64 }, (_, i) => i + 1));
  return { dst, src, landedAt: () => dst.bytes.findIndex((byte) => byte === 1) };
}

test("a literal's getters run once each, in its order; its offsets are the ones used", () => {
  const { dst, src, landedAt } = sides();
  const reads: string[] = [];
  const options = {
    get srcOffset() {
      reads.push("srcOffset");
      return 0;
    },
    get dstOffset() {
      reads.push("dstOffset");
      return 32;
    },
  };
  expect(copy(dst, src, undefined, options)).toBe(64);
  expect(reads).toEqual(["srcOffset", "dstOffset"]);
  expect(landedAt()).toBe(32);
});

test("a polluted Object.prototype gives a literal no option, nor does a key a getter deleted before its read", () => {
  const { dst, src, landedAt } = sides();
  polluted.dstOffset = 64;
  expect(copy(dst, src, undefined, { srcOffset: 0 })).toBe(64);
  expect(landedAt()).toBe(0);
  dst.bytes.fill(0);
  const sly = {
    get srcOffset() {
      delete (this as { dstOffset?: number }).dstOffset; // the next key goes, the prototype's remains
      return 0;
    },
    dstOffset: 16,
  };
  expect(copy(dst, src, undefined, sly)).toBe(64);
  expect(landedAt()).toBe(0);
});

test("a key a getter adds is not read; unknown keys, symbol keys and getters that throw are ConfigErrors naming them", () => {
  const { dst, src } = sides();
  let addedRead = false;
  const adding: Record<string, unknown> = {
    get dstOffset() {
      Object.defineProperty(adding, "srcOffset", { enumerable: true, get: () => ((addedRead = true), 0) });
      return 0;
    },
  };
  expect(copy(dst, src, undefined, adding as { dstOffset: number })).toBe(64);
  expect(addedRead).toBe(false);
  const unknown = thrown<ConfigError>(() => copy(dst, src, undefined, { dstOfset: 8 } as never));
  expect(unknown).toBeInstanceOf(ConfigError);
  expect(unknown.message).toContain("CopyOptions has no option 'dstOfset': the options are dstOffset, srcOffset, stream");
  const symbol = thrown<ConfigError>(() => copy(dst, src, undefined, { dstOffset: 0, [Symbol("x")]: 1 } as never));
  expect(symbol).toBeInstanceOf(ConfigError);
  expect(symbol.message).toContain("a symbol key is no option");
  const throwing = thrown<ConfigError>(() =>
    copy(dst, src, undefined, {
      get dstOffset(): number {
        throw new Error("boom");
      },
    }),
  );
  expect(throwing).toBeInstanceOf(ConfigError);
  expect(throwing.message).toBe("CopyOptions.dstOffset cannot be read: it threw Error: boom");
  // An inherited option alone (no own key) is no option either.
  polluted.srcOffset = 999;
  expect(copy(dst, src, undefined, {})).toBe(64);
});
