/**
 * `using manager = MemoryPoolManager.getInstance()` in a Worker. Found by attacking main: the
 * manager's dispose destroyed every pool its map held, pools the Worker had only found by name
 * included, so a Worker that used the main thread's shared pool through getPool() destroyed it at
 * the end of its block, under the main thread's live allocations. It now destroys the pools this
 * thread made or opened, and leaves the ones it found to their makers.
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager } from "../../src/index";

test("a Worker's `using manager` destroys the pools it made, not the ones it found by name", async () => {
  const manager = MemoryPoolManager.getInstance();
  using shared = manager.createCPUPool("attack-dispose-shared", { threadSafety: "mutex" });
  const kept = shared.allocate(64);
  kept.bytes.fill(5);
  const worker = new Worker(new URL("../fixtures/attack/dispose-worker.ts", import.meta.url).href);
  try {
    const seen = await new Promise<{ shared: boolean; own: boolean }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ shared: shared.name, own: "attack-dispose-worker-own" });
    });
    expect(seen).toEqual({ shared: true, own: false });
  } finally {
    worker.terminate();
  }
  expect(kept.alive).toBe(true);
  expect(kept.bytes[63]).toBe(5);
  expect(shared.getStats().liveAllocations).toBe(1);
  kept.free();
});
