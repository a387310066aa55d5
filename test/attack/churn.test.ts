/**
 * mimalloc-test-stress-style churn: three Workers allocate random sizes with random lifetimes,
 * stamp and check every block, and hand blocks to each other to free (cross-thread frees), while
 * the main thread resets, trims or reads the pool (statistics, leaks, snapshot and memory map),
 * then destroys it under them. Every mode of every kind of host pool; each run in a child
 * process, so a crash fails the test. Nothing may be damaged, every error must be typed, and the
 * destroy must end every Worker's churn with PoolNotFoundError.
 *
 * Not run: reset() under Workers on a guard-page pool. A Worker that writes to an allocation
 * another thread's reset() just freed touches a freed guarded page, and guard pages exist to stop
 * the process there (with a report naming the pool): that is their promise, not a defect.
 */
import { describe, expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";
import type { ChurnReport } from "../fixtures/attack/churn-worker";

const runs: [string, object, ("read" | "trim" | "reset")[]][] = [
  ["mutex, Variable", { threadSafety: "mutex" }, ["read", "trim", "reset"]],
  ["mutex, FixedSize", { threadSafety: "mutex", allocatorType: "FixedSize", blockSize: 256 }, ["reset"]],
  ["lockFree, FixedSize", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 256 }, ["read", "trim"]],
  ["lockFree, Variable (sharded)", { threadSafety: "lockFree" }, ["read", "trim", "reset"]],
  ["mutex + threadLocalCache, Variable", { threadSafety: "mutex", threadLocalCache: true }, ["read", "reset"]],
  ["lockFree + threadLocalCache, FixedSize", { threadSafety: "lockFree", threadLocalCache: true, allocatorType: "FixedSize", blockSize: 256 }, ["read", "trim"]],
  ["DebugCPU switches but guard pages", { threadSafety: "mutex", canaries: true, quarantineBytes: 256 << 10, trackHistory: true, safeViews: true, fillOnAlloc: 0xcd, fillOnFree: 0xde }, ["read", "reset"]],
  ["SampledGuardsCPU-like (guard pages on 1 in 50)", { threadSafety: "mutex", guardPages: true, guardSampleRate: 50 }, ["read", "trim"]],
];

describe("three Workers churn on a pool while the main thread acts on it, then destroys it", () => {
  for (const [name, config, actions] of runs) {
    for (const action of actions) {
      test(`${name}: ${action}`, async () => {
        const run = await runChild("../../fixtures/attack/churn-child.ts", [JSON.stringify(config), action, "150"]);
        expect(run.stderr).toBe("");
        expect(run.signalCode).toBeNull();
        expect(run.exitCode).toBe(0);
        const { reports, mine } = JSON.parse(run.stdout) as { reports: ChurnReport[]; mine: Record<string, number> };
        expect(reports).toHaveLength(3);
        for (const report of reports) {
          expect(report.wrong).toEqual([]);
          expect(report.codes.POOL_NOT_FOUND).toBe(1); // the destroy ended its churn
          expect(report.operations).toBeGreaterThan(0); // it churned (how much depends on the machine's load)
        }
        // Nothing the main thread does may fail (sharded Variable pools reset under the Workers too),
        // except what a debug pool's reset() must say: a Worker that stamps a block another reset
        // ended a moment before writes into quarantine (UseAfterFreeError) or over a newer block's
        // canary (BoundaryViolationError), and the next reset() checks what a free would before it
        // ends every allocation (it resets, then throws).
        const { BOUNDARY_VIOLATION: overruns = 0, USE_AFTER_FREE: writesAfterFree = 0, ...failed } = mine;
        expect(failed).toEqual({});
        if (!(action === "reset" && "canaries" in config)) expect({ overruns, writesAfterFree }).toEqual({ overruns: 0, writesAfterFree: 0 });
        if (action === "reset") expect(reports.some((report) => (report.codes.USE_AFTER_FREE ?? 0) > 0)).toBe(true); // the resets reached them
      }, 20_000);
    }
  }
});
