// Snapshots and memory maps of GPU and pinned pools, on a machine with a CUDA device; skipped,
// saying why, without one.
import { afterAll, describe, expect, test } from "bun:test";
import { MemoryPoolManager, PoolConfig, renderMemoryMap } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";
import { mapRows, tableRows } from "../support/stats_rows";
import { parseXml, allElements } from "../support/xml";

const manager = MemoryPoolManager.getInstance();
const noGPU = gpuUnavailableReason();
const gpu = noGPU === undefined;
if (!gpu) console.log(`[test/gpu/snapshot] GPU snapshot tests skipped: ${noGPU}`);

const MiB = 1 << 20;
const made: string[] = [];
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});

describe.skipIf(!gpu)("snapshots of device memory", () => {
  test("a GPU pool lists its blocks; one freed on a busy stream is pending until the stream is done", () => {
    made.push("snap-gpu");
    const pool = manager.createGPUPool("snap-gpu", Object.assign(new PoolConfig(), { initialSize: 512 * MiB }));
    using stream = pool.createStream();
    const busy = pool.allocate(256 * MiB);
    const small = pool.allocate(4096);
    const kept = pool.allocate(1000);
    for (let i = 0; i < 40; i++) pool.fill(busy, i & 0xff, undefined, { stream }); // work queued ahead of the free
    pool.deallocate(small, { stream });
    const during = pool.snapshot();
    expect(during.kind).toBe("gpu");
    expect(during.baseAddress).toBe(busy.ptr);
    const pending = during.blocks.find((b) => b.offset === small.ptr - busy.ptr);
    expect(pending).toEqual({ offset: 256 * MiB, size: 4096, state: "pending", region: 0, requestedSize: 4096 });
    expect(during.blocks.find((b) => b.id === kept.id)).toMatchObject({ state: "live", requestedSize: 1000, age: 0 });
    const svg = parseXml(renderMemoryMap(during));
    expect(allElements(svg).filter((e) => e.attributes.class === "block pending").length).toBe(1);
    stream.synchronize();
    pool.allocate(16).free(); // an allocation reclaims the blocks whose stream is done
    expect(pool.snapshot().blocks.some((b) => b.state === "pending")).toBe(false);
    busy.free();
    kept.free();
  });

  test("DebugGPU and a pool with a pending free: the statistics table and the memory map print the same rows", () => {
    made.push("snap-gpu-rows");
    const pool = manager.createGPUPool("snap-gpu-rows", Object.assign(PoolConfig.DebugGPU(), { initialSize: 64 * MiB, leakReport: false }));
    using stream = pool.createStream();
    const busy = pool.allocate(32 * MiB);
    const held = Array.from({ length: 20 }, (_, i) => pool.allocate(100 + i * 300));
    held.forEach((a, i) => i % 2 === 0 && a.free());
    for (let i = 0; i < 20; i++) pool.fill(busy, i & 0xff, undefined, { stream });
    held[1]!.free({ stream }); // pending while the stream works
    const map = mapRows(pool.snapshot());
    const table = tableRows(pool.getStats());
    expect(map.size).toBeGreaterThanOrEqual(3);
    for (const [label, value] of map) expect(`${label}: ${table.get(label)}`).toBe(`${label}: ${value}`);
    stream.synchronize();
    pool.reset();
  });

  test("a pinned pool's snapshot is like a CPU pool's", () => {
    made.push("snap-pinned");
    const pool = manager.createPinnedPool("snap-pinned", Object.assign(new PoolConfig(), { initialSize: 4 * MiB }));
    const a = pool.allocate(100);
    const snap = pool.snapshot();
    expect(snap.kind).toBe("pinned");
    expect(snap.blocks[0]).toEqual({ offset: 0, size: 112, state: "live", region: 0, id: a.id, requestedSize: 100, age: 0 });
    expect(snap.blocks[1]).toEqual({ offset: 112, size: 4 * MiB - 112, state: "free", region: 0 });
  });
});
