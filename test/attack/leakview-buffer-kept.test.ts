/**
 * The leak watch (leakReport) follows what can still free an allocation. Found by attack20: it
 * followed the handle and the views handed out, so a program that kept only `bytes.buffer`, a view
 * of its own over it, or a subarray, got the report "garbage-collected ... it can no longer be
 * freed through a handle or a view of it", though deallocate(new Uint8Array(buffer)) still freed
 * it. The watch now follows the views' buffer, which the pool holds weakly under leakReport. An
 * allocation with nothing left is still reported. In a child process (it forces collections and
 * reads stderr), with the switch as a pool option and from MEMORY_POOL_DEBUG.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const [how, args, env] of [
  ["the pool option", ["option"], {}],
  ["MEMORY_POOL_DEBUG", [], { MEMORY_POOL_DEBUG: "leakReport" }],
] as const) {
  test(`with leakReport from ${how}, an allocation kept through its buffer or a subarray is no leak, and frees through them`, async () => {
    const run = await runBun(attackFixture("leakview-child.ts"), [...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    expect(run.stderr).not.toContain("error:");
    expect(run.exitCode).toBe(0);
    const { ids, freed, innerRefused, lostLive } = JSON.parse(run.stdout) as {
      ids: Record<string, number>;
      freed: Record<string, boolean>;
      innerRefused: string;
      lostLive: boolean;
    };
    const reported = [...run.stderr.matchAll(/leak: allocation #(\d+) .*garbage-collected/g)].map((match) => Number(match[1]));
    expect(reported).toEqual([ids.lost!]);
    expect(lostLive).toBe(true);
    expect(freed).toEqual({ buffer: true, whole: true, head: true, inner: true });
    // A subarray further in is no pointer the pool gave out; its buffer is what frees it.
    expect(innerRefused).toBe("InvalidPointerError");
    expect(run.stderr).not.toContain("leak report for pool"); // all freed: nothing left for the exit report
  });
}
