/**
 * Pools used from a Worker after another thread destroyed them, and other threads' threadSafety
 * "none" pools, for every kind and thread-safety mode: every call of the pool and of an
 * allocation gets the one typed error that says why (PoolNotFoundError, ThreadSafetyError), never
 * UseAfterFreeError or InvalidPointerError, and never a crash (each case runs in a child process).
 * Found by attacking main: a Worker's `allocation.bytes` on a destroyed CPU pool threw
 * UseAfterFreeError and `fromPointer` InvalidPointerError; a "none" pool let other threads read
 * its statistics and blocks while its owner changed them without a lock.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { gpuUnavailableReason } from "../../src/native";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

const noGPU = gpuUnavailableReason();
if (noGPU !== undefined) console.log(`[test/attack/threads] the pinned pool case skipped: ${noGPU}`);

afterAll(removePoolFiles);

const child = "../../fixtures/attack/threads-child.ts";
const calls = ["allocate", "allocateRaw", "getStats", "resetPeaks", "check", "getLeaks", "snapshot", "trim", "reset", "destroy"];

async function probe(mode: "destroyed" | "none", kind: "cpu" | "pinned" | "pmem", config: object): Promise<{ outcomes: Record<string, string>; ownerStillWorks: boolean }> {
  const args = [mode, kind, JSON.stringify(config), ...(kind === "pmem" ? [poolPath(`attack-${mode}`)] : [])];
  const run = await runChild(child, args);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  return JSON.parse(run.stdout);
}

const destroyedUnder: [string, "cpu" | "pmem", object][] = [
  ["CPU mutex Variable", "cpu", { threadSafety: "mutex" }],
  ["CPU mutex FixedSize", "cpu", { threadSafety: "mutex", allocatorType: "FixedSize", blockSize: 64 }],
  ["CPU lockFree FixedSize", "cpu", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 64 }],
  ["CPU lockFree Variable (sharded)", "cpu", { threadSafety: "lockFree" }],
  ["CPU mutex + threadLocalCache FixedSize", "cpu", { threadSafety: "mutex", threadLocalCache: true, allocatorType: "FixedSize", blockSize: 64 }],
  ["CPU lockFree + threadLocalCache Variable", "cpu", { threadSafety: "lockFree", threadLocalCache: true }],
  ["CPU DebugCPU-like (canaries, quarantine, history, safe views)", "cpu", { threadSafety: "mutex", canaries: true, quarantineBytes: 65536, trackHistory: true, safeViews: true, fillOnFree: 0xde }],
  ["CPU guard pages", "cpu", { threadSafety: "mutex", guardPages: true }],
  ["PMEM mutex", "pmem", { threadSafety: "mutex" }],
];

describe("a pool destroyed by another thread: every call in the Worker is PoolNotFoundError", () => {
  for (const [name, kind, config] of destroyedUnder) {
    test(name, async () => {
      const { outcomes } = await probe("destroyed", kind, config);
      for (const call of ["bytes", "as", "fromPointer", "fromPointer(bad)", "deallocate(ptr)", "free", ...calls]) {
        expect([call, outcomes[call]]).toEqual([call, "POOL_NOT_FOUND"]);
      }
      expect(outcomes.alive).toBe("false");
      expect(outcomes.oldView).toBe("0"); // the view made before reads zeros, never faults
      expect(outcomes.toJSON).toBe("destroyed");
      expect(outcomes["String(pool)"]).toEndWith(": destroyed");
      expect(outcomes.getStatsString).toStartWith("Memory pools: 0");
    });
  }
});

test.skipIf(noGPU !== undefined)("a pinned pool destroyed by another thread: PoolNotFoundError in the Worker, its old view reads zeros", async () => {
  const { outcomes } = await probe("destroyed", "pinned", { threadSafety: "mutex" });
  for (const call of ["bytes", "fromPointer", "deallocate(ptr)", "free", ...calls]) expect([call, outcomes[call]]).toEqual([call, "POOL_NOT_FOUND"]);
  expect(outcomes.oldView).toBe("0"); // the range stays mapped, as a CPU pool's (it was unmapped: the read faulted)
});

describe('another thread\'s threadSafety "none" pool: every call that reads or changes it is ThreadSafetyError', () => {
  const owned: [string, "cpu" | "pmem", object][] = [
    ["CPU Variable", "cpu", {}],
    ["CPU FixedSize", "cpu", { allocatorType: "FixedSize", blockSize: 64 }],
    ["CPU with canaries and history", "cpu", { canaries: true, trackHistory: true }],
    ["PMEM", "pmem", {}],
  ];
  for (const [name, kind, config] of owned) {
    test(name, async () => {
      const { outcomes, ownerStillWorks } = await probe("none", kind, config);
      for (const call of ["fromPointer", "fromPointer(bad)", "deallocate(ptr)", ...calls]) expect([call, outcomes[call]]).toEqual([call, "THREAD_SAFETY"]);
      // What tools read of every pool in the process names it, without the figures only its owner may read.
      expect(outcomes.toJSON).toBe("ownedByAnotherThread");
      expect(outcomes["String(pool)"]).toContain(`another thread's (threadSafety "none")`);
      expect(outcomes.getStatsString).toMatch(new RegExp(`^  attack-none-${kind} +${kind} +.+ +\\(threadSafety "none": another thread's\\)$`, "m"));
      expect(JSON.parse(outcomes["manager.toJSON"]!).pools[0].ownedByAnotherThread).toBe(true);
      expect(ownerStillWorks).toBe(true);
    });
  }
});
