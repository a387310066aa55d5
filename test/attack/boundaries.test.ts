/**
 * Boundary sizes as jemalloc's and tcmalloc's suites probe them, on pools that cannot grow: powers
 * of two and their neighbours, blockSize and its neighbours on FixedSize pools (runs of blocks),
 * a pool's whole remaining space, and maxSize exactly. Found by attacking main: a Variable pool
 * without growth refused its whole remaining space ("none free in one piece") although
 * getStats().largestFreeBlock said it was there, because TLSF's search rounds a request up to the
 * next size class and passes over a block of exactly the size asked for.
 */
import { describe, expect, test } from "bun:test";
import { InvalidSizeError, OutOfMemoryError, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const KiB = 1024;
const MiB = 1024 * KiB;

const modes: [string, Partial<PoolConfig>][] = [
  ["none", {}],
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree (sharded)", { threadSafety: "lockFree" }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["alignment 4096", { alignment: 4096 }],
  ["canaries", { canaries: true }],
];

describe("a Variable pool without growth serves its whole remaining space, then refuses with OutOfMemoryError", () => {
  for (const [name, fields] of modes) {
    test(name, () => {
      const p = pool(`attack-remaining-${name}`, { initialSize: MiB, growth: 0, ...fields });
      const first = p.allocate(100);
      const largest = p.getStats().largestFreeBlock;
      expect(largest).toBeGreaterThan(MiB / 2);
      // The largest free block, as the pool reports it, less what the debug layer puts around a
      // block; aligned to 4096, what lies after the first block's page.
      const room = fields.alignment === 4096 ? MiB - 4096 : largest - (fields.canaries ? 2 * 16 : 0);
      const rest = p.allocate(room);
      rest.bytes[room - 1] = 7;
      expect(thrown(() => p.allocate(fields.alignment ?? 16))).toBeInstanceOf(OutOfMemoryError);
      rest.free();
      first.free();
      p.trim(); // a "none" pool's JavaScript bins give the blocks back
      // Freed and merged: the whole region is one block again, and serves a request of all of it.
      const all = p.allocate(p.getStats().largestFreeBlock - (fields.canaries ? 2 * 16 : 0));
      all.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

describe("powers of two and their neighbours, freed in reverse, then the same sizes again without growing", () => {
  for (const [name, fields] of modes) {
    test(name, () => {
      const p = pool(`attack-powers-${name}`, { initialSize: 8 * MiB, growth: 0, ...fields });
      const sizes = Array.from({ length: 21 }, (_, bit) => [2 ** bit - 1, 2 ** bit, 2 ** bit + 1]).flat().filter((size) => size > 0);
      for (let round = 0; round < 2; round++) {
        const live = sizes.map((size) => {
          const allocation = p.allocate(size);
          expect(Number(allocation.ptr) % (fields.alignment ?? 16)).toBe(0);
          allocation.bytes[0] = size & 0xff;
          allocation.bytes[size - 1] = (size >> 8) & 0xff;
          return allocation;
        });
        for (const allocation of live.reverse()) {
          expect(allocation.bytes[allocation.size - 1]).toBe((allocation.size >> 8) & 0xff);
          if (allocation.size > 1) expect(allocation.bytes[0]).toBe(allocation.size & 0xff);
          allocation.free();
        }
      }
      const stats = p.getStats();
      expect(stats.liveAllocations).toBe(0);
      expect(stats.growthCount).toBe(0);
      expect(stats.freeBytes).toBe(stats.bytesReserved);
    });
  }
});

describe("FixedSize: blockSize and its neighbours, runs up to the last block, then OutOfMemoryError", () => {
  const fixedModes: [string, Partial<PoolConfig>][] = [
    ["none", {}],
    ["mutex", { threadSafety: "mutex" }],
    ["lockFree", { threadSafety: "lockFree" }],
    ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
    ["canaries", { canaries: true }],
  ];
  for (const [name, fields] of fixedModes) {
    test(name, () => {
      const block = 1000;
      const p = pool(`attack-fixed-${name}`, { ...PoolConfig.FixedSizeCPU(block), initialSize: 64 * KiB, growth: 0, ...fields });
      for (const size of [1, block - 1, block, block + 1, 2 * block - 1, 2 * block, 2 * block + 1, 10 * block]) {
        const allocation = p.allocate(size);
        allocation.bytes.fill(0xab);
        expect(allocation.bytes.every((byte) => byte === 0xab)).toBe(true);
        allocation.free();
      }
      // Single blocks fill the pool; after them, a run of all but two blocks and singles in what is left.
      const fill = () => {
        const taken = [];
        for (;;) {
          try {
            taken.push(p.allocate(block));
          } catch (err) {
            expect(err).toBeInstanceOf(OutOfMemoryError);
            return taken;
          }
        }
      };
      const singles = fill();
      expect(singles.length).toBeGreaterThan(8);
      for (const allocation of singles) allocation.free();
      const run = p.allocate(block * (singles.length - 2));
      run.bytes.fill(1);
      const rest = fill();
      expect(rest.length).toBeGreaterThanOrEqual(1); // with canaries a run's blocks carry one pair of them, so more are left
      for (const allocation of rest) allocation.free();
      run.free();
      expect(p.getStats().liveAllocations).toBe(0);
      const again = fill(); // the run's blocks came back, all of them
      expect(again.length).toBe(singles.length);
      for (const allocation of again) allocation.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

describe("maxSize exactly", () => {
  test("a pool whose first region is all it may have serves it whole, and one byte more is InvalidSizeError", () => {
    const p = pool("attack-max-one-region", { initialSize: MiB, maxSize: MiB });
    expect(thrown(() => p.allocate(MiB + 1))).toBeInstanceOf(InvalidSizeError);
    const whole = p.allocate(MiB); // all of it (see whole-pool-request.test.ts)
    whole.bytes[MiB - 1] = 1;
    expect(thrown(() => p.allocate(16))).toBeInstanceOf(OutOfMemoryError);
  });

  test("a growing pool serves a request of all the room left under maxSize, committing no more than maxSize", () => {
    const p = pool("attack-max-grown", { initialSize: 64 * KiB, maxSize: MiB });
    const rest = p.allocate(MiB - 64 * KiB); // a region of exactly the room left: found, not passed over
    rest.bytes[rest.size - 1] = 1;
    expect(p.getStats().bytesReserved).toBe(MiB);
    const first = p.allocate(64 * KiB - 16);
    expect(thrown(() => p.allocate(32))).toBeInstanceOf(OutOfMemoryError); // 16 bytes are left: not 32
    first.free();
    rest.free();
  });
});
