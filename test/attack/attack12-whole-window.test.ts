/**
 * Reading a window view's whole window. The README says `Bun.write(view.buffer)` and
 * `Buffer.from(view.buffer)` take the whole window, a MiB or more of the pool's memory. Found by
 * attacking main: a window spans twice what its views reach, past the memory a pool had committed
 * (a pool of 1 MiB had windows of 2 MiB), into reserved, inaccessible address space:
 * structuredClone(view), view.buffer.slice() or a postMessage of it then killed the process with a
 * segmentation fault. The core's reservation now reads as zeros until committed, as memory it gave
 * back already did. (A pool with sampled guard pages cuts no window views from windows: see
 * attack13-guard-window.test.ts.) In a child process: a fault fails.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("whole windows are readable, past the committed memory too", async () => {
  const child = await runBun(attackFixture("attack12-whole-window-child.ts"));
  const { stdout, stderr } = child;
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  const seen = JSON.parse(stdout);
  expect(seen.smallWindow).toBeGreaterThan(seen.smallReserved); // past the committed memory, which reads as zeros
  expect(seen.smallReads).toEqual([seen.smallWindow, seen.smallWindow, true]);
  expect(seen.growingReads).toBe(true);
});
