/**
 * deallocate of a view after its pool was destroyed. Found by attack11: the destroy detached every
 * view (`.bytes` and window views alike), and a view handed to the destroyed pool's deallocate was
 * then a DoubleFreeError "this view was detached when its allocation was freed", though the caller
 * never freed it; a pointer of the same pool is a PoolNotFoundError "pool 'p' was destroyed" (and a
 * handle a UseAfterFreeError saying so). A view is now what a pointer is.
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, PoolNotFoundError, UseAfterFreeError, type PoolOptions } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();

const configs: [string, PoolOptions][] = [
  ["Variable", {}],
  ["FixedSize", { allocatorType: "FixedSize", blockSize: 64 }],
  ["Variable mutex", { threadSafety: "mutex" }],
  ["with history", { trackHistory: true }],
];

for (const [name, options] of configs) {
  test(`${name}: a view, a window view and a pointer of a destroyed pool are one error, naming the destroy`, () => {
    const poolName = `attack-destroyed-views-${name}`;
    const p = manager.createCPUPool(poolName, { initialSize: 65536, ...options });
    const handle = p.allocate(64);
    const view = p.allocate(64).bytes;
    const freedView = p.allocate(64).bytes;
    p.deallocate(freedView); // freed before the destroy: still the destroy is what the caller must hear of
    const window = p.allocateWindowBytes(64);
    const pointer = p.allocateRaw(64);
    manager.destroyPool(poolName);
    for (const target of [view, freedView, window, pointer]) {
      const error = thrown(() => p.deallocate(target));
      expect(error).toBeInstanceOf(PoolNotFoundError);
      expect(error.message).toBe(`pool '${poolName}' was destroyed`);
    }
    expect(thrown(() => p.deallocate(handle))).toBeInstanceOf(UseAfterFreeError);
  });
}
