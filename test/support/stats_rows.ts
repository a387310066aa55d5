// The rows of the reserved bytes as getStatsString() prints them and as renderMemoryMap() draws
// them, as label -> value maps, so a test can check that the two say the same.
import { renderMemoryMap, type MemoryStats, type PoolSnapshot } from "../../src/index";

/** The table's rows as label -> value (labels trimmed). */
export function tableRows(stats: MemoryStats): Map<string, string> {
  const rows = stats.getStatsString().split("\n").slice(1);
  return new Map(rows.map((row) => row.trim().split(/ {2,}/) as [string, string]));
}

/** The memory map's rows of the reserved bytes ("label: value" texts). */
export function mapRows(snapshot: PoolSnapshot): Map<string, string> {
  const svg = renderMemoryMap(snapshot);
  const texts = [...svg.matchAll(/<text class="summary part"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
  return new Map(texts.map((t) => t.split(": ", 2) as [string, string]));
}
