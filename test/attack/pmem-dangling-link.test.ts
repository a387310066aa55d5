/**
 * A link whose target was freed without unlinking, and whose block a new allocation took since.
 * Found by churning a "mutex" PMEM pool from Workers and comparing it before close and after
 * reopen: one allocation the pool called reachable before close was gone after. The link word
 * names a block by its offset alone, so the core followed the dangling word to whatever held the
 * block: allocations({ unreachable: true }) left out the new, unpublished allocation (and so did the
 * leak report at close) though a crash or close loses it, linked() handed it out as the linked
 * child, and link(..., { freePrevious: true }) freed it, an allocation the link never named. link()
 * publishes what it links to, so a link to an unpublished block is now known to dangle.
 */
import { afterAll, expect, test } from "bun:test";
import { InvalidPointerError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

for (const allocatorType of ["Variable", "FixedSize"] as const) {
  test(`${allocatorType}: a dangling link does not reach, name or free the allocation that took its target's block`, () => {
    const config = Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(`dangling-${allocatorType}`), initialSize: 1 << 20, allocatorType, blockSize: 64 });
    const name = `attack-dangling-${allocatorType}`;
    {
      using pm = manager.createPMEMPool(name, config);
      const head = pm.root("head", 64);
      const child = pm.allocate(32);
      pm.link(head, 0, child); // published by the link
      expect(pm.linked(head, 0)?.ptr).toBe(child.ptr);
      child.free(); // allowed: the word now dangles
      const taker = pm.allocate(32);
      taker.bytes.fill(7);
      expect(taker.ptr).toBe(child.ptr); // the freed block, taken again, unpublished

      const named = thrown(() => pm.linked(head, 0));
      expect(named).toBeInstanceOf(InvalidPointerError);
      expect((named as Error).message).toContain("freed without unlinking");
      // Nothing publishes it: a close loses it, so it is listed as what no root reaches.
      expect(pm.allocations({ unreachable: true }).map((a) => a.ptr)).toEqual([taker.ptr]);

      const replacement = pm.allocate(32);
      const freeing = thrown(() => pm.link(head, 0, replacement, { freePrevious: true }));
      expect(freeing).toBeInstanceOf(InvalidPointerError);
      expect((freeing as Error).message).toContain("nothing was changed");
      expect(taker.alive).toBe(true); // not freed by a link that never named it
      expect(taker.bytes[0]).toBe(7);
      pm.link(head, 0, replacement); // overwriting the dangling word is fine
      expect(pm.linked(head, 0)?.ptr).toBe(replacement.ptr);
      pm.link(head, 8, null);
    }
    // After reopen: what was listed unreachable is gone, what the link publishes is there.
    using again = manager.createPMEMPool(name, config);
    const head = again.getRoot("head")!;
    expect(again.linked(head, 0)?.size).toBe(32);
    expect(again.allocations().length).toBe(2);
    expect(again.allocations({ unreachable: true })).toEqual([]);
  });
}

test("a dangling link whose block a later open hands out is refused there too", () => {
  const config = Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("dangling-reopen"), initialSize: 1 << 20 });
  {
    using pm = manager.createPMEMPool("attack-dangling-reopen", config);
    const head = pm.root("head", 16);
    const child = pm.allocate(32);
    pm.link(head, 0, child);
    child.free();
  }
  using again = manager.createPMEMPool("attack-dangling-reopen", config);
  const head = again.getRoot("head")!;
  expect(thrown(() => again.linked(head, 0))).toBeInstanceOf(InvalidPointerError);
  const taker = again.allocate(32);
  expect(again.allocations({ unreachable: true }).map((a) => a.ptr)).toEqual([taker.ptr]);
  expect((thrown(() => again.linked(head, 0)) as Error).message).toContain("freed without unlinking");
});
