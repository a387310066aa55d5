/**
 * Speed of CPU pools against their anchors:
 *  1. fixed-size allocateRaw(64) + deallocate vs libc malloc(64) + free through bun:ffi (≤ 0.5×)
 *  2. allocate(n) + .bytes + free() vs new Uint8Array(n) at 64 B (≤ 1.0×), 4 KiB, 64 KiB, 1 MiB (≤ 0.25×)
 *  3. variable sizes 16 B..64 KiB, a ring of 1000 live blocks (free the oldest, allocate one)
 *     vs the same pattern with libc malloc/free (≤ 0.7×)
 */
import { do_not_optimize, group } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { compare, type Suite, type TimedGoal } from "./goals";
import { makeRings } from "./ring";
import { KiB, MiB } from "./util";

const RING_WARMUP = 200_000;
const POOLS = ["bench-fixed-64", "bench-variable", "bench-ring"];

export function cpuSuite(): Suite {
  const manager = MemoryPoolManager.getInstance();
  const goals: TimedGoal[] = [];

  // 1. Fixed-size blocks of 64 bytes.
  const fixed = manager.createCPUPool("bench-fixed-64", PoolConfig.FixedSizeCPU(64));
  group("1. fixed 64 B: alloc + free", () => {
    goals.push(
      compare(
        "1. fixed 64 B allocateRaw+deallocate vs malloc+free",
        [
          "pool.allocateRaw(64) + deallocate",
          () => {
            const p = fixed.allocateRaw(64);
            fixed.deallocate(p);
            do_not_optimize(p);
          },
        ],
        [
          "libc malloc(64) + free (ffi)",
          () => {
            const p = malloc(64);
            free(p);
            do_not_optimize(p);
          },
        ],
        0.5,
      ),
    );
  });

  // 2. Allocation handles with a view vs a fresh (zero-filled, garbage-collected) typed array.
  const variable = manager.createCPUPool("bench-variable", Object.assign(new PoolConfig(), { initialSize: 8 * MiB, growth: 2 }));
  const sizes: [string, number, number][] = [
    ["64 B", 64, 1.0],
    ["4 KiB", 4 * KiB, 0.25],
    ["64 KiB", 64 * KiB, 0.25],
    ["1 MiB", MiB, 0.25],
  ];
  group("2. allocate(n).bytes + free() vs new Uint8Array(n)", () => {
    for (const [label, n, goal] of sizes) {
      const row = compare(
        `2. allocate(${label}).bytes+free vs new Uint8Array`,
        [
          `pool.allocate(${label}).bytes + free()`,
          () => {
            const a = variable.allocate(n);
            do_not_optimize(a.bytes);
            a.free();
          },
        ],
        [`new Uint8Array(${label})`, () => do_not_optimize(new Uint8Array(n))],
        goal,
      );
      goals.push(row);
      if (n !== 64) continue;
      // Where the 64-byte case spends its time: the same pool without the handle, and the handle without the view.
      goals.push(
        compare(
          "   diag: allocateRaw(64)+deallocate, same pool",
          [
            "pool.allocateRaw(64) + deallocate (variable pool)",
            () => {
              const p = variable.allocateRaw(64);
              variable.deallocate(p);
              do_not_optimize(p);
            },
          ],
          row.anchor,
          undefined,
        ),
        compare(
          "   diag: allocate(64 B)+free, no .bytes",
          [
            "pool.allocate(64 B) + free(), no view",
            () => {
              const a = variable.allocate(64);
              a.free();
              do_not_optimize(a);
            },
          ],
          row.anchor,
          undefined,
        ),
      );
    }
  });

  // 3. Variable sizes, 1000 live blocks: each iteration frees the oldest and allocates a new one.
  const ringPool = manager.createCPUPool("bench-ring", Object.assign(new PoolConfig(), { initialSize: 64 * MiB, growth: 2 }));
  // Run both rings to a steady state (free space cut up, the pool grown as far as it will) before timing.
  const rings = makeRings(ringPool, RING_WARMUP);
  group("3. random 16 B..64 KiB, ring of 1000 live blocks", () => {
    goals.push(
      compare(
        "3. ring of 1000, random 16 B..64 KiB vs malloc/free",
        ["pool ring: deallocate oldest + allocateRaw", rings.poolStep],
        ["libc ring: free oldest + malloc (ffi)", rings.libcStep],
        0.7,
      ),
    );
  });

  return {
    goals,
    notes() {
      const stats = ringPool.getStats();
      return [
        `ring pool after the run (initialSize 64 MiB, growth 2): ${stats.regionCount} region(s), ${stats.growthCount} growth(s), ` +
          `peak reserved ${(stats.peakBytesReserved / MiB).toFixed(1)} MiB for peak in use ${(stats.peakBytesInUse / MiB).toFixed(1)} MiB, ` +
          `${stats.liveAllocations} live, fragmentation ${(stats.fragmentation * 100).toFixed(1)} %, ` +
          `core-sampled alloc ${stats.allocTimeNs.toFixed(0)} ns / free ${stats.freeTimeNs.toFixed(0)} ns`,
      ];
    },
    cleanup() {
      rings.cleanup();
      for (const name of POOLS) manager.destroyPool(name);
    },
  };
}
