/**
 * A freed block's link words go with it, whichever way the words came (link(), a copy persisted
 * whole, a small persist noted later, a file opened again) and whichever way the block is freed
 * (the core, or JavaScript's bins of a "none" Variable pool). A free reads only the pages of its
 * block that may hold a link word (zig/src/pmem/links.zig Pages), so each way a word is written
 * must mark its page; a block JavaScript's bins manage must not be handed out again with its
 * words (it leaves the bins once a word is written into it). Each test fails where the words stay:
 * the block placed there again carries them, and the free of what they name is refused.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, type PMEMMemoryPool, type ThreadSafety } from "../../src/index";
import { outcome } from "../support/thrown";
import { linkWord, pmemConfig, poolPath, removePoolFiles } from "./helpers";
import { offsetOfAllocation } from "../../src/allocation";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);
const granule = 16;

type Block = ReturnType<PMEMMemoryPool["allocate"]>;

/** Allocations of `size` until one starts at `at` (the others stay allocated). */
function allocateAt(pm: PMEMMemoryPool, size: number, at: number): Block {
  for (let i = 0; i < 64; i++) {
    const block = pm.allocate(size);
    if ((block.ptr as number) === at) return block;
  }
  throw new Error(`no allocation of ${size} bytes landed at ${at}`);
}

/** A published `target`, reached from root `name` through a link at byte 0 of the root's block. */
function publishedTarget(pm: PMEMMemoryPool, name: string): { head: Block; target: Block } {
  const head = pm.root(name, 8);
  const target = pm.allocate(64);
  pm.link(head, 0, target);
  return { head, target };
}

/** The free of `target` through its one real link is allowed: nothing else names it. */
function expectFreeThroughLink(pm: PMEMMemoryPool, head: Block, target: Block): void {
  expect(outcome(() => pm.link(head, 0, null, { freePrevious: true }))).toBe("done");
  expect(target.alive).toBe(false);
}

for (const threadSafety of ["none", "mutex"] as ThreadSafety[]) {
  test(`${threadSafety}: a block link() wrote into, unpublished, freed: its next allocation holds no link`, () => {
    const name = `freed-links-link-${threadSafety}`;
    using pm = manager.createPMEMPool(name, pmemConfig(poolPath(name), { initialSize: 1 << 20, threadSafety })) as PMEMMemoryPool;
    const { head, target } = publishedTarget(pm, "head");
    const holder = pm.allocate(64); // unpublished: a "none" pool's bins manage it
    pm.link(holder, 56, target); // a published child may be linked from an unpublished block
    const at = holder.ptr as number;
    holder.free();
    const again = allocateAt(pm, 64, at);
    expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, 8)[7]).toBe(0n);
    expect(pm.linked(again, 56)).toBeUndefined();
    expectFreeThroughLink(pm, head, target);
  });

  test(`${threadSafety}: a link word copied to the end of a 1 MiB block and persisted whole is cleared by its free`, () => {
    const name = `freed-links-large-${threadSafety}`;
    using pm = manager.createPMEMPool(name, pmemConfig(poolPath(name), { initialSize: 8 << 20, threadSafety })) as PMEMMemoryPool;
    const { head, target } = publishedTarget(pm, "head");
    const large = pm.allocate(1 << 20);
    const words = new BigUint64Array(large.bytes.buffer, large.bytes.byteOffset, (1 << 20) / 8);
    const index = words.length - 3;
    words[index] = linkWord(offsetOfAllocation(target));
    pm.persist(large); // a large range: scanned as it is flushed, its page marked
    const at = large.ptr as number;
    large.free();
    const again = allocateAt(pm, 1 << 20, at);
    expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, (1 << 20) / 8)[index]).toBe(0n);
    expectFreeThroughLink(pm, head, target);
  });

}

// A "none" pool's block freed into the bins and taken again from them with no call into the core
// between keeps a word of a small persist (read later, not at the persist: journal.zig
// linksWrittenLocked says why); the last test covers the bins' case the core sees.
for (const threadSafety of ["mutex"] as ThreadSafety[]) {
  test(`${threadSafety}: a link word in a small persist noted later (the pool's link set is read since) is cleared by its free`, () => {
    const name = `freed-links-later-${threadSafety}`;
    using pm = manager.createPMEMPool(name, pmemConfig(poolPath(name), { initialSize: 1 << 20, threadSafety })) as PMEMMemoryPool;
    const { head, target } = publishedTarget(pm, "head");
    const scratch = pm.allocate(8); // a published block's free reads the link set: it is made now
    pm.setRoot("scratch", scratch);
    pm.setRoot("scratch", null, { freePrevious: true });
    const block = pm.allocate(4096);
    new BigUint64Array(block.bytes.buffer, block.bytes.byteOffset, 512)[300] = linkWord(offsetOfAllocation(target));
    pm.persist(block, 8, 2400); // 8 bytes: left for later, its page marked
    const at = block.ptr as number;
    block.free();
    const again = allocateAt(pm, 4096, at);
    expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, 512)[300]).toBe(0n);
    expectFreeThroughLink(pm, head, target);
  });
}

test("a block of a file opened again, freed: its link words are cleared though nothing in this process wrote them", () => {
  const path = poolPath("freed-links-reopen");
  const config = pmemConfig(path, { initialSize: 4 << 20, threadSafety: "mutex" });
  {
    using pm = manager.createPMEMPool("freed-links-reopen", config) as PMEMMemoryPool;
    const { target } = publishedTarget(pm, "head");
    const large = pm.allocate(1 << 20);
    pm.setRoot("large", large);
    pm.link(large, (1 << 20) - 64, target);
  }
  using pm = manager.createPMEMPool("freed-links-reopen", config) as PMEMMemoryPool;
  const large = pm.getRoot("large")!;
  const head = pm.getRoot("head")!;
  const target = pm.linked(head, 0)!;
  const at = large.ptr as number;
  pm.link(large, (1 << 20) - 64, null);
  pm.setRoot("large", null, { freePrevious: true });
  const again = allocateAt(pm, 1 << 20, at);
  expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, (1 << 20) / 8)[(1 << 20) / 8 - 8]).toBe(0n);
  expectFreeThroughLink(pm, head, target);
});

test("none: a link word written through a view and persisted by a persist of the view (a range, not an allocation): its block leaves the bins, its free clears it", () => {
  using pm = manager.createPMEMPool("freed-links-view", pmemConfig(poolPath("freed-links-view"), { initialSize: 1 << 20, threadSafety: "none" })) as PMEMMemoryPool;
  const { head, target } = publishedTarget(pm, "head");
  const block = pm.allocate(8192);
  const view = block.bytes.subarray(64, 64 + 6000); // over 4 KiB: read as it is persisted
  new BigUint64Array(view.buffer, view.byteOffset, 8)[3] = linkWord(offsetOfAllocation(target));
  pm.persist(view);
  const at = block.ptr as number;
  block.free(); // to the core: the block left the bins when its link word was found
  const again = allocateAt(pm, 8192, at);
  expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, 32)[11]).toBe(0n);
  expectFreeThroughLink(pm, head, target);
});

test("none: a link word of a small persist into a block the bins manage, the block freed into them before the pool read it: cleared before the block is taken again", () => {
  using pm = manager.createPMEMPool("freed-links-binned", pmemConfig(poolPath("freed-links-binned"), { initialSize: 1 << 20, threadSafety: "none" })) as PMEMMemoryPool;
  const { head, target } = publishedTarget(pm, "head");
  const scratch = pm.allocate(8);
  pm.setRoot("scratch", scratch);
  pm.setRoot("scratch", null, { freePrevious: true }); // the link set is made: small persists wait
  const block = pm.allocate(64);
  new BigUint64Array(block.bytes.buffer, block.bytes.byteOffset, 8)[2] = linkWord(offsetOfAllocation(target));
  pm.persist(block); // left for later
  const at = block.ptr as number;
  block.free(); // into the bins, no call into the core
  const other = pm.allocate(8); // the core reads the waiting range at this publication's need
  pm.setRoot("other", other);
  pm.setRoot("other", null, { freePrevious: true });
  const again = allocateAt(pm, 64, at);
  expect(new BigUint64Array(again.bytes.buffer, again.bytes.byteOffset, 8)[2]).toBe(0n);
  expectFreeThroughLink(pm, head, target);
});
