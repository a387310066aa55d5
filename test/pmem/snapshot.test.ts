/**
 * Snapshots and memory maps of PMEM pools: the heap inside the file as one region, placed by the
 * same strategies as CPU pools; after reopening, the snapshot shows what recovery rebuilt.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { MemoryPoolManager, renderMemoryMap, type PMEMMemoryPool, type PoolSnapshot } from "../../src/index";
import { allElements, parseXml } from "../support/xml";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

function held(snap: PoolSnapshot) {
  return snap.blocks.filter((b) => b.state === "live").map(({ offset, size, requestedSize }) => ({ offset, size, requestedSize }));
}

describe("snapshots of PMEM pools", () => {
  test("a variable-size pool: its heap is one region its blocks tile; reopened, the same blocks are live", () => {
    const path = poolPath("snap-variable");
    let pool: PMEMMemoryPool = manager.createPMEMPool("pm-snap", pmemConfig(path));
    const kept = [pool.allocate(100), pool.allocate(5000), pool.allocate(300)];
    pool.allocate(2000).free();
    for (const allocation of kept) pool.commitUnpublished(allocation); // durable: found again on reopening
    const before = pool.snapshot();
    expect(before.kind).toBe("pmem");
    expect(before.regions.length).toBe(1);
    const heap = before.regions[0]!;
    expect(heap.offset).toBeGreaterThan(0); // the file's header and tables come first
    expect(heap.offset + heap.size).toBeLessThanOrEqual(pool.getStats().addressSpaceBytes);
    expect(before.blocks.reduce((sum, b) => sum + b.size, 0)).toBe(heap.size);
    expect(held(before)).toEqual(kept.map((a) => ({ offset: a.ptr - before.baseAddress, size: Math.ceil(a.size / 16) * 16, requestedSize: a.size })));
    expect(before.blocks.find((b) => b.id === kept[2]!.id)!.age).toBe(1); // the freed allocation came after it
    expect(before.stats.liveAllocations).toBe(3);
    manager.destroyPool("pm-snap");
    pool = manager.createPMEMPool("pm-snap", pmemConfig(path));
    const after = pool.snapshot();
    expect(after.regions).toEqual(before.regions);
    expect(held(after)).toEqual(held(before));
    const svg = parseXml(renderMemoryMap(after));
    expect(allElements(svg).filter((e) => e.name === "path" && e.attributes.class?.startsWith("block ")).length).toBe(after.blocks.length);
    expect(JSON.parse(JSON.stringify(pool))).toMatchObject({ name: "pm-snap", kind: "pmem", stats: { liveAllocations: 3 } });
    expect(manager.getStatsString()).toMatch(/^ {2}pm-snap +pmem +Variable +/m);
    manager.destroyPool("pm-snap");
  });

  test("a fixed-size pool: one block per slot; heap bytes past the last slot are no block", () => {
    const pool = manager.createPMEMPool("pm-snap-fixed", pmemConfig(poolPath("snap-fixed"), { allocatorType: "FixedSize", blockSize: 1000 }));
    const a = pool.allocate(1000);
    const snap = pool.snapshot();
    expect(snap.blocks.every((b) => b.size === 1008)).toBe(true);
    expect(snap.blocks[0]).toMatchObject({ offset: a.ptr - snap.baseAddress, state: "live", id: a.id, requestedSize: 1000 });
    expect(snap.blocks.length).toBeGreaterThan(200);
    const covered = snap.blocks.length * 1008;
    expect(covered).toBeLessThanOrEqual(snap.regions[0]!.size);
    expect(snap.stats.fragmentation).toBe(0);
    manager.destroyPool("pm-snap-fixed");
  });
});
