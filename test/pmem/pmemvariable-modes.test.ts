/**
 * A Variable PMEM pool under every threadSafety setting it takes ("none", "mutex", "lockFree",
 * threadLocalCache, both: the last three place with the sharded TLSF, its home shard holding the
 * file's heap, zig/src/pmem/shared_journal.zig), in one thread: what it allocates, persists,
 * publishes and frees is what a reopen finds, its limits are the locked pool's, and its snapshot,
 * trim and reset read the placement it has. Several Workers at once: threads-modes.test.ts; crashes:
 * crash.test.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, MemoryPoolManager, OutOfMemoryError, PMEMRootError, type Allocation } from "../../src/index";
import { allocateUntilRefused } from "../support/fill";
import { thrown } from "../support/thrown";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";
import { THREAD_MODES, type ThreadMode } from "./thread_modes";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();
const MODES: ThreadMode[] = ["none", "lockFree", "threadLocalCache", "lockFreeCache"];
const SETTINGS = [...MODES.map((mode) => [mode, THREAD_MODES[mode]] as const), ["mutex", { threadSafety: "mutex", threadLocalCache: false }] as const];

const fill = (allocation: Allocation, seed: number) => {
  const bytes = allocation.bytes;
  for (let i = 0; i < bytes.length; i++) bytes[i] = (seed * 13 + i) & 255;
};
/** Whether `allocation` holds what fill(allocation, seed) wrote, but for the link word at byte `linkAt`. */
const holds = (allocation: Allocation, seed: number, linkAt = -8) => allocation.bytes.every((byte, i) => (i >= linkAt && i < linkAt + 8) || byte === ((seed * 13 + i) & 255));

describe.each(SETTINGS)("Variable PMEM pool, %s", (label, setting) => {
  const config = (path: string, initialSize = 256 * 1024) => pmemConfig(path, { allocatorType: "Variable", initialSize, ...setting });

  test("what it publishes (root, link, commitUnpublished) is there and intact after a reopen; what it freed or never published is not; the statistics are exact", () => {
    const path = poolPath(`modes-${label}`);
    let pool = manager.createPMEMPool(`modes-${label}`, config(path));
    expect(pool.config.threadSafety).toBe(setting.threadSafety);
    const head = pool.allocate(64);
    fill(head, 1);
    pool.persist(head);
    pool.setRoot("head", head);
    const child = pool.allocate(300);
    fill(child, 2);
    pool.persist(child);
    pool.link(head, 8, child);
    const own = pool.allocate(5000);
    fill(own, 3);
    pool.persist(own);
    pool.commitUnpublished(own);
    const dropped = pool.allocate(700);
    fill(dropped, 4);
    pool.persist(dropped);
    pool.commitUnpublished(dropped);
    dropped.free(); // a published block's free: its record zeroed
    const draft = pool.allocate(90);
    draft.free(); // an unpublished block's free
    expect(thrown(() => draft.free())).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => head.free())).toBeInstanceOf(PMEMRootError); // a root publishes it
    expect(thrown(() => child.free())).toBeInstanceOf(PMEMRootError); // a link names it
    pool.allocate(1234); // never published: free after the reopen
    const offsets = { head: offsetOfAllocation(head), child: offsetOfAllocation(child), own: offsetOfAllocation(own) };
    pool.close();

    pool = manager.createPMEMPool(`modes-${label}`, config(path));
    expect(pool.created).toBe(false);
    const found = pool.allocations();
    expect(found.map((allocation) => offsetOfAllocation(allocation)).sort((a, b) => a - b)).toEqual(Object.values(offsets).sort((a, b) => a - b));
    const root = pool.getRoot("head")!;
    expect(offsetOfAllocation(root)).toBe(offsets.head);
    expect(holds(root, 1, 8)).toBe(true);
    const linked = pool.linked(root, 8)!;
    expect(offsetOfAllocation(linked)).toBe(offsets.child);
    expect(holds(linked, 2)).toBe(true);
    const mine = found.find((allocation) => offsetOfAllocation(allocation) === offsets.own)!;
    expect(mine.size).toBe(5000);
    expect(holds(mine, 3)).toBe(true);
    expect(pool.allocations({ unreachable: true }).map((allocation) => offsetOfAllocation(allocation))).toEqual([offsets.own]);
    const stats = pool.getStats();
    expect(stats.liveAllocations).toBe(3);
    expect(stats.bytesInUse).toBe(64 + 300 + 5000);
    expect(stats.bytesAllocated).toBe(64 + 304 + 5008);
    expect(stats.freeBytes + stats.bytesAllocated).toBe(stats.bytesReserved);
    // A published block freed after the reopen, and its space placed again.
    mine.free();
    pool.link(root, 8, null, { freePrevious: true });
    expect(pool.getStats().liveAllocations).toBe(1);
    const again = pool.allocate(5000);
    pool.commitUnpublished(again);
    pool.close();
    pool = manager.createPMEMPool(`modes-${label}`, config(path));
    expect(pool.allocations().map((allocation) => offsetOfAllocation(allocation)).sort((a, b) => a - b)).toEqual([offsets.head, offsetOfAllocation(again)].sort((a, b) => a - b));
    pool.close();
  });

  test("its limits are the locked pool's: a block of most of the heap, the heap full, the table full; each says which", () => {
    const pool = manager.createPMEMPool(`modes-limits-${label}`, config(poolPath(`modes-limits-${label}`), 64 * 1024));
    try {
      const reserved = pool.getStats().bytesReserved;
      const most = pool.allocate(reserved - 4096); // the heap is one shard's: a request of most of it fits
      expect(thrown(() => pool.allocate(8192))).toBeInstanceOf(OutOfMemoryError);
      most.free();
      const big = allocateUntilRefused(() => pool.allocateRaw(4096));
      expect(big.refused).toBeInstanceOf(OutOfMemoryError);
      expect((big.refused as Error).message).toContain("initialSize");
      expect(pool.getStats().failedAllocations).toBe(2);
      for (const pointer of big.held) pool.deallocate(pointer);
      const small = allocateUntilRefused(() => pool.allocateRaw(16));
      expect(small.refused).toBeInstanceOf(OutOfMemoryError);
      expect((small.refused as Error).message).toContain("all its table has room for");
      expect(small.held.length * 128).toBeGreaterThanOrEqual(reserved - 4096);
      expect(pool.getStats().liveAllocations).toBe(small.held.length);
      for (const pointer of small.held) pool.deallocate(pointer);
      expect(thrown(() => pool.deallocate(small.held[0]!))).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => pool.deallocate(small.held[0]! + 8))).toBeInstanceOf(InvalidPointerError);
      const stats = pool.getStats();
      expect(stats.liveAllocations).toBe(0);
      expect(stats.freeBytes).toBe(reserved);
      // The frees coalesced: one free block again (a "none" pool's JavaScript bins keep freed blocks by size, free but apart).
      if (label !== "none") expect(stats.largestFreeBlock).toBe(reserved);
    } finally {
      pool.close();
    }
  });

  test("snapshot lists its blocks, trim gives nothing back, reset frees every allocation and root durably", () => {
    const path = poolPath(`modes-reset-${label}`);
    let pool = manager.createPMEMPool(`modes-reset-${label}`, config(path));
    const kept = pool.allocate(100);
    pool.setRoot("kept", kept);
    const loose = pool.allocate(200);
    const snapshot = pool.snapshot();
    const live = snapshot.blocks.filter((block) => block.state === "live");
    expect(live.map((block) => block.offset / 16).sort((a, b) => a - b)).toEqual([offsetOfAllocation(kept), offsetOfAllocation(loose)].sort((a, b) => a - b)); // bytes; an allocation's offset is in granules
    expect(snapshot.blocks.reduce((sum, block) => sum + block.size, 0)).toBe(pool.getStats().bytesReserved); // the blocks tile the heap
    expect(pool.trim()).toBe(0);
    expect(pool.getStats().liveAllocations).toBe(2);
    pool.reset();
    expect(pool.getStats().liveAllocations).toBe(0);
    expect(pool.roots()).toEqual([]);
    const after = pool.allocate(50);
    pool.commitUnpublished(after);
    pool.close();
    pool = manager.createPMEMPool(`modes-reset-${label}`, config(path));
    expect(pool.getRoot("kept")).toBeUndefined();
    expect(pool.allocations().map((allocation) => offsetOfAllocation(allocation))).toEqual([offsetOfAllocation(after)]);
    pool.close();
  });
});
