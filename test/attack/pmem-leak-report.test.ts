/**
 * Leak reports of PMEM pools (PoolConfig.DebugPMEM turns leakReport on). Found by attacking main:
 * closing a pool reported every published allocation, its persistent data, as a leak, and a
 * published allocation whose handle was garbage-collected was reported as lost ("it can no longer
 * be freed through its handle"), though roots, links and allocations() find it again. The report
 * now lists what no root or link reaches: unpublished allocations (lost at close), committed ones
 * no root reaches and ones whose root was removed (left in the file). In a child process.
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

test("a PMEM pool's leak report lists what no root reaches, not its published data", async () => {
  const run = await runChild("../../fixtures/attack/pmem-leaks-child.ts", [poolPath("attack-leaks")]);
  expect(run.exitCode).toBe(0);
  const { published, unreachable } = JSON.parse(run.stdout) as { published: number[]; unreachable: number[] };
  expect(run.stderr).not.toContain("garbage-collected");
  expect(run.stderr).toContain("leak report for pool 'attack-pmem-leaks' (destroyPool): 3 allocations still live, 120 B");
  const reported = [...run.stderr.matchAll(/^ {2}#(\d+):/gm)].map((match) => Number(match[1]));
  expect(reported.sort()).toEqual([...unreachable].sort());
  for (const id of published) expect(reported).not.toContain(id);
});
