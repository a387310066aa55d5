import { describe, expect, test } from "bun:test";
import { MemoryPoolManager, PoolNotFoundError, type PoolSnapshot } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";

const manager = MemoryPoolManager.getInstance();
const KiB = 1024;
const MiB = 1024 * KiB;
const pool = cpuPoolsPerTest();

/** What holds for every snapshot: regions in address order, tiled by their blocks, figures that agree. */
function expectConsistent(snap: PoolSnapshot): void {
  let end = 0;
  for (const [r, region] of snap.regions.entries()) {
    expect(region.offset).toBeGreaterThanOrEqual(end);
    end = region.offset + region.size;
    const own = snap.blocks.slice(region.firstBlock, region.firstBlock + region.blockCount);
    for (const block of own) expect(block.region).toBe(r);
    const free = own.filter((b) => b.state === "free");
    expect(region.freeBlocks).toBe(free.length);
    expect(region.freeBytes).toBe(free.reduce((sum, b) => sum + b.size, 0));
    // the largest request the region serves: free blocks in a row joined (a FixedSize pool's; TLSF has none in a row)
    let run = 0;
    let largest = 0;
    own.forEach((b, i) => {
      run = b.state !== "free" ? 0 : i > 0 && own[i - 1]!.offset + own[i - 1]!.size === b.offset ? run + b.size : b.size;
      largest = Math.max(largest, run);
    });
    expect(region.largestFreeBlock).toBe(largest);
    expect(region.liveBlocks).toBe(own.filter((b) => b.state === "live").length);
  }
  for (let i = 1; i < snap.blocks.length; i++) {
    const previous = snap.blocks[i - 1]!;
    expect(snap.blocks[i]!.offset).toBeGreaterThanOrEqual(previous.offset + previous.size);
  }
  const live = snap.blocks.filter((b) => b.state === "live");
  const free = snap.blocks.filter((b) => b.state === "free");
  expect(snap.stats.liveAllocations).toBe(live.length);
  expect(snap.stats.bytesAllocated).toBe(live.reduce((sum, b) => sum + b.size, 0));
  expect(snap.stats.bytesInUse).toBe(live.reduce((sum, b) => sum + b.requestedSize!, 0));
  expect(snap.stats.freeBytes).toBe(free.reduce((sum, b) => sum + b.size, 0));
  expect(snap.stats.regionCount).toBe(snap.regions.length);
}

describe("snapshot of a variable-size pool", () => {
  test("lists its blocks exactly: offsets, sizes, states, ids, requested sizes and ages", () => {
    const p = pool("snap-variable", { initialSize: 1 * MiB });
    const a = p.allocate(100);
    const b = p.allocate(1000);
    const c = p.allocate(5000);
    b.free();
    const snap = p.snapshot();
    expect(snap.format).toBe("memory-pool/snapshot");
    expect(snap.pool).toBe("snap-variable");
    expect(snap.kind).toBe("cpu");
    expect(snap.baseAddress).toBe(a.ptr);
    expect(snap.config.allocatorType).toBe("Variable");
    expect(snap.history).toBe(false);
    expect(snap.regions).toEqual([
      { index: 0, offset: 0, size: 1 * MiB, liveBlocks: 2, freeBlocks: 2, freeBytes: 1 * MiB - 112 - 5008, largestFreeBlock: 1 * MiB - 6128, firstBlock: 0, blockCount: 4 },
    ]);
    expect(snap.blocks).toEqual([
      { offset: 0, size: 112, state: "live", region: 0, id: a.id, requestedSize: 100, age: 2 },
      { offset: 112, size: 1008, state: "free", region: 0 },
      { offset: 1120, size: 5008, state: "live", region: 0, id: c.id, requestedSize: 5000, age: 0 },
      { offset: 6128, size: 1 * MiB - 6128, state: "free", region: 0 },
    ]);
    expect(c.ptr - a.ptr).toBe(1120);
    expectConsistent(snap);
  });

  test("a pool that grew lists every region, each tiled by its blocks", () => {
    const p = pool("snap-growth", { initialSize: 64 * KiB, growth: 2 });
    const live = Array.from({ length: 40 }, (_, i) => p.allocate(1000 + i * 300));
    for (const a of live.filter((_, i) => i % 3 === 0)) a.free();
    const snap = p.snapshot();
    expect(snap.regions.length).toBeGreaterThan(1);
    for (const region of snap.regions) {
      const own = snap.blocks.slice(region.firstBlock, region.firstBlock + region.blockCount);
      expect(own.reduce((sum, b) => sum + b.size, 0)).toBe(region.size); // TLSF blocks tile a region
      expect(own[0]!.offset).toBe(region.offset);
    }
    expect(snap.regions.reduce((sum, r) => sum + r.size, 0)).toBe(snap.stats.bytesReserved);
    const byId = new Map(snap.blocks.filter((b) => b.id !== undefined).map((b) => [b.id, b]));
    for (const a of live) {
      const block = byId.get(a.id);
      if (!a.alive) expect(block).toBeUndefined();
      else expect(block).toMatchObject({ offset: a.ptr - snap.baseAddress, requestedSize: a.size, state: "live" });
    }
    expectConsistent(snap);
  });

  test("after reset every block is free; after trim the emptied regions are gone", () => {
    const p = pool("snap-reset", { initialSize: 64 * KiB });
    for (let i = 0; i < 10; i++) p.allocate(30 * KiB);
    p.reset();
    const snap = p.snapshot();
    expect(snap.blocks.every((b) => b.state === "free")).toBe(true);
    expect(snap.blocks.length).toBe(snap.regions.length); // one free block per region
    p.trim();
    expect(p.snapshot().regions.map((r) => r.offset)).toEqual([0]);
  });
});

describe("snapshot of a fixed-size pool", () => {
  test("lists every block slot, live and free; the tail shorter than a block is none", () => {
    const p = pool("snap-fixed", { allocatorType: "FixedSize", blockSize: 1000, initialSize: 64 * KiB });
    const a = p.allocate(1000);
    const b = p.allocate(10);
    const c = p.allocate(999);
    b.free();
    const snap = p.snapshot();
    const stride = 1008; // 1000 rounded up to the 16-byte alignment
    expect(snap.blocks.length).toBe(Math.floor((64 * KiB) / stride));
    expect(snap.blocks.slice(0, 4)).toEqual([
      { offset: 0, size: stride, state: "live", region: 0, id: a.id, requestedSize: 1000, age: 2 },
      { offset: stride, size: stride, state: "free", region: 0 },
      { offset: 2 * stride, size: stride, state: "live", region: 0, id: c.id, requestedSize: 999, age: 0 },
      { offset: 3 * stride, size: stride, state: "free", region: 0 },
    ]);
    // the largest request it serves is the run of 62 free blocks after c (a request over one block takes a run)
    expect(snap.regions[0]).toMatchObject({ offset: 0, size: 64 * KiB, liveBlocks: 2, freeBlocks: 63, largestFreeBlock: 62 * stride });
    expect([snap.stats.largestFreeBlock, snap.stats.fragmentation]).toEqual([62 * stride, 1 - 62 / 63]);
    expectConsistent(snap);
  });

  test("more blocks than the first buffer holds: the snapshot grows its buffers and lists them all", () => {
    const p = pool("snap-many", { allocatorType: "FixedSize", blockSize: 16, initialSize: 1 * MiB });
    const first = p.snapshot();
    expect(first.blocks.length).toBe(MiB / 16);
    for (let i = 0; i < 70_000; i++) p.allocateRaw(16); // the pool grows a second region
    const second = p.snapshot();
    expect(second.regions.length).toBe(2);
    expect(second.blocks.length).toBe((2 * MiB) / 16);
    expect(second.blocks.filter((b) => b.state === "live").length).toBe(70_000);
    expect(second.blocks[69_999]).toMatchObject({ state: "live", age: 0 });
    expectConsistent(second);
  });
});

describe("snapshots as data", () => {
  test("survive JSON unchanged", () => {
    const p = pool("snap-json");
    for (let i = 0; i < 20; i++) p.allocate(17 * (i + 1));
    const snap = p.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  test("a details provider adds ages in milliseconds and stacks to allocated blocks only", () => {
    const p = pool("snap-details");
    const kept = [p.allocate(64), p.allocate(64)];
    p.allocate(64).free();
    const asked: number[] = [];
    const snap = p.snapshot({
      details: ({ id, offset }) => {
        asked.push(id);
        expect(offset).toBe(kept.find((a) => a.id === id)!.ptr - p.snapshot().baseAddress);
        return id === kept[0]!.id ? { ageMs: 12.5, stack: "at main (app.ts:3:7)" } : undefined;
      },
    });
    expect(snap.history).toBe(true);
    expect(asked.sort()).toEqual(kept.map((a) => a.id).sort());
    expect(snap.blocks[0]).toMatchObject({ id: kept[0]!.id, ageMs: 12.5, stack: "at main (app.ts:3:7)" });
    expect(snap.blocks[1]!.ageMs).toBeUndefined();
  });

  test("a destroyed pool has no snapshot", () => {
    const p = pool("snap-destroyed");
    manager.destroyPool("snap-destroyed");
    expect(() => p.snapshot()).toThrow(PoolNotFoundError);
  });

  test("is one consistent moment while a Worker allocates and frees in the pool", async () => {
    const p = pool("snap-shared", { threadSafety: "mutex", initialSize: 256 * KiB });
    const worker = new Worker(new URL("./fixtures/churn-worker.ts", import.meta.url).href);
    const done = new Promise((resolve) => (worker.onmessage = resolve));
    worker.postMessage({ name: "snap-shared", operations: 200_000 });
    let snapshots = 0;
    let sawBlocks = false;
    const finished = { value: false };
    void done.then(() => (finished.value = true));
    while (!finished.value) {
      const snap = p.snapshot();
      expectConsistent(snap);
      sawBlocks ||= snap.blocks.some((b) => b.state === "live");
      snapshots++;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    worker.terminate();
    expect(snapshots).toBeGreaterThan(1);
    expect(sawBlocks).toBe(true);
    expect(p.snapshot().blocks.every((b) => b.state === "free")).toBe(true);
  });
});

describe("statistics for tools", () => {
  test("pool.toJSON gives name, kind, config and statistics; a destroyed pool says so", () => {
    const p = pool("json-pool", { allocatorType: "FixedSize", blockSize: 64 });
    p.allocate(60);
    const json = JSON.parse(JSON.stringify(p));
    expect(json).toMatchObject({ name: "json-pool", kind: "cpu", config: { allocatorType: "FixedSize", blockSize: 64 } });
    expect(json.stats).toMatchObject({ poolName: "json-pool", liveAllocations: 1, bytesInUse: 60 });
    manager.destroyPool("json-pool");
    expect(JSON.parse(JSON.stringify(p))).toEqual({ name: "json-pool", kind: "cpu", config: json.config, destroyed: true });
  });

  test("manager.toJSON lists every pool; getStatsString is one table with a row each and a total", () => {
    const a = pool("table-a");
    const b = pool("table-b", { allocatorType: "FixedSize", blockSize: 512 });
    a.allocate(3000);
    b.allocate(100);
    b.allocate(100);
    const json = JSON.parse(JSON.stringify(manager)) as { pools: { name: string; stats: { liveAllocations: number } }[] };
    expect(json.pools.find((x) => x.name === "table-a")?.stats.liveAllocations).toBe(1);
    expect(json.pools.find((x) => x.name === "table-b")?.stats.liveAllocations).toBe(2);
    expect(json.pools.map((x) => x.name).sort()).toEqual(manager.listPools().map((x) => x.name).sort());
    const text = manager.getStatsString();
    const lines = text.split("\n");
    expect(lines[0]).toBe(`Memory pools: ${manager.listPools().length}`);
    expect(lines[1]).toMatch(/^ {2}pool +kind +allocator +in use +peak +reserved +live +fragmentation +utilization +allocs \/ frees +failed$/);
    expect(text).toMatch(/^ {2}table-a +cpu +Variable +2\.93 KiB +2\.93 KiB +1\.00 MiB +1 +0\.0 % +0\.3 % +1 \/ 0 +0$/m);
    expect(text).toMatch(/^ {2}table-b +cpu +FixedSize 512 B +200 B +200 B +1\.00 MiB +2 +/m);
    expect(lines.at(-1)).toMatch(/^ {2}total +[\d.]+ K?M?G?i?B +[\d.]+ K?M?G?i?B +\d+ +\d+$/);
  });
});
