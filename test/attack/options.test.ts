/**
 * Options objects that fight back: a getter or Proxy trap that throws as the options are read, a
 * revoked Proxy, symbol keys, whole numbers too large to be exact. Each is a ConfigError naming
 * the field (the caller's own error never passes through untyped), and a number too large is told
 * the range, not that it "must be a whole number".
 */
import { expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

const boom = () => {
  throw new Error("boom");
};
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

test("PoolConfig.from wraps what a hostile options object throws as a ConfigError naming the field", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ get blockSize() { return boom(); } }, "blockSize", /PoolConfig\.blockSize cannot be read: it threw Error: boom/],
    [new Proxy({ blockSize: 64 }, { get: boom }), "blockSize", /cannot be read: it threw Error: boom/],
    [new Proxy({}, { ownKeys: boom }), "config", /its keys cannot be listed \(Error: boom\)/],
    [new Proxy({}, { getPrototypeOf: boom }), "config", /a PoolConfig or a plain object/],
    [new Proxy({ blockSize: 64 }, { getOwnPropertyDescriptor: boom }), "blockSize", /cannot be read/],
    [revoked(), "config", /config = an object/],
    [{ blockSize: revoked() }, "blockSize", /PoolConfig\.blockSize = an object/],
    [{ [Symbol("blockSize")]: 64 }, "Symbol(blockSize)", /a symbol key is no option/],
    [JSON.parse('{"__proto__": {"blockSize": 1}}'), "__proto__", /is not a PoolConfig field/],
    [{ constructor: PoolConfig }, "constructor", /is not a PoolConfig field/],
  ];
  for (const [options, field, message] of cases) {
    const error = thrown<ConfigError>(() => PoolConfig.from(options as PoolConfig).validate());
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  }
  // A getter is read once: the value checked is the value used.
  let reads = 0;
  const config = PoolConfig.from({ allocatorType: "FixedSize", get blockSize() { return ++reads === 1 ? 64 : -1; } } as PoolConfig);
  expect(config.blockSize).toBe(64);
  expect(reads).toBe(1);
  // Frozen objects, Object.create(null) and non-enumerable keys are fine; -0 is 0.
  expect(PoolConfig.from(Object.freeze({ allocatorType: "FixedSize", blockSize: 32 } as const)).blockSize).toBe(32);
  expect(PoolConfig.from(Object.assign(Object.create(null), { allocatorType: "FixedSize", blockSize: 48 })).blockSize).toBe(48);
  expect(PoolConfig.from(Object.defineProperty({}, Symbol("hidden"), { value: 1, enumerable: false })).blockSize).toBe(256);
});

test("a whole number too large to be exact is told the range, not 'must be a whole number'", () => {
  for (const field of ["initialSize", "maxSize", "quarantineBytes", "guardSampleRate"] as const) {
    const config = PoolConfig.from({ [field]: 2 ** 53 + 2 });
    const error = thrown<ConfigError>(() => config.validate());
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/from [01].* to \d+/);
  }
});

test("a pool's creation and a call's options refuse hostile objects with ConfigError, never their own error", () => {
  const manager = MemoryPoolManager.getInstance();
  const error = thrown<ConfigError>(() => manager.createCPUPool("attack-options-getter", { get initialSize() { return boom(); } } as unknown as PoolConfig));
  expect(error).toBeInstanceOf(ConfigError);
  expect(error.field).toBe("initialSize");
  expect(manager.hasPool("attack-options-getter")).toBe(false);
  const pool = manager.createCPUPool("attack-options-calls", new PoolConfig());
  try {
    for (const options of [{ get details() { return boom(); } }, new Proxy({}, { ownKeys: boom }), revoked(), { [Symbol("details")]: true }]) {
      expect(thrown(() => pool.snapshot(options as never))).toBeInstanceOf(ConfigError);
    }
  } finally {
    manager.destroyPool(pool.name);
  }
});
