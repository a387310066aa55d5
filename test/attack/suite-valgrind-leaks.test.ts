/**
 * Valgrind memcheck's leak-kind tests (memcheck/tests/leak-cases.c: blocks reachable directly,
 * through an interior pointer only, and by nothing; leak-cycle.c: blocks that reach only each
 * other; the VALGRIND_COUNT_LEAKS client request), read and retold for this library's leak watch
 * (leakReport: an allocation is reported when the last thing of this thread that could free it is
 * garbage-collected, and getLeaks() marks it `collected`, memcheck's "definitely lost"). In a child
 * process (it forces collections and reads stderr):
 * - still reachable, never reported: a handle kept; only its `bytes` view kept; only an `as(T)`
 *   view kept; a handle from fromPointer kept; the helpers' arrays, allocate(Int32Array, n) and
 *   allocate(n), kept and later freed by deallocate(array), as the README shows them;
 * - definitely lost, reported once each and marked collected: a handle dropped; a handle dropped
 *   with the views it made; a helper's array dropped; two handles whose holders reach only each other;
 * - possibly lost (memcheck's interior pointer, reported by default there too): only a subarray of
 *   the view kept, which frees nothing: reported;
 * - a bare pointer (allocateRaw) is never reported as collected (no handle to follow, as memcheck
 *   cannot follow an address kept in an integer) and the exit report names it, and only it;
 * - the counts agree (VALGRIND_COUNT_LEAKS): getLeaks()'s collected ids are the history's "leak"
 *   events and the reports on stderr; everything still reachable frees through what was kept.
 * Found: the watch followed only the handle, so an allocation kept by its view alone was reported
 * lost when the handle was collected ("it can no longer be freed through its handle") although
 * deallocate(view) freed it: with MEMORY_POOL_DEBUG=leakReport every array of the seed's helpers,
 * allocate(Int32Array, 100) then deallocate(array), was reported as a leak. The views a handle
 * hands out (bytes, as) are now followed too (src/allocation.ts #madeView, DebugTracker.viewMade).
 * Differs by design: a view made from a handed-out view (subarray, new T(view.buffer)) is not
 * followed, so memcheck's "possibly lost" is a report here, and window views (windowBytes) are not
 * followed (the pool keeps them for reuse, and they outlive their allocation by design).
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("memcheck's leak kinds: reachable by handle or view never reported; lost, cycles and interior-only reported once", async () => {
  const run = await runBun(attackFixture("suite-valgrind-leaks-child.ts"), [], { env: { ...process.env, MEMORY_POOL_DEBUG: "leakReport" }, timeout: 60_000 });
  expect(run.stderr).not.toContain("Error");
  expect(run.exitCode).toBe(0);
  const out = JSON.parse(run.stdout) as {
    reachable: Record<string, number>;
    helperReachable: number[];
    lost: number[];
    lostHelper: number;
    interiorId: number;
    rawId: number;
    seen: { collected: number[]; leakEvents: number[]; helperCollected: number[] };
    left: number[];
  };
  const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
  const reports = (poolName: string) => [...run.stderr.matchAll(/leak: allocation #(\d+) \(\d+ bytes at 0x[0-9a-f]+, pool '([^']+)'\) was garbage-collected/g)].filter((m) => m[2] === poolName).map((m) => Number(m[1]));

  const lostHere = sorted([...out.lost, out.interiorId]);
  expect(sorted(out.seen.collected)).toEqual(lostHere);
  expect(sorted(out.seen.leakEvents)).toEqual(lostHere);
  expect(sorted(reports("valgrind-leaks"))).toEqual(lostHere);
  expect(out.seen.helperCollected).toEqual([out.lostHelper]);
  expect(reports("default_cpu_pool")).toEqual([out.lostHelper]);
  for (const id of [...Object.values(out.reachable), out.rawId]) expect(lostHere).not.toContain(id);
  for (const id of out.helperReachable) expect(id).not.toBe(out.lostHelper);
  expect(run.stderr).toContain("it can no longer be freed through a handle or a view of it");

  // The bare pointer: live at exit, named by the exit report, alone.
  expect(out.left).toEqual([out.rawId]);
  const exitReport = /leak report for pool 'valgrind-leaks' \(process exit\): (\d+) allocation/.exec(run.stderr);
  expect(exitReport?.[1]).toBe("1");
  expect(run.stderr).toMatch(new RegExp(`\\n {2}#${out.rawId}: 96 bytes at 0x`));
  expect(run.stderr).not.toContain("leak report for pool 'default_cpu_pool'");
});
