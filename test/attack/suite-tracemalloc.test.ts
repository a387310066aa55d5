/**
 * CPython's tracemalloc tests (Lib/test/test_tracemalloc.py: TestTracemallocEnabled's
 * test_get_object_traceback, test_new_reference, test_get_traced_memory, test_reset_peak,
 * test_clear_traces, test_snapshot and test_snapshot_save_attr (dump and load), test_is_tracing;
 * TestSnapshot's traces and statistics; the domains of _PyTraceMalloc_Track), read and retold for
 * this library's history (trackHistory), snapshots and statistics, on every CPU pool shape (the
 * JavaScript bins and caches too, where history acts in TypeScript and the bins stay on):
 * - get_object_traceback: each live allocation's block in snapshot() carries its id, the size it asked
 *   for and the stack of the line that made it; getLeaks() gives the same stack; a block freed and
 *   made again by another line carries the new line's stack, never the old one (the bins hand blocks
 *   back: their records must follow);
 * - get_traced_memory / reset_peak: bytesInUse is the sum of the live sizes at every step, the peak the
 *   highest sum, and resetPeaks() makes it the current sum (Python 3.9's reset_peak);
 * - take_snapshot: the live blocks are exactly the held allocations (ids and sizes), free blocks carry
 *   no id or stack, and age orders them as they were made; a snapshot survives JSON (dump and load)
 *   and draws the same memory map;
 * - the history: its allocate and free events, replayed, leave exactly the held allocations live;
 * - clear_traces is reset(): nothing live is listed after it;
 * - is_tracing off (no trackHistory): blocks carry no stack, and getLeaks() none;
 * - domains: each pool is its own; another pool's allocations never appear in this one's snapshot.
 * Left out: filters, traceback limits and Snapshot.compare_to's grouping (tools over the data, not the
 * allocator's), tracemalloc's own memory (get_tracemalloc_memory) and fork.
 */
import { describe, expect, test } from "bun:test";
import { type Allocation, type CPUMemoryPool, type PoolConfig, renderMemoryMap } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";

const pool = cpuPoolsPerTest();
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, none (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["FixedSize 128, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 128 }],
  ["FixedSize 128, lockFree", { allocatorType: "FixedSize", blockSize: 128, threadSafety: "lockFree" }],
  ["FixedSize 128, mutex + threadLocalCache", { allocatorType: "FixedSize", blockSize: 128, threadSafety: "mutex", threadLocalCache: true }],
];

// Two allocating functions: their stacks tell them apart. Each counts its calls: Bun's transpiler
// inlines a function that only returns what it made, and its frame would be gone from every stack.
const calls = { here: 0, there: 0 };
function allocateHere(p: CPUMemoryPool, size: number): Allocation {
  const a = p.allocate(size);
  calls.here++;
  return a;
}
function allocateThere(p: CPUMemoryPool, size: number): Allocation {
  const a = p.allocate(size);
  calls.there++;
  return a;
}
const at = (name: string) => new RegExp(`at ${name} \\(.*suite-tracemalloc\\.test\\.ts:\\d+`);

function liveBlocks(p: CPUMemoryPool) {
  return p.snapshot().blocks.filter((b) => b.state === "live");
}

for (const [shapeName, shape] of shapes) {
  describe(`tracemalloc on ${shapeName} pools`, () => {
    const sizeOf = (n: number) => (shape.allocatorType === "FixedSize" ? 1 + (n % 128) : 1 + (n % 3000));

    test("get_object_traceback: each live block carries its id, size and the stack of the line that made it, also after reuse", () => {
      const p = pool(`suite-tracemalloc-traceback-${shapeName}`, { ...shape, trackHistory: true });
      const held = new Map<number, { a: Allocation; line: string }>();
      const next = random(0x7ace);
      for (let i = 0; i < 300; i++) {
        if (held.size > 0 && next() < 0.45) {
          const ids = [...held.keys()];
          const id = ids[Math.floor(next() * ids.length)]!;
          held.get(id)!.a.free();
          held.delete(id);
        } else {
          const here = next() < 0.5;
          const a = (here ? allocateHere : allocateThere)(p, sizeOf(i));
          held.set(a.id, { a, line: here ? "allocateHere" : "allocateThere" });
        }
      }
      const wrong: string[] = [];
      const blocks = liveBlocks(p);
      if (blocks.length !== held.size) wrong.push(`${blocks.length} live blocks listed, ${held.size} held`);
      for (const block of blocks) {
        const mine = held.get(block.id!);
        if (mine === undefined) {
          wrong.push(`block #${block.id} is listed live but not held`);
          continue;
        }
        if (block.requestedSize !== mine.a.size) wrong.push(`#${block.id}: requestedSize ${block.requestedSize}, asked ${mine.a.size}`);
        if (block.offset !== mine.a.ptr - p.snapshot().baseAddress) wrong.push(`#${block.id}: offset ${block.offset}`);
        if (!at(mine.line).test(block.stack ?? "")) wrong.push(`#${block.id}: stack ${JSON.stringify(block.stack)}, made by ${mine.line}`);
      }
      for (const leak of p.getLeaks()) {
        const mine = held.get(leak.id);
        if (mine === undefined || !at(mine.line).test(leak.stack ?? "")) wrong.push(`getLeaks #${leak.id}: ${JSON.stringify(leak.stack)}`);
      }
      expect(wrong).toEqual([]);
      for (const { a } of held.values()) a.free();
    });

    test("get_traced_memory and reset_peak: bytesInUse is the live sizes' sum, the peak its highest, reset to the current", () => {
      const p = pool(`suite-tracemalloc-traced-${shapeName}`, { ...shape, trackHistory: true });
      const held: Allocation[] = [];
      let current = 0;
      let peak = 0;
      const wrong: string[] = [];
      const next = random(0x9ea4);
      for (let i = 0; i < 400; i++) {
        if (i === 200) {
          p.resetPeaks();
          peak = current;
        }
        if (held.length > 0 && next() < 0.5) {
          const a = held.splice(Math.floor(next() * held.length), 1)[0]!;
          current -= a.size;
          a.free();
        } else {
          const a = p.allocate(sizeOf(i * 7));
          held.push(a);
          current += a.size;
          peak = Math.max(peak, current);
        }
        const s = p.getStats();
        if (s.bytesInUse !== current) wrong.push(`step ${i}: bytesInUse ${s.bytesInUse}, live ${current}`);
        const exactPeaks = shape.threadSafety !== "lockFree" && shape.threadLocalCache !== true; // lower bounds there, README "Statistics"
        if (exactPeaks && s.peakBytesInUse !== peak) wrong.push(`step ${i}: peak ${s.peakBytesInUse}, highest ${peak}`);
        if (!exactPeaks && (s.peakBytesInUse > peak || s.peakBytesInUse < current)) wrong.push(`step ${i}: peak ${s.peakBytesInUse} outside [${current}, ${peak}]`);
      }
      expect(wrong).toEqual([]);
      for (const a of held) a.free();
    });

    test("take_snapshot: the live blocks are the held allocations, in the order made; dump and load draw the same map", () => {
      const p = pool(`suite-tracemalloc-snapshot-${shapeName}`, { ...shape, trackHistory: true });
      const made = Array.from({ length: 40 }, (_, i) => allocateHere(p, sizeOf(i * 13)));
      for (const a of made.filter((_, i) => i % 3 === 0)) a.free();
      const held = made.filter((a) => a.alive);
      const snap = p.snapshot();
      const live = snap.blocks.filter((b) => b.state === "live");
      expect(live.map((b) => b.id).sort((x, y) => x! - y!)).toEqual(held.map((a) => a.id));
      for (const b of snap.blocks) if (b.state !== "live") expect([b.id, b.stack, b.requestedSize]).toEqual([undefined, undefined, undefined]);
      // age: allocations made after this one: the first made is the oldest
      const byId = [...live].sort((x, y) => x.id! - y.id!);
      for (let i = 1; i < byId.length; i++) expect(byId[i - 1]!.age!).toBeGreaterThan(byId[i]!.age!);
      const loaded = JSON.parse(JSON.stringify(snap));
      expect(loaded).toEqual(snap);
      expect(renderMemoryMap(loaded)).toBe(renderMemoryMap(snap));
      for (const a of held) a.free();
    });

    test("the history replayed leaves exactly the held allocations live; clear_traces (reset) lists none", () => {
      const p = pool(`suite-tracemalloc-history-${shapeName}`, { ...shape, trackHistory: true, historySize: 10_000 });
      const next = random(0x41);
      const held: Allocation[] = [];
      for (let i = 0; i < 500; i++) {
        if (held.length > 0 && next() < 0.4) held.splice(Math.floor(next() * held.length), 1)[0]!.free();
        else held.push(p.allocate(sizeOf(i)));
      }
      const replay = new Map<number, number>();
      for (const event of p.getHistory()) {
        if (event.kind === "allocate") replay.set(event.id, event.size);
        else if (event.kind === "free") replay.delete(event.id);
      }
      expect([...replay.keys()].sort((x, y) => x - y)).toEqual(held.map((a) => a.id).sort((x, y) => x - y));
      for (const a of held) expect(replay.get(a.id)).toBe(a.size);
      p.reset();
      expect([liveBlocks(p).length, p.getLeaks().length, p.getStats().bytesInUse]).toEqual([0, 0, 0]);
    });

    test("is_tracing off: no stacks anywhere; domains: another pool's allocations never appear", () => {
      const p = pool(`suite-tracemalloc-off-${shapeName}`, shape);
      const other = pool(`suite-tracemalloc-other-${shapeName}`, { ...shape, trackHistory: true });
      const mine = Array.from({ length: 10 }, (_, i) => p.allocate(sizeOf(i)));
      const theirs = Array.from({ length: 10 }, (_, i) => other.allocate(sizeOf(i)));
      const blocks = liveBlocks(p);
      expect(blocks.map((b) => b.id).sort((x, y) => x! - y!)).toEqual(mine.map((a) => a.id));
      expect(blocks.every((b) => b.stack === undefined)).toBe(true);
      expect(p.getLeaks().every((leak) => leak.stack === undefined)).toBe(true);
      expect(liveBlocks(other).map((b) => b.offset + other.snapshot().baseAddress).sort((x, y) => x - y)).toEqual(theirs.map((a) => a.ptr).sort((x, y) => x - y));
      for (const a of [...mine, ...theirs]) a.free();
    });
  });
}
