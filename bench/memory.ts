/**
 * 5. Memory: the random variable-size workload (bench/memory-workload.ts) on a pool with
 * initialSize 1 MiB and growth 1, reporting peakBytesReserved / peakBytesInUse (goal ≤ 1.2),
 * next to glibc malloc's resident-memory growth for the same workload. Each side runs in a
 * child process of its own, so neither sees the other's (or mitata's) memory.
 */
import { join } from "node:path";

export interface WorkloadResult {
  which: "pool" | "malloc";
  ms: number;
  peakLive: number;
  peakLiveBytes: number;
  liveAtEnd: number;
  /** Blocks whose tag bytes had changed when they were freed: must be 0. */
  corrupted: number;
  rssBefore: number;
  rssPeak: number;
  rssEnd: number;
  rssAfterFreeAll: number;
  stats?: {
    peakBytesReserved: number;
    peakBytesInUse: number;
    bytesReserved: number;
    regionCount: number;
    growthCount: number;
    fragmentation: number;
    failedAllocations: number;
  };
}

export const MEMORY_GOAL = 1.2;

export function runWorkload(which: "pool" | "malloc"): WorkloadResult {
  const child = Bun.spawnSync([process.execPath, join(import.meta.dir, "memory-workload.ts"), which], { stdout: "pipe", stderr: "pipe" });
  if (child.exitCode !== 0) {
    throw new Error(`memory workload '${which}' failed (exit ${child.exitCode}): ${child.stderr.toString()}`);
  }
  const lines = child.stdout.toString().trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as WorkloadResult;
}
