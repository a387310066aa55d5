/**
 * trim() of a pool whose maxSize leaves its usable bytes on a commit unit's start (3 x 64 KiB + 1:
 * usable up to 192 KiB, reserved 256 KiB). Found by attacking main (attack16) with random
 * configurations: a last region of whole units that ended exactly at the usable end, uncut, was
 * taken for the region cut short there (Arena.committedGranules looked only at where it ended), so
 * trim() gave back a unit it never committed, counted twice its bytes off the committed figure,
 * and left a free range past the units the arena keeps: the next merge or regrowth indexed past
 * them and the process crashed (index out of bounds, Variable and FixedSize, every threadSafety).
 * A region is now the cut one only where committed units go on past its end. In a child process:
 * without the fix, it crashes.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

const UNIT = 64 * 1024;

test("fill, free and trim, twice, a pool whose last region ends at its usable end: exact figures, no crash", async () => {
  const run = await runBun(attackFixture("attack16-trim-at-max-size-child.ts"), [], { timeout: 60_000 });
  expect({ exitCode: run.exitCode, signal: run.signalCode, stderr: run.stderr }).toEqual({ exitCode: 0, signal: null, stderr: "" });
  const outcomes = JSON.parse(run.stdout) as Record<string, string[]>;
  expect(Object.keys(outcomes)).toHaveLength(6);
  for (const [label, seen] of Object.entries(outcomes)) {
    const round = [`filled: 3 regions, ${3 * UNIT} B`, `trimmed ${2 * UNIT} B: 1 region, ${UNIT} B`];
    expect(seen, label).toEqual([...round, ...round]);
  }
});
