import { describe, expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolConfig } from "../src/index";

const manager = MemoryPoolManager.getInstance();

function configWith(fields: Partial<Record<keyof PoolConfig, unknown>>): PoolConfig {
  return Object.assign(new PoolConfig(), fields);
}

function expectConfigError(fields: Partial<Record<keyof PoolConfig, unknown>>, field: string) {
  const config = configWith(fields);
  let caught: unknown;
  try {
    manager.createCPUPool(`config-test-${field}`, config);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.code).toBe("CONFIG");
  expect(err.field).toBe(field);
  expect(err.message).toContain(field);
  expect(manager.hasPool(`config-test-${field}`)).toBe(false);
}

describe("PoolConfig validation", () => {
  test("defaults make a working variable-size pool", () => {
    const config = new PoolConfig();
    expect(config.allocatorType).toBe("Variable");
    expect(config.alignment).toBe(16);
    expect(() => config.validate()).not.toThrow();
  });

  for (const bad of [0, -1, NaN, 1.5, Infinity, "1024" as unknown]) {
    test(`initialSize ${String(bad)} is a ConfigError naming the field and value`, () => {
      expectConfigError({ initialSize: bad }, "initialSize");
      const err = (() => {
        try {
          configWith({ initialSize: bad }).validate();
        } catch (e) {
          return e as ConfigError;
        }
      })();
      expect(err?.value).toBe(bad);
      expect(err?.message).toContain(typeof bad === "string" ? JSON.stringify(bad) : String(bad));
    });
  }

  test("blockSize must be positive and whole for FixedSize", () => {
    expectConfigError({ allocatorType: "FixedSize", blockSize: 0 }, "blockSize");
    expectConfigError({ allocatorType: "FixedSize", blockSize: 10.5 }, "blockSize");
    expectConfigError({ allocatorType: "FixedSize", blockSize: -8 }, "blockSize");
    expectConfigError({ allocatorType: "FixedSize", blockSize: 4096, initialSize: 1024 }, "blockSize");
  });

  test("blockSize is ignored by Variable pools, but a bad one is refused there too", () => {
    expect(() => configWith({ allocatorType: "Variable", blockSize: 64 }).validate()).not.toThrow();
    expect(() => configWith({ allocatorType: "Variable", blockSize: 0 }).validate()).toThrow(ConfigError);
  });

  for (const alignment of [0, 3, 24, 8192, 2.5, NaN]) {
    test(`alignment ${alignment} is refused`, () => expectConfigError({ alignment }, "alignment"));
  }

  test("every power of two up to the page size is accepted", () => {
    for (let alignment = 1; alignment <= 4096; alignment *= 2) {
      expect(() => configWith({ alignment }).validate()).not.toThrow();
    }
  });

  test("initialSize over maxSize is refused", () => {
    expectConfigError({ initialSize: 4 << 20, maxSize: 1 << 20 }, "initialSize");
    expectConfigError({ maxSize: -1 }, "maxSize");
    expectConfigError({ maxSize: 1.25 }, "maxSize");
  });

  test("unknown allocator type, thread safety, growth are refused", () => {
    expectConfigError({ allocatorType: "Buddy" }, "allocatorType");
    expectConfigError({ threadSafety: "spin" }, "threadSafety");
    expectConfigError({ growth: 0.5 }, "growth");
    expectConfigError({ growth: -2 }, "growth");
    expectConfigError({ deviceId: -1 }, "deviceId");
    expectConfigError({ collectStats: "yes" }, "collectStats");
  });

  test("a bad pool name is a ConfigError", () => {
    expect(() => manager.createCPUPool("", new PoolConfig())).toThrow(ConfigError);
    expect(() => manager.createCPUPool("x".repeat(256), new PoolConfig())).toThrow(ConfigError);
    expect(() => manager.createCPUPool(42 as unknown as string, new PoolConfig())).toThrow(ConfigError);
  });

  test("changing the config after creation does not change the pool", () => {
    const config = PoolConfig.FixedSizeCPU(64);
    const pool = manager.createCPUPool("config-test-copy", config);
    config.blockSize = 4096;
    expect(pool.config.blockSize).toBe(64);
    expect(Object.isFrozen(pool.config)).toBe(true);
    manager.destroyPool("config-test-copy");
  });
});

describe("presets", () => {
  test("the seed's presets and their neighbours are valid configs", () => {
    const presets = {
      HighPerformanceCPU: PoolConfig.HighPerformanceCPU(),
      FixedSizeCPU: PoolConfig.FixedSizeCPU(512),
      DebugCPU: PoolConfig.DebugCPU(),
      HighPerformanceGPU: PoolConfig.HighPerformanceGPU(),
      DebugGPU: PoolConfig.DebugGPU(),
      DebugPMEM: PoolConfig.DebugPMEM("/dev/shm/x.pool"),
    };
    for (const config of Object.values(presets)) expect(() => config.validate()).not.toThrow();
    expect(presets.FixedSizeCPU.allocatorType).toBe(PoolConfig.AllocatorType.FixedSize);
    expect(presets.FixedSizeCPU.blockSize).toBe(512);
    expect(presets.HighPerformanceCPU.initialSize).toBeGreaterThan(new PoolConfig().initialSize);
    expect(presets.DebugPMEM.pmemPoolPath).toBe("/dev/shm/x.pool");
  });

  test("CPU presets make pools that allocate", () => {
    for (const [name, config] of [
      ["preset-hp", PoolConfig.HighPerformanceCPU()],
      ["preset-fixed", PoolConfig.FixedSizeCPU(512)],
      ["preset-debug", PoolConfig.DebugCPU()],
    ] as const) {
      const pool = manager.createCPUPool(name, config);
      const a = pool.allocate(512);
      a.bytes.fill(1);
      a.free();
      manager.destroyPool(name);
    }
  });
});
