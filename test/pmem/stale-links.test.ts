/**
 * A freed block's link words die with it. Freed space keeps its bytes, and the core reads every
 * live block's words when a free asks whether a link names its block: a block placed where a list
 * node was carried the node's old link until its new owner overwrote it, and meanwhile the free
 * of what that link had named was refused (PMEMRootError) though nothing linked to it. Workers
 * building lists on one pool hit this (test/attack/suite-pmdk.test.ts, obj_pmalloc_mt); here it is
 * one thread, in order.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, type PMEMMemoryPool, type ThreadSafety } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

for (const threadSafety of ["mutex", "none"] as ThreadSafety[]) {
  test(`${threadSafety}: a block placed where a freed list node was does not keep the node's link`, () => {
    const name = `stale-links-${threadSafety}`;
    const pm = manager.createPMEMPool(name, pmemConfig(poolPath(name), { initialSize: 1 << 20, threadSafety })) as PMEMMemoryPool;
    try {
      const head = pm.root("list", 8);
      const last = pm.allocate(64);
      pm.persist(last);
      pm.link(head, 0, last);
      const node = pm.allocate(64);
      pm.link(node, 0, last);
      pm.persist(node);
      pm.link(head, 0, node); // head -> node -> last
      const nodeAt = node.ptr as number;
      pm.link(head, 0, last, { freePrevious: true }); // pops node: head -> last
      // The next allocations of that size until one lands where the node was (its bytes, old link included, are still there).
      const placed = [];
      let again;
      for (let i = 0; i < 64 && again === undefined; i++) {
        const block = pm.allocate(64);
        if ((block.ptr as number) === nodeAt) again = block;
        else placed.push(block);
      }
      expect(again).toBeDefined();
      // Nothing links to `last` but head: popping it frees it.
      pm.link(head, 0, null, { freePrevious: true });
      expect(pm.linked(head, 0)).toBeUndefined();
      again!.free();
      for (const block of placed) block.free();
      expect(pm.getStats().liveAllocations).toBe(1); // the root
    } finally {
      pm.close();
    }
  });
}
