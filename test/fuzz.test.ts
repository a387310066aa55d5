// The argument fuzzer: every exported call and method with hostile arguments (wrong types, NaN,
// ±Infinity, huge, negative, fractional, BigInt, strings, null, undefined, objects, symbols,
// detached views), in child processes (test/fixtures/fuzz-api.ts), so a crash is a failure with
// the call that caused it named, not the end of the run. Deterministic: each child's seed is fixed.
import { afterAll, expect, test } from "bun:test";
import { runBun } from "./support/child";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SEEDS = [11, 12, 13, 14];
const CALLS = 3000;
const fixture = join(import.meta.dir, "fixtures", "fuzz-api.ts");
const scratch = mkdtempSync(join(tmpdir(), "fuzz-api-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  i: number;
  call: string;
  args: string[];
  mustThrow?: boolean;
  failsWith?: string;
  ok?: boolean;
  error?: string;
  typed?: boolean;
  code?: string;
  codeIsString?: boolean;
  quotes?: boolean;
  message?: string;
  done?: true;
}

/** What is wrong with one call's outcome, or undefined. */
function verdict(r: Outcome): string | undefined {
  if (r.ok === undefined) return undefined; // the line written before the call
  if (r.ok) return r.mustThrow ? "succeeded, though an argument is one it must refuse" : undefined;
  if (!r.typed) return `threw ${r.error}, not a MemoryPoolError: ${r.message}`;
  if (!r.codeIsString) return `threw ${r.error} without a string code`;
  if (r.quotes) return `quoted an object's contents: ${r.message}`;
  if (r.failsWith !== undefined && r.code !== r.failsWith) return `threw ${r.code}, not ${r.failsWith}: ${r.message}`;
  return undefined;
}

test(`${SEEDS.length} x ${CALLS} calls with hostile arguments: typed errors or accepted values, and no crash`, async () => {
  // Two children at a time (the machine's cores), in a scratch directory: hostile strings become file names.
  const results: { seed: number; exitCode: number | null; signal: unknown; lines: Outcome[]; stderr: string }[] = [];
  for (let at = 0; at < SEEDS.length; at += 2) {
    const batch = SEEDS.slice(at, at + 2).map(async (seed) => {
      const child = await runBun(fixture, [String(seed), String(CALLS)], { cwd: scratch, env: { ...process.env, MEMORY_POOL_DEBUG: "" } });
      const { stdout, stderr } = child;
      const lines = stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Outcome);
      results.push({ seed, exitCode: child.exitCode, signal: child.signalCode, lines, stderr });
    });
    await Promise.all(batch);
  }
  const problems: string[] = [];
  const codes = new Set<string>();
  let calls = 0;
  for (const { seed, exitCode, signal, lines, stderr } of results) {
    const last = lines.at(-1);
    if (exitCode !== 0 || signal !== null || last?.done !== true) {
      problems.push(`seed ${seed}: the child ended with ${String(signal ?? `exit code ${exitCode}`)} after ${JSON.stringify(last)}\n${stderr.slice(-2000)}`);
    }
    for (const line of lines) {
      if (line.ok !== undefined) calls++;
      if (line.code !== undefined) codes.add(line.code);
      const wrong = verdict(line);
      if (wrong !== undefined) problems.push(`seed ${seed}, call ${line.i}: ${line.call}(${line.args.join(", ")}) ${wrong}`);
    }
  }
  expect(problems.slice(0, 20)).toEqual([]);
  expect(calls).toBe(SEEDS.length * CALLS);
  // The hostile values reach the checks of every kind, not just one.
  for (const code of ["CONFIG", "INVALID_SIZE", "INVALID_POINTER", "INVALID_ARGUMENT", "INVALID_SNAPSHOT", "OUT_OF_BOUNDS", "USE_AFTER_FREE", "DOUBLE_FREE"]) {
    expect(codes).toContain(code);
  }
}, 60_000);
