/**
 * Model-based attack on the default FixedSize pool (threadSafety "none": allocations and frees on
 * the JavaScript cache, runs over blockSize through the core). A fixed seed drives thousands of
 * random operations by every route: allocate / allocateRaw, frees by handle, deallocate(handle),
 * deallocate(pointer), deallocate(view) and fromPointer handles; and the frees that must be
 * refused: stale handles (their block reused), double frees by pointer, interior pointers, the
 * wrong pool; reset() and trim() in between. After every step the statistics must equal the
 * model's (bytes in use, live allocations, allocation and free counts), and periodically
 * getLeaks() and snapshot() must name exactly the model's live allocations.
 */
import { describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, OutOfMemoryError, PoolConfig, UseAfterFreeError, type Allocation, type CPUMemoryPool } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const OPERATIONS = 20_000;
const cpuPool = cpuPoolsPerTest();

interface Live {
  ptr: number;
  size: number;
  id: number;
  stamp: number;
  allocation: Allocation | undefined;
}

/** Runs the model; returns how often each kind of step ran (so a test can see its cases were reached). */
function run(blockSize: number, fields: Partial<PoolConfig>, seed: number, allocShare = 40): Record<string, number> {
  const seen: Record<string, number> = { outOfMemory: 0, runs: 0, staleRefused: 0, resets: 0, trimmedBytes: 0, checks: 0 };
  const name = `model ${blockSize} ${JSON.stringify(fields)}`;
  const pool: CPUMemoryPool = cpuPool(name, Object.assign(PoolConfig.FixedSizeCPU(blockSize), fields));
  const other: CPUMemoryPool = cpuPool(`${name} other`, PoolConfig.FixedSizeCPU(blockSize));
  expect(pool.config.threadSafety).toBe("none");
  const foreign = other.allocate(Math.min(blockSize, 8));
  const next = random(seed);
  const pick = (bound: number) => Math.floor(next() * bound);
  const live: Live[] = [];
  /** Handles and pointers of ended allocations: every free through them must be refused. */
  const dead: { allocation: Allocation | undefined; ptr: number; id: number; trimmed?: boolean }[] = [];
  let allocations = 0;
  let frees = 0;
  let stamp = 1;
  const bytes = (ptr: number, size: number) => new Uint8Array(pool.fromPointer(ptr).bytes.buffer, 0, size);

  const checkStats = (step: string) => {
    const stats = pool.getStats();
    const inUse = live.reduce((sum, block) => sum + block.size, 0);
    expect({ step, bytesInUse: stats.bytesInUse, live: stats.liveAllocations, allocations: stats.allocationCount, frees: stats.freeCount }).toEqual({ step, bytesInUse: inUse, live: live.length, allocations, frees });
    expect(stats.bytesInUse + stats.freeBytes).toBeLessThanOrEqual(stats.bytesReserved);
    expect(stats.cachedBytes).toBeLessThanOrEqual(stats.freeBytes);
  };
  const endLive = (index: number) => {
    const [block] = live.splice(index, 1);
    dead.push({ allocation: block!.allocation, ptr: block!.ptr, id: block!.id });
    if (dead.length > 64) dead.shift();
    frees++;
    return block!;
  };

  for (let op = 0; op < OPERATIONS; op++) {
    // allocShare in 100 steps allocate; the others are spread as when it is 40.
    const drawn = pick(100);
    const choice = drawn < allocShare ? 0 : 40 + pick(60);
    if (choice < 40 || live.length === 0) {
      // Mostly single blocks (the cache), sometimes runs of blocks (the core).
      const size = pick(8) === 0 ? blockSize + 1 + pick(3 * blockSize) : 1 + pick(blockSize);
      const raw = pick(3) === 0;
      let ptr: number;
      let allocation: Allocation | undefined;
      try {
        if (raw) ptr = pool.allocateRaw(size) as number;
        else {
          allocation = pool.allocate(size);
          ptr = allocation.ptr as number;
        }
      } catch (err) {
        expect(err).toBeInstanceOf(OutOfMemoryError);
        expect(fields.maxSize).toBeGreaterThan(0); // only a bounded pool runs out
        seen.outOfMemory!++;
        checkStats(`failed allocation of ${size}`);
        continue;
      }
      allocations++;
      if (size > blockSize) seen.runs!++;
      const id = allocation?.id ?? pool.fromPointer(ptr).id;
      for (const block of live) expect(ptr + size <= block.ptr || block.ptr + block.size <= ptr).toBe(true);
      const mine = stamp++ & 0xff;
      const view = bytes(ptr, size);
      view[0] = mine;
      view[size - 1] = mine;
      live.push({ ptr, size, id, stamp: mine, allocation });
    } else if (choice < 75) {
      const index = pick(live.length);
      const block = live[index]!;
      const view = bytes(block.ptr, block.size);
      expect([view[0], view[block.size - 1]]).toEqual([block.stamp, block.stamp]);
      const route = pick(5);
      if (route === 0 && block.allocation) block.allocation.free();
      else if (route === 1 && block.allocation) pool.deallocate(block.allocation);
      else if (route === 2) pool.deallocate(view.subarray(0, block.size));
      else if (route === 3) pool.fromPointer(block.ptr).free();
      else pool.deallocate(block.ptr);
      endLive(index);
      if (block.allocation) expect(block.allocation.alive).toBe(false);
    } else if (choice < 85 && dead.length > 0) {
      // A stale handle, or a pointer whose block no live allocation starts at: refused, nothing freed.
      const gone = dead[pick(dead.length)]!;
      const reused = live.some((block) => block.ptr === gone.ptr);
      const inside = live.some((block) => block.ptr < gone.ptr && gone.ptr < block.ptr + block.size);
      seen.staleRefused!++;
      if (gone.allocation) {
        const error = thrown(() => gone.allocation!.free());
        // After trim() gave its region back, no block is there: an InvalidPointerError, as on a "mutex" pool.
        expect(`${error?.name}: ${error?.message}`).toMatch(gone.trimmed ? /^(DoubleFreeError|UseAfterFreeError|InvalidPointerError: .*never gave out)/ : /^(DoubleFreeError|UseAfterFreeError)/);
      } else if (!reused) {
        const error = thrown(() => pool.deallocate(gone.ptr));
        // A block whose region trim() gave back is no block of the pool any more.
        expect(`${error?.name}: ${error?.message}`).toMatch(inside ? /^InvalidPointerError: .*inside/ : gone.trimmed ? /^(DoubleFreeError|InvalidPointerError: .*never gave out)/ : /^DoubleFreeError/);
      }
    } else if (choice < 92) {
      const block = live[pick(live.length)]!;
      const into = block.size > 16 ? 16 : 0;
      if (into > 0) expect(thrown(() => pool.deallocate(block.ptr + into))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => pool.deallocate(foreign.ptr))).toBeInstanceOf(InvalidPointerError);
      if (block.allocation) expect(thrown(() => other.deallocate(block.allocation!))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => other.deallocate(block.ptr))).toBeInstanceOf(InvalidPointerError);
    } else if (choice < 97) {
      const trimmed = pool.trim();
      seen.trimmedBytes! += trimmed;
      if (trimmed > 0) for (const gone of dead) gone.trimmed = true;
    } else if (choice < 98) {
      pool.reset();
      seen.resets!++;
      frees += live.length;
      for (const block of live.splice(0)) dead.push({ allocation: block.allocation, ptr: block.ptr, id: block.id });
      dead.splice(0, Math.max(0, dead.length - 64));
    } else {
      seen.checks!++;
      const leaks = pool.getLeaks().map((leak) => leak.id).sort((a, b) => a - b);
      expect(leaks).toEqual(live.map((block) => block.id).sort((a, b) => a - b));
      const snapshot = pool.snapshot();
      const liveBlocks = snapshot.blocks.filter((block) => block.state === "live");
      expect(liveBlocks.map((block) => block.id).sort((a, b) => a! - b!)).toEqual(live.map((block) => block.id).sort((a, b) => a - b));
      expect(snapshot.regions.reduce((sum, region) => sum + region.liveBlocks, 0)).toBe(live.length);
    }
    checkStats(`op ${op}`);
  }
  // Ids are unique among live allocations, and every handle still says what it is.
  expect(new Set(live.map((block) => block.id)).size).toBe(live.length);
  for (const block of live) if (block.allocation) expect(block.allocation.alive).toBe(true);
  for (const block of live.splice(0)) pool.deallocate(block.ptr); // nothing left for a leak report
  expect(pool.getStats()).toMatchObject({ bytesInUse: 0, liveAllocations: 0 });
  for (const kind of ["runs", "staleRefused", "resets", "checks"]) expect({ kind, count: seen[kind]! > 0 }).toEqual({ kind, count: true });
  return seen;
}

describe("default FixedSize pool against a model", () => {
  for (const blockSize of [16, 17, 48, 64, 4096]) { // 48: a stride of 3 granules (a division, not a shift)
    test(`blockSize ${blockSize}, growing from a small pool`, () => {
      const seen = run(blockSize, { initialSize: 64 * 1024 }, 0x5eed + blockSize);
      if (blockSize === 4096) expect(seen.trimmedBytes).toBeGreaterThan(0); // the pool grew past its first region and gave regions back
    });
  }
  test("blockSize 1024, bounded (maxSize = initialSize = 64 blocks): out of memory is typed and changes nothing", () => {
    expect(run(1024, { initialSize: 64 * 1024, maxSize: 64 * 1024 }, 0xb0bb, 70).outOfMemory).toBeGreaterThan(0);
  });
  test("blockSize 64 with trackHistory, leakReport and safeViews (TypeScript's debug switches: the cache stays on)", () => {
    run(64, { initialSize: 64 * 1024, trackHistory: true, leakReport: true, safeViews: true }, 0xdeb9);
  });
  test("blockSize 100, alignment 256", () => {
    run(100, { initialSize: 64 * 1024, alignment: 256 }, 0xa11);
  });
});
