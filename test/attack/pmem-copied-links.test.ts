/**
 * Link words that come into a PMEM pool from outside it: a node copied from a replica pool made
 * the same way (memcpyPersist, copy(), a view then persist()), or a node's bytes saved before the
 * file was closed and written back after it was opened again. Found by attacking the Named set
 * (zig/src/pmem/links.zig): once its one scan after open was made, only link() noted what a word
 * names, so the block such a word named could be freed under it (the free said nothing), and
 * linked() then handed out the block's next allocation as the link's target. Every persisting
 * route now notes the link words it writes, and the free is refused as under any link.
 */
import { afterAll, expect, test } from "bun:test";
import { copy, MemoryPoolManager, PMEMRootError, PoolConfig, type PMEMMemoryPool } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();
const config = (tag: string) => Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(tag), initialSize: 1 << 20 });

/** Frees a published block of `pm` that nothing links to: the pool's Named set is now made (its scan ran). */
function startNamedSet(pm: PMEMMemoryPool): void {
  const scratch = pm.allocate(8);
  pm.setRoot("scratch", scratch);
  pm.setRoot("scratch", null);
  scratch.free();
}

const routes: [string, (into: PMEMMemoryPool, target: ReturnType<PMEMMemoryPool["allocate"]>, bytes: Uint8Array) => void][] = [
  ["memcpyPersist", (into, target, bytes) => into.memcpyPersist(target, bytes)],
  ["copy()", (_into, target, bytes) => copy(target, bytes)],
  ["a view, then persist()", (into, target, bytes) => { target.bytes.set(bytes); into.persist(target); }],
  ["a view, then persist() of the view", (into, target, bytes) => { target.bytes.set(bytes); into.persist(target.bytes); }],
  ["a view, then flush() and drain()", (into, target, bytes) => { target.bytes.set(bytes); into.flush(target); into.drain(); }],
];

for (const [route, write] of routes) {
  test(`a node copied from a replica pool by ${route}: the block its link names cannot be freed under it`, () => {
    const tag = route.replace(/\W+/g, "-");
    using source = manager.createPMEMPool(`attack-copied-links-source-${tag}`, config(`copied-source-${tag}`));
    using replica = manager.createPMEMPool(`attack-copied-links-replica-${tag}`, config(`copied-replica-${tag}`));
    const node = source.allocate(64);
    const child = source.allocate(64);
    source.setRoot("node", node);
    source.link(node, 8, child);
    // The replica, made the same way: its blocks lie at the same offsets.
    const replicaNode = replica.allocate(64);
    const replicaChild = replica.allocate(64);
    replica.setRoot("node", replicaNode);
    replica.setRoot("child", replicaChild);
    expect([offsetOfAllocation(replicaNode), offsetOfAllocation(replicaChild)]).toEqual([offsetOfAllocation(node), offsetOfAllocation(child)]);
    startNamedSet(replica);

    write(replica, replicaNode, node.bytes.slice());
    expect(replica.linked(replicaNode, 8)?.ptr).toBe(replicaChild.ptr);
    replica.setRoot("child", null);
    const refused = thrown(() => replicaChild.free());
    expect(refused).toBeInstanceOf(PMEMRootError);
    expect((refused as Error).message).toContain("names it");
    expect(replicaChild.alive).toBe(true);
    // Freed through the link, as the message says: the link lets it go, and names nothing after.
    replica.link(replicaNode, 8, null, { freePrevious: true });
    expect(replicaChild.alive).toBe(false);
    const next = replica.allocate(64);
    replica.setRoot("next", next);
    expect(replica.linked(replicaNode, 8)).toBeUndefined();
  });
}

test("a node's bytes saved before close and written back after reopen: its link holds the block again", () => {
  const cfg = config("copied-reopen");
  let saved: Uint8Array;
  {
    using pm = manager.createPMEMPool("attack-copied-links-reopen", cfg);
    const node = pm.root("node", 64);
    const child = pm.allocate(64);
    pm.link(node, 0, child);
    saved = node.bytes.slice();
    pm.link(node, 0, null); // unlinked: the child stays, published, reached by nothing
  }
  using pm = manager.createPMEMPool("attack-copied-links-reopen", cfg);
  const node = pm.getRoot("node")!;
  const [child] = pm.allocations({ unreachable: true });
  expect(child).toBeDefined();
  startNamedSet(pm);
  pm.memcpyPersist(node, saved); // the undo of the unlink
  expect(pm.linked(node, 0)?.ptr).toBe(child!.ptr);
  expect(thrown(() => child!.free())).toBeInstanceOf(PMEMRootError);
  expect(pm.allocations({ unreachable: true })).toEqual([]);
});
