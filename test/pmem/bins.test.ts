/**
 * A PMEM pool's JavaScript bins (src/size_bins.ts): a cached block is an unpublished, volatile
 * allocation, free after a crash; a block a root, link or commitUnpublished publishes leaves the bins,
 * so that its free goes through the journal (durable: a crash right after shows it freed), and the
 * record the publication writes carries the allocation's own size, not the block's first one.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles, runChild } from "./helpers";

afterAll(removePoolFiles);

test("a crash frees cached and unpublished blocks; a published block freed before it stays freed; a kept one has its last size", async () => {
  const path = poolPath("bins");
  const child = await runChild("bins_child.ts", [path]);
  expect(child.stderr).toBe("");
  expect(child.signalCode).toBe("SIGKILL");
  const seen = JSON.parse(child.stdout.trim()) as { reused: boolean; cachedBefore: number; cachedAfter: number; live: number[] };
  expect(seen.reused).toBe(true); // both blocks came back from the bins
  expect(seen.cachedAfter).toBe(seen.cachedBefore); // the published block's free did not go into the bins
  expect(seen.live).toEqual([90, 500]);
  const pool = MemoryPoolManager.getInstance().createPMEMPool("bins-reopened", pmemConfig(path));
  try {
    expect(pool.allocations().map((a) => a.size)).toEqual([90]);
    expect(pool.allocations()[0]!.bytes.every((byte) => byte === 7)).toBe(true);
  } finally {
    pool.close();
  }
});
