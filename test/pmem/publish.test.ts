/**
 * Publication: an allocation of a PMEM pool becomes durable only when a root (setRoot), a link
 * written through the pool (link) or commitUnpublished publishes it; until then closing the pool, or
 * a crash (crash.test.ts, patterns.test.ts), leaves it free. allocations({ unreachable: true }) lists
 * what no root reaches. Pools here use msync (PMEM is not forced in this process).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import {
  type Allocation,
  ConfigError,
  InvalidPointerError,
  InvalidSizeError,
  LINK_BYTES,
  MemoryPoolManager,
  type PMEMMemoryPool,
  PMEMRootError,
  UseAfterFreeError,
} from "../../src/index";
import { thrown } from "../support/thrown";
import { markedFreed, offsetOfAllocation } from "../../src/allocation";
import { linkWord, pmemConfig, poolPath, removePoolFiles } from "./helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

let opened = 0;
const open = (path: string, strategy: "Variable" | "FixedSize" = "Variable"): PMEMMemoryPool =>
  manager.createPMEMPool(`pm-publish-${opened++}`, pmemConfig(path, { allocatorType: strategy, blockSize: 128 }));
const sizes = (allocations: Allocation[]) => allocations.map((a) => a.size).sort((a, b) => a - b);
/** The block and allocation a handle names (linked() makes a new handle for a block). */
const identity = (allocation: Allocation | undefined) => allocation && { offset: offsetOfAllocation(allocation), id: allocation.id };

for (const strategy of ["Variable", "FixedSize"] as const) {
  describe(`publication (${strategy})`, () => {
    test("only what a root, a link or commitUnpublished publishes is there after reopening", () => {
      const path = poolPath(`publish-${strategy}`);
      let pool = open(path, strategy);
      const rooted = pool.allocate(40);
      const linked = pool.allocate(48);
      const committed = pool.allocate(56);
      const draft = pool.allocate(64);
      for (const allocation of [rooted, linked, committed, draft]) {
        allocation.bytes.fill(allocation.size);
        pool.persist(allocation);
      }
      pool.setRoot("head", rooted);
      pool.link(rooted, 8, linked);
      pool.commitUnpublished(committed);
      expect(identity(pool.linked(rooted, 8))).toEqual(identity(linked));
      pool.link(rooted, 16, null);
      expect(pool.linked(rooted, 16)).toBeUndefined(); // a zero word: no link
      expect(sizes(pool.allocations())).toEqual([40, 48, 56, 64]);
      expect(sizes(pool.allocations({ unreachable: true }))).toEqual([56, 64]); // the committed block and the draft
      pool.close();

      pool = open(path, strategy);
      expect(sizes(pool.allocations())).toEqual([40, 48, 56]); // the draft was never in the file
      const head = pool.getRoot("head")!;
      const child = pool.linked(head, 8)!;
      expect(child.size).toBe(48);
      expect(child.bytes.every((byte) => byte === 48)).toBe(true);
      expect(sizes(pool.allocations({ unreachable: true }))).toEqual([56]);
      expect(pool.getStats().liveAllocations).toBe(3);
      // Unlinking leaves the child allocated and unreachable; freePrevious frees it in the same step.
      pool.link(head, 8, null);
      expect(sizes(pool.allocations({ unreachable: true }))).toEqual([48, 56]);
      pool.link(head, 8, child);
      pool.link(head, 8, null, { freePrevious: true });
      expect(markedFreed(child) || pool.allocations().every((a) => offsetOfAllocation(a) !== offsetOfAllocation(child))).toBe(true);
      expect(sizes(pool.allocations())).toEqual([40, 56]);
      pool.close();
    });

    test("a link publishes an unpublished child and frees the one it replaces, in one step", () => {
      const path = poolPath(`replace-${strategy}`);
      let pool = open(path, strategy);
      const table = pool.root("table", 4 * LINK_BYTES);
      const first = pool.allocate(30);
      pool.link(table, 16, first);
      const second = pool.allocate(31);
      pool.link(table, 16, second, { freePrevious: true }); // copy-on-write of one entry
      // The handle was not freed through itself, yet it is dead: using it says so, and marks it released.
      expect(first.alive).toBe(false);
      expect(thrown(() => pool.persist(first))).toBeInstanceOf(UseAfterFreeError);
      expect(markedFreed(first)).toBe(true);
      expect(thrown(() => pool.flush(first))).toBeInstanceOf(UseAfterFreeError);
      expect(sizes(pool.allocations())).toEqual([31, 32]);
      // A chain built from a published parent down: each new node is published by its link.
      const a = pool.allocate(24);
      pool.link(table, 0, a);
      const b = pool.allocate(24);
      pool.link(a, 0, b);
      pool.close();
      pool = open(path, strategy);
      const reopened = pool.getRoot("table")!;
      expect(pool.linked(reopened, 16)!.size).toBe(31);
      expect(pool.linked(pool.linked(reopened, 0)!, 0)!.size).toBe(24);
      expect(pool.allocations({ unreachable: true })).toEqual([]);
      pool.close();
    });
  });
}

describe("misuse of links and commits", () => {
  test("offsets, unpublished pairs, damaged and dangling words, and freed handles are typed errors", () => {
    const path = poolPath("link-misuse");
    const pool = open(path);
    const parent = pool.root("parent", 64);
    const child = pool.allocate(16);
    for (const at of [4, 60, 64, -8, 1.5, NaN]) {
      expect(thrown(() => pool.link(parent, at, child))).toBeInstanceOf(InvalidSizeError);
      expect(thrown(() => pool.linked(parent, at))).toBeInstanceOf(InvalidSizeError);
    }
    expect(thrown(() => pool.link(parent, "8" as unknown as number, child))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.link(parent, 0, {} as Allocation))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => pool.link({} as Allocation, 0, child))).toBeInstanceOf(InvalidPointerError); // found by the API fuzzer: a TypeError before
    expect(thrown(() => pool.linked(7 as unknown as Allocation, 0))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => pool.link(parent, 0, child, { freePrevious: true, extra: 1 } as never))).toBeInstanceOf(ConfigError);
    // Both unpublished: the child's publication would ride on a parent a crash can take away.
    const loose = pool.allocate(32);
    const unpublishedPair = thrown(() => pool.link(loose, 0, child));
    expect(unpublishedPair).toBeInstanceOf(PMEMRootError);
    expect(unpublishedPair.message).toContain("publish the parent first");
    // An unpublished parent may link to a published child (its own contents, published with it later).
    pool.link(parent, 0, child);
    pool.link(loose, 0, child);
    expect(identity(pool.linked(loose, 0))).toEqual(identity(child));
    // A word that is not a link: refused when read, and as the previous link to free.
    new DataView(parent.bytes.buffer, parent.bytes.byteOffset).setUint32(8, 12345, true);
    pool.persist(parent);
    expect(thrown(() => pool.linked(parent, 8)).message).toContain("is not a link written by link()");
    expect(thrown(() => pool.link(parent, 8, null, { freePrevious: true }))).toBeInstanceOf(InvalidPointerError);
    // A damaged link (one bit flipped) is not followed.
    parent.bytes[0] = parent.bytes[0]! ^ 0x10;
    expect(thrown(() => pool.linked(parent, 0))).toBeInstanceOf(InvalidPointerError);
    parent.bytes[0] = parent.bytes[0]! ^ 0x10;
    expect(identity(pool.linked(parent, 0))).toEqual(identity(child));
    // Linking the child the word names already replaces nothing: freePrevious frees nothing (as
    // setRoot with the block a root publishes already). It never frees the parent, nor a root's block.
    pool.link(parent, 0, child, { freePrevious: true });
    expect(identity(pool.linked(parent, 0))).toEqual(identity(child));
    expect(child.alive).toBe(true);
    pool.link(parent, 16, parent);
    expect(thrown(() => pool.link(parent, 16, null, { freePrevious: true }))).toBeInstanceOf(InvalidPointerError);
    const rooted = pool.root("other", 16);
    pool.link(parent, 24, rooted);
    expect(thrown(() => pool.link(parent, 24, null, { freePrevious: true }))).toBeInstanceOf(PMEMRootError);
    // A block a link names cannot be freed; a link word put back by hand after it was freed
    // (bytes, not link()) names free space: dangling, refused when read.
    const doomed = pool.allocate(16);
    pool.link(parent, 32, doomed);
    expect(thrown(() => pool.deallocate(doomed))).toBeInstanceOf(PMEMRootError);
    const saved = parent.bytes.slice(32, 40);
    pool.link(parent, 32, null);
    pool.deallocate(doomed);
    parent.bytes.set(saved, 32);
    expect(thrown(() => pool.linked(parent, 32)).message).toContain("where no allocation starts");
    expect(thrown(() => pool.link(parent, 40, doomed))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => pool.commitUnpublished(doomed))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => pool.commitUnpublished(null as unknown as Allocation))).toBeInstanceOf(InvalidPointerError);
    // A child from another pool.
    const other = open(poolPath("link-other"));
    const foreign = other.allocate(16);
    expect(thrown(() => pool.link(parent, 40, foreign))).toBeInstanceOf(InvalidPointerError);
    other.close();
    pool.close();
    expect(thrown(() => pool.link(parent, 0, null))).toBeInstanceOf(UseAfterFreeError);
  });

  test("a link word written into the file by hand is refused unless it is one link() would write", () => {
    const path = poolPath("link-bytes");
    let pool = open(path);
    const holder = pool.root("holder", 16);
    const target = pool.allocate(16);
    pool.link(holder, 0, target);
    const at = offsetOfAllocation(holder) * 16;
    pool.close();
    const bytes = readFileSync(path);
    const word = bytes.readBigUInt64LE(at);
    expect(word & 0xffff_ffffn).toBe(BigInt(offsetOfAllocation(target))); // the target's granule offset, and a check above it
    bytes.writeBigUInt64LE(word & 0xffff_ffffn, at); // the offset without its check
    writeFileSync(path, bytes);
    pool = open(path);
    expect(thrown(() => pool.linked(pool.getRoot("holder")!, 0))).toBeInstanceOf(InvalidPointerError);
    expect(pool.allocations({ unreachable: true }).map((a) => a.size)).toEqual([16]); // the target: no valid link reaches it
    pool.close();
  });
});

describe("a block a link names is not freed from under it", () => {
  for (const strategy of ["Variable", "FixedSize"] as const) {
    test(`freeing a linked child is refused until the link is gone, also after reopening (${strategy})`, () => {
      const path = poolPath(`linked-free-${strategy}`);
      let pool = open(path, strategy);
      const parent = pool.root("parent", 32);
      const child = pool.allocate(24);
      child.bytes.fill(7);
      pool.persist(child);
      pool.link(parent, 8, child);
      // Before: the free went through and the block went to the next allocation of its size, which
      // the link then named (a stale link, followed to someone else's data).
      const refused = thrown(() => child.free());
      expect(refused).toBeInstanceOf(PMEMRootError);
      expect(refused.message).toContain("the link at byte 8");
      expect(child.alive).toBe(true);
      expect(child.bytes.every((byte) => byte === 7)).toBe(true);
      pool.close();
      // After a restart the links in the file are found again (one scan, at the first need).
      pool = open(path, strategy);
      const again = pool.getRoot("parent")!;
      const reopenedChild = pool.linked(again, 8)!;
      expect(thrown(() => pool.deallocate(reopenedChild))).toBeInstanceOf(PMEMRootError);
      // A copy of the link word (a copy-on-write of the parent, bytes and all) names it too.
      const copy = pool.allocate(32);
      copy.bytes.set(again.bytes);
      pool.persist(copy);
      pool.commitUnpublished(copy);
      pool.link(again, 8, null); // the original link gone; the copy's remains
      expect(thrown(() => pool.deallocate(reopenedChild)).message).toContain(`offset ${offsetOfAllocation(copy) * 16}`);
      copy.free();
      pool.deallocate(reopenedChild); // nothing names it now
      expect(pool.linked(again, 8)).toBeUndefined();
      pool.close();
    });

    test(`freePrevious refuses a block another link or root still names, and changes nothing (${strategy})`, () => {
      const path = poolPath(`shared-${strategy}`);
      const pool = open(path, strategy);
      const a = pool.root("a", 32);
      const b = pool.root("b", 32);
      const shared = pool.allocate(16);
      shared.bytes.fill(9);
      pool.persist(shared);
      pool.link(a, 0, shared);
      pool.link(b, 0, shared);
      const live = pool.getStats().liveAllocations;
      const replacement = pool.allocate(16);
      const refused = thrown(() => pool.link(a, 0, replacement, { freePrevious: true }));
      expect(refused).toBeInstanceOf(PMEMRootError);
      expect(refused.message).toContain("nothing was changed");
      expect(identity(pool.linked(a, 0))).toEqual(identity(shared)); // the old link stands
      expect(identity(pool.linked(b, 0))).toEqual(identity(shared));
      expect(shared.bytes.every((byte) => byte === 9)).toBe(true);
      expect(pool.getStats().liveAllocations).toBe(live + 1); // the replacement, unpublished, and nothing freed
      // The root's block is linked from elsewhere: setRoot's freePrevious refuses it too.
      const root = pool.root("r", 16);
      pool.link(a, 8, root);
      const next = pool.allocate(16);
      expect(thrown(() => pool.setRoot("r", next, { freePrevious: true }))).toBeInstanceOf(PMEMRootError);
      expect(identity(pool.getRoot("r"))).toEqual(identity(root));
      // Once the other link is gone, replacing through the last one frees it.
      pool.link(b, 0, null);
      pool.link(a, 0, replacement, { freePrevious: true });
      expect(shared.alive).toBe(false);
      pool.link(a, 8, null);
      pool.setRoot("r", next, { freePrevious: true });
      expect(root.alive).toBe(false);
      pool.close();
    });

    // A persist no longer reads the bytes it persists: their link words are noted when a free
    // next asks which blocks a link names (a small range waits in a list; a full list is scanned
    // at the persist that finds it full; a range over 4 KiB is scanned at its persist).
    test(`a link word written through a view and persisted or flushed (the allocation or a view of it) keeps its target from being freed, wherever it falls among other persists (${strategy})`, () => {
      const path = poolPath(`written-link-${strategy}`);
      const pool = manager.createPMEMPool(`pm-publish-${opened++}`, pmemConfig(path, { allocatorType: strategy, blockSize: 8192, initialSize: 4 * 1024 * 1024 }));
      const commit = (size: number) => {
        const allocation = pool.allocate(size);
        pool.commitUnpublished(allocation);
        return allocation;
      };
      const words = (holder: Allocation) => new BigUint64Array(holder.bytes.buffer, holder.bytes.byteOffset, holder.size / 8);
      // Before any free of a published block asked, then once the set of named blocks is started.
      for (const started of [false, true]) {
        if (started) commit(16).free(); // a published block's free starts the set
        for (const before of [0, 1, 31, 32, 33, 70]) {
          for (const way of ["persist", "flush", "view", "large"] as const) {
            const target = commit(16);
            const holder = commit(way === "large" ? 8192 : 64);
            const at = holder.size / 8 - 1; // the last word
            // Other blocks persisted before the holder: the list of ranges waiting fills and is scanned.
            for (let i = 0; i < before; i++) {
              const other = pool.allocate(16 + 16 * (i % 3));
              pool.persist(other);
              other.free();
            }
            words(holder)[at] = linkWord(offsetOfAllocation(target)); // as a node copied from another pool brings it
            if (way === "flush") {
              pool.flush(holder);
              pool.drain();
            } else if (way === "view") {
              pool.persist(holder.bytes.subarray(8 * at)); // a view's range: the last word
            } else {
              pool.persist(holder);
            }
            for (let i = 0; i < 40; i++) pool.persist(holder, 8, 8 * (i % 4)); // the same block again and again
            const refused = thrown(() => target.free());
            expect(refused).toBeInstanceOf(PMEMRootError);
            expect(refused.message).toContain(`the link at byte ${at * 8} of the allocation at offset ${offsetOfAllocation(holder) * 16}`);
            expect(target.alive).toBe(true);
            // The word overwritten (and persisted): nothing names the target, and its free goes through.
            words(holder)[at] = 0n;
            pool.persist(holder);
            target.free();
            holder.free();
          }
        }
      }
      pool.close();
    });
  }
});
