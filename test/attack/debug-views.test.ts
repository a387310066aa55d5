/**
 * Debug views of a block another Worker freed. Found by attacking main: on a pool with sampled
 * guard pages shared by Workers, a thread kept its record of a guarded allocation that another
 * Worker freed, and when the block went to a new, larger allocation of this thread, its view used
 * the old record's buffer: RangeError ("Length out of range of buffer"), or with safeViews, a view
 * of the old allocation that was never detached.
 */
import { afterEach, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, type Allocation } from "../../src/index";

const manager = MemoryPoolManager.getInstance();
let worker: Worker | undefined;
afterEach(() => {
  worker?.terminate();
  worker = undefined;
});

async function freedElsewhere(poolName: string, ptr: number): Promise<void> {
  worker ??= new Worker(new URL("../fixtures/attack/free-worker.ts", import.meta.url).href);
  await new Promise((resolve, reject) => {
    worker!.onmessage = resolve;
    worker!.onerror = (event) => reject(new Error(event.message));
    worker!.postMessage({ poolName, ptr });
  });
}

for (const [name, fields] of [
  ["guard pages on every allocation, no records", { guardPages: true, guardSampleRate: 1 }],
  ["safeViews (records of every allocation)", { safeViews: true }],
] as const) {
  test(`${name}: a block freed by another Worker and given to a larger allocation here gets a view of its new size`, async () => {
    const poolName = `attack-debug-views-${name}`;
    const pool = manager.createCPUPool(poolName, Object.assign(new PoolConfig(), { threadSafety: "mutex" }, fields));
    try {
      const first = pool.allocate(10);
      const oldView = first.bytes; // makes this thread's record of it, and its buffer
      oldView.fill(1);
      await freedElsewhere(poolName, first.ptr);
      let again: Allocation | undefined;
      const kept: Allocation[] = [];
      for (let tries = 0; tries < 64 && again === undefined; tries++) {
        const next = pool.allocate(16); // guard pages place both at the same offset (the page's last 16 bytes)
        if (next.ptr === first.ptr) again = next;
        else kept.push(next);
      }
      expect(again).toBeDefined(); // the block came back to this thread, for 16 bytes
      const view = again!.bytes;
      expect(view.length).toBe(16);
      view.fill(2);
      expect(oldView.length).toBe(0); // the freed allocation's view no longer reaches the block
      for (const allocation of [again!, ...kept]) allocation.free();
    } finally {
      manager.destroyPool(poolName);
    }
  });
}
