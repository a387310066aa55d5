/**
 * A Worker's threadSafety "none" leakReport pools report what leaked however the Worker ends.
 * Found this session: one stopped by worker.terminate() wrote no report (terminate() runs no
 * process.on("exit") listener, where the report hung); the core now writes it as the Worker's
 * thread ends and destroys the pool (zig/src/debug/thread_end_report.zig), in the same words,
 * with the damage its canaries show, but with no age or stack (the Worker's JavaScript records
 * ended with it). A Worker that returns or throws reports from JavaScript, once: the core writes
 * no second report. Each run in a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

const fixture = attackFixture("workerend-ended-worker-child.ts");
const HEADER = "bun-memory-pool: leak report for pool 'workerend-ended' (Worker exit): 2 allocations still live, 124 B";
const damageLine = (stderr: string) => stderr.split("\n").find((line) => line.startsWith("bun-memory-pool: damage found"))?.replace(/0x[0-9a-f]+/g, "0x…");
const count = (text: string, part: string) => text.split(part).length - 1;

test("a terminated Worker's pool reports its leaks and the overrun of one, as its thread ends", async () => {
  const run = await runBun(fixture, ["terminate", "overrun"]);
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ poolGone: true });
  expect(count(run.stderr, HEADER)).toBe(1);
  expect(run.stderr).toMatch(/\n {2}#1: 24 bytes at 0x[0-9a-f]+\n {4}\(allocation stack not known: the Worker's records ended with it\)\n {2}#2: 100 bytes at 0x[0-9a-f]+\n/);
  expect(damageLine(run.stderr)).toBe(
    "bun-memory-pool: damage found in pool 'workerend-ended' (Worker exit): BoundaryViolationError: buffer overflow: allocation #1 (24 bytes at 0x…, pool 'workerend-ended') was written 1 byte past its end (first damaged byte at offset 24, 1 byte of canary damaged)",
  );
  // The same words as the report of a Worker that returns (JavaScript's), but for its stack section.
  const returned = await runBun(fixture, ["return", "overrun"]);
  expect(damageLine(returned.stderr)).toBe(damageLine(run.stderr)!);
}, 30_000);

test("a terminated Worker's pool reports a write into its quarantine as a Worker that returns does", async () => {
  const [terminated, returned] = [await runBun(fixture, ["terminate", "afterFree"]), await runBun(fixture, ["return", "afterFree"])];
  expect(count(terminated.stderr, HEADER)).toBe(1);
  expect(damageLine(terminated.stderr)).toBe(
    "bun-memory-pool: damage found in pool 'workerend-ended' (Worker exit): UseAfterFreeError: write after free: allocation #3 (64 bytes at 0x…, pool 'workerend-ended') was written after it was freed (first changed byte at offset 5, 1 byte changed)",
  );
  expect(damageLine(returned.stderr)).toBe(damageLine(terminated.stderr)!);
}, 30_000);

test("a terminated Worker's intact pool reports its leaks and no damage", async () => {
  const run = await runBun(fixture, ["terminate", "clean"]);
  expect(run.exitCode).toBe(0);
  expect(count(run.stderr, HEADER)).toBe(1);
  expect(run.stderr).not.toContain("damage");
}, 30_000);

for (const end of ["return", "throw"]) {
  test(`a Worker ended by ${end} reports from JavaScript (ages), once: the core adds none`, async () => {
    const run = await runBun(fixture, [end, "overrun"]);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ poolGone: true });
    expect(count(run.stderr, HEADER)).toBe(1);
    expect(run.stderr).toMatch(/ {2}#1: 24 bytes at 0x[0-9a-f]+, allocated [0-9.]+ (µs|ms|s) ago\n/);
    expect(run.stderr).not.toContain("the Worker's records ended with it");
    expect(count(run.stderr, "damage found")).toBe(1);
  }, 30_000);
}
