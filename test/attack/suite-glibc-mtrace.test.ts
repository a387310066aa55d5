/**
 * glibc's malloc tracing tests (malloc/tst-mtrace.c and tst-mtrace.sh: a program runs under mtrace(),
 * and the mtrace script replays its log, reporting "Free ... was never alloc'd", "Alloc ...
 * duplicate" and "Memory not freed"; the test wants "No memory leaks.") and PyTorch's memory-history
 * tests (test_cuda.py's test_memory_snapshot family: the recorded trace, replayed, must give the
 * allocator's state and peak), read and retold for this library's trackHistory: getHistory() is the
 * log, renderTimeline() the replay that draws it. On every CPU shape (JavaScript bins and caches,
 * mutex with thread caches, lockFree stack and shards, canaries, guard pages with quarantine,
 * safeViews) and on PMEM pools where libpmem loads, a seeded workload frees by every route (free(),
 * deallocate(handle, pointer, view, window view), Symbol.dispose) and ends with reset():
 * - the log replays: every free names an allocation the log made and has not freed, at the same
 *   address and size; no id is made twice, no address is live twice; time never goes back;
 * - what the replay leaves live is getLeaks() (ids, addresses, sizes) and its bytes are bytesInUse,
 *   at the end of the workload and after reset(), when nothing is live;
 * - the timeline's peak is the replay's peak, and after reset() and a smaller workload it stays the
 *   peak before the reset;
 * - a ring of historySize events holds exactly the last events of the same workload's whole log;
 * - failed calls log nothing (mtrace logs only what malloc and free did): an OutOfMemoryError, a
 *   double free, a free of a pointer the pool never gave out; a pool without trackHistory logs no
 *   allocation or free (mtrace off), though violations are logged always.
 * Found: reset() frees every allocation, but the history logged no free for any of them: a replay
 * (and renderTimeline) went on counting every allocation live before the reset, so "memory not
 * freed" named blocks the pool had freed, and the timeline stacked later allocations on top of
 * them, its peak the sum of both. A reset now logs a free for each allocation this thread's log
 * knows, newest first (a free of the top band each: oldest first made renderTimeline's steps
 * grow as the square, past what it draws at 1000 allocations), with the reset's stack (src/debug/tracker.ts forgetAll; GPU
 * pools' log in src/gpu_debug.ts likewise, checked by the GPU case below where a GPU answers).
 * Differs by design: the log is each thread's own (README "Debug switches and the cache"), so a block
 * another Worker frees is not in it; destroy() logs no frees (the pool, and its log's use, end there).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { toArrayBuffer } from "bun:ffi";
import {
  BoundaryViolationError,
  type CPUMemoryPool,
  DoubleFreeError,
  type HistoryEvent,
  InvalidPointerError,
  MemoryPoolManager,
  OutOfMemoryError,
  type PMEMMemoryPool,
  PoolConfig,
  renderTimeline,
} from "../../src/index";
import { gpuUnavailableReason, pmemUnavailableReason } from "../../src/native";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();
const noPmem = pmemUnavailableReason();
const noGPU = gpuUnavailableReason();
if (noPmem !== undefined) console.log(`[suite-glibc-mtrace] PMEM cases skipped: ${noPmem}`);
if (noGPU !== undefined) console.log(`[suite-glibc-mtrace] GPU case skipped: ${noGPU}`);
afterAll(removePoolFiles);

type Pool = CPUMemoryPool | PMEMMemoryPool;
type Held = { kind: "handle"; a: ReturnType<Pool["allocate"]> } | { kind: "raw"; ptr: number } | { kind: "window"; view: Uint8Array };

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, JavaScript bins", {}],
  ["FixedSize 256, JavaScript cache", { allocatorType: "FixedSize", blockSize: 256 }],
  ["Variable mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["FixedSize lockFree", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree" }],
  ["Variable lockFree shards", { threadSafety: "lockFree" }],
  ["canaries", { canaries: true }],
  ["guard pages + quarantine", { guardPages: true, quarantineBytes: 1 << 20 }],
  ["safeViews", { safeViews: true }],
];

/** What the mtrace script does with a log: the faults it finds, what is live at the end, and the peak of live bytes. */
function replay(events: readonly HistoryEvent[]): { faults: string[]; live: Map<number, HistoryEvent>; bytes: number; peak: number } {
  const faults: string[] = [];
  const live = new Map<number, HistoryEvent>();
  const liveAt = new Map<number, number>();
  let bytes = 0;
  let peak = 0;
  let time = -Infinity;
  for (const event of events) {
    if (event.time < time) faults.push(`event of #${event.id} at ${event.time} before the one before it (${time})`);
    time = event.time;
    if (event.kind === "allocate") {
      if (live.has(event.id)) faults.push(`alloc #${event.id} duplicate`);
      const other = liveAt.get(event.ptr);
      if (other !== undefined) faults.push(`alloc #${event.id} at 0x${event.ptr.toString(16)}, where #${other} is live`);
      live.set(event.id, event);
      liveAt.set(event.ptr, event.id);
      bytes += event.size;
      peak = Math.max(peak, bytes);
    } else if (event.kind === "free") {
      const made = live.get(event.id);
      if (made === undefined) faults.push(`free of #${event.id} was never alloc'd`);
      else if (made.ptr !== event.ptr || made.size !== event.size) faults.push(`free of #${event.id}: ${event.size} B at ${event.ptr}, made as ${made.size} B at ${made.ptr}`);
      else {
        live.delete(event.id);
        liveAt.delete(event.ptr);
        bytes -= event.size;
      }
    }
  }
  return { faults, live, bytes, peak };
}

/** The live allocations as the log's replay says and as getLeaks() says, to compare. */
function liveSets(p: Pool, live: Map<number, HistoryEvent>) {
  const fromLog = [...live.values()].map((e) => ({ id: e.id, ptr: e.ptr, size: e.size })).sort((x, y) => x.id - y.id);
  const fromPool = p.getLeaks().map((l) => ({ id: l.id, ptr: l.ptr, size: l.size }));
  return { fromLog, fromPool };
}

/** The peak the timeline marks (its #peak group's data-bytes), 0 where it marks none. */
function timelinePeak(p: Pool): number {
  const match = /<g id="peak" data-step="\d+" data-bytes="(\d+)"/.exec(renderTimeline(p));
  return match === null ? 0 : Number(match[1]);
}

/** A seeded workload of `steps` calls that frees by every route; returns what it left live. */
function workload(p: Pool, seed: number, steps: number, maxSize: number, windows: boolean): Held[] {
  const next = random(seed);
  const held: Held[] = [];
  for (let i = 0; i < steps; i++) {
    if (held.length > 0 && next() < 0.45) {
      const [x] = held.splice(Math.floor(next() * held.length), 1);
      const route = Math.floor(next() * 4);
      if (x!.kind === "raw") p.deallocate(x!.ptr as never);
      else if (x!.kind === "window") p.deallocate(x!.view);
      else if (route === 0) x!.a.free();
      else if (route === 1) p.deallocate(x!.a);
      else if (route === 2) p.deallocate(x!.a.bytes);
      else x!.a[Symbol.dispose]();
      continue;
    }
    const size = 1 + Math.floor(next() * maxSize);
    const way = next();
    if (way < 0.25) held.push({ kind: "raw", ptr: p.allocateRaw(size) as number });
    else if (way < 0.35 && windows) held.push({ kind: "window", view: (p as CPUMemoryPool).allocateWindowBytes(size) });
    else held.push({ kind: "handle", a: p.allocate(size) });
  }
  return held;
}

/** The whole check on one pool: a workload, its log replayed against the pool, a reset, a smaller workload. */
function checkLog(p: Pool, maxSize: number, windows: boolean): void {
  const held = workload(p, 7, 500, maxSize, windows);
  manager.flushThreadCaches();
  const before = replay(p.getHistory());
  expect(before.faults).toEqual([]);
  const { fromLog, fromPool } = liveSets(p, before.live);
  expect(fromLog.length).toBe(held.length);
  expect(fromLog).toEqual(fromPool);
  expect(before.bytes).toBe(p.getStats().bytesInUse);
  expect(timelinePeak(p)).toBe(before.peak);

  p.reset();
  const afterReset = replay(p.getHistory());
  expect(afterReset.faults).toEqual([]);
  expect({ live: afterReset.live.size, bytes: afterReset.bytes }).toEqual({ live: 0, bytes: p.getStats().bytesInUse });
  expect(p.getLeaks()).toEqual([]);
  const resetFrees = p.getHistory().slice(-held.length);
  expect(resetFrees.every((e) => e.kind === "free")).toBe(true);
  expect(resetFrees.map((e) => e.id)).toEqual(fromLog.map((l) => l.id).reverse()); // newest first

  // A smaller workload after the reset: the timeline's peak is still the one before it.
  const small = workload(p, 11, 40, maxSize, windows);
  const end = replay(p.getHistory());
  expect(end.faults).toEqual([]);
  expect(liveSets(p, end.live).fromLog.length).toBe(small.length);
  expect(end.peak).toBe(before.peak);
  expect(timelinePeak(p)).toBe(before.peak);
}

describe("mtrace: the history replays to the pool's own state", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const fixed = shape.allocatorType === "FixedSize";
      const p = pool(`mtrace-${name}`, { ...shape, trackHistory: true, historySize: 100_000 });
      checkLog(p, fixed ? 256 : 3000, shape.guardPages !== true);
    });
  }

  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    test.skipIf(noPmem !== undefined)(`PMEM, ${allocatorType}`, () => {
      const name = `mtrace-pmem-${allocatorType}`;
      const config = Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(name), initialSize: 4 << 20, allocatorType, blockSize: 256, trackHistory: true, historySize: 100_000 });
      const p = manager.createPMEMPool(name, config);
      try {
        checkLog(p, allocatorType === "FixedSize" ? 256 : 3000, false);
      } finally {
        manager.destroyPool(name);
      }
    });
  }
});

test("a ring of historySize events is the last events of the whole log", () => {
  for (const [name, shape] of shapes.slice(0, 3)) {
    const fixed = shape.allocatorType === "FixedSize";
    const whole = pool(`mtrace-whole-${name}`, { ...shape, trackHistory: true, historySize: 100_000 });
    const ring = pool(`mtrace-ring-${name}`, { ...shape, trackHistory: true, historySize: 37 });
    for (const p of [whole, ring]) {
      workload(p, 3, 300, fixed ? 256 : 3000, true);
      p.reset();
    }
    // The pools' addresses differ; the sizes, kinds and ids (each pool counts from 1) do not.
    const shapeOf = (e: HistoryEvent) => `${e.kind} #${e.id} ${e.size}`;
    const all = whole.getHistory().map(shapeOf);
    expect(all.length).toBeGreaterThan(37);
    expect(ring.getHistory().map(shapeOf)).toEqual(all.slice(-37));
  }
});

test("a reset of a full ring's allocations still draws: its frees unwind the timeline's stack from the top", () => {
  const p = pool("mtrace-reset-draws", { trackHistory: true, historySize: 2000 });
  const live = Array.from({ length: 999 }, (_, i) => p.allocate(16 + (i % 7) * 16));
  p.reset();
  const page = renderTimeline(p);
  expect(page).toContain(`data-bytes="${live.reduce((sum, a) => sum + a.size, 0)}"`);
  expect(replay(p.getHistory()).live.size).toBe(0);
});

test("failed calls log nothing, and without trackHistory only violations are logged", () => {
  const p = pool("mtrace-failures", { trackHistory: true, initialSize: 64 * 1024, growth: 0, canaries: true });
  const a = p.allocate(30_000);
  const logged = p.getHistory().length;
  expect(thrown(() => p.allocate(40_000))).toBeInstanceOf(OutOfMemoryError);
  expect(thrown(() => p.deallocate((a.ptr + 16) as never))).toBeInstanceOf(InvalidPointerError);
  a.free();
  expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
  expect(thrown(() => p.deallocate(a.ptr as never))).toBeInstanceOf(DoubleFreeError);
  expect(p.getHistory().slice(logged).map((e) => e.kind)).toEqual(["free"]);

  const quiet = pool("mtrace-off", { canaries: true });
  const b = quiet.allocate(24);
  quiet.allocate(40).free();
  const past = new Uint8Array(toArrayBuffer(b.ptr, 0, 32)); // one byte past it, as native code would write
  const canary = past[24]!;
  past[24] = canary ^ 0xff;
  expect(thrown(() => quiet.check())).toBeInstanceOf(BoundaryViolationError);
  past[24] = canary; // mended, so the pool's destroy after the test finds nothing
  expect(quiet.getHistory().map((e) => e.kind)).toEqual(["violation"]);
});

describe.skipIf(noGPU !== undefined)("GPU pools' history", () => {
  test("a reset logs a free of each allocation, and the timeline's peak stays", () => {
    const name = "mtrace-gpu";
    const gpu = manager.createGPUPool(name, Object.assign(new PoolConfig(), { trackHistory: true, historySize: 10_000 }));
    try {
      gpu.allocate(50).free();
      const made = [100, 2000, 300].map((size) => gpu.allocate(size));
      gpu.reset();
      gpu.allocate(10);
      const log = replay(gpu.getHistory());
      expect(log.faults).toEqual([]);
      expect([...log.live.values()].map((e) => e.size)).toEqual([10]);
      expect(gpu.getHistory().slice(-4, -1).map((e) => `${e.kind} #${e.id}`)).toEqual(made.map((a) => `free #${a.id}`).reverse());
      expect(log.peak).toBe(2400);
    } finally {
      manager.destroyPool(name);
    }
  });
});
