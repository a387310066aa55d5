/**
 * The benchmarks: `npm run bench` (= `bun bench/index.ts`). Every figure is measured against an
 * anchor in this same process, and the table at the end gives ours / anchor next to the goal.
 * Results on the dev machine: bench/RESULTS.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "mitata";
import { cpuSuite } from "./cpu";
import { ffiSuite } from "./ffi";
import { goalRows, type Suite, type TimedGoal } from "./goals";
import { MEMORY_GOAL, runWorkload } from "./memory";
import { statsSuite } from "./stats";
import { cpuModel, formatBytes, table, timesByName } from "./util";

const suites: Suite[] = [cpuSuite(), statsSuite(), ffiSuite()];
const started = performance.now();
const average = timesByName(await run());
const notes = suites.flatMap((suite) => suite.notes?.() ?? []);
for (const suite of suites) suite.cleanup();

const { rows, unmet } = goalRows(suites.flatMap((suite): TimedGoal[] => suite.goals), average);

// 5. Memory, after the timings so the children do not compete with them.
const pool = runWorkload("pool");
const libc = runWorkload("malloc");
for (const side of [pool, libc]) {
  if (side.corrupted !== 0) unmet.push(`memory workload (${side.which}): ${side.corrupted} block(s) overwritten while live`);
}
const overhead = pool.stats!.peakBytesReserved / pool.stats!.peakBytesInUse;
const libcPeakGrowth = libc.rssPeak - libc.rssBefore;
const libcRatio = libcPeakGrowth / libc.peakLiveBytes;
const poolPeakGrowth = pool.rssPeak - pool.rssBefore;
const memoryMet = overhead <= MEMORY_GOAL;
if (!memoryMet) unmet.push("memory");
rows.push([
  "5. memory: pool peakBytesReserved / peakBytesInUse (anchor: glibc peak RSS growth / peak in use)",
  `${formatBytes(pool.stats!.peakBytesReserved)} / ${formatBytes(pool.stats!.peakBytesInUse)}`,
  `${formatBytes(libcPeakGrowth)} / ${formatBytes(libc.peakLiveBytes)}`,
  `${overhead.toFixed(3)} (glibc ${libcRatio.toFixed(3)})`,
  `≤ ${MEMORY_GOAL}`,
  memoryMet ? "yes" : "NO",
]);

console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(table(["figure", "ours", "anchor", "ratio", "goal", "met?"], rows));
console.log(
  [
    "",
    `memory workload: 10^5 ops, sizes 16 B..64 KiB, at most ${pool.peakLive} live, every block memset in full; blocks overwritten while live: pool ${pool.corrupted}, malloc ${libc.corrupted}`,
    `  pool  (initialSize 1 MiB, growth 1): peak reserved ${formatBytes(pool.stats!.peakBytesReserved)} in ${pool.stats!.regionCount} regions, ` +
      `peak in use ${formatBytes(pool.stats!.peakBytesInUse)}, RSS growth peak ${formatBytes(poolPeakGrowth)} ` +
      `(${(poolPeakGrowth / pool.peakLiveBytes).toFixed(3)}× peak in use), after freeing all ${formatBytes(pool.rssAfterFreeAll - pool.rssBefore)}, ${pool.ms.toFixed(0)} ms`,
    `  glibc malloc:                        RSS growth peak ${formatBytes(libcPeakGrowth)} (${libcRatio.toFixed(3)}× peak in use), ` +
      `after freeing all ${formatBytes(libc.rssAfterFreeAll - libc.rssBefore)}, ${libc.ms.toFixed(0)} ms`,
    `  (RSS from /proc/self/statm, sampled every 250 operations; each side in a child process of its own)`,
    ...notes,
  ].join("\n"),
);
// The figures as data, for RESULTS.md and for comparing runs (bench/out/ is not committed).
const outDir = join(import.meta.dir, "out");
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, "results.json"),
  JSON.stringify({ date: new Date().toISOString(), cpu: cpuModel(), cores: navigator.hardwareConcurrency, bun: Bun.version, averagesNs: Object.fromEntries(average), rows, memory: { pool, malloc: libc }, notes, unmet }, null, 2),
);
console.log(`\n${unmet.length === 0 ? "all goals met" : `unmet: ${unmet.join("; ")}`} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
