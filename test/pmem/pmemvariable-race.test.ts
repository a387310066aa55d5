/**
 * A publication racing a free of the same block from another Worker, on Variable PMEM pools placed
 * without the pool's lock: each block ends free whichever comes first, and the file opens again
 * with no allocation in it (a publication that wrote its record after the block's free, or into a
 * slot the free gave back, would leave a record of free space: a leak, or two records of the same
 * space that the next open refuses). A Variable block's record slot is chosen as it is placed, so
 * the publication claims the block first (zig/src/pmem/shared_journal.zig). FixedSize pools are
 * not run here: their unpublished frees take no lock at all, so such a race can leave the record
 * of a freed block (a leak, never two records of one space: a block's record is its own slot),
 * the caller's race as shared_journal.zig says. The Workers run in a child process, so a crash
 * fails the test.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "./helpers";
import type { ThreadMode } from "./thread_modes";

afterAll(removePoolFiles);
const BLOCKS = 3000;
const MODES: ThreadMode[] = ["lockFree", "threadLocalCache", "lockFreeCache"];

describe.each(["Variable"] as const)("%s", (strategy) => {
  test.each(MODES)(`threadSafety %s: ${BLOCKS} publications, each racing the block's free; every block ends free, in the file too`, async (mode) => {
    const run = await runChild("pmemvariable_race_child.ts", [poolPath(`race-${strategy}-${mode}`), mode, strategy, String(BLOCKS)]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    const { reports, running, reopened } = JSON.parse(run.stdout) as {
      reports: { error?: string; published?: number; refused?: number; freed?: number }[];
      running: { live: number; allocations: number; frees: number; bytesInUse: number; free: number; reserved: number };
      reopened: { found: number; live: number; free: number; reserved: number };
    };
    const [publisher, freer] = reports;
    expect(publisher!.error).toBeUndefined();
    expect(freer!.error).toBeUndefined();
    expect(publisher!.published! + publisher!.refused!).toBe(BLOCKS);
    expect(freer!.freed).toBe(BLOCKS);
    expect(running).toMatchObject({ live: 0, allocations: BLOCKS, frees: BLOCKS, bytesInUse: 0 });
    expect(running.free).toBe(running.reserved);
    expect(reopened).toMatchObject({ found: 0, live: 0 });
    expect(reopened.free).toBe(reopened.reserved);
  }, 60_000);
});
