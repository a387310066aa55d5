/**
 * A maxSize that ends on a commit unit's start: 65537 bytes, whose whole granules end at 64 KiB
 * while the reservation (maxSize rounded up to 64 KiB) runs to 128 KiB. Found by attacking main
 * (attack16) with random configurations; two crashes of the core, in every threadSafety:
 * - a Variable pool that grew committed a region at 64 KiB cut to no granules at maxSize and
 *   handed it to TLSF, whose free lists assert on a block of size 0 (any Variable pool whose
 *   regions reach maxSize on a unit's start: maxSize 1048577 with initialSize 16 did the same);
 * - a FixedSize pool whose first region spans both units but is cut at 64 KiB made the walk of
 *   growForReleasing (a full pool at maxSize looks for empty regions to give back) see that
 *   region end before the unit it also holds, and assert.
 * The arena now grows no region that would start at or past its usable bytes (the pool is then at
 * its maxSize: OutOfMemoryError), and its walk counts a cut region's units by what it commits.
 * In a child process: without the fix, it crashes.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("pools whose maxSize ends on a unit's start fill to it with OutOfMemoryError, twice, in every threadSafety", async () => {
  const run = await runBun(attackFixture("attack16-unit-max-size-child.ts"), [], { timeout: 60_000 });
  expect({ exitCode: run.exitCode, signal: run.signalCode, stderr: run.stderr }).toEqual({ exitCode: 0, signal: null, stderr: "" });
  const outcomes = JSON.parse(run.stdout) as Record<string, { rounds: string[]; bytesInUse: number; liveAllocations: number }>;
  expect(Object.keys(outcomes)).toHaveLength(6);
  for (const [label, outcome] of Object.entries(outcomes)) {
    // 64 KiB of 1000-byte requests (Variable: 1008-byte blocks) or of 4096-byte blocks.
    const held = label.startsWith("Variable") ? 65 : 16;
    const round = `${held} held, then OutOfMemoryError; within maxSize`;
    expect(outcome, label).toEqual({ rounds: [round, round], bytesInUse: 0, liveAllocations: 0 });
  }
});
