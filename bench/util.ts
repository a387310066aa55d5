/** Shared pieces of the benchmarks: a seeded PRNG, size streams, RSS, formatting. */
import { readFileSync } from "node:fs";
import { bench } from "mitata";
import { threadCpuNs } from "./anchors";

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** xorshift32: a small, fixed-seed PRNG so every run sees the same sizes. */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** `count` sizes drawn uniformly from [min, max] bytes. */
export function randomSizes(count: number, min: number, max: number, seed: number): Uint32Array {
  const next = xorshift32(seed);
  const sizes = new Uint32Array(count);
  const span = max - min + 1;
  for (let i = 0; i < count; i++) sizes[i] = min + (next() % span);
  return sizes;
}

/** Resident set size of this process in bytes (second field of /proc/self/statm, in pages). */
export function rssBytes(): number {
  const fields = readFileSync("/proc/self/statm", "utf8").split(" ");
  return Number(fields[1]) * 4096;
}

export function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

/** Three significant digits, so 0.0004 does not print as 0.000. */
export function formatRatio(ratio: number): string {
  return ratio >= 1 ? ratio.toFixed(3) : ratio.toPrecision(3);
}

export function formatBytes(n: number): string {
  if (Math.abs(n) >= MiB) return `${(n / MiB).toFixed(2)} MiB`;
  if (Math.abs(n) >= KiB) return `${(n / KiB).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A markdown table: copy-pasteable into RESULTS.md. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** What mitata's `run()` resolves to, as far as the tables need it. */
interface MitataRun {
  benchmarks: { alias: string; runs: { stats?: { avg: number; p50: number }; error?: unknown }[] }[];
}

/** Each benchmark's time per iteration by name (mitata's mean, or median), failures reported. */
export function timesByName(result: MitataRun, statistic: "avg" | "p50" = "avg"): Map<string, number> {
  const times = new Map<string, number>();
  for (const trial of result.benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats !== undefined) times.set(trial.alias, stats[statistic]);
    else console.error(`benchmark '${trial.alias}' failed: ${String(trial.runs[0]?.error)}`);
  }
  return times;
}

/**
 * The calling thread's CPU time a call of each row's function, in ns: the lowest of `rounds`
 * rounds of `calls` calls, after `warmUp` untimed rounds, rows alternating. For a machine that
 * other processes share: mitata's wall-clock means count the time they held the cores, this
 * thread's CPU time does not (anchors.ts threadCpuNs: exact, where process.threadCpuUsage moves in
 * scheduler ticks).
 * Each row's loop is a function of its own, so rows share no call-site profile.
 */
export function threadCpuTimes(rows: [string, () => void][], rounds = 5, calls = 1_000_000, warmUp = 3): Map<string, number> {
  const cpuNs = threadCpuNs;
  const loops = rows.map(([name, fn]) => {
    // A loop per row, made from source, so that JSC compiles (and profiles) each apart.
    const loop = new Function("fn", "calls", "cpuNs", `return function ${name.replace(/\W/g, "_")}_loop() { const t0 = cpuNs(); for (let i = 0; i < calls; i++) fn(); return (cpuNs() - t0) / calls; }`);
    return [name, loop(fn, calls, cpuNs) as () => number] as const;
  });
  for (let round = 0; round < warmUp; round++) for (const [, loop] of loops) loop();
  const best = new Map<string, number>();
  for (let round = 0; round < rounds; round++) for (const [name, loop] of loops) best.set(name, Math.min(best.get(name) ?? Infinity, loop()));
  return best;
}

/**
 * A mitata bench whose body also runs untimed, for about 40 ms, when `warmUp()` is called before
 * `run()`. The first rows of a run ran while JSC was still compiling the library's path (GPU 256 B,
 * first, read 0.16-0.21x where the same pair timed later in the process read 0.037x; PMEM 64 B,
 * first, 290-380 ns where the same pool's path read 60-150 ns in later rows): every row so made
 * runs warm, ours and the anchors alike.
 */
const warmUps: (() => void)[] = [];
export function warmedBench(name: string, fn: () => void): ReturnType<typeof bench> {
  warmUps.push(fn);
  return bench(name, fn);
}
/** Runs every `warmedBench` body untimed for about 40 ms each; call it once, just before `run()`. */
export function warmUp(): void {
  for (const fn of warmUps) {
    const end = performance.now() + 40;
    while (performance.now() < end) for (let i = 0; i < 256; i++) fn();
  }
}
