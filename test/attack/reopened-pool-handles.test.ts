/**
 * Handles of a pool that was destroyed (a PMEM file closed) and made again under the same name in
 * the same process, handed to the new pool. Found by attacking the one-call persist: persist(),
 * flush(), memcpyPersist(), setRoot(), link() and every pool's deallocate(handle) said
 * InvalidPointerError "belongs to pool 'p', not 'p'", where the handle's own calls (free(),
 * copy(), views) say UseAfterFreeError "pool 'p' was destroyed". The handle's end is now checked
 * before which pool it belongs to; a live pool's handle given to another is still InvalidPointerError.
 */
import { afterAll, expect, test } from "bun:test";
import { InvalidPointerError, MemoryPoolManager, PoolConfig, UseAfterFreeError } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

test("a closed open's handles given to the PMEM pool opened again are UseAfterFreeErrors that say the pool was destroyed", () => {
  const config = Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("reopened-handles"), initialSize: 1 << 20 });
  const first = manager.createPMEMPool("attack-reopened", config);
  const old = first.root("node", 64);
  const oldChild = first.allocate(32);
  first.destroy();
  using pm = manager.createPMEMPool("attack-reopened", config);
  const node = pm.getRoot("node")!;
  const calls: [string, () => unknown][] = [
    ["persist", () => pm.persist(old)],
    ["flush", () => pm.flush(old, 8)],
    ["memcpyPersist", () => pm.memcpyPersist(old, new Uint8Array(4))],
    ["setRoot", () => pm.setRoot("old", old)],
    ["link from", () => pm.link(old, 0, null)],
    ["link to", () => pm.link(node, 0, oldChild)],
    ["linked", () => pm.linked(old, 0)],
    ["commitUnpublished", () => pm.commitUnpublished(oldChild)],
    ["deallocate", () => pm.deallocate(oldChild)],
  ];
  for (const [what, call] of calls) {
    const error = thrown(call);
    expect(error, what).toBeInstanceOf(UseAfterFreeError);
    expect((error as Error).message, what).toContain("pool 'attack-reopened' was destroyed");
  }
  expect(pm.roots()).toEqual(["node"]);
  expect(pm.linked(node, 0)).toBeUndefined();

  // Another live pool's handle is still refused as another pool's.
  using other = manager.createCPUPool("attack-reopened-other");
  const foreign = other.allocate(16);
  expect(thrown(() => pm.persist(foreign))).toBeInstanceOf(InvalidPointerError);
  expect(thrown(() => pm.deallocate(foreign))).toBeInstanceOf(InvalidPointerError);
});

test("a destroyed CPU pool's handle given to the pool made again under its name is a UseAfterFreeError", () => {
  const first = manager.createCPUPool("attack-reopened-cpu");
  const old = first.allocate(8);
  first.destroy();
  using again = manager.createCPUPool("attack-reopened-cpu");
  const error = thrown(() => again.deallocate(old));
  expect(error).toBeInstanceOf(UseAfterFreeError);
  expect((error as Error).message).toContain("pool 'attack-reopened-cpu' was destroyed");
  expect(again.getStats().liveAllocations).toBe(0);
});
