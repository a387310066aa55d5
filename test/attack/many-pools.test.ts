/**
 * Thousands of pools made and destroyed, as mimalloc's and rpmalloc's stress tests make heaps.
 * Found by attacking main: only manager.destroyPool(name) let the manager forget a pool; one
 * destroyed by pool.destroy(), close() or `using` stayed in the manager's map until a new pool took
 * its name, so a program making pools of ever new names kept every one for the life of the thread,
 * with its records, view buffers and history (with trackHistory, about 27 KB each: 5000 pools held
 * 130 MB more). The manager now lets go of a pool however this thread destroys it.
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, type CPUMemoryPool } from "../../src/index";

const manager = MemoryPoolManager.getInstance();
const POOLS = 400;

/** How many of the pools `make` returns are still reachable once they are destroyed and garbage is collected. */
function retainedAfter(make: (index: number) => CPUMemoryPool, destroy: (pool: CPUMemoryPool) => void): number {
  const refs: WeakRef<CPUMemoryPool>[] = [];
  for (let index = 0; index < POOLS; index++) {
    const pool = make(index);
    pool.allocate(64).bytes.fill(1);
    pool.allocate(32).as(Float32Array);
    refs.push(new WeakRef(pool));
    destroy(pool);
  }
  Bun.gc(true);
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

const routes: [string, (pool: CPUMemoryPool) => void][] = [
  ["pool.destroy()", (pool) => pool.destroy()],
  ["manager.destroyPool(name)", (pool) => manager.destroyPool(pool.name)],
  ["Symbol.dispose (`using`)", (pool) => pool[Symbol.dispose]()],
];

for (const [route, destroy] of routes) {
  test(`${POOLS} pools of new names destroyed by ${route} are let go`, () => {
    const retained = retainedAfter((index) => manager.createCPUPool(`attack-many-${route}-${index}`, { initialSize: 65536, trackHistory: true }), destroy);
    expect(retained).toBeLessThan(POOLS / 10); // the collector may keep a few it still sees on the stack
    expect(manager.listPools().filter((info) => info.name.startsWith("attack-many-"))).toEqual([]);
  });
}

test("pools alive while many others come and go stay the same objects, found by name", () => {
  const kept = Array.from({ length: 100 }, (_, index) => manager.createCPUPool(`attack-many-kept-${index}`, { initialSize: 65536 }));
  const allocations = kept.map((pool) => pool.allocate(16));
  retainedAfter((index) => manager.createCPUPool(`attack-many-passing-${index}`, { initialSize: 65536 }), (pool) => pool.destroy());
  kept.forEach((pool, index) => {
    expect(manager.getPool(pool.name)).toBe(pool);
    expect(manager.hasPool(pool.name)).toBe(true);
    allocations[index]!.free();
    pool.destroy();
    expect(manager.hasPool(pool.name)).toBe(false);
  });
});
