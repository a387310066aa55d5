/**
 * `bun bench/boundary.ts`: issue 12's goal table, every row next to its anchor in this process.
 * The rows that need the GPU machine (16 Workers, GPU pools) are `bun bench/threads.ts` and
 * `bun bench/gpu.ts`; `collectStats` is in `npm run bench`. Figures: bench/RESULTS.md.
 */
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { do_not_optimize, group, run } from "mitata";
import { copy, MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { compare, goalRows, type TimedGoal } from "./goals";
import { makeRings } from "./ring";
import { cpuModel, KiB, MiB, table, timesByName } from "./util";

const manager = MemoryPoolManager.getInstance();
const goals: TimedGoal[] = [];
const pools: string[] = [];
function pool(name: string, config: PoolConfig) {
  pools.push(name);
  return manager.createCPUPool(name, config);
}

const libcPair: [string, () => void] = [
  "libc malloc(64) + free (ffi)",
  () => {
    const p = malloc(64);
    free(p);
    do_not_optimize(p);
  },
];

// 1. Fixed 64 B pairs: the default FixedSize pool (threadSafety "none") and a shared one (threadLocalCache), both on the JavaScript cache.
const fixed = pool("boundary-fixed", PoolConfig.FixedSizeCPU(64));
const cached = pool("boundary-cached", Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "mutex", threadLocalCache: true }));
// Before timing, as for the rings: 200,000 pairs of each, so the pools' paths are compiled (the first
// rows of a run otherwise measure JSC's lower tiers: bench/RESULTS.md).
for (let i = 0; i < 200_000; i++) {
  cached.deallocate(cached.allocateRaw(64));
  fixed.deallocate(fixed.allocateRaw(64));
  libcPair[1]();
}
group("fixed 64 B allocateRaw + deallocate", () => {
  const row = compare(
    "fixed 64 B allocateRaw+deallocate, JavaScript thread cache (threadLocalCache) vs libc",
    [
      "cached pool allocateRaw(64) + deallocate",
      () => {
        const p = cached.allocateRaw(64);
        cached.deallocate(p);
        do_not_optimize(p);
      },
    ],
    libcPair,
    0.5,
    3, // a third round (the lowest counts): these rows move most with the machine's load
  );
  goals.push(row);
  goals.push(
    compare(
      "fixed 64 B allocateRaw+deallocate, default FixedSize pool (\"none\": JavaScript cache, plain-store free) vs libc",
      [
        "default fixed pool allocateRaw(64) + deallocate",
        () => {
          const p = fixed.allocateRaw(64);
          fixed.deallocate(p);
          do_not_optimize(p);
        },
      ],
      row.anchor,
      0.5,
      3,
    ),
  );
});

// 2. Variable ring: 1000 live blocks of random sizes 16 B..64 KiB, free the oldest and allocate one.
const rings = makeRings(pool("boundary-ring", Object.assign(new PoolConfig(), { initialSize: 64 * MiB, growth: 2 })), 200_000);
group("variable ring of 1000", () => {
  goals.push(compare("variable ring, random 16 B..64 KiB, 1000 live vs libc", ["pool ring step", rings.poolStep], ["libc ring step", rings.libcStep], 0.5));
});

// 3. allocate + .bytes (the default, safe view) + free(), against the floor and the JavaScript allocators.
const variable = pool("boundary-views", Object.assign(new PoolConfig(), { initialSize: 8 * MiB, growth: 2 }));
const scratch = malloc(2 * MiB)! as Pointer;
const safeView = (n: number): [string, () => void] => [
  `allocate(${n}).bytes + free()`,
  () => {
    const a = variable.allocate(n);
    do_not_optimize(a.bytes);
    a.free();
  },
];
group("safe views", () => {
  const floor: [string, () => void] = [
    "floor: toArrayBuffer(64) + view + transfer(0)",
    () => {
      const buffer = toArrayBuffer(scratch, 0, 64);
      do_not_optimize(new Uint8Array(buffer));
      buffer.transfer(0);
    },
  ];
  const row = compare("allocate+.bytes+free, 64 B, default safe view vs the floor (exact buffer made and detached)", safeView(64), floor, 1.25);
  goals.push(row);
  goals.push(compare("  same, 64 B, vs new Uint8Array(64)", ["allocate(64).bytes + free() (vs Uint8Array)", safeView(64)[1]], ["new Uint8Array(64)", () => do_not_optimize(new Uint8Array(64))], undefined));
  // The same pairs on the default FixedSize pool (its allocations and frees stay in JavaScript), the pool a hot loop of 64 B blocks picks.
  const fixedView = (windowed: boolean): [string, () => void] => [
    `default FixedSize pool allocate(64)${windowed ? ".windowBytes()" : ".bytes"} + free()`,
    () => {
      const a = fixed.allocate(64);
      do_not_optimize(windowed ? a.windowBytes() : a.bytes);
      a.free();
    },
  ];
  goals.push(compare("  same, 64 B, default FixedSize pool, vs the floor", fixedView(false), row.anchor, 1.25));
  goals.push(
    compare(
      "window-view opt-in, 64 B, default FixedSize pool: allocate+windowBytes()+free vs new Uint8Array(64)",
      fixedView(true),
      ["new Uint8Array(64) (fixed window row)", () => do_not_optimize(new Uint8Array(64))],
      1.0,
    ),
  );
  goals.push(
    compare(
      "window-view opt-in, 64 B, Variable pool: allocate+windowBytes()+free vs new Uint8Array(64)",
      [
        "allocate(64).windowBytes() + free()",
        () => {
          const a = variable.allocate(64);
          do_not_optimize(a.windowBytes());
          a.free();
        },
      ],
      ["new Uint8Array(64) (window row)", () => do_not_optimize(new Uint8Array(64))],
      1.0,
    ),
  );
  // The same opt-in in one step, with no handle: the block's window view, freed by deallocate(view).
  for (const [label, p] of [
    ["default FixedSize pool", fixed],
    ["Variable pool", variable],
  ] as const) {
    goals.push(
      compare(
        `window-view opt-in, 64 B, ${label}: allocateWindowBytes+deallocate(view) vs new Uint8Array(64)`,
        [
          `${label} allocateWindowBytes(64) + deallocate(view)`,
          () => {
            const view = p.allocateWindowBytes(64);
            p.deallocate(view);
            do_not_optimize(view);
          },
        ],
        [`new Uint8Array(64) (${label} one-step window row)`, () => do_not_optimize(new Uint8Array(64))],
        1.0,
      ),
    );
  }
  for (const [label, n] of [
    ["1 KiB", KiB],
    ["2 KiB", 2 * KiB],
    ["4 KiB", 4 * KiB],
    ["64 KiB", 64 * KiB],
    ["1 MiB", MiB],
  ] as const) {
    const ours = safeView(n);
    // From 4 KiB up the goal is 0.25x; 1 and 2 KiB show where the pool starts to win (README).
    const row = compare(`allocate+.bytes+free, ${label} vs new Uint8Array`, ours, [`new Uint8Array(${label})`, () => do_not_optimize(new Uint8Array(n))], n >= 4 * KiB ? 0.25 : undefined);
    goals.push(row);
    goals.push(compare(`  same, ${label} vs Buffer.allocUnsafe`, [`${ours[0]} (vs allocUnsafe)`, ours[1]], [`Buffer.allocUnsafe(${label})`, () => do_not_optimize(Buffer.allocUnsafe(n))], n >= 64 * KiB ? 0.5 : undefined));
  }
});

// 4. Host copy() between allocations, against TypedArray.prototype.set.
const copyPool = pool("boundary-copy", Object.assign(new PoolConfig(), { initialSize: 4 * MiB }));
group("host copies", () => {
  for (const [label, n, goal] of [
    ["64 B", 64, 1.25],
    ["4 KiB", 4 * KiB, 1.0],
  ] as const) {
    const from = copyPool.allocate(n);
    const to = copyPool.allocate(n);
    const src = from.bytes;
    const dst = to.bytes;
    goals.push(
      compare(
        `host copy() between allocations, ${label} vs TypedArray.prototype.set`,
        [`copy(to, from) ${label}`, () => do_not_optimize(copy(to, from))],
        [`dst.set(src) ${label}`, () => do_not_optimize(dst.set(src))],
        goal,
      ),
    );
  }
});

const started = performance.now();
const average = timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0]));
rings.cleanup();
for (const name of pools) manager.destroyPool(name);
const { rows, unmet } = goalRows(goals, average);
console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(table(["figure (issue 12)", "ours", "anchor", "ratio", "goal", "met?"], rows));
console.log(`\n${unmet.length === 0 ? "all goals met" : `unmet: ${unmet.join("; ")}`} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
