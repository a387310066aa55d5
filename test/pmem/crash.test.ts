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
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { checkRecovered, emptyModel, type Model } from "./crash_check";
import { inBatches, killAtRandom, poolPath, removePoolFiles, runChild } from "./helpers";

afterAll(removePoolFiles);

const SWEEP_OPERATIONS = 40;
const SWEEP_SEEDS = [11, 23];
const STRATEGIES = ["Variable", "FixedSize"] as const;

/** Barriers the fixed workload passes when nothing kills it. */
async function barrierCount(strategy: string, seed: number): Promise<number> {
  const path = poolPath(`count-${strategy}`);
  const run = await runChild("workload.ts", [path, strategy, String(seed), String(SWEEP_OPERATIONS)], { MEMORY_POOL_CRASH_AT: "0" });
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
    for (const strategy of STRATEGIES) for (const seed of SWEEP_SEEDS) {
      test(`${strategy}: every barrier of a ${SWEEP_OPERATIONS}-operation workload (seed ${seed})`, async () => {
        const total = await barrierCount(strategy, seed);
        expect(total).toBeGreaterThan(SWEEP_OPERATIONS);
        const outcomes = await inBatches(
          Array.from({ length: total + 1 }, (_, index) => async () => {
            const crashAt = index + 1; // total + 1: the run that finishes
            const path = poolPath(`sweep-${mode}-${strategy}`);
            const run = await runChild("workload.ts", [path, strategy, String(seed), String(SWEEP_OPERATIONS)], {
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
            checkRecovered(path, strategy, emptyModel(), run.stdout, true);
          } catch (err) {
            throw new Error(`${mode} crash at barrier ${crashAt} of ${total} (${strategy}): ${(err as Error).message}\nlog:\n${run.stdout}`);
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

  test(`${CHAINS * KILLS_PER_CHAIN} kills over ${CHAINS} chains of runs on the same files`, async () => {
    const chains = Array.from({ length: CHAINS }, (_, chain) => async () => {
      const strategy = STRATEGIES[chain % 2]!;
      const path = poolPath(`random-${chain}`);
      let model: Model = emptyModel();
      for (let round = 0; round < KILLS_PER_CHAIN; round++) {
        const { stdout, stderr, signalCode } = await killAtRandom("workload.ts", [path, strategy, String(chain * 1000 + round + 1), "0"], 30);
        expect(stderr).toBe("");
        expect(signalCode).toBe("SIGKILL");
        randomKills++;
        if (!existsSync(path)) {
          expect(stdout).not.toContain("ready");
          continue;
        }
        try {
          model = checkRecovered(path, strategy, model, stdout, round === KILLS_PER_CHAIN - 1);
        } catch (err) {
          throw new Error(`chain ${chain} (${strategy}) round ${round}: ${(err as Error).message}\nlog tail:\n${stdout.slice(-2000)}`);
        }
      }
    });
    await inBatches(chains, CHAINS);
    expect(randomKills).toBe(CHAINS * KILLS_PER_CHAIN);
  }, 180_000);
});

afterAll(() => {
  console.log(`crash tests: ${barriersSwept} barrier crashes checked, ${randomKills} random SIGKILLs`);
});
