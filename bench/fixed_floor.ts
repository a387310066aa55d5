/**
 * `bun bench/fixed_floor.ts`: what a fixed-size pair can cost at the least in this Bun (issue 12's
 * goal: fixed 64 B allocateRaw + deallocate ≤ 0.5× libc malloc + free through bun:ffi). Stand-alone
 * stacks over typed arrays doing what a pool's hit must do, next to libc and the default pool, in
 * one process. A probe, not a goal table: bench/RESULTS.md says what it showed.
 *
 * Each stack comes twice, as two copies of the same source: one whose rare paths (a refill, a full
 * stack, a bad pointer: here they only return) ran once before the timed loop, one whose never
 * did. JSC profiles and compiles the two apart, and the same code has measured 3 to 14 ns a pair
 * depending on that history (RESULTS.md): the floor is a range, not one number.
 *
 * FLOOR_CLOCK=cpu times rows by this thread's CPU time (util.ts threadCpuTimes), else mitata's
 * wall clock, three rounds, the lowest mean.
 */
import { do_not_optimize, bench as register, run } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { threadCpuTimes, timesByName } from "./util";

const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("floor-default", PoolConfig.FixedSizeCPU(64));

const BLOCKS = 4096;
const FREED = -0x8000_0000;
const CONTINUED = 0x4000_0000;
const REQUESTED = BLOCKS;
const START_PLUS_ONE = 3 * BLOCKS;
const CAPACITY = 256;

/**
 * A stack of 64-byte blocks at `base`: the block numbers and, beside them, the addresses (a pop
 * returns the address a push stored, so pairs chain through no arithmetic: RESULTS.md), a chunk of
 * state, requested-size and start words as the core's, a record as the core's (counters, count,
 * stack numbers) and an id word.
 */
class Stack {
  readonly numbers = new Int32Array(CAPACITY);
  readonly addresses = new Float64Array(CAPACITY);
  readonly words = new Int32Array(4 * BLOCKS);
  readonly counters = new Float64Array(8);
  readonly record = new Uint32Array(16 + CAPACITY);
  readonly ids = new Int32Array(1);
  count = 128;
  lastId = 0;
  readonly maxBytes = 64;
  readonly base = 0x7f12_3400_0000; // above 2^32, as pool addresses are

  constructor() {
    for (let n = 0; n < BLOCKS; n++) {
      this.words[n] = FREED;
      this.words[START_PLUS_ONE + n] = 4 * n + 1;
    }
    for (let slot = 0; slot < this.count; slot++) {
      this.numbers[slot] = this.count - 1 - slot;
      this.addresses[slot] = this.base + 64 * this.numbers[slot]!;
    }
  }
}

/** The rare paths: here they only say so (a pool's would refill, flush or report). */
function rareAlloc(_stack: Stack): number {
  return -1;
}
function rareFree(_stack: Stack): number {
  return 1;
}

/** The least: pop an address, mark its block live; check the pointer is a live block's, mark it freed, push. */
function bareAlloc(s: Stack): number {
  const count = s.count - 1;
  if (count < 0) return rareAlloc(s);
  s.count = count;
  s.words[s.numbers[count]!] = 1;
  return s.addresses[count]!;
}
function bareFree(s: Stack, address: number): number {
  const offset = address - s.base;
  const n = offset >>> 6;
  if (n * 64 !== offset || n >= BLOCKS) return rareFree(s);
  const state = s.words[n]!;
  if (state <= 0) return rareFree(s);
  s.words[n] = state | FREED;
  const count = s.count;
  s.numbers[count] = n;
  s.addresses[count] = address;
  s.count = count + 1;
  return 0;
}

/** What a pool's hit does besides: size check, pool-wide id, requested size, start word, counters, the record's count and numbers. */
function fullAlloc(s: Stack, size: number): number {
  if (!(size >>> 0 === size && size !== 0 && size <= s.maxBytes)) return rareAlloc(s);
  const count = s.count - 1;
  if (count < 0) return rareAlloc(s);
  const n = s.numbers[count]!;
  s.count = count;
  s.record[9] = count;
  const id = s.lastId === CONTINUED - 1 ? 1 : s.lastId + 1;
  s.lastId = id;
  s.ids[0] = id;
  s.words[REQUESTED + n] = size;
  s.words[n] = id;
  s.counters[0]! += 1;
  s.counters[2]! += size;
  return s.addresses[count]!;
}
function fullFree(s: Stack, address: number): number {
  const offset = address - s.base;
  const n = offset >>> 6;
  if (n * 64 !== offset || n >= BLOCKS) return rareFree(s);
  const words = s.words;
  if (words[START_PLUS_ONE + n] !== 4 * n + 1) return rareFree(s);
  const state = words[n]!;
  if (state <= 0 || state >= CONTINUED) return rareFree(s);
  const count = s.count;
  if (count === CAPACITY) return rareFree(s);
  words[n] = state | FREED;
  s.numbers[count] = n;
  s.addresses[count] = address;
  s.record[16 + count] = n;
  s.count = count + 1;
  s.record[9] = count + 1;
  s.counters[1]! += 1;
  s.counters[3]! += words[REQUESTED + n]!;
  return 0;
}

// The same functions twice over (made from source), so that one copy's rare paths can be taken
// once while the other's never are: JSC profiles each function apart.
// (The constants are written into the source as numbers, as a module's constants are folded.)
const constants: Record<string, number> = { FREED, CONTINUED, BLOCKS, REQUESTED, START_PLUS_ONE, CAPACITY };
const source = [rareAlloc, rareFree, bareAlloc, bareFree, fullAlloc, fullFree].map(String).join("\n").replace(/\b[A-Z][A-Z_]+\b/g, (name) => String(constants[name] ?? name));
const copies = () => new Function(`"use strict";\n${source}\nreturn { bareAlloc, bareFree, fullAlloc, fullFree };`)() as { bareAlloc: typeof bareAlloc; bareFree: typeof bareFree; fullAlloc: typeof fullAlloc; fullFree: typeof fullFree };
const never = copies();
const once = copies();
const stacks = [new Stack(), new Stack(), new Stack(), new Stack()] as const;
{
  // The rare paths of `once`, taken once each (an empty stack, a pointer no block starts at).
  const [, bare, , full] = stacks;
  for (const s of [bare, full]) {
    const count = s.count;
    s.count = 0;
    once.bareAlloc(s);
    once.fullAlloc(s, 64);
    s.count = count;
    once.bareFree(s, s.base + 8);
    once.fullFree(s, s.base + 8);
  }
}

const rows: [string, () => void][] = [
  [
    "libc malloc+free",
    () => {
      const p = malloc(64);
      free(p);
      do_not_optimize(p);
    },
  ],
  [
    "default pool allocateRaw+deallocate",
    () => {
      const p = pool.allocateRaw(64);
      pool.deallocate(p);
      do_not_optimize(p);
    },
  ],
  [
    "bare stack, rare path never run",
    () => {
      const p = never.bareAlloc(stacks[0]);
      never.bareFree(stacks[0], p);
      do_not_optimize(p);
    },
  ],
  [
    "bare stack, rare path run once before",
    () => {
      const p = once.bareAlloc(stacks[1]);
      once.bareFree(stacks[1], p);
      do_not_optimize(p);
    },
  ],
  [
    "a pool's whole hit, rare path never run",
    () => {
      const p = never.fullAlloc(stacks[2], 64);
      never.fullFree(stacks[2], p);
      do_not_optimize(p);
    },
  ],
  [
    "a pool's whole hit, rare path run once before",
    () => {
      const p = once.fullAlloc(stacks[3], 64);
      once.fullFree(stacks[3], p);
      do_not_optimize(p);
    },
  ],
];

for (let i = 0; i < 200_000; i++) for (const [, fn] of rows) fn();
if (process.env.FLOOR_CLOCK === "cpu") {
  const times = threadCpuTimes(rows, 7);
  const libc = times.get(rows[0]![0])!;
  for (const [name] of rows) console.log(`${times.get(name)!.toFixed(2).padStart(8)} ns  ${(times.get(name)! / libc).toFixed(2)}x  ${name} (thread CPU time)`);
} else {
  for (let round = 0; round < 3; round++) for (const [name, fn] of rows) register(`${name} #${round}`, fn);
  const times = timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0]));
  const best = (name: string) => Math.min(...[0, 1, 2].map((round) => times.get(`${name} #${round}`)!));
  const libc = best(rows[0]![0]);
  for (const [name] of rows) console.log(`${best(name).toFixed(2).padStart(8)} ns  ${(best(name) / libc).toFixed(2)}x  ${name}`);
}
manager.destroyPool("floor-default");
