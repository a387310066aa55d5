/**
 * Memory over time: a pool with trackHistory runs a small workload (buffers for a few batches, a
 * scratch allocation per step), and renderTimeline() draws its history as an HTML page: bytes in use
 * over time, one band per allocation, the peak marked. Open the page in a browser, hover a band.
 *
 *   bun examples/memory_timeline.ts                    writes memory-timeline.html in a temporary folder
 *   bun examples/memory_timeline.ts --out page.html    writes page.html
 *   bun examples/memory_timeline.ts --help
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryPoolManager, PoolConfig, renderTimeline, type Allocation } from "bun-memory-pool";
import { exampleArgs } from "./support/cli.ts";

const usage = `Usage: bun examples/memory_timeline.ts [--out page.html]

Runs a small workload in a pool with trackHistory and draws its memory over time as an HTML page.

Options:
  -o, --out <file>  where to write the page (default: memory-timeline.html in a temporary folder)
  -h, --help        show this help`;

const options = exampleArgs(usage, { options: { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } } }).values;

const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("timeline_demo", Object.assign(PoolConfig.HighPerformanceCPU(), { trackHistory: true }));

// Each batch keeps its buffers until the batch after next; each step takes a scratch buffer and frees it.
const batches: Allocation[][] = [];
for (let batch = 0; batch < 6; batch++) {
  batches.push([pool.allocate(48 * 1024), pool.allocate(16 * 1024 * (1 + (batch % 3)))]);
  for (let step = 0; step < 3; step++) {
    using scratch = pool.allocate(8 * 1024);
    scratch.bytes.fill(step);
  }
  if (batches.length > 2) for (const buffer of batches.shift()!) buffer.free();
}

const page = renderTimeline(pool);
const out = options.out ?? join(mkdtempSync(join(tmpdir(), "memory-pool-")), "memory-timeline.html");
writeFileSync(out, page);
const stats = pool.getStats();
console.log(`Ran 6 batches in pool 'timeline_demo': ${pool.getHistory().length} events, peak ${Math.round(stats.peakBytesInUse / 1024)} KiB in use.`);
console.log(`Drew its memory over time to ${out} (${(page.length / 1024).toFixed(1)} KiB, no network needed); open it in a browser and hover a band.`);
for (const batch of batches) for (const buffer of batch) buffer.free();
manager.destroyPool("timeline_demo");
