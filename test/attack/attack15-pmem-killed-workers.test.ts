/**
 * A PMEM pool's process killed with SIGKILL at random instants while it publishes new versions of
 * its roots (allocate, stamp, persist, setRoot with freePrevious, with unpublished allocations and
 * a second root replaced between): from the main thread of a threadSafety "none" pool, and
 * from four Workers at once on a "mutex" Variable one and on a "lockFree" FixedSize one (blocks
 * of 512 B). A chain of kills on one file, each run continuing on what
 * the last left; after each, the reopened pool must hold each Worker's root at one whole version
 * (its header and every byte of its stamp), no live allocation that no root publishes, statistics
 * equal to the published allocations (count and bytes), and allocate and free again. Attacked in
 * session 6 and held.
 */
import { afterAll, expect, test } from "bun:test";
import { killAtRandom, poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

const KILLS = 4;

async function opens(threadSafety: string): Promise<boolean> {
  const path = poolPath(`attack15-opens-${threadSafety}`);
  const run = await runChild("attack15_killed_child.ts", ["check", path, threadSafety]);
  return run.exitCode === 0;
}

for (const [threadSafety, workers] of [["none", 0], ["mutex", 4], ["lockFree", 4]] as const) {
  test(`threadSafety "${threadSafety}", ${workers || "no"} Workers: ${KILLS} SIGKILLs mid-publish leave only whole published versions`, async () => {
    expect(await opens(threadSafety)).toBe(true); // "lockFree" on a FixedSize pool (the child's shape for it)
    const path = poolPath(`attack15-killed-${threadSafety}`);
    let versions = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const killed = await killAtRandom("attack15_killed_child.ts", ["churn", path, threadSafety, String(workers)], 150);
      expect(killed.stderr).toBe("");
      expect(killed.signalCode).toBe("SIGKILL");
      const check = await runChild("attack15_killed_child.ts", ["check", path, threadSafety]);
      expect(check.stderr).toBe("");
      expect(check.exitCode).toBe(0);
      const found = JSON.parse(check.stdout);
      expect(found.problems).toEqual([]);
      expect(found.unpublished).toEqual([]);
      expect(found.stats).toEqual({ live: found.roots, inUse: found.publishedBytes });
      expect(found.after).toEqual(found.stats);
      for (const version of Object.values(found.versions as Record<string, number>)) expect(version).toBeGreaterThanOrEqual(1);
      versions += Object.keys(found.versions).length;
    }
    expect(versions).toBeGreaterThanOrEqual(KILLS); // the kills fell mid-churn, with roots published
  }, 60_000);
}
