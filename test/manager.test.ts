import { describe, expect, test } from "bun:test";
import {
  allocate,
  ConfigError,
  CPUMemoryPool,
  deallocate,
  DoubleFreeError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolManager,
  PoolConfig,
  PoolExistsError,
  PoolNotFoundError,
} from "../src/index";

const manager = MemoryPoolManager.getInstance();

describe("MemoryPoolManager", () => {
  test("is one per process", () => {
    expect(MemoryPoolManager.getInstance()).toBe(manager);
  });

  test("create, get, list, destroy", () => {
    const pool = manager.createCPUPool("mgr-main", new PoolConfig());
    expect(pool).toBeInstanceOf(CPUMemoryPool);
    expect(pool.name).toBe("mgr-main");
    expect(pool.kind).toBe("cpu");
    expect(manager.getPool("mgr-main")).toBe(pool);
    expect(manager.listPools()).toContainEqual({ name: "mgr-main", kind: "cpu" });
    manager.destroyPool("mgr-main");
    expect(manager.listPools().map((p) => p.name)).not.toContain("mgr-main");
    expect(() => manager.getPool("mgr-main")).toThrow(PoolNotFoundError);
    expect(() => manager.destroyPool("mgr-main")).toThrow(PoolNotFoundError);
  });

  test("names are unique until the pool is destroyed", () => {
    manager.createCPUPool("mgr-unique", new PoolConfig());
    const err = (() => {
      try {
        manager.createCPUPool("mgr-unique", new PoolConfig());
      } catch (e) {
        return e as PoolExistsError;
      }
    })();
    expect(err).toBeInstanceOf(PoolExistsError);
    expect(err?.code).toBe("POOL_EXISTS");
    expect(err?.message).toContain("mgr-unique");
    manager.destroyPool("mgr-unique");
    manager.createCPUPool("mgr-unique", new PoolConfig());
    manager.destroyPool("mgr-unique");
  });

  test("destroyPool releases everything the pool held", () => {
    const before = manager.listPools().length;
    for (let i = 0; i < 50; i++) {
      const pool = manager.createCPUPool(`mgr-churn-${i}`, Object.assign(new PoolConfig(), { initialSize: 4 << 20 }));
      pool.allocate(1 << 20).bytes.fill(1);
      manager.destroyPool(`mgr-churn-${i}`);
    }
    expect(manager.listPools().length).toBe(before);
  });

  test("getPool finds a pool created in a Worker, with its configuration", async () => {
    const worker = new Worker(new URL("./fixtures/create-pool-worker.ts", import.meta.url).href);
    const done = new Promise<{ address: number }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(event);
    });
    worker.postMessage({ name: "mgr-from-worker" });
    const { address } = await done;
    worker.terminate();
    const pool = manager.getPool("mgr-from-worker", "cpu");
    expect(pool.config.allocatorType).toBe("FixedSize");
    expect(pool.config.blockSize).toBe(128);
    expect(pool.config.threadSafety).toBe("mutex");
    const allocation = pool.fromPointer(address);
    expect(allocation.size).toBe(100);
    expect(allocation.bytes[99]).toBe(42); // written by the Worker
    allocation.free();
    manager.destroyPool("mgr-from-worker");
  });

  test("getPool(name, kind) checks the kind: another kind is a PoolNotFoundError saying which it is", () => {
    const pool = manager.createCPUPool("mgr-kind");
    try {
      expect(manager.getPool("mgr-kind", "cpu")).toBe(pool);
      expect(manager.getPool("mgr-kind")).toBe(pool);
      expect(() => manager.getPool("mgr-kind", "gpu")).toThrow(PoolNotFoundError);
      expect(() => manager.getPool("mgr-kind", "pinned")).toThrow("no pinned pool named 'mgr-kind': 'mgr-kind' is a cpu pool (a CPUMemoryPool)");
      expect(() => manager.getPool("mgr-kind", "disk" as never)).toThrow(ConfigError);
      expect(() => manager.getPool("mgr-missing", "cpu")).toThrow("no pool named 'mgr-missing'");
    } finally {
      manager.destroyPool("mgr-kind");
    }
  });
});

describe("helpers", () => {
  test("allocate(n) gives a Uint8Array, allocate(Type, n) a typed array, from the default pool", () => {
    const bytes = allocate(1024);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.length).toBe(1024);
    const ints = allocate(Int32Array, 100);
    expect(ints).toBeInstanceOf(Int32Array);
    expect(ints.length).toBe(100);
    ints.fill(-7);
    expect(ints[99]).toBe(-7);
    const pool = manager.defaultCPUPool;
    expect(pool.getStats().liveAllocations).toBeGreaterThanOrEqual(2);
    deallocate(bytes);
    deallocate(ints);
    expect(() => deallocate(ints)).toThrow(DoubleFreeError);
    expect(() => deallocate(new Float64Array(4))).toThrow(InvalidPointerError);
  });

  test("bad helper sizes are InvalidSizeErrors", () => {
    expect(() => allocate(0)).toThrow(InvalidSizeError);
    expect(() => allocate(Int32Array, -1)).toThrow(InvalidSizeError);
    expect(() => allocate(Int32Array, 2.5)).toThrow(InvalidSizeError);
  });
});
