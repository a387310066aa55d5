/**
 * More of PMDK's src/test obj_* tests, read and retold for this library's PMEM pools (suite-pmdk has
 * obj_pool, obj_recovery, obj_basic_integration and obj_pmalloc_mt):
 * - obj_root: root(name, size) makes a zero-filled root, a larger size grows it keeping its bytes
 *   (the tail zero), a smaller size gives it as it is; a reopened pool finds it grown, bytes intact;
 * - obj_out_of_memory: a pool filled to OutOfMemoryError (each failure counted), some blocks published
 *   on a list; reopened, only the published ones are live, and once they are freed the pool holds
 *   exactly as many blocks as the first time (nothing leaked by the fill, the failures or the reopen);
 * - obj_heap_state (obj_heap_reopen): ten cycles of open, allocate published and unpublished blocks,
 *   close; each reopening counts exactly the published ones (live, bytes in use) and bytesInUse never
 *   drifts;
 * - obj_first_next: allocations() lists exactly the live allocations (sizes, addresses), those no root
 *   reaches with { unreachable: true };
 * - obj_list: a list of 60 nodes; every third removed by re-linking its predecessor with freePrevious
 *   (unlink and free in one step); the walk, the statistics and a reopened pool all agree.
 * - the heap statistics PMDK's ctl gives (heap.arena stats): largestFreeBlock is a request the pool
 *   serves, a larger one is refused; a FixedSize PMEM pool, which takes one block at most, says its block
 *   and no fragmentation (it said every free byte, a request of which was an InvalidSizeError);
 * - obj_pmalloc_oom_mt: four Workers fill one shared pool with 200-byte blocks until each meets
 *   OutOfMemoryError, all at once, then free them, three rounds (in a child process): together they
 *   hold, every round, exactly as many blocks as one thread filling it alone (no block lost to a race,
 *   a thread cache or a failed allocation), and everything balances; on PMEM pools and, the same
 *   workload, on every shared CPU pool shape.
 * Allocation classes (pmemobj_ctl "heap.alloc_class") are FixedSize PMEM pools here: each test runs on
 * a Variable and a FixedSize pool (which serves sizes up to its block: no runs on PMEM). Transactions (obj_tx_*) have no analogue: publication is per call.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { type Allocation, InvalidSizeError, MemoryPoolManager, OutOfMemoryError, type PMEMMemoryPool, PoolConfig } from "../../src/index";
import { pmemUnavailableReason } from "../../src/native";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";
import type { BenchReport } from "../fixtures/attack/suite-bench-worker";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const whyNot = pmemUnavailableReason();
if (whyNot !== undefined) console.log(`[test/attack/suite-pmdk-obj] PMEM tests skipped: ${whyNot}`);
afterEach(() => {
  if (manager.hasPool("suite-pmdk-obj")) manager.destroyPool("suite-pmdk-obj"); // a test that failed with it open
});
afterAll(() => removePoolFiles());

const KiB = 1024;
const layouts: [string, Partial<PoolConfig>][] = [
  ["Variable", { initialSize: 512 * KiB }],
  ["FixedSize 128 (an allocation class)", { allocatorType: "FixedSize", blockSize: 128, initialSize: 512 * KiB }],
];
/** Sizes up to `max`, or to the block size of a FixedSize PMEM pool (which serves no runs: an InvalidSizeError past it). */
const upTo = (layout: Partial<PoolConfig>, max: number) => Math.min(max, layout.blockSize ?? max);
const open = (path: string, layout: Partial<PoolConfig>): PMEMMemoryPool =>
  manager.createPMEMPool("suite-pmdk-obj", Object.assign(new PoolConfig(), layout, { pmemPoolPath: path }));

/** The nodes of the list under root `name`, first to last (link word at byte 0). */
function walk(pm: PMEMMemoryPool, name: string): Allocation[] {
  const nodes: Allocation[] = [];
  for (let n = pm.getRoot(name) && pm.linked(pm.getRoot(name)!, 0); n !== undefined; n = pm.linked(n, 0)) nodes.push(n);
  return nodes;
}

describe.skipIf(whyNot !== undefined)("PMDK obj_* tests on PMEM pools", () => {
  for (const [name, layout] of layouts) {
    test(`obj_root: roots grow keeping their bytes, zero past them; a reopened pool finds them grown (${name})`, () => {
      const path = poolPath("obj-root");
      let pm = open(path, layout);
      const small = pm.root("r", 24);
      expect([small.size, small.bytes.every((b) => b === 0)]).toEqual([24, true]);
      small.bytes.set([1, 2, 3, 4, 5]);
      pm.persist(small);
      const large = upTo(layout, 1000);
      const grown = pm.root("r", large);
      expect(grown.size).toBe(large);
      expect([...grown.bytes.subarray(0, 6)]).toEqual([1, 2, 3, 4, 5, 0]);
      expect(grown.bytes.subarray(24).every((b) => b === 0)).toBe(true);
      expect(small.alive).toBe(false);
      expect(pm.root("r", 10).ptr).toBe(grown.ptr); // smaller: the root as it is
      expect(pm.getStats().liveAllocations).toBe(1);
      pm.close();
      pm = open(path, layout);
      const reopened = pm.getRoot("r")!;
      expect([reopened.size, ...reopened.bytes.subarray(0, 6)]).toEqual([large, 1, 2, 3, 4, 5, 0]);
      expect([pm.roots(), pm.getStats().liveAllocations]).toEqual([["r"], 1]);
      pm.close();
    });

    test(`pmemobj_ctl heap stats: largestFreeBlock is a request the pool serves; fragmentation agrees (${name})`, () => {
      const pm = open(poolPath("obj-largest"), layout);
      const held = Array.from({ length: 300 }, () => pm.allocate(upTo(layout, 100)));
      for (let i = 0; i < held.length; i++) if (i % 5 !== 0) held[i]!.free();
      const s = pm.getStats();
      // a FixedSize PMEM pool takes one block at most: its largest request is the block, from any free one
      if (layout.allocatorType === "FixedSize") expect([s.largestFreeBlock, s.fragmentation]).toEqual([layout.blockSize!, 0]);
      else expect(s.fragmentation).toBeCloseTo(1 - s.largestFreeBlock / s.freeBytes, 12);
      const largest = pm.allocate(s.largestFreeBlock); // (it said the free bytes, which a FixedSize pool refused with an InvalidSizeError)
      largest.bytes[s.largestFreeBlock - 1] = 1;
      largest.free();
      expect(thrown(() => pm.allocate(s.largestFreeBlock + 16))).toBeInstanceOf(layout.allocatorType === "FixedSize" ? InvalidSizeError : OutOfMemoryError);
      pm.close();
    });

    test(`obj_out_of_memory: filled to the end, reopened, emptied: it holds as many blocks again (${name})`, () => {
      const path = poolPath("obj-oom");
      let pm = open(path, layout);
      const fill = (p: PMEMMemoryPool) => {
        const got: Allocation[] = [];
        for (;;) {
          try {
            got.push(p.allocate(100));
          } catch (err) {
            expect(err).toBeInstanceOf(OutOfMemoryError);
            return got;
          }
        }
      };
      const first = fill(pm);
      const held = first.length;
      expect(held).toBeGreaterThan(100);
      expect(pm.getStats().failedAllocations).toBe(1);
      // publish every tenth on a list under a root (the root itself needs room: free one block first)
      first.pop()!.free();
      const head = pm.root("list", 8);
      const published = first.filter((_, i) => i % 10 === 0);
      for (const node of published) {
        pm.link(node, 0, pm.linked(head, 0) ?? null);
        pm.link(head, 0, node);
      }
      pm.close(); // the unpublished nine in ten are free in the file
      pm = open(path, layout);
      expect(pm.getStats().liveAllocations).toBe(published.length + 1);
      expect(walk(pm, "list")).toHaveLength(published.length);
      // free the list node by node through its links (a linked node cannot be freed alone: PMEMRootError)
      const root = pm.getRoot("list")!;
      for (let n = pm.linked(root, 0); n !== undefined; n = pm.linked(root, 0)) pm.link(root, 0, pm.linked(n, 0) ?? null, { freePrevious: true });
      pm.setRoot("list", null, { freePrevious: true });
      const s = pm.getStats();
      expect([s.liveAllocations, s.bytesInUse]).toEqual([0, 0]);
      expect(fill(pm).length).toBe(held);
      pm.close();
    });

    test(`obj_heap_state: ten reopenings, each counting exactly the published blocks (${name})`, () => {
      const path = poolPath("obj-heap-state");
      const next = random(0x4ea9);
      let publishedBytes = 8; // the root
      let publishedCount = 0;
      for (let cycle = 0; cycle < 10; cycle++) {
        const pm = open(path, layout);
        const s = pm.getStats();
        expect({ cycle, live: s.liveAllocations, bytes: s.bytesInUse }).toEqual({ cycle, live: cycle === 0 ? 0 : publishedCount + 1, bytes: cycle === 0 ? 0 : publishedBytes });
        expect(walk(pm, "list").map((n) => n.size).reduce((x, y) => x + y, 0) + (cycle === 0 ? 0 : 8)).toBe(cycle === 0 ? 0 : publishedBytes);
        const head = pm.root("list", 8);
        for (let i = 0; i < 20; i++) {
          const size = 8 + Math.floor(next() * (upTo(layout, 300) - 8));
          const a = pm.allocate(size);
          if (i % 4 === 0) {
            pm.link(a, 0, pm.linked(head, 0) ?? null);
            pm.link(head, 0, a);
            publishedBytes += size;
            publishedCount++;
          }
        }
        pm.close();
      }
    });

    test(`obj_first_next: allocations() lists exactly the live ones; { unreachable } those no root reaches (${name})`, () => {
      const path = poolPath("obj-first-next");
      const pm = open(path, layout);
      const next = random(0xf1257);
      const made = Array.from({ length: 80 }, () => pm.allocate(8 + Math.floor(next() * (upTo(layout, 200) - 8))));
      const head = pm.root("keep", 8);
      const kept = made.filter((_, i) => i % 3 === 0);
      for (const node of kept) {
        pm.link(node, 0, pm.linked(head, 0) ?? null);
        pm.link(head, 0, node);
      }
      for (const a of made.filter((_, i) => i % 3 === 1)) a.free();
      const live = made.filter((_, i) => i % 3 !== 1);
      const listed = pm.allocations();
      const key = (a: Allocation) => `${a.ptr}:${a.size}`;
      expect(new Set(listed.map(key))).toEqual(new Set([...live, head].map(key)));
      expect(new Set(pm.allocations({ unreachable: true }).map(key))).toEqual(new Set(made.filter((_, i) => i % 3 === 2).map(key)));
      pm.close();
    });

    test(`obj_list: every third node unlinked and freed in one step; walk, statistics and a reopened pool agree (${name})`, () => {
      const path = poolPath("obj-list");
      let pm = open(path, layout);
      const head = pm.root("list", 8);
      for (let i = 59; i >= 0; i--) {
        const node = pm.allocate(16);
        node.bytes[8] = i;
        pm.persist(node);
        pm.link(node, 0, pm.linked(head, 0) ?? null);
        pm.link(head, 0, node);
      }
      expect(walk(pm, "list").map((n) => n.bytes[8])).toEqual(Array.from({ length: 60 }, (_, i) => i));
      let previous: Allocation = head;
      for (let node = pm.linked(head, 0); node !== undefined; ) {
        const after = pm.linked(node, 0);
        if (node.bytes[8]! % 3 === 0) pm.link(previous, 0, after ?? null, { freePrevious: true });
        else previous = node;
        node = after;
      }
      const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 !== 0);
      expect(walk(pm, "list").map((n) => n.bytes[8])).toEqual(expected);
      expect(pm.getStats().liveAllocations).toBe(expected.length + 1);
      expect(pm.allocations({ unreachable: true })).toEqual([]);
      pm.close();
      pm = open(path, layout);
      expect(walk(pm, "list").map((n) => n.bytes[8])).toEqual(expected);
      expect([pm.getStats().liveAllocations, pm.getStats().bytesInUse]).toEqual([expected.length + 1, expected.length * 16 + 8]);
      pm.close();
    });
  }
});

describe("PMDK obj_pmalloc_oom_mt: Workers filling one pool together hold as many blocks as one thread alone", () => {
  const MiB = 1024 * KiB;
  const shapes: [string, object, boolean][] = [
    ["PMEM, Variable", { threadSafety: "mutex", initialSize: MiB }, true],
    ["PMEM, FixedSize 256", { threadSafety: "mutex", initialSize: MiB, allocatorType: "FixedSize", blockSize: 256 }, true],
    ["CPU, Variable, mutex", { threadSafety: "mutex", growth: 0, initialSize: MiB }, false],
    ["CPU, Variable, lockFree (shards)", { threadSafety: "lockFree", growth: 0, initialSize: MiB }, false],
    ["CPU, FixedSize 256, mutex", { threadSafety: "mutex", growth: 0, initialSize: MiB, allocatorType: "FixedSize", blockSize: 256 }, false],
    ["CPU, FixedSize 256, lockFree", { threadSafety: "lockFree", growth: 0, initialSize: MiB, allocatorType: "FixedSize", blockSize: 256 }, false],
    ["CPU, FixedSize 256, mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true, growth: 0, initialSize: MiB, allocatorType: "FixedSize", blockSize: 256 }, false],
  ];
  for (const [name, shape, pmem] of shapes) {
    test.skipIf(pmem && whyNot !== undefined)(name, async () => {
      const config = pmem ? { ...shape, pmemPoolPath: poolPath("oom-mt") } : shape;
      const rounds = 3;
      const run = await runChild("../../fixtures/attack/suite-bench-child.ts", ["fill", JSON.stringify(config), "4", String(rounds), "200"]);
      expect(run.stderr).toBe("");
      expect(run.signalCode).toBeNull();
      expect(run.exitCode).toBe(0);
      const outcome = JSON.parse(run.stdout) as { reports: BenchReport[]; mainFill: number; stats: Record<string, number> };
      for (const report of outcome.reports) expect(report.wrong).toEqual([]);
      const together = Array.from({ length: rounds }, (_, round) => outcome.reports.reduce((sum, r) => sum + r.filled[round]!, 0));
      expect(outcome.mainFill).toBeGreaterThan(1000);
      expect(together).toEqual(Array(rounds).fill(outcome.mainFill));
      const allocated = outcome.reports.reduce((sum, r) => sum + r.allocated, 0);
      expect(outcome.stats).toMatchObject({ bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, failedAllocations: 4 * rounds, cachedBytes: 0 });
    }, 30_000);
  }
});
