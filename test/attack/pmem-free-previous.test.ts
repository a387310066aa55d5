/**
 * Views of a block that setRoot(..., { freePrevious: true }) or link(..., { freePrevious: true })
 * frees. Found by attacking main: the core freed the previous block, but this thread's views of it
 * stayed attached until the block was next viewed here, so a new allocation there written through
 * its pointer (memcpyPersist, copy, native code) was read and written through the old allocation's
 * view: a use after free through a "safe" view, in one thread. The views now die with the free, as
 * after every other route, and trackHistory records it.
 */
import { afterAll, expect, test } from "bun:test";
import { copy, MemoryPoolManager, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

for (const [name, fields] of [
  ["plain", {}],
  ["trackHistory", { trackHistory: true }],
] as const) {
  test(`${name}: setRoot and link with freePrevious detach the freed block's views`, () => {
    using pm = manager.createPMEMPool(`attack-free-previous-${name}`, Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(`free-previous-${name}`), initialSize: 1 << 20 }, fields));
    const old = pm.allocate(64);
    const oldView = old.bytes;
    oldView.fill(1);
    pm.persist(old);
    pm.setRoot("r", old);
    pm.setRoot("r", pm.allocate(64), { freePrevious: true });
    expect(old.alive).toBe(false);
    expect(oldView.length).toBe(0); // detached with the free, not when the block is next viewed
    const next = pm.allocate(64);
    expect(next.ptr).toBe(old.ptr); // the freed block, taken again
    pm.memcpyPersist(next, new Uint8Array(64).fill(9)); // written through its pointer: no view made
    oldView[0] = 5;
    expect(oldView[0]).toBeUndefined();
    expect(next.bytes[0]).toBe(9);

    const head = pm.root("head", 8);
    const child = pm.allocate(32);
    const childView = child.as(Uint32Array);
    pm.link(head, 0, child);
    pm.link(head, 0, pm.allocate(32), { freePrevious: true });
    expect(child.alive).toBe(false);
    expect(childView.length).toBe(0);
    const taken = pm.allocate(32);
    copy(taken, new Uint8Array(32).fill(3));
    expect(childView[0]).toBeUndefined();

    // Publishing the same block again with freePrevious frees nothing: its views live on.
    const same = pm.getRoot("r")!;
    const sameView = same.bytes;
    pm.setRoot("r", same, { freePrevious: true });
    expect(same.alive).toBe(true);
    expect(sameView.length).toBe(64);
    if (name === "trackHistory") {
      const frees = pm.getHistory().filter((event) => event.kind === "free").map((event) => event.id);
      expect(frees).toContain(old.id);
      expect(frees).toContain(child.id);
    }
  });
}
