/**
 * FixedSize pools serve a request over one block as a run of consecutive free blocks, reserved in
 * place where the blocks' states show it (zig/src/sync/lockfree_fixed.zig reserveRun: the run's
 * blocks keep their entries on the free stack, marked stale, and pops drop them) or, with the lock,
 * from strategy/fixed.zig's live bits. What must hold whatever the path: no block of a live run is
 * handed out again (stamps), a run's interior pointer and a second free are typed errors, the
 * statistics are exact, and once everything is freed every block is on the free stack exactly
 * once (the pool's blocks one at a time, each once, then the whole pool as one run, no growth).
 * Single-threaded in every threadSafety mode here; several Workers racing on one pool in a child
 * process (a crash fails the test, not the run).
 */
import { describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, MemoryPoolManager, OutOfMemoryError, PoolConfig } from "../../src/index";
import { runChild } from "../pmem/helpers";
import type { RunsReport } from "../fixtures/attack/fixedruns-worker";

const manager = MemoryPoolManager.getInstance();
const modes: [string, object][] = [
  ["none", { threadSafety: "none" }],
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree", { threadSafety: "lockFree" }],
  ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
  ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
];
const BLOCK = 64;
const POOL = 256 << 10; // 4096 blocks

describe("runs of blocks on one thread: stamps, typed errors, exact statistics, every block back once", () => {
  for (const [name, mode] of modes) {
    test(name, () => {
      const pool = manager.createCPUPool(`fixedruns-${name}`, Object.assign(PoolConfig.FixedSizeCPU(BLOCK), { initialSize: POOL, maxSize: POOL, growth: 0 }, mode));
      try {
        let seed = 99;
        const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
        const held: { ptr: number; size: number; stamp: number }[] = [];
        let bytesInUse = 0;
        const check = (block: { ptr: number; size: number; stamp: number }) => {
          const bytes = pool.fromPointer(block.ptr as never).bytes;
          for (let i = 0; i < block.size; i += 31) if (bytes[i] !== ((block.stamp + i) & 0xff)) throw new Error(`stamp of a ${block.size} B allocation damaged at ${i}`);
        };
        for (let step = 0; step < 6000; step++) {
          if (held.length > 0 && random() < 0.48) {
            const at = Math.floor(random() * held.length);
            const block = held[at]!;
            held[at] = held[held.length - 1]!;
            held.pop();
            check(block);
            if (block.size > BLOCK) expect(() => pool.deallocate((block.ptr + BLOCK) as never)).toThrow(InvalidPointerError);
            pool.deallocate(block.ptr as never);
            bytesInUse -= block.size;
            if (block.size > BLOCK && step % 7 === 0) expect(() => pool.deallocate(block.ptr as never)).toThrow(DoubleFreeError);
            continue;
          }
          const size = random() < 0.3 ? 1 + Math.floor(random() * BLOCK) : BLOCK + 1 + Math.floor(random() * 4032);
          let ptr: number;
          try {
            ptr = pool.allocateRaw(size) as number;
          } catch (err) {
            expect(err).toBeInstanceOf(OutOfMemoryError);
            continue;
          }
          const stamp = step & 0xff;
          const bytes = pool.fromPointer(ptr as never).bytes;
          for (let i = 0; i < size; i += 31) bytes[i] = (stamp + i) & 0xff;
          held.push({ ptr, size, stamp });
          bytesInUse += size;
          if (step % 500 === 0) {
            const s = pool.getStats();
            expect(s.liveAllocations).toBe(held.length);
            expect(s.bytesInUse).toBe(bytesInUse);
            expect(s.bytesAllocated).toBe(held.reduce((sum, b) => sum + Math.ceil(b.size / BLOCK) * BLOCK, 0));
          }
        }
        for (const block of held.splice(0)) {
          check(block);
          pool.deallocate(block.ptr as never);
        }
        const s = pool.getStats();
        expect(s.liveAllocations).toBe(0);
        expect(s.bytesInUse).toBe(0);
        expect(s.freeCount).toBe(s.allocationCount);
        expect(s.bytesReserved).toBe(POOL);
        // Every block once, one at a time, then none; then the whole pool as one run.
        const singles = new Set<number>();
        for (let i = 0; i < POOL / BLOCK; i++) singles.add(pool.allocateRaw(BLOCK) as number);
        expect(singles.size).toBe(POOL / BLOCK);
        expect(() => pool.allocateRaw(BLOCK)).toThrow(OutOfMemoryError);
        for (const p of singles) pool.deallocate(p as never);
        manager.flushThreadCaches();
        const whole = pool.allocateRaw(POOL);
        expect(() => pool.allocateRaw(1)).toThrow(OutOfMemoryError);
        pool.deallocate(whole);
        expect(pool.getStats().bytesReserved).toBe(POOL);
      } finally {
        manager.destroyPool(`fixedruns-${name}`);
      }
    });
  }
});

describe("runs of blocks raced by Workers on one pool: no block twice, typed errors, figures balanced, every block back once", () => {
  for (const [name, mode] of modes.slice(2).concat([modes[1]!])) {
    test(name, async () => {
      const config = { allocatorType: "FixedSize", blockSize: BLOCK, initialSize: POOL, maxSize: POOL, growth: 0, ...mode };
      const run = await runChild("../../fixtures/attack/fixedruns-child.ts", [JSON.stringify(config), "3", "4", "400", "2048"]);
      expect(run.stderr).toBe("");
      expect(run.signalCode).toBeNull();
      expect(run.exitCode).toBe(0);
      const outcome = JSON.parse(run.stdout) as { reports: RunsReport[]; afterWorkers: Record<string, number>; reserved: number; singles: number; distinct: number };
      expect(outcome.reports).toHaveLength(3);
      for (const report of outcome.reports) {
        expect(report.wrong).toEqual([]);
        expect(report.runs).toBeGreaterThan(100);
      }
      const figures = outcome.afterWorkers;
      expect(figures.liveAllocations).toBe(0);
      expect(figures.bytesInUse).toBe(0);
      expect(figures.bytesAllocated).toBe(0);
      expect(figures.cachedBytes).toBe(0);
      expect(figures.freeCount).toBe(figures.allocationCount);
      expect(figures.bytesFreedTotal).toBe(figures.bytesAllocatedTotal);
      expect(outcome.reserved).toBe(POOL);
      expect(outcome.singles).toBe(POOL / BLOCK);
      expect(outcome.distinct).toBe(POOL / BLOCK);
    }, 60_000);
  }
});
