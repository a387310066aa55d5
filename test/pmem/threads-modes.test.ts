/**
 * PMEM pools placed without the pool's lock (threadSafety "lockFree", threadLocalCache, both:
 * zig/src/pmem/shared_journal.zig; FixedSize pools on the shared fixed-size placement, Variable
 * pools on the sharded one), used by several Workers at once: what they publish is there, intact,
 * after the file is opened again, what they freed or never published is not, the statistics
 * balance once their caches went back, and a pool closed under them gives PoolNotFoundError, never
 * a crash. The Workers run in a child process, so a crash fails the test instead of ending the run.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { ConfigError, MemoryPoolManager, PMEMRootError } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles, runChild } from "./helpers";
import { THREAD_MODES, type ThreadMode } from "./thread_modes";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);

const MODES: ThreadMode[] = ["lockFree", "threadLocalCache", "lockFreeCache"];
const STRATEGIES = ["FixedSize", "Variable"] as const;
type Strategy = (typeof STRATEGIES)[number];
/** The bytes a block of `size` takes: a 64-byte block (publish_child.ts), or its 16-byte granules. */
const blockBytes = (strategy: Strategy, size: number) => (strategy === "FixedSize" ? 64 : Math.ceil(size / 16) * 16);
const WORKERS = 3;
const ROUNDS = 150;
const KEEP = 4; // publish_worker.ts keeps this many committed blocks

interface Live {
  offset: number;
  size: number;
  tag: number;
  intact: boolean;
}
interface State {
  stats: { live: number; allocations: number; frees: number; bytesInUse: number; cached: number; free: number; allocated: number; reserved: number };
  live: Live[];
  unreachable: number[];
  roots: Record<string, number>;
}
interface Report {
  error?: string;
  root: { name: string; tag: number };
  kept: { offset: number; tag: number }[];
  draftsFreed: number;
  publishedFreed: number;
}

describe.each(STRATEGIES.flatMap((strategy) => MODES.map((mode) => [strategy, mode] as const)))("%s, threadSafety %s", (strategy, mode) => {
  test("Workers allocate, publish and free at once: what they published is there and intact after reopening, nothing else; the statistics balance", async () => {
    const run = await runChild("publish_child.ts", [poolPath(`publish-${strategy}-${mode}`), mode, String(WORKERS), String(ROUNDS), strategy]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    const { reports, running, reopened } = JSON.parse(run.stdout) as { reports: Report[]; running: State; reopened: State };
    for (const report of reports) expect(report.error).toBeUndefined();
    // What each Worker left published: its root's last version and its last KEEP committed blocks.
    const expectedRoots = Object.fromEntries(reports.map((report, index) => [`w${index}`, index * 1_000_000 + ROUNDS]));
    const keptOffsets = reports.flatMap((report) => report.kept.map((kept) => kept.offset)).sort((a, b) => a - b);
    expect(reports.every((report) => report.kept.length === KEEP && report.draftsFreed === ROUNDS)).toBe(true);
    expect(reports.every((report) => report.publishedFreed === Math.ceil(ROUNDS / 3) - KEEP)).toBe(true);
    for (const state of [running, reopened]) {
      expect(state.roots).toEqual(expectedRoots);
      expect(state.live).toHaveLength(WORKERS * (1 + KEEP));
      expect(state.live.every((live) => live.intact)).toBe(true);
      expect([...state.unreachable].sort((a, b) => a - b)).toEqual(keptOffsets);
      // The statistics: the counts as the allocations hold them, every block live or free.
      expect(state.stats.live).toBe(state.live.length);
      expect(state.stats.allocations - state.stats.frees).toBe(state.stats.live);
      expect(state.stats.bytesInUse).toBe(state.live.reduce((sum, live) => sum + live.size, 0));
      expect(state.stats.allocated).toBe(state.live.reduce((sum, live) => sum + blockBytes(strategy, live.size), 0));
      expect(state.stats.free + state.stats.allocated).toBe(state.stats.reserved);
      expect(state.stats.cached).toBe(0); // the Workers' caches went back as they ended
    }
    expect(reopened.live).toEqual(running.live);
    // Every allocation and free was counted: each round allocates a draft and a version, every third a committed block.
    expect(running.stats.allocations).toBe(WORKERS * (2 * ROUNDS + Math.ceil(ROUNDS / 3)));
  }, 60_000);

  test("a pool closed in one Worker while others allocate, persist and free: PoolNotFoundError there, no crash", async () => {
    const rounds = 4;
    const run = await runChild("threads_child.ts", ["close", poolPath(`threads-close-${strategy}-${mode}`), String(WORKERS), String(rounds), mode, strategy]);
    expect(run.stderr).toBe("");
    expect(run.signalCode).toBeNull();
    expect(run.exitCode).toBe(0);
    const results = JSON.parse(run.stdout) as { closing: unknown; churned: { name: string; rounds: number; viewByte: number }[]; afterClose: string }[];
    expect(results).toHaveLength(rounds);
    for (const result of results) {
      expect(result.closing).toEqual({ closed: true });
      expect(result.churned).toHaveLength(WORKERS);
      for (const outcome of result.churned) {
        expect(outcome.name).toBe("PoolNotFoundError");
        expect(outcome.rounds).toBeGreaterThan(0);
        expect(outcome.viewByte).toBe(0);
      }
      expect(result.afterClose).toBe("PoolNotFoundError");
    }
  }, 60_000);
});

test("a PMEM pool of either strategy takes threadSafety \"lockFree\" and threadLocalCache, and refuses threadLocalCache without a lock, naming the field, before it makes a file", () => {
  const manager = MemoryPoolManager.getInstance();
  for (const strategy of STRATEGIES) {
    const layout = strategy === "FixedSize" ? { allocatorType: strategy, blockSize: 64 } : { allocatorType: strategy };
    for (const mode of MODES) {
      const pool = manager.createPMEMPool(`takes-${strategy}-${mode}`, pmemConfig(poolPath(`takes-${strategy}-${mode}`), { ...layout, ...THREAD_MODES[mode] }));
      try {
        expect(pool.config.threadSafety).toBe(THREAD_MODES[mode].threadSafety);
        expect(pool.config.threadLocalCache).toBe(THREAD_MODES[mode].threadLocalCache);
        const block = pool.allocate(40);
        pool.setRoot("kept", block);
        expect(offsetOfAllocation(pool.getRoot("kept")!)).toBe(offsetOfAllocation(block));
      } finally {
        pool.close();
      }
    }
    const path = poolPath(`refused-${strategy}`);
    let caught: unknown;
    try {
      manager.createPMEMPool(`refused-${strategy}`, pmemConfig(path, { ...layout, threadSafety: "none", threadLocalCache: true }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe("threadLocalCache");
    expect((caught as Error).message).toContain("needs threadSafety \"mutex\" or \"lockFree\"");
    expect(existsSync(path)).toBe(false);
  }
});

test("a link word copied into an unpublished block and persisted keeps its target from being freed, as on a locked pool; the copy's free clears it", () => {
  const manager = MemoryPoolManager.getInstance();
  for (const [strategy, mode] of STRATEGIES.flatMap((strategy) => (["none", ...MODES] as const).map((mode) => [strategy, mode] as const))) {
    const layout = strategy === "FixedSize" ? { allocatorType: strategy, blockSize: 64 } : { allocatorType: strategy };
    const pool = manager.createPMEMPool(`copied-link-${strategy}-${mode}`, pmemConfig(poolPath(`copied-link-${strategy}-${mode}`), { ...layout, ...THREAD_MODES[mode] }));
    try {
      const parent = pool.root("parent", 16);
      const child = pool.allocate(32);
      pool.link(parent, 0, child);
      const copy = pool.allocate(64); // unpublished: its free would take no journal step but for the word
      copy.bytes.set(parent.bytes.subarray(0, 8), 0);
      pool.persist(copy); // on a pool placed without the lock, scanned as it is persisted
      pool.link(parent, 0, null);
      expect(() => child.free()).toThrow(PMEMRootError);
      copy.free(); // reads its words: the copied link goes with it
      child.free();
      expect(pool.getStats().liveAllocations).toBe(1);
    } finally {
      pool.close();
    }
  }
});
