/**
 * Window views in a pool with sampled guard pages. Its unguarded allocations have window views
 * (windowBytes()), and a window spans a MiB or more of the pool: the guard pages of guarded
 * neighbours among it. Found by attacking main: structuredClone(view) or view.buffer.slice() of a
 * plain allocation's window view killed the process with SIGSEGV, reported as "heap buffer overflow:
 * 1 byte past the end of allocation #3", an allocation the caller never touched. Such a pool's
 * windowBytes() is now the exact view `.bytes` gives (a buffer of the block's own, made anew each call
 * and detached when the allocation ends). In a child process: a fault fails.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("an unguarded allocation's window view in a guard-page pool reads whole without reaching a guard page", async () => {
  const child = await runBun(attackFixture("attack13-guard-window-child.ts"));
  const { stdout, stderr } = child;
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  const seen = JSON.parse(stdout);
  expect(seen.guardedCount).toBeGreaterThan(100); // one in two guarded: the view's neighbours have guard pages
  expect(seen).toMatchObject({ again: false, bufferBytes: 16 << 10, cloneBytes: 16 << 10, sliceSum: 7 * (16 << 10), first: 7, written: 9, freed: true, live: 599 });
});
