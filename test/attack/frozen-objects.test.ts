/**
 * Pools and allocations frozen by the program (Object.freeze, or a deep freeze of state that holds
 * them, as immutable-state helpers do). Found by attacking main: a pool kept its changing state
 * (reset count, destroyed, the last allocation's id) in public fields, so on a frozen pool
 * allocate() threw a TypeError after the core had made the block (leaking it), reset() threw
 * after the core had reset (old handles then looked alive), and destroy() threw after the core had
 * destroyed the pool, which then still said it was not destroyed. That state is now private, and
 * code outside cannot set it either (`pool.destroyed = false`), nor what the pool is: `name`,
 * `config`, and the internal base address and handle every view and core call is made from
 * (`pool.base = 4096` made the next allocation's view a view of address 0x1000: SIGSEGV).
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, MemoryPoolManager, PoolConfig, UseAfterFreeError } from "../../src/index";
import { thrown } from "../support/thrown";
import { destroyedHere } from "../../src/pool";

const manager = MemoryPoolManager.getInstance();

/** Freezes `value` and everything reachable through its own properties (typed arrays cannot be frozen). */
function deepFreeze(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) return;
  seen.add(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<string | symbol, unknown>)[key], seen);
  if (!ArrayBuffer.isView(value)) Object.freeze(value);
}

const kinds: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["debug switches", { canaries: true, trackHistory: true, safeViews: true, fillOnFree: 0xdd }],
  ["FixedSize with the JavaScript cache", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
];

for (const [kind, fields] of kinds) {
  test(`${kind}: a deep-frozen pool and its allocations work, reset and are destroyed`, () => {
    const pool = manager.createCPUPool(`attack-frozen-${kind}`, Object.assign(new PoolConfig(), fields));
    const kept = pool.allocate(32);
    kept.bytes.fill(1);
    deepFreeze({ pool, kept });
    const more = pool.allocate(48);
    more.bytes.fill(2);
    expect(pool.getStats().liveAllocations).toBe(2);
    more.free();
    expect(thrown(() => more.free())).toBeInstanceOf(DoubleFreeError);
    pool.reset();
    expect(thrown(() => kept.bytes)).toBeInstanceOf(UseAfterFreeError);
    expect(pool.getStats().liveAllocations).toBe(0);
    pool.allocate(16);
    pool.destroy();
    expect(destroyedHere(pool)).toBe(true);
    expect(manager.hasPool(pool.name)).toBe(false);
  });
}

test("what a pool is cannot be set from outside", () => {
  const pool = manager.createCPUPool("attack-frozen-identity", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" });
  const hostile: Record<string, unknown> = { name: "other", config: { ...pool.config, blockSize: 1 << 20 }, handle: 0, base: 0, addressSpace: 2 ** 40 };
  for (const [field, value] of Object.entries(hostile)) {
    expect(thrown(() => ((pool as unknown as Record<string, unknown>)[field] = value))).toBeInstanceOf(TypeError);
  }
  expect(pool.name).toBe("attack-frozen-identity");
  expect(pool.config.blockSize).toBe(64);
  const a = pool.allocate(4096);
  a.bytes.fill(3);
  const neighbour = pool.allocate(64);
  neighbour.bytes.fill(4);
  expect(a.bytes.every((byte) => byte === 3)).toBe(true);
  pool.destroy();
});

test("a pool's state cannot be set from outside", () => {
  const pool = manager.createCPUPool("attack-frozen-state");
  const a = pool.allocate(16);
  pool.destroy();
  for (const field of ["destroyed", "epoch", "lastTaggedId"]) {
    expect(thrown(() => ((pool as unknown as Record<string, unknown>)[field] = 0))).toBeInstanceOf(TypeError);
  }
  expect(destroyedHere(pool)).toBe(true);
  expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
});
