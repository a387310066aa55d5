/**
 * The threadSafety settings a PMEM pool takes, by a name a child process is given on its command
 * line: the crash tests run their workload under each (pools of both strategies take them all),
 * and the check reopens the file the same way, so that recovery rebuilds the placement the mode
 * uses (zig/src/pmem/shared_journal.zig for the shared and sharded ones).
 */
import type { PoolConfig } from "../../src/index";

export const THREAD_MODES = {
  none: { threadSafety: "none", threadLocalCache: false },
  lockFree: { threadSafety: "lockFree", threadLocalCache: false },
  threadLocalCache: { threadSafety: "mutex", threadLocalCache: true },
  lockFreeCache: { threadSafety: "lockFree", threadLocalCache: true },
} as const satisfies Record<string, Pick<PoolConfig, "threadSafety" | "threadLocalCache">>;

export type ThreadMode = keyof typeof THREAD_MODES;

export function threadMode(name: string | undefined): ThreadMode {
  const mode = name ?? "none";
  if (!(mode in THREAD_MODES)) throw new Error(`unknown thread mode '${mode}': one of ${Object.keys(THREAD_MODES).join(", ")}`);
  return mode as ThreadMode;
}
