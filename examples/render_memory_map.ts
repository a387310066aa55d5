/**
 * Seeing the memory: a pool's snapshot saved as JSON, and drawn as an SVG memory map.
 *
 *   bun examples/render_memory_map.ts                        builds a fragmented pool, saves its snapshot
 *                                                            and its picture (in a temporary folder)
 *   bun examples/render_memory_map.ts --out map.svg          the same, written to map.svg and map.json
 *   bun examples/render_memory_map.ts snapshot.json [--out map.svg]
 *                                                            draws a saved snapshot (default: snapshot.svg)
 *
 * Open the SVG in a browser: hover a block for its details.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { InvalidSnapshotError, MemoryPoolManager, renderMemoryMap, type Allocation, type PoolSnapshot } from "bun-memory-pool";
import { exampleArgs } from "./support/cli.ts";

const usage = `Usage: bun examples/render_memory_map.ts [snapshot.json] [--out map.svg]

Without a snapshot: builds a fragmented pool, saves its snapshot as JSON and draws it as SVG.
With a saved snapshot: draws it (to snapshot.svg unless --out says where).

Options:
  -o, --out <file>  where to write the SVG (the JSON goes next to it)
  -h, --help        show this help`;
const { values, positionals } = exampleArgs(usage, {
  options: { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
const out = values.out;
const saved = positionals[0];

if (saved !== undefined) {
  // Draw a snapshot saved earlier, perhaps by another process or on another machine.
  let snapshot: PoolSnapshot;
  try {
    snapshot = JSON.parse(readFileSync(saved, "utf8")) as PoolSnapshot;
  } catch (err) {
    console.log(`Cannot read ${saved}: ${(err as Error).message}`);
    process.exit(1);
  }
  const target = out ?? saved.replace(/\.json$/, "") + ".svg";
  try {
    writeFileSync(target, renderMemoryMap(snapshot));
  } catch (err) {
    if (!(err instanceof InvalidSnapshotError)) throw err;
    console.log(`${saved} is no pool snapshot: ${err.message}`);
    process.exit(1);
  }
  console.log(`Drew ${saved} (pool '${snapshot.pool}', ${snapshot.blocks.length} blocks) to ${target}.`);
  process.exit(0);
}

// 1. A pool that grows in 64 KiB regions, and a workload that leaves it fragmented: many small
//    allocations, most of them freed at random, then larger ones that fit only some of the holes.
const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("render_demo", { initialSize: 64 * 1024, growth: 1, maxSize: 1024 * 1024 });
let seed = 2026;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const live: Allocation[] = [];
for (let i = 0; i < 160; i++) live.push(pool.allocate(Math.round(32 + random() ** 2 * 2000)));
for (let i = live.length - 1; i >= 0; i--) if (random() < 0.55) live.splice(i, 1)[0]!.free();
for (let i = 0; i < 14; i++) live.push(pool.allocate(Math.round(1500 + random() * 5000)));
const stats = pool.getStats();
console.log(`Built pool 'render_demo': ${stats.liveAllocations} live allocations in ${stats.regionCount} regions, fragmentation ${(stats.fragmentation * 100).toFixed(1)} %.`);

// 2. The snapshot: plain data, so it saves as JSON and loads anywhere.
const svgPath = out ?? join(tmpdir(), "memory-pool-map", "memory-map.svg");
const jsonPath = svgPath.replace(/\.svg$/, "") + ".json";
mkdirSync(dirname(svgPath), { recursive: true });
const snapshot = pool.snapshot();
writeFileSync(jsonPath, JSON.stringify(snapshot, null, 1));
console.log(`Saved its snapshot (${snapshot.regions.length} regions, ${snapshot.blocks.length} blocks) to ${jsonPath}.`);

// 3. The picture, from the saved file as a tool would draw it.
const svg = renderMemoryMap(JSON.parse(readFileSync(jsonPath, "utf8")) as PoolSnapshot);
writeFileSync(svgPath, svg);
console.log(`Drew it to ${svgPath} (${(svg.length / 1024).toFixed(1)} KiB); open it in a browser and hover a block.`);

// 4. The same figures for tools: every pool in one table, and as JSON.
console.log(manager.getStatsString());
console.log(`JSON.stringify(manager) lists ${JSON.parse(JSON.stringify(manager)).pools.length} pool(s).`);
manager.destroyPool("render_demo");
