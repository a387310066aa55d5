/**
 * pmem.root(name, size) where the root exists with fewer bytes than asked (an earlier version of
 * the program made it smaller). Found by attacking main: it returned the smaller block as it was
 * (root("r", 4096) gave 16 bytes), so code trusting the size it asked for (native code given
 * .ptr) wrote past the block. Like pmemobj_root, it now grows the root: a zero-filled copy
 * replaces it in one atomic step, with its bytes and links, and the file reopens with it.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, UseAfterFreeError, type PMEMMemoryPool } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();
let opened = 0;
const open = (path: string): PMEMMemoryPool => manager.createPMEMPool(`attack-root-grow-${opened++}`, { pmemPoolPath: path, initialSize: 1 << 20 });

test("a root asked for with more bytes than it has grows, keeping its bytes and links", () => {
  const path = poolPath("root-grow");
  {
    using pm = open(path);
    const small = pm.root("r", 16);
    small.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 8);
    const child = pm.allocate(24);
    child.bytes.fill(7);
    pm.persist(child);
    pm.link(small, 0, child); // the root holds a link in its first word
    pm.persist(small);
    const smallView = small.bytes;

    const grown = pm.root("r", 4096);
    expect(grown.size).toBe(4096);
    expect([...grown.bytes.subarray(8, 16)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(grown.bytes.subarray(16).every((byte) => byte === 0)).toBe(true);
    expect(pm.linked(grown, 0)?.bytes[23]).toBe(7); // the copied link still names the child
    expect(thrown(() => small.bytes)).toBeInstanceOf(UseAfterFreeError);
    expect(smallView.length).toBe(0);
    expect(offsetOfAllocation(pm.root("r", 100))).toBe(offsetOfAllocation(grown)); // large enough: the same block, as before
    expect(pm.getRoot("r")!.size).toBe(4096);
    expect(pm.allocations({ unreachable: true })).toEqual([]);
  }
  using reopened = open(path);
  const root = reopened.getRoot("r")!;
  expect(root.size).toBe(4096);
  expect(root.bytes[15]).toBe(8);
  expect(reopened.linked(root, 0)?.size).toBe(24);
  expect(reopened.allocations().length).toBe(2);
});
