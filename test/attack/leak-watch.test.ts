/**
 * The leak watch (leakReport: a handle collected while its allocation is live) with more than one
 * handle of an allocation. Found by attacking main: it followed only the handle pool.allocate()
 * made, so when that one was collected while a handle from pool.fromPointer() still held the
 * allocation (and later freed it), it reported a leak, "it can no longer be freed through its
 * handle". It now counts this thread's handles and reports when the last goes; an allocation that
 * lives by its pointer (allocateRaw) is still not watched through a handle adopted for a while.
 * In a child process (it forces collections and reads stderr).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("a leak is reported when the last handle of an allocation is collected, not the first", async () => {
  const run = await runChild("../../fixtures/attack/leak-watch-child.ts", []);
  expect(run.exitCode).toBe(0);
  const { keptId, lostId, rawId } = JSON.parse(run.stdout) as { keptId: number; lostId: number; rawId: number };
  const reported = [...run.stderr.matchAll(/leak: allocation #(\d+) /g)].map((match) => Number(match[1]));
  expect(reported).toEqual([lostId]);
  expect(reported).not.toContain(keptId);
  expect(reported).not.toContain(rawId);
});
