// PoolConfig.from refuses what every create*Pool call refuses: options of a blockSize without
// allocatorType (they would make a Variable pool, which has no blocks of one size).
import { expect, test } from "bun:test";
import { ConfigError, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

test("PoolConfig.from({ blockSize }) without allocatorType is a ConfigError naming blockSize, as create*Pool's", () => {
  for (const options of [{ blockSize: 64 }, { blockSize: 256, initialSize: 1 << 20 }, Object.freeze({ blockSize: 32 })]) {
    const error = thrown<ConfigError>(() => PoolConfig.from(options));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe("blockSize");
    expect(error.message).toStartWith(`PoolConfig.blockSize = ${options.blockSize}: is given without allocatorType`);
  }
  // With its allocatorType it is taken, either type; a PoolConfig holds an allocatorType always.
  expect(PoolConfig.from({ allocatorType: "FixedSize", blockSize: 64 }).blockSize).toBe(64);
  expect(PoolConfig.from({ allocatorType: "Variable", blockSize: 64 }).allocatorType).toBe("Variable");
  expect(PoolConfig.from(Object.assign(new PoolConfig(), { blockSize: 64 })).allocatorType).toBe("Variable");
  expect(PoolConfig.from({ initialSize: 1 << 20 }).blockSize).toBe(256); // no blockSize given: nothing to refuse
});
