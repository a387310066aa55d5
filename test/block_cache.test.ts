// The JavaScript thread cache of fixed-size lockFree / threadLocalCache pools (src/block_cache.ts):
// hits cross no FFI boundary, bad frees are still typed errors found on the cached path, and the
// statistics stay exact, with cached bytes apart from bytes in use.
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DoubleFreeError, InvalidPointerError, MemoryPoolManager, PoolConfig, PoolNotFoundError, UseAfterFreeError } from "../src/index";
import { BlockCache, CACHE_CANNOT_TELL } from "../src/block_cache";
import { thrown } from "./support/thrown";
import { baseOf, handleOf } from "../src/pool";
import { offsetOfAllocation } from "../src/allocation";

const manager = MemoryPoolManager.getInstance();
let created: string[] = [];
afterEach(() => {
  for (const name of created) if (manager.hasPool(name)) manager.destroyPool(name);
  created = [];
});
function cachedPool(name: string, blockSize = 64, fields: Partial<InstanceType<typeof PoolConfig>> = {}) {
  created.push(name);
  return manager.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(blockSize), { threadSafety: "mutex", threadLocalCache: true }, fields));
}

describe("the JavaScript thread cache", () => {
  test("hits cross no FFI boundary, batches cross once each, and bad frees are found with no FFI call", () => {
    // In a process of its own: the core's functions are wrapped to count calls before the library captures them.
    const result = Bun.spawnSync([process.execPath, join(import.meta.dir, "fixtures", "cache-crossings.ts")], { stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    const counts = JSON.parse(result.stdout.toString()) as { uncachedFree: number; hits: number; defaultHits: number; batches: number; badFrees: number; errors: string[]; variableHits: number; variableBadFrees: number; variableErrors: string[] };
    expect(counts.uncachedFree).toBeGreaterThan(0); // the counting works: a pool without a cache crosses
    expect(counts.hits).toBe(0); // 10^4 pairs, .bytes and alive included
    expect(counts.defaultHits).toBe(0); // the same on a default FixedSize pool (threadSafety "none")
    expect(counts.batches).toBeGreaterThan(0); // 1000 live blocks: a refill per 64, flushes on the way back
    expect(counts.batches).toBeLessThan(40);
    expect(counts.badFrees).toBe(0);
    expect(counts.errors).toEqual(["DoubleFreeError", "DoubleFreeError", "InvalidPointerError", "InvalidPointerError", "InvalidPointerError", "InvalidPointerError", "InvalidPointerError"]);
    // A default Variable pool's bins (src/size_bins.ts): repeated sizes, .bytes and alive cross nothing; so do a binned block's double free, a stale handle's free and the wrong pool's pointer.
    expect(counts.variableHits).toBe(0);
    expect(counts.variableBadFrees).toBe(0);
    expect(counts.variableErrors).toEqual(["DoubleFreeError", "DoubleFreeError", "InvalidPointerError"]);
  });

  // Shared pools free with a compare-and-swap, a default ("none") pool with a plain store: both must find every bad free.
  for (const [label, fields] of [
    ["threadLocalCache", {}],
    ['default "none"', { threadSafety: "none", threadLocalCache: false }],
  ] as const) {
  test(`double free, interior, foreign and unknown pointers and the wrong pool are typed errors, with messages (${label})`, () => {
    const pool = cachedPool(`errors ${label}`, 64, fields);
    const other = cachedPool(`errors-other ${label}`, 64, fields);
    const a = pool.allocate(48);
    const b = pool.allocate(48);
    const view = b.bytes;
    const foreign = other.allocate(48);
    pool.deallocate(a.ptr);
    const caught = [
      thrown(() => pool.deallocate(a.ptr)),
      thrown(() => pool.deallocate(b.ptr + 16)),
      thrown(() => pool.deallocate(foreign.ptr)),
      thrown(() => pool.deallocate(b.ptr + 64 * 512)), // inside the pool, a block never given out
    ];
    expect(caught[0]).toBeInstanceOf(DoubleFreeError);
    expect(caught[0]!.message).toContain("double free");
    expect(caught[1]).toBeInstanceOf(InvalidPointerError);
    expect(caught[1]!.message).toContain("inside an allocation");
    expect(caught[2]!.message).toContain(`belongs to pool 'errors-other ${label}'`);
    expect(caught[3]).toBeInstanceOf(InvalidPointerError);
    // Nothing was freed by the refusals.
    pool.deallocate(view);
    expect(view.length).toBe(0);
    expect(thrown(() => pool.deallocate(view))).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => b.free())).toBeInstanceOf(DoubleFreeError);
    foreign.free();
    expect(thrown(() => other.deallocate(foreign.ptr))).toBeInstanceOf(DoubleFreeError);
  });
  }

  // A chunk of state words covers 4096 blocks; a cache views chunks as it meets their blocks, and
  // every chunk below one it needs (its list of views has no holes, so its hot paths test none).
  async function blocksOf(pool: { name: string }, count: number, fields: object): Promise<number[]> {
    if ("threadSafety" in fields) return Array.from({ length: count }, () => (pool as ReturnType<typeof cachedPool>).allocateRaw(64));
    // A shared pool's blocks made by a Worker: this thread's cache meets them first in a free.
    const worker = new Worker(new URL("./fixtures/pool-user-worker.ts", import.meta.url).href);
    const done = new Promise<{ pointers: number[] }>((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    worker.postMessage({ mode: "raw", poolName: pool.name, count });
    const { pointers } = await done;
    worker.terminate();
    return pointers;
  }
  for (const [label, fields] of [
    ["threadLocalCache, blocks made by a Worker", {}],
    ['default "none"', { threadSafety: "none", threadLocalCache: false }],
  ] as const) {
    test(`blocks past the first chunk of state words are served with every check (${label})`, async () => {
      const pool = cachedPool(`chunks ${label}`, 64, { initialSize: 1 << 20, ...fields });
      const count = 3 * 4096 + 100; // four chunks
      const made = await blocksOf(pool, count, fields);
      expect(new Set(made).size).toBe(count);
      for (let i = count - 1; i >= 0; i -= 2) pool.deallocate(made[i]!); // from the last chunk down
      expect(thrown(() => pool.deallocate(made[count - 1]!))).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => pool.deallocate(made[count - 2]! + 16))!.message).toContain("inside an allocation");
      expect(thrown(() => pool.deallocate(made[5000]! + 32))).toBeInstanceOf(InvalidPointerError);
      expect(pool.getStats().liveAllocations).toBe(count / 2);
      // The freed blocks come back (from the cache, then the core), each once, none of the live ones.
      const again = Array.from({ length: count / 2 }, () => pool.allocateRaw(64));
      expect(new Set([...again, ...made.filter((_, i) => i % 2 === 0)]).size).toBe(count);
      for (const p of again) pool.deallocate(p);
      for (let i = 0; i < count; i += 2) pool.deallocate(made[i]!);
      manager.flushThreadCaches();
      expect(pool.getStats()).toMatchObject({ liveAllocations: 0, allocationCount: count * 1.5, freeCount: count * 1.5, bytesInUse: 0, cachedBytes: 0 });
    });
  }

  test("a default (\"none\") pool's ids count pool-wide, across the cache and the core's runs", () => {
    const pool = cachedPool("pool-ids", 64, { threadSafety: "none", threadLocalCache: false });
    const made = [pool.allocate(64), pool.allocate(200), pool.allocate(10), pool.allocate(300), pool.allocate(64)]; // runs go through the core
    expect(made.map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
    made[0]!.free();
    const again = pool.allocate(64); // the freed block, from the cache, with the next id
    expect(again.ptr).toBe(made[0]!.ptr);
    expect(again.id).toBe(6);
    expect(pool.snapshot().blocks.find((b) => b.offset === 0)).toMatchObject({ id: 6, age: 0 });
    for (const a of [again, ...made.slice(1)]) a.free();
  });

  test("a default (\"none\") pool's counts, last id and stack, kept in JavaScript between core calls, are exact at every core reader", () => {
    const pool = cachedPool("published", 64, { threadSafety: "none", threadLocalCache: false });
    const expectCounts = (allocations: number, frees: number, bytesInUse: number, cachedBlocks: number) =>
      expect(pool.getStats()).toMatchObject({ allocationCount: allocations, freeCount: frees, liveAllocations: allocations - frees, bytesInUse, cachedBytes: 64 * cachedBlocks });
    const raw = Array.from({ length: 100 }, (_, i) => pool.allocateRaw(1 + (i % 64))); // two refills
    const requested = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => 1 + ((from + i) % 64)).reduce((a, b) => a + b, 0);
    expectCounts(100, 0, requested(0, 100), 28);
    for (const p of raw.slice(0, 40)) pool.deallocate(p);
    expectCounts(100, 40, requested(40, 100), 68);
    expect(pool.getStats().peakLiveAllocations).toBeGreaterThanOrEqual(64); // a refill saw at least its first batch live
    pool.resetPeaks();
    expect(pool.getStats()).toMatchObject({ peakLiveAllocations: 60, peakBytesInUse: requested(40, 100) });
    // The core's run takes the next id: the ids the cache gave since the last core call reached the core's word first.
    const run = pool.allocate(200);
    expect(run.id).toBe(101);
    const next = pool.allocate(8); // the cache goes on from the run's id
    expect(next.id).toBe(102);
    expect(pool.snapshot().blocks.find((block) => block.id === 102)).toMatchObject({ offset: next.ptr - baseOf(pool), age: 0 });
    // Frees past a full stack flush a batch to the core: the slots it takes are the ones this thread pushed.
    const more = Array.from({ length: 300 }, () => pool.allocateRaw(64));
    for (const p of [...more, ...raw.slice(40)]) pool.deallocate(p);
    expect(pool.getStats()).toMatchObject({ allocationCount: 402, freeCount: 400, bytesInUse: 208 });
    const cached = pool.getStats().cachedBytes / 64; // the stack's count: the last flush left 192, then up to 64 more
    expect(cached).toBeGreaterThanOrEqual(192);
    expect(cached).toBeLessThanOrEqual(256);
    next.free();
    run.free();
    manager.flushThreadCaches();
    expectCounts(402, 402, 0, 0);
    // Every block came back once: as many distinct blocks as were ever live at once are handed out again.
    const again = Array.from({ length: 400 }, () => pool.allocateRaw(64));
    expect(new Set(again).size).toBe(400);
    for (const p of again) pool.deallocate(p);
    pool.reset();
    expectCounts(802, 802, 0, 0);
  });

  test("leak reports list the live allocations of a cached pool, not its cached blocks", () => {
    for (const [label, fields] of [
      ["threadLocalCache", { leakReport: true }],
      ['default "none"', { threadSafety: "none", threadLocalCache: false, leakReport: true, trackHistory: true }],
    ] as const) {
      const pool = cachedPool(`leaks ${label}`, 64, fields);
      const kept = [pool.allocate(10), pool.allocate(200)]; // a block, and a run through the core
      const raw = pool.allocateRaw(30);
      pool.allocate(20).free(); // its block waits in the cache
      const byId = (a: number[], b: number[]) => a[0]! - b[0]!;
      expect(pool.getLeaks().map((leak) => [leak.id, leak.size]).sort(byId)).toEqual(
        [
          [kept[0]!.id, 10],
          [kept[1]!.id, 200],
          [pool.fromPointer(raw).id, 30],
        ].sort(byId),
      );
      for (const a of kept) a.free();
      pool.deallocate(raw);
      expect(pool.getLeaks()).toEqual([]);
    }
  });

  test("a shared pool's ids count pool-wide too (each thread takes a batch): the debug layer's records name the right allocation", () => {
    const pool = cachedPool("shared-ids", 64, { threadSafety: "lockFree", threadLocalCache: false, trackHistory: true });
    const live = Array.from({ length: 300 }, () => pool.allocate(8)); // across several refills and id batches
    expect(new Set(live.map((a) => a.id)).size).toBe(300);
    const first = pool.allocate(10);
    const second = pool.allocate(20);
    expect(first.id).not.toBe(second.id);
    first.free();
    second.free();
    // Each double free names where its own allocation was made: with per-block ids both were #1,
    // and the later record answered for both.
    const allocatedAt = (message: string) => message.slice(message.indexOf("allocated at"), message.indexOf("freed at"));
    const [aboutFirst, aboutSecond] = [thrown(() => first.free())!.message, thrown(() => second.free())!.message].map(allocatedAt);
    expect(aboutFirst).toContain("block_cache.test.ts");
    expect(aboutFirst).not.toBe(aboutSecond);
    for (const a of live) a.free();
  });

  test("snapshots of shared cached pools list live blocks (ids, sizes, ages) and cached ones as free", () => {
    for (const fields of [{ threadSafety: "lockFree", threadLocalCache: false }, { threadSafety: "mutex", threadLocalCache: true }] as const) {
      const pool = cachedPool(`snap ${fields.threadSafety}`, 64, fields);
      const a = pool.allocate(10);
      const b = pool.allocate(20);
      pool.allocate(30).free(); // waits in this thread's cache
      const snap = pool.snapshot();
      const live = snap.blocks.filter((block) => block.state === "live");
      expect(live.map((block) => [block.offset, block.id, block.requestedSize])).toEqual([
        [a.ptr - baseOf(pool), a.id, 10],
        [b.ptr - baseOf(pool), b.id, 20],
      ]);
      expect(live[0]!.age).toBeGreaterThan(live[1]!.age!); // a came first
      expect(snap.blocks.length).toBe(Math.floor(snap.stats.bytesReserved / 64));
      expect(snap.stats.liveAllocations).toBe(2);
      a.free();
      b.free();
    }
  });

  test("a block freed and reused gets a new id: its old handle can neither use nor free it", () => {
    const pool = cachedPool("ids");
    const a = pool.allocate(64);
    pool.deallocate(a.ptr);
    const b = pool.allocate(32);
    expect(b.ptr).toBe(a.ptr);
    expect(b.id).not.toBe(a.id);
    expect(a.alive).toBe(false);
    expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
    expect(pool.fromPointer(b.ptr).size).toBe(32); // the core reads what the cache wrote
    expect(b.alive).toBe(true);
    b.free();
  });

  for (const [label, fields] of [
    ["threadLocalCache", {}],
    ['default "none"', { threadSafety: "none", threadLocalCache: false }],
  ] as const) {
  test(`statistics: cached bytes apart from bytes in use; exact after everything is freed and flushed (${label})`, () => {
    const pool = cachedPool(`stats ${label}`, 100, fields);
    const live = Array.from({ length: 300 }, (_, i) => pool.allocate(1 + (i % 100)));
    const requested = live.reduce((sum, a) => sum + a.size, 0);
    let stats = pool.getStats();
    expect(stats.liveAllocations).toBe(300);
    expect(stats.bytesInUse).toBe(requested);
    expect(stats.allocationCount).toBe(300);
    expect(stats.cachedBytes % 112).toBe(0); // whole blocks of 100 bytes rounded up to granules
    for (const a of live.splice(0, 150)) a.free();
    stats = pool.getStats();
    expect(stats.liveAllocations).toBe(150);
    expect(stats.cachedBytes).toBeGreaterThan(0); // freed blocks wait in this thread's cache
    expect(stats.freeBytes).toBeGreaterThanOrEqual(stats.cachedBytes);
    for (const a of live) a.free();
    manager.flushThreadCaches();
    stats = pool.getStats();
    expect(stats).toMatchObject({ liveAllocations: 0, bytesInUse: 0, bytesAllocated: 0, allocationCount: 300, freeCount: 300, cachedBytes: 0 });
    expect(stats.freeBytes).toBe(Math.floor(stats.bytesReserved / 112) * 112); // every block of the region
    expect(stats.peakLiveAllocations).toBeGreaterThanOrEqual(256);
  });
  }

  test("a hot loop across refills and flushes never hands out a block twice (no stale reads by the JIT)", () => {
    const pool = cachedPool("jit", 16, { initialSize: 1 << 20 });
    for (let round = 0; round < 20; round++) {
      const live = new Set<number>();
      const count = 200 + round * 37;
      for (let i = 0; i < count; i++) live.add(pool.allocateRaw(16));
      expect(live.size).toBe(count);
      for (const p of live) pool.deallocate(p);
      if (round % 5 === 4) manager.flushThreadCaches();
    }
    manager.flushThreadCaches();
    expect(pool.getStats().liveAllocations).toBe(0);
    expect(pool.getStats().cachedBytes).toBe(0);
  });

  test("reset() takes the cache's blocks back with every allocation: counts balance, old handles and ids stay dead", () => {
    const pool = cachedPool("reset", 64);
    const live = Array.from({ length: 200 }, (_, i) => pool.allocate(1 + (i % 64)));
    for (const a of live.splice(0, 50)) a.free(); // some wait in the cache
    const run = pool.allocate(200); // a run of blocks, from the core
    pool.reset();
    expect(live.every((a) => !a.alive)).toBe(true);
    expect(thrown(() => live[0]!.free())).toBeInstanceOf(UseAfterFreeError);
    let stats = pool.getStats();
    expect(stats).toMatchObject({ liveAllocations: 0, bytesInUse: 0, bytesAllocated: 0, allocationCount: 201, freeCount: 201, cachedBytes: 0, resetCount: 1 });
    expect(stats.freeBytes).toBe(stats.bytesReserved);
    const again = pool.allocate(64);
    expect(again.id).not.toBe(live.find((a) => a.ptr === again.ptr)?.id);
    expect(pool.fromPointer(again.ptr).size).toBe(64);
    expect(thrown(() => run.free())).toBeInstanceOf(UseAfterFreeError);
    again.free();
    manager.flushThreadCaches();
    stats = pool.getStats();
    expect(stats).toMatchObject({ liveAllocations: 0, allocationCount: 202, freeCount: 202 });
  });

  test("trim() gives the cached blocks back; a destroyed pool's cache is closed", () => {
    const pool = cachedPool("closing");
    pool.allocate(64).free();
    expect(pool.getStats().cachedBytes).toBeGreaterThan(0);
    pool.trim();
    expect(pool.getStats().cachedBytes).toBe(0);
    const kept = pool.allocateRaw(64);
    manager.destroyPool("closing");
    expect(thrown(() => pool.allocateRaw(64))).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => pool.deallocate(kept))).toBeInstanceOf(PoolNotFoundError);
  });

  test("a pool destroyed by another Worker: this thread's cache fails soon, and another pool's cache never shares its record", async () => {
    const a = cachedPool("gone-elsewhere");
    const kept = a.allocateRaw(64);
    a.deallocate(a.allocateRaw(64));
    const worker = new Worker(new URL("./fixtures/pool-user-worker.ts", import.meta.url).href);
    const done = new Promise<{ code: string }>((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    worker.postMessage({ mode: "destroy", poolName: a.name });
    expect((await done).code).toBe("none");
    worker.terminate();
    created = created.filter((name) => name !== a.name); // gone already
    const b = cachedPool("after-gone");
    const live = Array.from({ length: 100 }, () => b.allocate(64)); // a record of its own
    let error: unknown;
    for (let i = 0; i < 200 && error === undefined; i++) {
      try {
        a.deallocate(a.allocateRaw(64));
      } catch (err) {
        error = err;
      }
    }
    expect(error).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => a.deallocate(kept))).toBeInstanceOf(PoolNotFoundError);
    for (const x of live) x.free();
    manager.flushThreadCaches();
    expect(b.getStats()).toMatchObject({ liveAllocations: 0, allocationCount: 100, freeCount: 100, cachedBytes: 0 });
    const again = cachedPool("reuses-record"); // may take the record the dead cache gave back
    const blocks = new Set(Array.from({ length: 300 }, () => again.allocateRaw(64)));
    expect(blocks.size).toBe(300);
    for (const p of blocks) again.deallocate(p);
  });

  test("a pool destroyed by another Worker just after this thread saw its cache open: a live block reads as the pool gone, never as freed by pointer", async () => {
    // The race test/attack/churn.test.ts met: holds() checks the cache open, another Worker's
    // destroy closes it and marks every block dead, then the block's state is read. This view of
    // the thread's record stands for the check already made: it is read after the destroy. It is
    // opened first: the core gives a thread's record to one view (the pool then takes its path).
    const pool = cachedPool("dies-under-check", 256, { threadSafety: "lockFree", threadLocalCache: false });
    const sawOpen = BlockCache.open(handleOf(pool), 256, pool.name, false)!;
    const live = pool.allocate(8);
    expect(sawOpen.liveId(offsetOfAllocation(live))).toBe(live.id);
    const worker = new Worker(new URL("./fixtures/pool-user-worker.ts", import.meta.url).href);
    const done = new Promise<{ code: string }>((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    worker.postMessage({ mode: "destroy", poolName: pool.name });
    expect((await done).code).toBe("none");
    worker.terminate();
    created = created.filter((name) => name !== pool.name); // gone already
    expect(sawOpen.liveId(offsetOfAllocation(live))).toBe(CACHE_CANNOT_TELL); // dead, not free: the core answers
    const error = thrown(() => live.bytes);
    expect(error).toBeInstanceOf(PoolNotFoundError);
    expect(error).not.toBeInstanceOf(UseAfterFreeError);
    expect(live.alive).toBe(false);
  });

  test("a Worker checking its live blocks while another thread destroys the pool ends with PoolNotFoundError, never UseAfterFreeError", async () => {
    // End to end, the same race as above: before the fix about 1 round in 8 ended "it was freed
    // through its pointer or a view" on this machine (2 cores). One Worker serves every round (a
    // Worker a round made the test's time the machine's load: 60 starts passed 20 s at load 19).
    const codes: Record<string, number> = {};
    const worker = new Worker(new URL("./fixtures/dead-check-worker.ts", import.meta.url).href);
    try {
      for (let round = 0; round < 60; round++) {
        const name = `dead-check-${round}`;
        const pool = cachedPool(name, 256, { threadSafety: "lockFree", threadLocalCache: false });
        pool.allocate(8); // this thread's record: the Worker's is another's, so the destroy marks every block dead
        const started = Promise.withResolvers<void>();
        const ended = Promise.withResolvers<{ code: string; message: string }>();
        worker.onmessage = (event) => (event.data.started ? started.resolve() : ended.resolve(event.data));
        worker.postMessage({ poolName: name, count: 20_000 });
        await started.promise;
        await Bun.sleep(1);
        manager.destroyPool(name);
        const { code, message } = await ended.promise;
        codes[code] = (codes[code] ?? 0) + 1;
        if (code !== "POOL_NOT_FOUND") console.error(message);
      }
    } finally {
      worker.terminate();
    }
    created = [];
    expect(codes).toEqual({ POOL_NOT_FOUND: 60 });
  }, 60_000);

  test("code whose cache layout differs from the core's description is refused when its first cache opens", () => {
    // A copy of src/ with the record's capacity edited, run in a child process against this core.
    const dir = mkdtempSync(join(tmpdir(), "bun-memory-pool-cache-layout-"));
    try {
      cpSync(join(import.meta.dir, "..", "src"), join(dir, "src"), { recursive: true });
      const file = join(dir, "src", "block_cache.ts");
      const original = readFileSync(file, "utf8");
      writeFileSync(file, original.replace("const CAPACITY = 256;", "const CAPACITY = 128;"));
      expect(readFileSync(file, "utf8")).not.toBe(original);
      const probe = `const { MemoryPoolManager, PoolConfig } = await import("./src/index.ts");
        const pool = MemoryPoolManager.getInstance().createCPUPool("p", Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "mutex", threadLocalCache: true }));
        try { pool.allocateRaw(64); console.log("allocated"); } catch (e) { console.log(e.name + ": " + e.message); }`;
      writeFileSync(join(dir, "probe.ts"), probe);
      const core = join(import.meta.dir, "..", "zig", "zig-out", "lib", "libmemory_pool.so");
      const result = Bun.spawnSync([process.execPath, "probe.ts"], { cwd: dir, env: { PATH: process.env.PATH, MEMORY_POOL_CORE_PATH: core }, stdout: "pipe", stderr: "pipe" });
      expect(result.stderr.toString()).toBe("");
      const out = result.stdout.toString();
      expect(out).toContain("NativeLibraryError: the core's JavaScript cache layout differs from this code's");
      expect(out).toContain("cacheCapacity 256 (this code: 128)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("requests a block cannot serve go to the core: runs of blocks, and bad sizes with their errors", () => {
    const pool = cachedPool("sizes");
    const run = pool.allocate(65); // two blocks in a row, placed by the core
    expect(run.size).toBe(65);
    expect(thrown(() => pool.deallocate(run.ptr + 64))).toBeInstanceOf(InvalidPointerError); // its second block, found on the cached path
    const single = pool.allocate(64);
    run.free(); // the core frees the run
    single.free();
    expect(thrown(() => pool.allocateRaw(0)).constructor.name).toBe("InvalidSizeError");
    expect(thrown(() => pool.allocateRaw(1.5)).constructor.name).toBe("InvalidSizeError");
    manager.flushThreadCaches();
    const stats = pool.getStats();
    expect(stats).toMatchObject({ liveAllocations: 0, bytesInUse: 0, bytesAllocated: 0, allocationCount: 2, freeCount: 2, cachedBytes: 0 });
  });
});
