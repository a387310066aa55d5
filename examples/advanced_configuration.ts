/**
 * Advanced configuration (the seed's third example): limits, growth, alignment, thread safety and
 * statistics; what happens at the limit, and how trim() and reset() give memory back.
 *
 *   bun examples/advanced_configuration.ts
 */
import { ConfigError, MemoryPoolManager, OutOfMemoryError, PoolConfig, UseAfterFreeError, type Allocation, type PoolOptions } from "bun-memory-pool";

const KiB = 1024;
declare const self: Worker;

if (Bun.isMainThread) await main();
else workerThread();

async function main(): Promise<void> {
  const manager = MemoryPoolManager.getInstance();

  // A variable-size pool that starts at 64 KiB, doubles each new region, and stops at 256 KiB.
  const config = new PoolConfig();
  config.allocatorType = PoolConfig.AllocatorType.Variable;
  config.initialSize = 64 * KiB;
  config.maxSize = 256 * KiB; // never commit more than this
  config.growth = 2; // each new region is twice the last (0 = never grow)
  config.alignment = 64; // every block starts on a 64-byte boundary (a cache line)
  config.threadSafety = "mutex"; // Workers may use the pool at the same time
  config.collectStats = true; // peaks and sampled timings
  const pool = manager.createCPUPool("tuned_pool", config);
  console.log(`Created '${pool.name}': ${config.initialSize / KiB} KiB up front, at most ${config.maxSize / KiB} KiB, growth x${config.growth}, ${config.alignment}-byte alignment, threadSafety "${config.threadSafety}".`);

  // The pool keeps its own frozen copy: changing `config` now does not change the pool.
  config.maxSize = 0;
  console.log(`pool.config.maxSize is still ${pool.config.maxSize / KiB} KiB after the config object changed.`);

  // Alignment: every block, whatever its size, starts on a multiple of 64.
  const odd = [1, 3, 100, 1000].map((size) => pool.allocate(size));
  console.log(`Blocks of ${odd.map((a) => a.size).join(", ")} bytes start at multiples of 64: ${odd.every((a) => a.ptr % 64 === 0)}.`);
  for (const a of odd) a.free();

  // Growth up to maxSize, then OutOfMemoryError.
  const held: Allocation[] = [];
  try {
    for (;;) held.push(pool.allocate(16 * KiB));
  } catch (err) {
    if (!(err instanceof OutOfMemoryError)) throw err;
    console.log(`${held.length} allocations of 16 KiB fit; the next one failed with ${err.code}: ${err.message}`);
  }
  const full = pool.getStats();
  console.log(`The pool grew ${full.growthCount} times to ${full.regionCount} regions, ${full.bytesReserved / KiB} KiB reserved; ${full.failedAllocations} allocation failed.`);
  console.log(full.getStatsString());

  // trim(): free most blocks, then give empty regions back to the OS.
  for (const a of held.splice(2)) a.free();
  const released = pool.trim();
  console.log(`Freed all but 2 allocations; trim() released ${released / KiB} KiB, ${pool.getStats().bytesReserved / KiB} KiB still reserved.`);

  // reset(): every allocation is freed at once; old handles refuse access.
  pool.reset();
  console.log(`reset() freed everything: ${pool.getStats().liveAllocations} live allocations.`);
  try {
    held[0]!.bytes[0] = 1;
  } catch (err) {
    if (!(err instanceof UseAfterFreeError)) throw err;
    console.log(`A handle from before the reset is caught: ${err.code}.`);
  }

  // threadSafety "mutex": Workers find the pool by name and allocate from it concurrently.
  const workers = [0, 1, 2, 3].map(() => new Worker(import.meta.url));
  const pointers = await Promise.all(
    workers.map((worker, id) => new Promise<number[]>((resolve) => {
      worker.onmessage = (event: MessageEvent<number[]>) => resolve(event.data);
      worker.postMessage({ poolName: pool.name, id });
    })),
  );
  for (const worker of workers) worker.terminate();
  // fromPointer turns a pointer from another thread into an Allocation handle here.
  const fromWorkers = pointers.flatMap((list, id) => list.map((pointer) => ({ id, allocation: pool.fromPointer(pointer) })));
  const tagsOk = fromWorkers.every(({ id, allocation }) => allocation.bytes[0] === id);
  console.log(`${workers.length} Workers made ${fromWorkers.length} allocations in '${pool.name}'; each carries its Worker's tag: ${tagsOk}.`);
  for (const { allocation } of fromWorkers) allocation.free(); // any thread may free what another allocated
  console.log(`The main thread freed them all: ${pool.getStats().liveAllocations} live allocations.`);

  // A bad field is a ConfigError that names it; the pool is not created.
  const bad: [string, PoolOptions][] = [
    ["alignment 24", { alignment: 24 }],
    ["maxSize below initialSize", { initialSize: 1024 * KiB, maxSize: 64 * KiB }],
    ["an unknown threadSafety", { threadSafety: "sometimes" as PoolConfig["threadSafety"] }],
    ["a misspelt field", { blokSize: 64 } as PoolOptions],
  ];
  for (const [what, fields] of bad) {
    try {
      manager.createCPUPool("misconfigured", fields);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.log(`${what}: ConfigError on field '${err.field}': ${err.message}`);
    }
  }

  manager.destroyPool(pool.name);
  console.log(`Destroyed '${pool.name}'; ${manager.listPools().length} pools left.`);
}

/** Runs in each Worker: allocates from the shared pool and sends back the pointers it keeps. */
function workerThread(): void {
  self.onmessage = (event: MessageEvent<{ poolName: string; id: number }>) => {
    const { poolName, id } = event.data;
    const pool = MemoryPoolManager.getInstance().getPool(poolName, "cpu");
    const kept: number[] = [];
    for (let i = 0; i < 200; i++) {
      const a = pool.allocate(32 + i);
      if (i % 2 === 0) {
        a.bytes[0] = id;
        kept.push(a.ptr);
      } else {
        a.free();
      }
    }
    postMessage(kept);
  };
}
