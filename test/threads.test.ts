/**
 * Pools shared by Workers: a stress test per thread-safety option (random sizes, stamped blocks,
 * blocks freed by other Workers), destroying a pool under a Worker, thread caches given back
 * when a Worker ends, and "none" pools refusing other threads.
 *
 * Larger runs: STRESS_WORKERS=16 STRESS_OPS=100000 bun test test/threads.test.ts
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolConfig, UnsupportedOperationError, UseAfterFreeError, type CPUMemoryPool } from "../src/index";
import { thrown } from "./support/thrown";
import type { Passed, Report, StressTask } from "./fixtures/stress-worker";

const manager = MemoryPoolManager.getInstance();
const WORKERS = Number(process.env.STRESS_WORKERS ?? 4);
const OPS = Number(process.env.STRESS_OPS ?? 20000);
const TIMEOUT_MS = Math.max(30_000, WORKERS * OPS * 0.05);

function spawn(fixture: string): Worker {
  return new Worker(new URL(`./fixtures/${fixture}`, import.meta.url).href);
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data as T);
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
  });
}

/** Runs the stress fixture in `WORKERS` Workers over `pool`; returns their reports. */
async function stress(pool: CPUMemoryPool, sizeMax: number): Promise<Report[]> {
  const workers = Array.from({ length: WORKERS }, () => spawn("stress-worker.ts"));
  let sent = 0;
  const allSent = Promise.withResolvers<void>();
  const reports = new Map<number, Report>();
  const allReported = Promise.withResolvers<void>();
  workers.forEach((worker, index) => {
    worker.onerror = (event) => allSent.reject(new Error(`worker ${index} failed: ${event.message}`));
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (data.type === "pass") workers[(data as Passed).to]!.postMessage(data); // relayed in order
      else if (data.type === "sent" && ++sent === workers.length) allSent.resolve();
      else if (data.type === "report") {
        reports.set(data.index, data as Report);
        if (reports.size === workers.length) allReported.resolve();
      }
    };
    const task: StressTask = { mode: "stress", poolName: pool.name, index, workers: WORKERS, ops: OPS, sizeMax, seed: 0x9e3779b9 * (index + 1) };
    worker.postMessage(task);
  });
  await allSent.promise;
  // Every pass was relayed before this message, so each Worker frees all it was given first.
  for (const worker of workers) worker.postMessage({ type: "drain" });
  await allReported.promise;
  for (const worker of workers) worker.terminate();
  return [...reports.values()];
}

const options: { name: string; config: Partial<PoolConfig>; sizeMax: number }[] = [
  { name: "mutex, Variable", config: { allocatorType: "Variable", threadSafety: "mutex", initialSize: 1 << 20 }, sizeMax: 2048 },
  { name: "lockFree, FixedSize", config: { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree", initialSize: 256 << 10 }, sizeMax: 256 },
  { name: "mutex + threadLocalCache", config: { allocatorType: "FixedSize", blockSize: 256, threadSafety: "mutex", threadLocalCache: true, initialSize: 256 << 10 }, sizeMax: 256 },
  { name: "lockFree + threadLocalCache", config: { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree", threadLocalCache: true, initialSize: 256 << 10 }, sizeMax: 256 },
  // Variable pools take the sharded path: each Worker allocates from a shard of its own.
  { name: "lockFree, Variable (sharded)", config: { allocatorType: "Variable", threadSafety: "lockFree", initialSize: 256 << 10 }, sizeMax: 2048 },
  { name: "mutex + threadLocalCache, Variable (sharded)", config: { allocatorType: "Variable", threadSafety: "mutex", threadLocalCache: true, initialSize: 64 << 10 }, sizeMax: 2048 },
];

describe(`stress: ${WORKERS} Workers x ${OPS} operations share one pool`, () => {
  for (const option of options) {
    test(
      option.name,
      async () => {
        const name = `threads-stress-${option.name}`;
        const pool = manager.createCPUPool(name, Object.assign(new PoolConfig(), option.config));
        const reports = await stress(pool, option.sizeMax);
        const errors = reports.flatMap((report) => report.errors);
        expect(errors).toEqual([]);
        const allocations = reports.reduce((sum, r) => sum + r.allocations, 0);
        const passed = reports.reduce((sum, r) => sum + r.passedOut, 0);
        const freedForeign = reports.reduce((sum, r) => sum + r.freedForeign, 0);
        expect(freedForeign).toBe(passed); // every block passed on was freed by its receiver
        if (WORKERS > 1) expect(passed).toBeGreaterThan(0);
        const stats = pool.getStats();
        expect(stats.liveAllocations).toBe(0);
        expect(stats.bytesInUse).toBe(0);
        expect(stats.bytesAllocated).toBe(0);
        expect(stats.allocationCount).toBe(allocations);
        expect(stats.freeCount).toBe(allocations);
        expect(stats.freeBytes).toBe(stats.bytesReserved);
        expect(stats.peakLiveAllocations).toBeGreaterThan(0);
        manager.destroyPool(name);
      },
      TIMEOUT_MS,
    );
  }
});

describe("threads", () => {
  test("a pool destroyed while a Worker uses it: PoolNotFoundError there, no crash, old views read zeros", async () => {
    const pool = manager.createCPUPool("threads-destroyed", Object.assign(new PoolConfig(), { threadSafety: "mutex" }));
    const worker = spawn("pool-user-worker.ts");
    const started = nextMessage<{ started: boolean }>(worker);
    worker.postMessage({ mode: "churn", poolName: pool.name });
    expect((await started).started).toBe(true);
    const failed = nextMessage<{ code: string; name: string; viewByte: number }>(worker);
    await Bun.sleep(20); // the Worker is in its allocate/free loop
    manager.destroyPool(pool.name);
    const outcome = await failed;
    // Read once destroyPool has returned: the Worker may see the pool gone (it leaves the registry
    // first) before the memory is given back.
    const read = nextMessage<{ viewByte: number }>(worker);
    worker.postMessage({ mode: "read", poolName: pool.name });
    const after = await read;
    worker.terminate();
    expect(outcome.name).toBe("PoolNotFoundError");
    expect(outcome.code).toBe("POOL_NOT_FOUND");
    expect(after.viewByte).toBe(0); // the memory was given back, its range kept mapped
  });

  test("a pool with JavaScript thread caches destroyed while a Worker uses it: a typed error there soon after, no crash", async () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "mutex", threadLocalCache: true });
    const pool = manager.createCPUPool("threads-destroyed-cached", config);
    const worker = spawn("pool-user-worker.ts");
    const started = nextMessage<{ started: boolean }>(worker);
    worker.postMessage({ mode: "churn", poolName: pool.name });
    expect((await started).started).toBe(true);
    const failed = nextMessage<{ code: string; message: string; viewByte: number }>(worker);
    await Bun.sleep(20); // the Worker allocates and frees on its cache
    manager.destroyPool(pool.name);
    const outcome = await failed;
    worker.terminate();
    // Its next use of any block sees the pool gone (the destroy marks the blocks dead).
    expect(["POOL_NOT_FOUND", "USE_AFTER_FREE"]).toContain(outcome.code);
    expect(outcome.message).toContain("destroyed");
    // The view reads (no crash): 7 where the Worker saw the cache closed before the memory was
    // given back (the records close first), 0 after (the range stays mapped).
    expect([0, 7]).toContain(outcome.viewByte);
  });

  test("a Worker's thread cache goes back to the pool when the Worker ends", async () => {
    // 16 blocks of 4 KiB and no growth: the main thread gets all 16 only if the Worker's cache was flushed.
    const config = Object.assign(PoolConfig.FixedSizeCPU(4096), { threadSafety: "lockFree", threadLocalCache: true, initialSize: 64 << 10, growth: 0 });
    const pool = manager.createCPUPool("threads-cache-flush", config);
    for (const ending of ["terminate", "exit"] as const) {
      const worker = spawn("pool-user-worker.ts");
      const done = nextMessage<{ code: string }>(worker);
      worker.postMessage({ mode: "cache", poolName: pool.name, count: 10 });
      expect((await done).code).toBe("none");
      const closed = new Promise((resolve) => worker.addEventListener("close", resolve));
      if (ending === "terminate") worker.terminate();
      else worker.postMessage({ mode: "exit", poolName: pool.name });
      await closed;
      await Bun.sleep(50); // the thread's exit hook runs after the close event
      const all = Array.from({ length: 16 }, () => pool.allocate(4096));
      expect(pool.getStats().liveAllocations).toBe(16);
      for (const block of all) block.free();
      expect(pool.getStats().freeBytes).toBe(64 << 10);
      manager.flushThreadCaches(); // the next Worker needs the blocks this thread's cache now holds
    }
    expect(pool.trim()).toBe(0);
    // The Workers' caches closed as their threads ended: the pool is this thread's alone, and may be reset.
    const kept = pool.allocate(100);
    pool.reset();
    expect(kept.alive).toBe(false);
    expect(pool.getStats()).toMatchObject({ liveAllocations: 0, bytesInUse: 0, resetCount: 1 });
    manager.destroyPool(pool.name);
  });

  test("reset() of a pool with thread caches is refused while another Worker holds one; allowed once it ends", async () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "mutex", threadLocalCache: true });
    const pool = manager.createCPUPool("threads-cache-reset", config);
    const worker = spawn("pool-user-worker.ts");
    const done = nextMessage<{ code: string }>(worker);
    worker.postMessage({ mode: "cache", poolName: pool.name, count: 5 });
    expect((await done).code).toBe("none");
    const live = pool.allocate(64);
    const refused = thrown(() => pool.reset());
    expect(refused).toBeInstanceOf(UnsupportedOperationError);
    expect(refused.message).toContain("other Workers");
    expect(live.alive).toBe(true); // nothing was reset
    const closed = new Promise((resolve) => worker.addEventListener("close", resolve));
    worker.terminate();
    await closed;
    await Bun.sleep(50); // the thread's exit hook runs after the close event
    pool.reset();
    expect(live.alive).toBe(false);
    const again = pool.allocate(64);
    expect(thrown(() => live.free())).toBeInstanceOf(UseAfterFreeError);
    expect(pool.getStats()).toMatchObject({ liveAllocations: 1, allocationCount: 7, freeCount: 6, resetCount: 1 });
    again.free();
    manager.destroyPool(pool.name);
  });

  test('a "none" pool refuses a second thread with ThreadSafetyError', async () => {
    const pool = manager.createCPUPool("threads-none", new PoolConfig());
    const worker = spawn("pool-user-worker.ts");
    const outcome = nextMessage<{ code: string; message: string }>(worker);
    worker.postMessage({ mode: "allocate", poolName: pool.name });
    const { code, message } = await outcome;
    worker.terminate();
    expect(code).toBe("THREAD_SAFETY");
    expect(message).toContain("threads-none");
    pool.allocate(8).free(); // its own thread still may
    // Its owner's calls skip the destroy guard, so no other thread may destroy it either.
    const destroyer = spawn("pool-user-worker.ts");
    const refused = nextMessage<{ code: string; message: string }>(destroyer);
    destroyer.postMessage({ mode: "destroy", poolName: pool.name });
    const destroyOutcome = await refused;
    destroyer.terminate();
    expect(destroyOutcome.code).toBe("THREAD_SAFETY");
    expect(destroyOutcome.message).toContain("only that thread may destroy it");
    pool.allocate(8).free();
    manager.destroyPool(pool.name);
  });

  test("double frees are caught exactly on lockFree and cached pools, also for blocks in a cache", () => {
    const config = Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "lockFree", threadLocalCache: true });
    const pool = manager.createCPUPool("threads-double-free", config);
    const a = pool.allocate(64);
    const address = a.ptr;
    pool.deallocate(address);
    expect(() => pool.deallocate(address)).toThrow(expect.objectContaining({ code: "DOUBLE_FREE" }));
    expect(() => a.free()).toThrow(expect.objectContaining({ code: "DOUBLE_FREE" }));
    expect(() => pool.deallocate(address + 16)).toThrow(expect.objectContaining({ code: "INVALID_POINTER" }));
    const b = pool.allocate(10); // the same block from the cache, a new allocation id
    expect(b.ptr).toBe(address);
    expect(b.id).not.toBe(a.id);
    expect(pool.fromPointer(address).size).toBe(10);
    b.free();
    manager.destroyPool(pool.name);
  });

  test("a sharded Variable pool catches double frees, interior and foreign pointers exactly", () => {
    const pool = manager.createCPUPool("threads-sharded-errors", Object.assign(new PoolConfig(), { threadSafety: "lockFree" }));
    const a = pool.allocate(100);
    const address = a.ptr;
    pool.deallocate(address);
    expect(() => pool.deallocate(address)).toThrow(expect.objectContaining({ code: "DOUBLE_FREE" }));
    expect(() => a.free()).toThrow(expect.objectContaining({ code: "DOUBLE_FREE" }));
    const b = pool.allocate(100);
    expect(() => pool.deallocate(b.ptr + 16)).toThrow(expect.objectContaining({ code: "INVALID_POINTER" }));
    expect(() => pool.deallocate(12345)).toThrow(expect.objectContaining({ code: "INVALID_POINTER" }));
    expect(pool.fromPointer(b.ptr).size).toBe(100);
    const stats = pool.getStats();
    expect(stats.liveAllocations).toBe(1);
    expect(stats.bytesInUse).toBe(100);
    b.free();
    expect(pool.getStats().freeBytes).toBe(pool.getStats().bytesReserved);
    manager.destroyPool(pool.name);
  });

  test("the thread-safety settings are validated and read back by other threads", () => {
    expect(() => manager.createCPUPool("threads-bad", Object.assign(new PoolConfig(), { threadLocalCache: true }))).toThrow(ConfigError);
    expect(() => manager.createCPUPool("threads-bad", Object.assign(new PoolConfig(), { threadSafety: "lockFree", canaries: true }))).toThrow(ConfigError);
    expect(() => manager.createCPUPool("threads-bad", Object.assign(new PoolConfig(), { threadLocalCache: 1 as unknown as boolean }))).toThrow(ConfigError);
    const config = Object.assign(PoolConfig.FixedSizeCPU(32), { threadSafety: "lockFree", threadLocalCache: true });
    manager.createCPUPool("threads-config", config);
    expect(manager.listPools()).toContainEqual({ name: "threads-config", kind: "cpu" });
    manager.destroyPool("threads-config");
  });
});
