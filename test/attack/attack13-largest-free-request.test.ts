/**
 * largestFreeBlock is the largest request the free space serves (54b5358): allocate(largestFreeBlock)
 * right after getStats() must succeed. Found by attacking main: on Variable pools aligned past a
 * granule (alignment 4096) it was a free block's whole size, though a request starts at its block's
 * first aligned byte (OutOfMemoryError, every thread safety); with canaries, Variable or FixedSize,
 * it counted the canaries' bytes as the request's (an empty pool of 1 MiB said 1 MiB and refused it).
 * Fragmentation still reads 0 where the free space is one piece.
 */
import { describe, expect, test } from "bun:test";
import type { PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";

const pool = cpuPoolsPerTest();

const SHAPES: [string, Partial<PoolConfig>][] = [
  ["Variable aligned to 4096", { alignment: 4096 }],
  ["Variable aligned to 4096, mutex", { alignment: 4096, threadSafety: "mutex" }],
  ["Variable aligned to 4096, lockFree (sharded)", { alignment: 4096, threadSafety: "lockFree" }],
  ["Variable with canaries", { canaries: true }],
  ["Variable with canaries, mutex", { canaries: true, threadSafety: "mutex" }],
  ["Variable aligned to 4096 with canaries", { alignment: 4096, canaries: true }],
  ["FixedSize with canaries", { allocatorType: "FixedSize", blockSize: 256, canaries: true }],
  ["FixedSize aligned to 4096 with canaries", { allocatorType: "FixedSize", blockSize: 256, alignment: 4096, canaries: true }],
  ["Variable with canaries and sampled guard pages", { canaries: true, guardPages: true, guardSampleRate: 3 }],
];

describe("allocate(largestFreeBlock) succeeds right after getStats()", () => {
  for (const [label, fields] of SHAPES) {
    test(label, () => {
      const p = pool(`attack13-lfb-${label}`, { initialSize: 1 << 20, maxSize: 4 << 20, growth: 0, ...fields });
      const empty = p.getStats();
      expect(empty.fragmentation).toBe(0); // one piece: the canaries' bytes are no fragmentation
      expect(() => p.allocate(empty.largestFreeBlock).free()).not.toThrow();
      const next = random(13);
      const live = [];
      const fixed = fields.allocatorType === "FixedSize";
      for (let i = 0; i < 1500; i++) {
        if (live.length > 0 && next() < 0.45) live.splice(Math.floor(next() * live.length), 1)[0]!.free();
        else {
          try {
            live.push(p.allocate(fixed ? 200 : 1 + Math.floor(next() * 20000)));
          } catch {} // full: frees come
        }
      }
      const stats = p.getStats();
      expect(stats.largestFreeBlock).toBeGreaterThan(0);
      expect(() => p.allocate(stats.largestFreeBlock).free()).not.toThrow();
      for (const a of live) a.free();
    });
  }
});
