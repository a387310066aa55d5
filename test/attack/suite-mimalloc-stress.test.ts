/**
 * mimalloc's test/test-stress.c, read and retold for this library: Workers allocate random sizes
 * (mostly small, one in 64 up to 64x larger; by handle and by bare pointer) on one shared pool,
 * stamp each block from its address, free a random half, and swap blocks with each other through a
 * transfer array in shared memory with Atomics.exchange, so blocks are freed in another Worker (or
 * one of a later round) while others allocate. Rounds start new Workers; half of each round free what
 * they hold as they end, half exit with it live (mimalloc's abandoned segments) and the main thread
 * frees it once they are gone; at the end the main thread frees what the transfer array holds.
 * Every shared threadSafety mode, Variable and FixedSize (runs), alignment 16 and 64; each run in a
 * child process, so a crash fails the test. SUITE_SCALE=n multiplies the iterations.
 *
 * Checked exactly: every address aligned, no stamp damaged (no two live blocks overlap), no error;
 * then bytesInUse, liveAllocations and cachedBytes 0, the pool's allocation and free counts and
 * byte totals equal to what the Workers did, no failed allocation, no leak listed.
 *
 * And test-stress in one thread over every way in and out: a handle freed by free(), a bare pointer
 * by deallocate(ptr), a .bytes view, a pool.allocateWindowBytes view and an allocation's windowBytes()
 * view by deallocate(view), mixed at random on the default pools (JavaScript bins and caches) and a
 * mutex one; stamps intact, every view as long as its allocation, statistics exact.
 */
import { describe, expect, test } from "bun:test";
import { ptr as addressOf } from "bun:ffi";
import { type Allocation, MemoryPoolManager } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { runChild } from "../pmem/helpers";
import type { StressReport } from "../fixtures/attack/suite-stress-worker";

const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;
const configs: [string, object][] = [
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["Variable, lockFree + threadLocalCache, alignment 64", { threadSafety: "lockFree", threadLocalCache: true, alignment: 64 }],
  ["FixedSize 64, mutex (core path)", { threadSafety: "mutex", allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, lockFree (JavaScript caches)", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, mutex + threadLocalCache, alignment 64, growth 2", { threadSafety: "mutex", threadLocalCache: true, allocatorType: "FixedSize", blockSize: 64, alignment: 64, growth: 2, initialSize: 64 << 10 }],
];

interface Outcome {
  reports: StressReport[];
  wrong: string[];
  freedHere: number;
  leaks: number;
  stats: { bytesInUse: number; liveAllocations: number; allocationCount: number; freeCount: number; failedAllocations: number; bytesAllocatedTotal: number; bytesFreedTotal: number; cachedBytes: number };
}

describe("mimalloc test-stress: blocks handed between Workers through shared memory and freed there", () => {
  for (const [name, config] of configs) {
    test(name, async () => {
      const run = await runChild("../../fixtures/attack/suite-stress-child.ts", [JSON.stringify(config), "4", "2", String(600 * scale), "512"]);
      expect(run.stderr).toBe("");
      expect(run.signalCode).toBeNull();
      expect(run.exitCode).toBe(0);
      const outcome = JSON.parse(run.stdout) as Outcome;
      expect(outcome.wrong).toEqual([]);
      expect(outcome.reports).toHaveLength(8);
      for (const report of outcome.reports) expect(report.wrong).toEqual([]);
      const allocated = outcome.reports.reduce((sum, r) => sum + r.allocated, 0);
      const bytes = outcome.reports.reduce((sum, r) => sum + r.bytesAllocated, 0);
      const freedInWorkers = outcome.reports.reduce((sum, r) => sum + r.freed, 0);
      expect(allocated).toBe(8 * 600 * scale);
      expect(freedInWorkers + outcome.freedHere).toBe(allocated);
      expect(outcome.freedHere).toBeGreaterThan(0); // abandoned and transferred blocks were freed by the main thread
      expect(outcome.stats).toEqual({
        bytesInUse: 0, liveAllocations: 0, allocationCount: allocated, freeCount: allocated, failedAllocations: 0,
        bytesAllocatedTotal: bytes, bytesFreedTotal: bytes, cachedBytes: 0,
      });
      expect(outcome.leaks).toBe(0);
    }, 30_000);
  }
});

const pool = cpuPoolsPerTest();
describe("mimalloc test-stress in one thread, over every way to allocate and free", () => {
  const shapes: [string, object][] = [
    ["Variable, none (JavaScript bins)", {}],
    ["FixedSize 64, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 64 }],
    ["Variable, mutex", { threadSafety: "mutex" }],
    ["FixedSize 64, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
  ];
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`suite-routes-${name}`, { ...shape, growth: 2, initialSize: 256 << 10 });
      const next = random(11);
      type Held = { ptr: number; size: number; route: number; handle?: Allocation; view?: Uint8Array };
      const live: Held[] = [];
      const wrong: string[] = [];
      let count = 0;
      let bytes = 0;
      const release = (held: Held) => {
        if (held.route === 0) held.handle!.free();
        else if (held.route === 1) p.deallocate(held.ptr);
        else p.deallocate(held.view!);
      };
      for (let i = 0; i < 8000 * scale; i++) {
        if (live.length === 0 || next() < 0.52) {
          const size = 1 + Math.floor(next() ** 3 * (next() < 0.02 ? 200_000 : 2000));
          const route = Math.floor(next() * 5);
          let held: Held;
          if (route === 0) {
            const a = p.allocate(size);
            held = { ptr: a.ptr as number, size, route, handle: a };
          } else if (route === 1) held = { ptr: p.allocateRaw(size), size, route };
          else if (route === 2) {
            const a = p.allocate(size);
            held = { ptr: a.ptr as number, size, route, view: a.bytes };
          } else if (route === 3) {
            const view = p.allocateWindowBytes(size);
            held = { ptr: addressOf(view) as number, size, route, view };
          } else {
            const a = p.allocate(size);
            held = { ptr: a.ptr as number, size, route, view: a.windowBytes() };
          }
          const view = held.view ?? p.fromPointer(held.ptr).bytes;
          if (view.length !== size) wrong.push(`route ${route}: a view of ${view.length} bytes for ${size}`);
          stamp(view, held.ptr);
          live.push(held);
          count++;
          bytes += size;
        } else {
          const at = Math.floor(next() * live.length);
          const held = live[at]!;
          live[at] = live[live.length - 1]!;
          live.pop();
          if (!stampHolds(held.view ?? p.fromPointer(held.ptr).bytes, held.ptr)) wrong.push(`route ${held.route}: stamp of ${held.size} bytes damaged`);
          release(held);
        }
      }
      for (const held of live.splice(0)) release(held);
      expect(wrong).toEqual([]);
      MemoryPoolManager.getInstance().flushThreadCaches();
      const s = p.getStats();
      expect({ bytesInUse: s.bytesInUse, liveAllocations: s.liveAllocations, allocationCount: s.allocationCount, freeCount: s.freeCount, bytesAllocatedTotal: s.bytesAllocatedTotal, bytesFreedTotal: s.bytesFreedTotal, cachedBytes: s.cachedBytes })
        .toEqual({ bytesInUse: 0, liveAllocations: 0, allocationCount: count, freeCount: count, bytesAllocatedTotal: bytes, bytesFreedTotal: bytes, cachedBytes: 0 });
    });
  }
});
