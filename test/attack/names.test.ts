/**
 * Pools by name across Workers and at the limits of names. Found by attacking main: a Worker that
 * had looked a pool up kept its object under that name after another thread destroyed the pool,
 * so there hasPool() said true, createCPUPool() of the freed name threw PoolExistsError, and
 * getPool() of a new pool of that name returned the dead one (its calls: PoolNotFoundError).
 */
import { afterAll, expect, test } from "bun:test";
import { ConfigError, MemoryPoolManager, PoolExistsError, ThreadSafetyError } from "../../src/index";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

test("a Worker sees what happened to a name in another thread: destroyed, made again, free to take", async () => {
  const worker = new Worker(new URL("../fixtures/attack/names-worker.ts", import.meta.url).href);
  const ask = (message: { name: string; create?: boolean; destroy?: boolean }) =>
    new Promise<Record<string, string>>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage(message);
    });
  const name = "attack-names-shared";
  try {
    manager.createCPUPool(name, { threadSafety: "mutex" });
    expect(await ask({ name })).toEqual({ hasPool: "true", allocate: "8", listed: "true", create: "skipped", destroy: "skipped" });
    manager.destroyPool(name);
    expect(await ask({ name })).toEqual({ hasPool: "false", allocate: "POOL_NOT_FOUND", listed: "false", create: "skipped", destroy: "skipped" });
    const remade = manager.createCPUPool(name, { threadSafety: "mutex" });
    expect(await ask({ name })).toEqual({ hasPool: "true", allocate: "8", listed: "true", create: "skipped", destroy: "skipped" });
    expect(remade.getStats().liveAllocations).toBe(1); // the Worker's allocation reached the new pool
    manager.destroyPool(name);
    expect(await ask({ name, create: true })).toEqual({ hasPool: "false", allocate: "POOL_NOT_FOUND", listed: "false", create: String(name.length), destroy: "skipped" });
    expect(manager.hasPool(name)).toBe(true); // the Worker's
    expect(thrown(() => manager.createCPUPool(name))).toBeInstanceOf(PoolExistsError);
    expect(await ask({ name, destroy: true })).toMatchObject({ destroy: "ok" });
    expect(manager.hasPool(name)).toBe(false);
  } finally {
    worker.terminate();
  }
});

test('a threadSafety "none" pool goes with the Worker that made it: its name is free again, nothing else could destroy it', async () => {
  const name = "attack-names-orphan";
  const worker = new Worker(new URL("../fixtures/attack/orphan-worker.ts", import.meta.url).href);
  await new Promise((resolve, reject) => {
    worker.onmessage = resolve;
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage(name);
  });
  expect(manager.hasPool(name)).toBe(true);
  expect(thrown(() => manager.destroyPool(name))).toBeInstanceOf(ThreadSafetyError); // only its owner may
  const ended = new Promise((resolve) => worker.addEventListener("close", resolve));
  worker.terminate();
  await ended;
  for (let waited = 0; manager.hasPool(name) && waited < 2000; waited += 10) await Bun.sleep(10); // the thread's end runs after close
  expect(manager.hasPool(name)).toBe(false);
  manager.createCPUPool(name).destroy();
});

test('a Worker\'s "none" PMEM pool is closed as the Worker ends: the file opens again here, under the same name, with what it persisted', async () => {
  const run = await runChild("../../fixtures/attack/pmem-orphan-child.ts", [poolPath("attack-orphan")]);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ gone: true, created: false, root: 42 });
});

test("names at the limits: 255 bytes of UTF-8 is the longest, and a NUL is part of a name", () => {
  const longest = "é".repeat(127) + "x"; // 255 bytes
  const pool = manager.createCPUPool(longest);
  expect(manager.getPool(longest)).toBe(pool);
  expect(thrown(() => manager.createCPUPool("é".repeat(128)))).toBeInstanceOf(ConfigError); // 256 bytes
  expect(thrown(() => manager.createCPUPool(""))).toBeInstanceOf(ConfigError);
  const withNul = manager.createCPUPool("attack\0names");
  expect(manager.hasPool("attack")).toBe(false); // a NUL does not end the name
  expect(manager.listPools().map((info) => info.name)).toContain("attack\0names");
  withNul.destroy();
  pool.destroy();
});

test("create/destroy churn: 3000 pools one after another, each name found only while it lives", () => {
  for (let i = 0; i < 3000; i++) {
    const name = `attack-churn-${i % 7}`;
    const pool = manager.createCPUPool(name, { initialSize: 64 << 10, maxSize: 64 << 10 });
    pool.allocate(16);
    expect(manager.hasPool(name)).toBe(true);
    manager.destroyPool(name);
    expect(manager.hasPool(name)).toBe(false);
  }
});
