/**
 * windowBytes() on a pool with guard pages. An unguarded allocation's window view spanned the guard
 * pages of the blocks around it: `new Uint8Array(view.buffer).slice()` of a 3 MiB allocation's view,
 * after some 200 small ones with guardSampleRate 2, was a segmentation fault. A pool with guard pages
 * gives no window views now: windowBytes() is the exact view `bytes` gives, guarded or not, which
 * reads whole and is detached when its allocation ends. In a child process: a fault fails.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("windowBytes() on a guard-page pool reads whole: a buffer over exactly the allocation, guarded or not", async () => {
  const child = await runBun(attackFixture("internals-guard-windows-child.ts"));
  const { stdout, stderr } = child;
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  const { seen, detachedAfterFree } = JSON.parse(stdout) as { seen: { guarded: boolean; size: number; buffer: number; last: number; byteOffset: number }[]; detachedAfterFree: boolean };
  // Both kinds were there (one in 2 guarded), small and large.
  expect(new Set(seen.map((one) => one.guarded))).toEqual(new Set([true, false]));
  expect(new Set(seen.filter((one) => !one.guarded).map((one) => one.size))).toContain(3 << 20);
  for (const one of seen) expect(one).toEqual({ guarded: one.guarded, size: one.size, buffer: one.size, last: 9, byteOffset: 0 });
  expect(detachedAfterFree).toBe(true);
});
