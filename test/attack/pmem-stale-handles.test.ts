/**
 * A PMEM allocation's handle used after its block was freed by another route: through its pointer
 * or a view, by setRoot/link with freePrevious, or in another Worker. Found by attacking the PMEM
 * pool's own calls with such handles: the pool checked only what the handle knew (its own free(),
 * reset, close), so persist() and flush() went on to whatever allocation took the block since,
 * and setRoot, link, linked, commitUnpublished and memcpyPersist were refused by the core as an
 * InvalidPointerError or a DoubleFreeError. Each is now a UseAfterFreeError, as copy() says, and
 * the block's new allocation is left as it was.
 */
import { afterAll, expect, test } from "bun:test";
import { type Allocation, DoubleFreeError, MemoryPoolManager, PoolConfig, type PMEMMemoryPool, UseAfterFreeError } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

function config(tag: string, threadSafety: "none" | "mutex" = "none"): PoolConfig {
  return Object.assign(new PoolConfig(), { pmemPoolPath: poolPath(tag), initialSize: 1 << 20, threadSafety });
}

/** Every call of the pool that takes an allocation, with `stale` in each place it can go. */
function expectEveryCallRefuses(pm: PMEMMemoryPool, stale: Allocation, head: Allocation): void {
  const calls: [string, () => unknown][] = [
    ["persist", () => pm.persist(stale)],
    ["flush", () => pm.flush(stale)],
    ["memcpyPersist", () => pm.memcpyPersist(stale, new Uint8Array(4).fill(1))],
    ["setRoot", () => pm.setRoot("stale", stale)],
    ["link to", () => pm.link(head, 0, stale)],
    ["link from", () => pm.link(stale, 0, null)],
    ["linked", () => pm.linked(stale, 0)],
    ["commitUnpublished", () => pm.commitUnpublished(stale)],
  ];
  for (const [what, call] of calls) expect(thrown(call), what).toBeInstanceOf(UseAfterFreeError);
  expect(pm.roots()).not.toContain("stale");
  expect(pm.linked(head, 0)).toBeUndefined();
}

test("freed through its pointer or a view, with the block free or taken again", () => {
  using pm = manager.createPMEMPool("attack-stale-pointer", config("stale-pointer"));
  const head = pm.root("head", 64);
  for (const route of ["pointer", "view"] as const) {
    for (const reuse of [false, true]) {
      const stale = pm.allocate(32);
      pm.deallocate(route === "pointer" ? stale.ptr : stale.bytes);
      const taker = reuse ? pm.allocate(32) : undefined;
      if (taker !== undefined) {
        expect(taker.ptr).toBe(stale.ptr);
        taker.bytes.fill(9);
      }
      expectEveryCallRefuses(pm, stale, head);
      if (taker !== undefined) {
        expect(taker.bytes.every((byte) => byte === 9)).toBe(true); // memcpyPersist wrote nothing there
        taker.free();
      }
    }
  }
});

test("persist, flush and memcpyPersist each refuse a handle freed through its pointer the first time they see it (the core checks in the same call)", () => {
  using pm = manager.createPMEMPool("attack-stale-first", config("stale-first"));
  const firstCalls: [string, (stale: Allocation) => unknown][] = [
    ["persist", (stale) => pm.persist(stale)],
    ["persist of part", (stale) => pm.persist(stale, 8, 4)],
    ["persist of nothing", (stale) => pm.persist(stale, 0)],
    ["flush", (stale) => pm.flush(stale)],
    ["memcpyPersist", (stale) => pm.memcpyPersist(stale, new Uint8Array(4).fill(1))],
  ];
  for (const [what, call] of firstCalls) {
    const stale = pm.allocate(32);
    pm.deallocate(stale.ptr);
    const taker = pm.allocate(32);
    expect(taker.ptr).toBe(stale.ptr);
    taker.bytes.fill(9);
    const error = thrown(() => call(stale));
    expect(error, what).toBeInstanceOf(UseAfterFreeError);
    expect((error as Error).message, what).toContain("freed through its pointer");
    expect(thrown(() => stale.free()), what).toBeInstanceOf(DoubleFreeError); // the handle is dead now
    expect(taker.bytes.every((byte) => byte === 9), what).toBe(true);
    pm.persist(taker); // the block's own allocation persists as before
    taker.free();
  }
});

test("freed by setRoot and link with freePrevious", () => {
  using pm = manager.createPMEMPool("attack-stale-previous", config("stale-previous"));
  const head = pm.root("head", 64);
  const old = pm.allocate(32);
  pm.setRoot("r", old);
  pm.setRoot("r", pm.allocate(32), { freePrevious: true });
  expectEveryCallRefuses(pm, old, head);

  const child = pm.allocate(32);
  pm.link(head, 8, child);
  pm.link(head, 8, pm.allocate(32), { freePrevious: true });
  expectEveryCallRefuses(pm, child, head);
});

test("a mutex pool's allocation freed in another Worker", async () => {
  using pm = manager.createPMEMPool("attack-stale-worker", config("stale-worker", "mutex"));
  const head = pm.root("head", 64);
  const stale = pm.allocate(32);
  const source = `
    const { MemoryPoolManager } = await import(${JSON.stringify(`${import.meta.dir}/../../src/index.ts`)});
    const pool = MemoryPoolManager.getInstance().getPool("attack-stale-worker", "pmem");
    pool.deallocate(${stale.ptr});
    postMessage("freed");`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  const said = await new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = reject;
  });
  worker.terminate();
  expect(said).toBe("freed");
  expectEveryCallRefuses(pm, stale, head);
});
