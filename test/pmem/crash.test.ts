/**
 * Crash consistency, end to end: a child process runs a mixed workload on a pool file and dies;
 * this process reopens the file (which recovers it) and checks it against the child's log
 * (crash_check.ts). Three ways to die:
 *  - the core's crash test mode kills the child at the N-th persist barrier, for every N of a
 *    fixed workload (MEMORY_POOL_CRASH_AT=N);
 *  - the same sweep with simulated power loss (MEMORY_POOL_CRASH_MODE=power): only flushed and
 *    drained cache lines survive, so a missing flush or drain is found too;
 *  - SIGKILL at a random instant, 200 times, over chains of runs that each continue on the file
 *    the previous one left.
 * Each runs with threadSafety "none" for both strategies, and with the settings that place blocks
 * without the pool's lock ("lockFree", threadLocalCache: one seed and shorter chains each, for the
 * 2 cores the tests share): their recovery rebuilds the shared (FixedSize) or sharded (Variable)
 * placement from the same table (zig/src/pmem/shared_journal.zig).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { checkRecovered, emptyModel, type Model } from "./crash_check";
import { inBatches, killAtRandom, poolPath, removePoolFiles, runChild } from "./helpers";
import type { ThreadMode } from "./thread_modes";

afterAll(removePoolFiles);

const SWEEP_OPERATIONS = 40;
const STRATEGIES = ["Variable", "FixedSize"] as const;
type Strategy = (typeof STRATEGIES)[number];
/** What each sweep runs: both strategies without threads, twice; both under the lock-free settings, once each. */
const SWEEPS: { strategy: Strategy; seed: number; threads: ThreadMode }[] = [
  ...STRATEGIES.flatMap((strategy) => [11, 23].map((seed) => ({ strategy, seed, threads: "none" as const }))),
  // Both together ("lockFree" with threadLocalCache) run in the random kills below.
  ...STRATEGIES.flatMap((strategy) => (["lockFree", "threadLocalCache"] as const).map((threads) => ({ strategy, seed: 11, threads }))),
];

/** Barriers the fixed workload passes when nothing kills it. */
async function barrierCount(strategy: string, seed: number, threads: ThreadMode): Promise<number> {
  const path = poolPath(`count-${strategy}`);
  const run = await runChild("workload.ts", [path, strategy, String(seed), String(SWEEP_OPERATIONS), threads], { MEMORY_POOL_CRASH_AT: "0" });
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const match = /^done (\d+)$/m.exec(run.stdout);
  expect(match).not.toBeNull();
  return Number(match![1]);
}

let barriersSwept = 0;
let randomKills = 0;

for (const mode of ["kill", "power"] as const) {
  describe(`crash at every persist barrier (${mode})`, () => {
    for (const { strategy, seed, threads } of SWEEPS) {
      test(`${strategy}, threadSafety ${threads}: every barrier of a ${SWEEP_OPERATIONS}-operation workload (seed ${seed})`, async () => {
        const total = await barrierCount(strategy, seed, threads);
        expect(total).toBeGreaterThan(SWEEP_OPERATIONS);
        const outcomes = await inBatches(
          Array.from({ length: total + 1 }, (_, index) => async () => {
            const crashAt = index + 1; // total + 1: the run that finishes
            const path = poolPath(`sweep-${mode}-${strategy}`);
            const run = await runChild("workload.ts", [path, strategy, String(seed), String(SWEEP_OPERATIONS), threads], {
              MEMORY_POOL_CRASH_AT: String(crashAt),
              MEMORY_POOL_CRASH_MODE: mode,
            });
            return { crashAt, path, run };
          }),
          4,
        );
        for (const { crashAt, path, run } of outcomes) {
          if (crashAt <= total) {
            expect({ crashAt, signal: run.signalCode }).toEqual({ crashAt, signal: "SIGKILL" });
          } else {
            expect(run.exitCode).toBe(0);
          }
          if (!existsSync(path)) {
            // Killed while creating: the file is linked only once complete, so there is none.
            expect(run.stdout).not.toContain("ready");
            continue;
          }
          try {
            checkRecovered(path, strategy, emptyModel(), run.stdout, true, threads);
          } catch (err) {
            throw new Error(`${mode} crash at barrier ${crashAt} of ${total} (${strategy}, ${threads}): ${(err as Error).message}\nlog:\n${run.stdout}`);
          }
          barriersSwept++;
        }
      }, 120_000);
    }
  });
}

describe("random SIGKILLs during a mixed workload", () => {
  const CHAINS = 4;
  const KILLS_PER_CHAIN = 50;
  /** Chains of the pools placed without the lock: one per strategy and setting, shorter. */
  const THREADED: ThreadMode[] = ["lockFree", "threadLocalCache", "lockFreeCache"];
  const THREADED_KILLS = 20;

  /** `kills` runs on one file, each killed at a random instant, each recovery checked against the log. */
  async function chain(name: string, strategy: Strategy, threads: ThreadMode, seedBase: number, kills: number): Promise<void> {
    const path = poolPath(`random-${name}`);
    let model: Model = emptyModel();
    for (let round = 0; round < kills; round++) {
      const { stdout, stderr, signalCode } = await killAtRandom("workload.ts", [path, strategy, String(seedBase + round + 1), "0", threads], 30);
      expect(stderr).toBe("");
      expect(signalCode).toBe("SIGKILL");
      randomKills++;
      if (!existsSync(path)) {
        expect(stdout).not.toContain("ready");
        continue;
      }
      try {
        model = checkRecovered(path, strategy, model, stdout, round === kills - 1, threads);
      } catch (err) {
        throw new Error(`chain ${name} (${strategy}, ${threads}) round ${round}: ${(err as Error).message}\nlog tail:\n${stdout.slice(-2000)}`);
      }
    }
  }

  test(`${CHAINS * KILLS_PER_CHAIN} kills over ${CHAINS} chains of runs on the same files`, async () => {
    const before = randomKills;
    await inBatches(Array.from({ length: CHAINS }, (_, index) => () => chain(String(index), STRATEGIES[index % 2]!, "none", index * 1000, KILLS_PER_CHAIN)), CHAINS);
    expect(randomKills - before).toBe(CHAINS * KILLS_PER_CHAIN);
  }, 180_000);

  test.each(STRATEGIES)(`%s pools placed without the lock: ${THREADED_KILLS} kills for each of ${THREADED.join(", ")}`, async (strategy) => {
    const before = randomKills;
    const seedBase = strategy === "FixedSize" ? 50_000 : 70_000;
    await inBatches(THREADED.map((threads, index) => () => chain(`${strategy}-${threads}`, strategy, threads, seedBase + index * 1000, THREADED_KILLS)), THREADED.length);
    expect(randomKills - before).toBe(THREADED.length * THREADED_KILLS);
  }, 120_000);
});

afterAll(() => {
  console.log(`crash tests: ${barriersSwept} barrier crashes checked, ${randomKills} random SIGKILLs`);
});
