/**
 * Reports about allocations another Worker made on a shared pool with trackHistory. Found by
 * attacking main: the records behind stacks (JavaScript stacks, in one thread's heap) stay in the
 * thread that made the allocation, so the main thread's leak report on destroyPool listed a
 * Worker's leak as "(allocation stack not recorded: turn on trackHistory)", and check()'s
 * BoundaryViolationError for a Worker's overrun said "allocated at: (not recorded: turn on
 * trackHistory)": advice to turn on what was on. They now say the stack is not known in this
 * thread, whose records are its own; the thread's own allocations keep their stacks, and without
 * trackHistory the advice stays. In a child process (Workers, and the report on stderr).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-foreign-stacks-child.ts");

async function run(mode: string, history: boolean): Promise<{ stdout: string; stderr: string }> {
  const spawned = Bun.spawn([process.execPath, child, mode, String(history)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(spawned.stdout).text(), new Response(spawned.stderr).text()]);
  await spawned.exited;
  expect(spawned.exitCode).toBe(0);
  return { stdout, stderr };
}

test("the leak report lists a Worker's leak as not known in this thread, and the thread's own with its stack", async () => {
  const { stderr } = await run("leak", true);
  expect(stderr).toContain("leak report for pool 'foreign' (destroyPool): 2 allocations still live");
  expect(stderr).not.toContain("turn on trackHistory");
  expect(stderr).toContain("#1: 48 bytes at");
  expect(stderr).toMatch(/#1: 48 bytes at 0x[0-9a-f]+\n {4}\(allocation stack not known in this thread: trackHistory keeps each thread's own records/);
  expect(stderr).toMatch(/#2: 16 bytes at 0x[0-9a-f]+, allocated [\d.]+ \S+ ago\n.*attack15-foreign-stacks-child\.ts/);
});

test("check() finding a Worker's overrun says its stack is not known in this thread", async () => {
  const { stdout } = await run("overrun", true);
  expect(stdout).toStartWith("BoundaryViolationError\nbuffer overflow: allocation #1 (48 bytes");
  expect(stdout).toContain("allocated at: (not known in this thread: trackHistory keeps each thread's own records");
  expect(stdout).not.toContain("turn on trackHistory");
});

test("without trackHistory the report still says to turn it on", async () => {
  const { stderr } = await run("leak", false);
  expect(stderr.match(/\(allocation stack not recorded: turn on trackHistory\)/g)).toHaveLength(2);
});
