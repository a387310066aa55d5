/**
 * A timed goal: a benchmark of ours, the anchor it is measured against (both run in this
 * process, by mitata), and the most ours / anchor may be.
 *
 * `compare` registers the two in A B B A order (A B B A A B for three rounds), so that drift
 * over the run (JIT tiers, GC state, a neighbour's load on a shared 2-core machine) falls on
 * both sides; the lowest average of each side's runs counts, since interference only ever
 * adds time.
 */
import { bench } from "mitata";
import { formatNs, formatRatio } from "./util";

export interface TimedGoal {
  /** Row label in the final table. */
  label: string;
  /** mitata benchmark names of ours. */
  ours: string[];
  /** mitata benchmark names of the anchor. */
  anchor: string[];
  /** ratio ours / anchor must be at most this; undefined for a row that only informs. */
  goal?: number;
}

/** What a benchmark file hands to bench/index.ts. */
export interface Suite {
  goals: TimedGoal[];
  /** Lines to print under the table (read before cleanup). */
  notes?(): string[];
  /** Frees what the suite's benchmarks left live and destroys its pools. */
  cleanup(): void;
}

const ORDER = ["AB", "BA", "AB"] as const;

/**
 * Registers ours and the anchor (call inside a mitata group) and returns the goal row. An
 * anchor given by name alone is one registered already: only ours runs.
 */
export function compare(
  label: string,
  ours: [name: string, fn: () => void],
  anchor: [name: string, fn: () => void] | string[],
  goal: number | undefined,
  rounds = 2,
): TimedGoal {
  if (typeof anchor[0] === "string" && typeof anchor[1] !== "function") {
    const row: TimedGoal = { label, ours: [], anchor: anchor as string[], goal };
    for (let round = 0; round < rounds; round++) {
      const runName = rounds === 1 ? ours[0] : `${ours[0]} #${round + 1}`;
      bench(runName, ours[1]);
      row.ours.push(runName);
    }
    return row;
  }
  const pair = anchor as [string, () => void];
  const row: TimedGoal = { label, ours: [], anchor: [], goal };
  for (let round = 0; round < rounds; round++) {
    for (const side of ORDER[round % ORDER.length]!) {
      const [name, fn] = side === "A" ? ours : pair;
      const runName = rounds === 1 ? name : `${name} #${round + 1}`;
      bench(runName, fn);
      (side === "A" ? row.ours : row.anchor).push(runName);
    }
  }
  return row;
}

/** The table rows of `goals` from mitata's averages by name (the lowest run of each side counts), and the labels of unmet goals. */
export function goalRows(goals: TimedGoal[], average: Map<string, number>): { rows: string[][]; unmet: string[] } {
  const lowest = (names: string[]) => Math.min(...names.map((name) => average.get(name) ?? NaN));
  const rows: string[][] = [];
  const unmet: string[] = [];
  for (const goal of goals) {
    const ours = lowest(goal.ours);
    const anchor = lowest(goal.anchor);
    const ratio = ours / anchor;
    if (goal.goal === undefined) {
      rows.push([goal.label, formatNs(ours), formatNs(anchor), `${formatRatio(ratio)}×`, "(info)", "—"]);
      continue;
    }
    const met = ratio <= goal.goal;
    if (!met) unmet.push(goal.label);
    rows.push([goal.label, formatNs(ours), formatNs(anchor), `${formatRatio(ratio)}×`, `≤ ${goal.goal}×`, met ? "yes" : "NO"]);
  }
  return { rows, unmet };
}
