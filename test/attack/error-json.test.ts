/**
 * Errors as loggers write them: JSON.stringify(error). Found by attacking main: a ConfigError
 * holding the caller's value made JSON.stringify throw when the value was a bigint
 * (`blockSize: 64n`) or a cyclic object, and wrote a typed array's contents (a 1 MB array given as
 * `initialSize` became 10 MB of JSON), while the message, an Error's own non-enumerable field, was
 * left out of every error's JSON. Errors now give name, code, message and their fields, a caller's
 * value named as messages name it.
 */
import { expect, test } from "bun:test";
import { BoundaryViolationError, ConfigError, DoubleFreeError, MemoryPoolManager, UseAfterFreeError } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();

test("JSON.stringify of a ConfigError holding any value gives its message and names the value", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const hostile = new Proxy({}, { getPrototypeOf: () => { throw new Error("trap"); }, ownKeys: () => { throw new Error("trap"); } });
  const cases: [unknown, unknown][] = [
    [64n, "64n"],
    [cyclic, "an object"],
    [new Uint8Array(1 << 20), "a Uint8Array"],
    [Symbol("size"), "a symbol"],
    [() => 64, "a function"],
    [hostile, "an object"],
    ["64", "64"],
    [-1, -1],
  ];
  for (const [value, named] of cases) {
    const error = thrown<ConfigError>(() => manager.createCPUPool("attack-error-json", { initialSize: value } as never));
    expect(error).toBeInstanceOf(ConfigError);
    const json = JSON.parse(JSON.stringify(error));
    expect(json).toEqual({ name: "ConfigError", code: "CONFIG", message: error.message, field: "initialSize", value: named, reason: error.reason });
    expect(JSON.stringify(error).length).toBeLessThan(1000);
  }
});

test("JSON.stringify of the errors of a use after free, a double free and a damaged canary", () => {
  using pool = manager.createCPUPool("attack-error-json-pool", { canaries: true });
  const a = pool.allocate(16);
  a.free();
  for (const [error, type] of [
    [thrown(() => a.free()), DoubleFreeError],
    [thrown(() => a.bytes), UseAfterFreeError],
  ] as const) {
    expect(error).toBeInstanceOf(type);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: type.name, code: error.code, message: error.message });
  }
  const damaged = pool.allocate(16);
  const window = damaged.windowBytes();
  const canary = new Uint8Array(window.buffer, window.byteOffset + 16, 1); // the first canary byte after it
  canary[0] = canary[0]! ^ 0xff;
  const violation = thrown<BoundaryViolationError>(() => damaged.free());
  expect(violation).toBeInstanceOf(BoundaryViolationError);
  expect(JSON.parse(JSON.stringify(violation))).toMatchObject({ code: "BOUNDARY_VIOLATION", message: violation.message, allocationId: damaged.id, side: "after", poolName: pool.name });
});
