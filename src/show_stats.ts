/**
 * MEMORY_POOL_SHOW_STATS=1: every pool's statistics table on stderr when the process exits (and a
 * pool's table when it is destroyed before then), as MIMALLOC_SHOW_STATS does for mimalloc: the
 * figures of a run without a change to its code. 0, false, off or unset: nothing is printed.
 */
import type { MemoryStats } from "./stats";
import { writeReport } from "./stderr";
import { switchWord } from "./validate";

export const SHOW_STATS_VARIABLE = "MEMORY_POOL_SHOW_STATS";

/** What is shown of a pool: its name and its figures. */
interface Shown {
  readonly name: string;
  getStats(): MemoryStats;
}

const watched = new Set<Shown>();
let armed = false;

export function showStatsWanted(value = process.env[SHOW_STATS_VARIABLE]): boolean {
  return switchWord(value) !== false; // any other value asks for them too
}

/** Called for every pool the manager adopts: shown at exit where the variable asks for it. */
export function watchForShowStats(pool: Shown): void {
  if (!showStatsWanted()) return;
  watched.add(pool);
  if (armed) return;
  armed = true;
  process.on("exit", () => {
    for (const each of watched) show(each, "at process exit"); // a pool this thread destroyed left the set (showStatsBeforeDestroy)
  });
}

/** Called as a pool is destroyed: its last figures, where the variable asks for them. */
export function showStatsBeforeDestroy(pool: Shown): void {
  if (watched.delete(pool)) show(pool, "when it was destroyed");
}

function show(pool: Shown, when: string): void {
  try {
    writeReport(`${pool.getStats().getStatsString().replace("\n", ` (${when})\n`)}\n`);
  } catch (err) {
    writeReport(`bun-memory-pool: no statistics for pool '${pool.name}': ${String(err)}\n`);
  }
}
