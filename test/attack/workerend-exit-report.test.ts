/**
 * The exit-time leak report checks the canaries and quarantine as destroy() and reset() do. Found
 * this session: a canaries pool whose allocation was overrun and never freed was reported as
 * leaked, and the overrun went unsaid (no destroy came to check it). In a child process, which
 * ends without destroying its pool: the main thread's at process exit, a Worker's "none" pool
 * at Worker exit.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

for (const [where, name, when] of [["main", "workerend-main", "process exit"], ["worker", "workerend-worker", "Worker exit"]] as const) {
  test(`${where}: the exit report says a leaked allocation's overrun canary, after its leak`, async () => {
    const run = await runBun(attackFixture("workerend-exit-damage-child.ts"), [where, "overrun"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain(`leak report for pool '${name}' (${when}): 1 allocation still live, 48 B`);
    expect(run.stderr).toMatch(new RegExp(`bun-memory-pool: damage found in pool '${name}' \\(${when}\\): BoundaryViolationError: buffer overflow: allocation #1 \\(48 bytes at 0x[0-9a-f]+, pool '${name}'\\) was written 1 byte past its end`));
    expect(run.stderr.indexOf("leak report")).toBeLessThan(run.stderr.indexOf("damage found"));
  });

  test(`${where}: an intact pool's exit report says its leak and no damage`, async () => {
    const run = await runBun(attackFixture("workerend-exit-damage-child.ts"), [where, "clean"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain(`leak report for pool '${name}' (${when}): 1 allocation still live, 48 B`);
    expect(run.stderr).not.toContain("damage");
  });
}
