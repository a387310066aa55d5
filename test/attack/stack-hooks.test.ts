/**
 * Debug reports in a program that installs Error.prepareStackTrace (source-map-support does; the
 * `callsites` package's idiom returns an array of call sites; a hook may return a number or throw).
 * Found by attacking main: Bun formats a stack when it is first read, through the hook in place
 * then, and the debug layer split whatever came back as text: a DoubleFreeError or
 * UseAfterFreeError on a trackHistory pool became a TypeError ("split is not a function"), and
 * getLeaks(), getHistory() and snapshot() threw it too; with a throwing hook, the hook's error.
 * The library now reads its own traces with the hook set aside. With Error frozen (a hardened
 * program's lockdown), every allocation of a trackHistory pool threw a TypeError (the library set
 * Error.stackTraceLimit); it now takes the program's depth. Each case in a child process (it
 * changes every Error of the process).
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

for (const hook of ["callsites", "number", "throws", "sourceMapLike", "frozen"]) {
  test(`Error.prepareStackTrace ${hook}: reports are typed errors with the caller's frames`, async () => {
    const run = await runChild("../../fixtures/attack/stack-hook-child.ts", [hook]);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    // Under a frozen Error, Bun's own stacks keep only the outermost frame: the reports are typed, with what there is.
    const withFrames = (outcome: string) => (hook === "frozen" ? outcome.replace(", with this file's frames", "") : outcome);
    const outcomes = Object.fromEntries(Object.entries(JSON.parse(run.stdout) as Record<string, string>).map(([call, outcome]) => [call, withFrames(outcome)]));
    expect(outcomes).toEqual(Object.fromEntries(Object.entries({
      "double free": "DoubleFreeError, with this file's frames",
      "use after free": "UseAfterFreeError, with this file's frames",
      getLeaks: "ok, with this file's frames",
      getHistory: "ok, with this file's frames",
      snapshot: "ok, with this file's frames",
      "inspect an error": "ok, with this file's frames",
    }).map(([call, outcome]) => [call, withFrames(outcome)])));
  });
}
