/**
 * Nothing leaks at a crash: the documented write patterns (fixtures/patterns.ts: the copy-on-write
 * update of a root, and a persistent linked list whose nodes are published by their links) are
 * killed at every persist barrier (a kill, and a simulated power loss where only flushed and drained
 * lines survive), and at random instants over chains of runs that each continue on the file the
 * previous one left. After every recovery: at most the two versions the loop holds are live (in
 * fact only what the root reaches: nothing is unreachable), the published data is intact and is the
 * last committed step or the one in flight, and nothing piles up over hundreds of crashes.
 *
 * More random kills (default 200): PMEM_PATTERN_KILLS=2000 bun test test/pmem/patterns.test.ts
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { MemoryPoolManager, type Allocation, type PMEMMemoryPool } from "../../src/index";
import { LIST_MAX, PAYLOAD_AT, patternTag } from "./fixtures/patterns";
import { inBatches, killAtRandom, pmemConfig, poolPath, removePoolFiles, runChild } from "./helpers";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);

type Strategy = "Variable" | "FixedSize";
type Pattern = "cow" | "list";
const STRATEGIES: Strategy[] = ["Variable", "FixedSize"];
const PATTERNS: Pattern[] = ["cow", "list"];
const SWEEP_ITERATIONS = 4;
const RANDOM_KILLS = Math.max(200, Number(process.env.PMEM_PATTERN_KILLS ?? 200));
const manager = MemoryPoolManager.getInstance();
let checks = 0;

/** The tag the run's log says was committed last (or `before`), and the one in flight, if any. */
function readLog(stdout: string, step: string, before: number): { committed: number; inFlight?: number } {
  let committed = before;
  let inFlight: number | undefined;
  for (const line of stdout.split("\n")) {
    const [first, second, third] = line.split(" ");
    if (first === ">" && second === step) inFlight = Number(third);
    if (first === step) {
      committed = Number(second);
      inFlight = undefined;
    }
  }
  return { committed, inFlight };
}

/** The list's nodes, newest first, from the holder the root "list" publishes. */
function walk(pool: PMEMMemoryPool): Allocation[] {
  const holder = pool.getRoot("list");
  const nodes: Allocation[] = [];
  if (holder === undefined) return nodes;
  for (let node = pool.linked(holder, 0); node !== undefined; node = pool.linked(node, 0)) {
    nodes.push(node);
    if (nodes.length > LIST_MAX) throw new Error(`the list holds more than ${LIST_MAX} nodes`);
  }
  return nodes;
}

/**
 * Reopens the pool (recovering it) and checks it against the run's log; returns the tag published
 * now (0: none yet), which the next run of a chain starts from.
 */
function checkRecovered(path: string, strategy: Strategy, pattern: Pattern, stdout: string, before: number): number {
  const pool = manager.createPMEMPool(`pattern-check-${checks++}`, pmemConfig(path, { allocatorType: strategy, blockSize: 256 }));
  try {
    const live = pool.allocations();
    const unreachable = pool.allocations({ unreachable: true });
    if (unreachable.length > 0) throw new Error(`${unreachable.length} allocation(s) no root reaches: ${unreachable.map((a) => `${a.size} B at ${offsetOfAllocation(a)}`).join(", ")}`);
    expect(pool.getStats().liveAllocations).toBe(live.length);
    const { committed, inFlight } = readLog(stdout, pattern === "cow" ? "W" : "P", before);
    const allowed = [committed, ...(inFlight === undefined ? [] : [inFlight])];
    if (pattern === "cow") {
      expect(live.length).toBeLessThanOrEqual(2); // the versions the loop holds; in fact only the published one
      const doc = pool.getRoot("doc");
      expect(live.length).toBe(doc === undefined ? 0 : 1);
      const tag = doc === undefined ? 0 : patternTag(doc.bytes, PAYLOAD_AT.cow);
      if (!allowed.includes(tag)) throw new Error(`the published version has tag ${tag} (${tag < 0 ? "damaged" : "unexpected"}); the log allows ${allowed.join(" or ")}`);
      return tag;
    }
    const nodes = walk(pool);
    const tags = nodes.map((node) => patternTag(node.bytes, PAYLOAD_AT.list));
    if (tags.some((tag) => tag <= 0)) throw new Error(`a node lost its contents: tags ${tags.join(", ")}`);
    tags.forEach((tag, index) => index > 0 && expect(tag).toBe(tags[index - 1]! - 1)); // consecutive pushes, none lost
    expect(live.length).toBe(nodes.length + (pool.getRoot("list") === undefined ? 0 : 1)); // the nodes and their holder
    expect(nodes.length).toBeGreaterThanOrEqual(Math.min(LIST_MAX - 1, tags[0] ?? 0)); // trimmed only to make room
    const head = tags[0] ?? 0;
    if (!allowed.includes(head)) throw new Error(`the list's head has tag ${head}; the log allows ${allowed.join(" or ")}`);
    return head;
  } finally {
    pool.close();
  }
}

let barriersSwept = 0;
let randomKills = 0;

for (const mode of ["kill", "power"] as const) {
  describe(`the documented patterns, crashed at every persist barrier (${mode})`, () => {
    for (const pattern of PATTERNS) for (const strategy of STRATEGIES) {
      test(`${pattern}, ${strategy}: every barrier of ${SWEEP_ITERATIONS} iterations`, async () => {
        const args = (path: string) => [path, strategy, pattern, String(SWEEP_ITERATIONS), "7"];
        const counted = await runChild("patterns.ts", args(poolPath(`count-${pattern}`)), { MEMORY_POOL_CRASH_AT: "0" });
        expect(counted.stderr).toBe("");
        const total = Number(/^done (\d+)$/m.exec(counted.stdout)?.[1]);
        expect(total).toBeGreaterThan(SWEEP_ITERATIONS * 2);
        const outcomes = await inBatches(
          Array.from({ length: total + 1 }, (_, index) => async () => {
            const path = poolPath(`sweep-${mode}-${pattern}-${strategy}`);
            const run = await runChild("patterns.ts", args(path), { MEMORY_POOL_CRASH_AT: String(index + 1), MEMORY_POOL_CRASH_MODE: mode });
            return { crashAt: index + 1, path, run };
          }),
          4,
        );
        for (const { crashAt, path, run } of outcomes) {
          expect(run.stderr).toBe("");
          expect({ crashAt, signal: run.signalCode }).toEqual({ crashAt, signal: crashAt <= total ? "SIGKILL" : null });
          if (!existsSync(path)) continue; // killed while creating the file: there is none
          try {
            checkRecovered(path, strategy, pattern, run.stdout, 0);
          } catch (err) {
            throw new Error(`${mode} crash at barrier ${crashAt} of ${total}: ${(err as Error).message}\nlog:\n${run.stdout}`);
          }
          barriersSwept++;
        }
      }, 120_000);
    }
  });
}

describe("the documented patterns, killed at random instants", () => {
  const chains = PATTERNS.flatMap((pattern) => STRATEGIES.map((strategy) => ({ pattern, strategy })));
  const perChain = Math.ceil(RANDOM_KILLS / chains.length);

  test(`${perChain * chains.length} SIGKILLs over ${chains.length} chains of runs on the same files`, async () => {
    const runs = chains.map(({ pattern, strategy }, chain) => async () => {
      const path = poolPath(`random-${pattern}-${strategy}`);
      let published = 0;
      for (let round = 0; round < perChain; round++) {
        const run = await killAtRandom("patterns.ts", [path, strategy, pattern, "0", String(chain * 10_000 + round + 1)], 25);
        expect(run.stderr).toBe("");
        expect(run.signalCode).toBe("SIGKILL");
        randomKills++;
        if (!existsSync(path)) continue;
        try {
          published = checkRecovered(path, strategy, pattern, run.stdout, published);
        } catch (err) {
          throw new Error(`${pattern} (${strategy}) round ${round}: ${(err as Error).message}\nlog tail:\n${run.stdout.slice(-1500)}`);
        }
      }
      expect(published).toBeGreaterThan(0); // the loops made progress
    });
    await inBatches(runs, chains.length);
    expect(randomKills).toBe(perChain * chains.length);
  }, 300_000);
});

afterAll(() => {
  console.log(`pattern crash tests: ${barriersSwept} barrier crashes checked, ${randomKills} random SIGKILLs`);
});
