/**
 * Guard pages until the process nears the kernel's limit on its mappings (vm.max_map_count, 65530
 * by default). Found by attack17: every guarded allocation splits its region's mapping, and the
 * guard layer split until the kernel refused; the pool then fell back to unguarded blocks, but by
 * then the whole process was out of mappings: a new pool was an OutOfMemoryError, libpmem could not
 * be loaded ("not installed"), and Bun aborted the process at its next ArrayBuffer of a MiB (a
 * snapshot() did it). Guarded placement now keeps an eighth of the limit for the rest of the process
 * (zig/src/backend/map_budget.zig): past that it places allocations unguarded, and the runtime and
 * other pools go on. Runs in a child (the abort ended the process); skipped where the limit is so
 * high (some distributions raise it to millions) that reaching it would take minutes.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { attackFixture, runBun } from "../support/child";

const limit = Number(readFileSync("/proc/sys/vm/max_map_count", "utf8"));
const tooHigh = !(limit <= 70_000);
if (tooHigh) console.log(`skipped: vm.max_map_count is ${limit} here; the test reaches the default 65530`);

test.skipIf(tooHigh)("a guarded pool leaves the process mappings of its own: no abort, every allocation placed, other pools served", async () => {
  const count = Math.ceil(limit * 0.6); // each guarded block adds about two mappings: past the limit without the budget
  const child = await runBun(attackFixture("attack17-map-count-child.ts"), [String(count)], { timeout: 30_000 });
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  const report = JSON.parse(child.stdout);
  expect(report).toEqual({ placed: count, mappings: report.mappings, buffers: 16, snapshot: true, otherPool: 1 << 20 });
  expect(report.mappings).toBeLessThanOrEqual(limit - Math.floor(limit / 8) + 3);
}, 40_000);
