/**
 * The catalogue of wrong programs (fixtures/wrong-program.ts), each run in a process of its own
 * because several must die. Every one must be caught, every time: a guard page fault with a
 * report, or a typed error, or a leak report; and the report must name the allocation (id and
 * size) and the line of JavaScript that allocated it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const fixture = join(import.meta.dir, "fixtures", "wrong-program.ts");
const source = readFileSync(fixture, "utf8").split("\n");

/** The line (1-based) marked `// <marker> <name>` in the fixture. */
function markedLine(marker: string, name: string): number {
  const index = source.findIndex((line) => line.includes(`// ${marker} ${name}`));
  if (index < 0) throw new Error(`the fixture marks no line '${marker} ${name}'`);
  return index + 1;
}

interface Outcome {
  /** "fault": killed by SIGSEGV after our report; "error": an uncaught typed error; "exit": exit 0. */
  ends: "fault" | "error" | "exit";
  stderr: RegExp[];
  stdout?: RegExp[];
  /** The line the report's stack must show: the allocation's, unless the case names another. */
  line?: { marker: string };
  /** A fault that is not ours: no report of ours, Bun's own crash report instead. */
  notOurs?: boolean;
}

const catalogue: Record<string, Outcome> = {
  "overflow-1": { ends: "fault", stderr: [/heap buffer overflow: 1 byte past the end of allocation #1 \(64 bytes at 0x[0-9a-f]+, pool 'p'\)/] },
  "overflow-32": { ends: "fault", stderr: [/heap buffer overflow: 32 bytes past the end of allocation #1 \(96 bytes/] },
  "overflow-1MiB": { ends: "fault", stderr: [/heap buffer overflow: 1 byte past the end of allocation #1 \(4096 bytes/] },
  "overflow-1-odd-size": {
    ends: "error",
    stderr: [/BoundaryViolationError: buffer overflow: allocation #1 \(13 bytes at 0x[0-9a-f]+, pool 'p'\) was written 1 byte past its end \(first damaged byte at offset 13/],
  },
  "overflow-canaries-only": { ends: "error", stderr: [/BoundaryViolationError: buffer overflow: allocation #1 \(100 bytes .*first damaged byte at offset 100/] },
  underflow: { ends: "fault", stderr: [/heap buffer underflow: 1 byte before the start of allocation #1 \(64 bytes/] },
  "underflow-canary": { ends: "error", stderr: [/BoundaryViolationError: buffer underflow: allocation #1 \(64 bytes .* was written 8 bytes before its start/] },
  "write-after-free-native": { ends: "fault", stderr: [/use after free: byte 10 of allocation #1 \(64 bytes .*\), which was freed/, /freed at:\n.*wrong-program\.ts:/] },
  "write-after-free-js-pointer": { ends: "fault", stderr: [/use after free: byte 0 of allocation #1 \(64 bytes .*\), which was freed/] },
  "write-after-free-js-handle": { ends: "error", stderr: [/UseAfterFreeError: cannot read bytes of allocation #1 of 64 bytes .*: it was freed/, /freed at:\n.*wrong-program\.ts:/] },
  "write-after-free-js-view": {
    ends: "error",
    stdout: [/^stale view: length 0, reads undefined$/m],
    stderr: [/UseAfterFreeError: cannot read bytes of allocation #1 of 64 bytes/],
  },
  "write-after-free-quarantine": {
    ends: "error",
    stderr: [/UseAfterFreeError: write after free: allocation #1 \(64 bytes .*\) was written after it was freed \(first changed byte at offset 5/, /freed at:\n.*wrong-program\.ts:/],
  },
  "double-free": { ends: "error", stderr: [/DoubleFreeError: double free: allocation #1 of 64 bytes .* was already freed/, /freed at:\n.*wrong-program\.ts:/] },
  "double-free-pointer": { ends: "error", stderr: [/DoubleFreeError: double free: allocation #1 .*already freed/, /the pointer was allocation #1 \(64 bytes/] },
  "interior-pointer": { ends: "error", stderr: [/InvalidPointerError: .*points inside an allocation.*\nit lies 16 bytes into allocation #1 \(64 bytes/] },
  "foreign-pointer": {
    ends: "error",
    stderr: [/InvalidPointerError: pool 'p' never gave out the pointer 0x[0-9a-f]+: it lies outside the pool/],
    line: { marker: "FREE" }, // no allocation to name: the report points at the bad free
  },
  "wrong-pool": { ends: "error", stderr: [/InvalidPointerError: pool 'p2' never gave out the pointer 0x[0-9a-f]+: it belongs to pool 'p1'\nit is the start of allocation #1 \(64 bytes/] },
  "fault-elsewhere": { ends: "fault", notOurs: true, stderr: [/Segmentation fault at address 0x1000\b/] },
  "leak-at-exit": {
    ends: "exit",
    stdout: [/^exiting with one allocation live$/m],
    stderr: [/leak report for pool 'p' \(process exit\): 1 allocation still live, 100 B\n {2}#1: 100 bytes at 0x[0-9a-f]+, allocated [\d.]+ .?s ago\n/],
  },
  "leak-collected": {
    ends: "exit",
    stdout: [/^leaks: #1 collected=true$/m],
    stderr: [/leak: allocation #1 \(300 bytes .*\) was garbage-collected while still allocated/, /leak report for pool 'p' \(destroyPool\): 1 allocation still live, 300 B/],
  },
};

describe("wrong programs are caught, each in a process of its own", () => {
  test("every case in the fixture has an expected outcome here", () => {
    const cases = source.flatMap((line) => /^ {2}(?:async )?"?([\w-]+)"?\(\) \{$/.exec(line)?.[1] ?? []);
    expect(cases.sort()).toEqual(Object.keys(catalogue).sort());
  });

  for (const [name, outcome] of Object.entries(catalogue)) {
    test(name, () => {
      const result = Bun.spawnSync([process.execPath, fixture, name], { stdout: "pipe", stderr: "pipe", env: { ...process.env, MEMORY_POOL_DEBUG: "" } });
      const stdout = result.stdout.toString();
      const stderr = result.stderr.toString();
      const fault = result.signalCode === "SIGSEGV" || result.exitCode === 128 + 11;
      if (outcome.ends === "fault") {
        expect(fault).toBe(true);
        const ours = /memory-pool: SIGSEGV at 0x[0-9a-f]+, on a guard page of pool '\w+'/;
        if (outcome.notOurs) {
          expect(stderr).not.toMatch(ours);
          for (const pattern of outcome.stderr) expect(stderr).toMatch(pattern);
          return;
        }
        expect(stderr).toMatch(ours);
      } else {
        expect(fault).toBe(false);
        expect(result.exitCode).toBe(outcome.ends === "exit" ? 0 : 1);
      }
      for (const pattern of outcome.stderr) expect(stderr).toMatch(pattern);
      for (const pattern of outcome.stdout ?? []) expect(stdout).toMatch(pattern);
      // The stack names the line that made the allocation (or, without one, the bad call).
      const line = markedLine(outcome.line?.marker ?? "ALLOC", name);
      expect(stderr).toContain(`wrong-program.ts:${line}:`);
    });
  }
});
