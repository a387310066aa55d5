/**
 * A PMEM pool's blocks that the JavaScript bins handed out again at another size, published by each
 * route (setRoot, link, commitUnpublished), some of them freed after publication, then a crash
 * (SIGKILL, in a child process). Reopened: exactly the published blocks that were kept are live,
 * each with the size it was published at (not its block's first) and its bytes; nothing else is
 * live or leaked, and every other byte is free again.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig } from "../../src/index";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";
import { baseOf } from "../../src/pool";

afterAll(removePoolFiles);

test("published blocks from the bins survive a crash with their own sizes and bytes; nothing else stays", async () => {
  const path = poolPath("bins-publish");
  const child = await runChild("../../fixtures/attack/pmem-bins-publish-child.ts", [path]);
  expect(child.stderr).toBe("");
  expect(child.signalCode).toBe("SIGKILL");
  const seen = JSON.parse(child.stdout.trim()) as { kept: { offset: number; size: number; fill: number }[]; cachedBytes: number };
  expect(seen.cachedBytes).toBeGreaterThan(0); // the crash came with blocks in the bins
  using pool = MemoryPoolManager.getInstance().createPMEMPool("attack-bins-publish-reopened", Object.assign(new PoolConfig(), { pmemPoolPath: path }));
  const rootOffset = seen.kept[0]!.offset;
  // The root's first 16 bytes hold its two link words; every other byte is the fill written before publication.
  const live = pool.allocations().map((a) => {
    const offset = Number(a.ptr) - baseOf(pool);
    return { offset, size: a.size, bytes: [...new Set(a.bytes.subarray(offset === rootOffset ? 16 : 0))] };
  });
  expect(live.sort((a, b) => a.offset - b.offset)).toEqual(seen.kept.map(({ offset, size, fill }) => ({ offset, size, bytes: [fill] })).sort((a, b) => a.offset - b.offset));
  expect(pool.allocations({ unreachable: true }).map((a) => a.size)).toEqual([seen.kept[2]!.size]); // the committed one: no root or link reaches it
  const root = pool.getRoot("root")!;
  expect(root.size).toBe(seen.kept[0]!.size);
  expect(pool.linked(root, 0)!.size).toBe(seen.kept[1]!.size);
  expect(pool.linked(root, 8)).toBeUndefined();
  expect(pool.getRoot("gone")).toBeUndefined();
  const stats = pool.getStats();
  expect([stats.liveAllocations, stats.bytesInUse, stats.cachedBytes]).toEqual([3, seen.kept.reduce((sum, k) => sum + k.size, 0), 0]);
  // Nothing else holds a block: what is placed is the three kept, each in its size rounded to granules.
  expect(stats.bytesAllocated).toBe(seen.kept.reduce((sum, k) => sum + Math.ceil(k.size / 16) * 16, 0));
  expect(pool.snapshot().blocks.filter((block) => block.state === "live").length).toBe(3);
});
