/**
 * getPool(name, kind) with kinds that are no kind. Found by attacking main: the kind was checked
 * only where a pool of that name existed and was of another kind, with `in`, so "toString" or
 * "constructor" (inherited keys) passed as kinds and gave "no toString pool named ...", an object
 * kind's toString ran, and getPool("missing", "bogus") said the pool was missing rather than the
 * kind bogus. The kind is now checked first, against the four kinds only.
 */
import { expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolNotFoundError } from "../../src/index";
import { thrown } from "../support/thrown";

test("a kind that is no kind is a ConfigError, whether or not the pool exists", () => {
  const manager = MemoryPoolManager.getInstance();
  using pool = manager.createCPUPool("attack-get-pool-kind");
  let ran = false;
  const sneaky = { toString: () => ((ran = true), "cpu") };
  for (const kind of ["toString", "constructor", "__proto__", "hasOwnProperty", "CPU", "", 1, null, sneaky, Symbol("cpu")]) {
    for (const name of [pool.name, "attack-get-pool-kind-missing"]) {
      const error = thrown(() => manager.getPool(name, kind as never));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe("kind");
    }
  }
  expect(ran).toBe(false);
  expect(manager.getPool(pool.name, "cpu")).toBe(pool);
  expect(thrown(() => manager.getPool(pool.name, "pmem"))).toBeInstanceOf(PoolNotFoundError);
  expect(thrown(() => manager.getPool("attack-get-pool-kind-missing", "cpu"))).toBeInstanceOf(PoolNotFoundError);
});
