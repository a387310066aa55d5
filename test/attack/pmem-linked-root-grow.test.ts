/**
 * pmem.root(name, size) growing a root that a link also names. Found by attacking main: root()
 * grew in TypeScript, in steps (allocate the copy, fill and persist it, then setRoot with
 * freePrevious), so where a link named the old block, the last step was refused with a message
 * about a "freePrevious" the caller never passed, saying "nothing was changed", while the grown
 * copy stayed allocated, reached by nothing (a leak in the file until close). Steps apart, two
 * threads growing one root could also free each other's copy. The core now grows the root under
 * the pool's lock in one step, refused before anything is allocated where a link names the root.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, PMEMRootError, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

test("a root that a link names is not grown: PMEMRootError, and nothing is allocated", () => {
  using pm = manager.createPMEMPool("attack-linked-root-grow", Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("linked-root-grow"), initialSize: 1 << 20 }));
  const head = pm.root("head", 64);
  const small = pm.root("small", 16);
  small.bytes.fill(5);
  pm.persist(small);
  pm.link(head, 8, small);
  const before = pm.getStats();

  const refused = thrown(() => pm.root("small", 128));
  expect(refused).toBeInstanceOf(PMEMRootError);
  expect((refused as Error).message).toContain("root() cannot grow");
  expect((refused as Error).message).toContain("nothing was changed");
  expect((refused as Error).message).not.toContain("freePrevious: cannot");
  expect(pm.getStats().bytesInUse).toBe(before.bytesInUse);
  expect(pm.allocations().length).toBe(2);
  expect(pm.allocations({ unreachable: true })).toEqual([]);
  expect(small.alive).toBe(true);
  expect(pm.root("small", 16).ptr).toBe(small.ptr);

  // Unlinked, it grows: its bytes kept, zero past them, the old handle and views dead.
  const view = small.bytes;
  pm.link(head, 8, null);
  const grown = pm.root("small", 128);
  expect(grown.size).toBe(128);
  expect([...grown.bytes.subarray(0, 16)]).toEqual(new Array(16).fill(5));
  expect(grown.bytes.subarray(16).every((b) => b === 0)).toBe(true);
  expect(small.alive).toBe(false);
  expect(view.byteLength).toBe(0);
  expect(pm.getRoot("small")?.ptr).toBe(grown.ptr);
  expect(pm.allocations().length).toBe(2);
});
