/**
 * The library's reports on stderr (leak reports, MEMORY_POOL_SHOW_STATS tables) where stderr is a
 * pipe whose reader has gone, as after `bun app.ts 2>&1 | head`: every write there is EPIPE. Found
 * by attacking main: destroy() of a pool with leakReport threw that untyped EPIPE Error before the
 * pool was released (it stayed alive, its name taken), and the same write ran inside the leak
 * watch's FinalizationRegistry callback and at exit. Reports are now written best-effort
 * (src/stderr.ts): a report stderr cannot take is lost, never the call that made it.
 */
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("with stderr a broken pipe, destroy() with leakReport and MEMORY_POOL_SHOW_STATS releases the pool, and collected handles and the exit report end nothing", async () => {
  const out = join(tmpdir(), `attack12-broken-stderr-${process.pid}.out`);
  const child = join(import.meta.dir, "..", "fixtures", "attack", "attack12-broken-stderr-child.ts");
  // sh: the child's stderr is the pipe into `true`, which exits at once; its stdout, then its exit status, go to the file.
  const script = '{ "$0" "$1" 2>&1 >"$2"; echo "{\\"exit\\": $?}" >>"$2"; } | true';
  const shell = Bun.spawn(["sh", "-c", script, process.execPath, child, out], {
    env: { ...process.env, MEMORY_POOL_SHOW_STATS: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  await shell.exited;
  const lines = readFileSync(out, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  rmSync(out, { force: true });
  expect(lines).toEqual([{ broken: true }, { destroy: "done", hasPool: false }, { collected: expect.any(Number) }, { end: true }, { exit: 0 }]);
  expect(lines[2].collected).toBeGreaterThan(0);
}, 30_000);
