/**
 * Drawing arrays that claim more items than they hold. Found by attacking main: renderTimeline and
 * renderMemoryMap copy what they are given before checking it (so a getter cannot pass the check
 * and be drawn otherwise), and the copy walked every index an array claims: `new Array(2 ** 32 - 1)`,
 * a few bytes, ran for minutes (a hundred million holes took 9 s) before the check saw that its
 * first item was no event. An array with a hole is no data; the copy now refuses it at the first
 * hole with an InvalidSnapshotError. In a child process with a time limit: the hang is synchronous.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("arrays with holes, up to 2^32 - 1 items long, are refused at their first hole, at once", async () => {
  const child = await runBun(attackFixture("attack12-sparse-data-child.ts"), [], { timeout: 20_000 });
  const { stdout, stderr } = child;
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  expect(JSON.parse(stdout)).toEqual({
    timeline: "INVALID_SNAPSHOT: the history cannot be read as data: an array of 4294967295 items has a hole at index 0: data has none",
    timelineHoleAfterEvents: "INVALID_SNAPSHOT: the history cannot be read as data: an array of 5 items has a hole at index 2: data has none",
    blocks: "INVALID_SNAPSHOT: the snapshot cannot be read as data: an array of 4294967295 items has a hole at index 0: data has none",
    regions: "INVALID_SNAPSHOT: the snapshot cannot be read as data: an array of 2147483648 items has a hole at index 0: data has none",
    whole: "done",
  });
}, 30_000);
