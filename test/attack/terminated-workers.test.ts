/**
 * Workers terminated mid-loop while they allocate and free on a shared FixedSize pool's JavaScript
 * caches (a block popped off a cache's stack but not yet marked live, or marked free but not yet
 * pushed, would be lost to every thread). Attacked here and held: after 12 rounds of two Workers
 * terminated at random instants, every block is live (their allocations, counted in the
 * statistics) or allocatable again, the ended Workers' caches hold nothing, and the counts balance.
 * In a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const threadSafety of ["lockFree", "mutex"]) {
  test(`${threadSafety} + threadLocalCache: Workers terminated mid-loop lose no block`, async () => {
    const child = await runBun(attackFixture("terminated-workers-child.ts"), [threadSafety]);
    const { stdout, stderr } = child;
    expect({ exitCode: child.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const figures = JSON.parse(stdout) as { blocks: number; live: number; inUse: number; cached: number; allocations: number; frees: number; allocatable: number };
    expect(figures.live).toBeGreaterThan(0); // the Workers were terminated holding blocks: the rounds hit them mid-loop
    expect(figures.cached).toBe(0); // their caches went back as their threads ended
    expect(figures.allocations - figures.frees).toBe(figures.live);
    expect(figures.allocatable).toBe(figures.blocks - figures.live); // none lost
  }, 30_000);
}
