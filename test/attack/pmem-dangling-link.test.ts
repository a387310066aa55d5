/**
 * A link whose target was freed without unlinking, and whose block a new allocation took since.
 * Found by churning a "mutex" PMEM pool from Workers and comparing it before close and after
 * reopen: the link word names a block by its offset alone, so the core followed a dangling word
 * to whatever held the block (allocations({ unreachable: true }) and the leak report left the new
 * allocation out, linked() handed it out, link(..., { freePrevious: true }) freed it). A linked
 * block's free is now refused (as a rooted block's is) until the link lets it go, so no word can
 * dangle; and a link to an unpublished block, which link() never writes, is taken as dangling.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, PMEMRootError, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

for (const allocatorType of ["Variable", "FixedSize"] as const) {
  test(`${allocatorType}: a linked block cannot be freed under its link; freed through the link, its block's next allocation is not reached`, () => {
    const config = Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(`dangling-${allocatorType}`), initialSize: 1 << 20, allocatorType, blockSize: 64 });
    const name = `attack-dangling-${allocatorType}`;
    {
      using pm = manager.createPMEMPool(name, config);
      const head = pm.root("head", 64);
      const child = pm.allocate(32);
      child.bytes.fill(3);
      pm.link(head, 0, child); // published by the link
      expect(pm.linked(head, 0)?.ptr).toBe(child.ptr);

      const refused = thrown(() => child.free());
      expect(refused).toBeInstanceOf(PMEMRootError);
      expect((refused as Error).message).toContain("nothing was changed");
      expect(child.alive).toBe(true);
      expect(pm.linked(head, 0)?.bytes[0]).toBe(3);

      pm.link(head, 0, null, { freePrevious: true }); // the way to free a linked block
      expect(child.alive).toBe(false);
      expect(pm.linked(head, 0)).toBeUndefined();
      const taker = pm.allocate(32);
      taker.bytes.fill(7);
      expect(taker.ptr).toBe(child.ptr); // the freed block, taken again, unpublished
      expect(pm.linked(head, 0)).toBeUndefined();
      expect(pm.allocations({ unreachable: true }).map((a) => a.ptr)).toEqual([taker.ptr]);
      pm.link(head, 0, taker);
    }
    // After reopen: the link publishes what it names, and the rule holds in the new open too.
    using again = manager.createPMEMPool(name, config);
    const head = again.getRoot("head")!;
    const linked = again.linked(head, 0)!;
    expect(linked.size).toBe(32);
    expect(linked.bytes[0]).toBe(7);
    expect(again.allocations({ unreachable: true })).toEqual([]);
    expect(thrown(() => linked.free())).toBeInstanceOf(PMEMRootError);
    expect(again.allocations().length).toBe(2);
  });
}
