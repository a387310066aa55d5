/**
 * A file cut short under one of many open PMEM pools. Found by attack11: the core watched the
 * mappings of the first 64 pools open at once only (pmem/truncation.zig had 64 slots), so the file
 * of the 65th and later pools, cut short, still raised SIGBUS and killed the process, where the
 * README promises a PMEMFileError for every pool. Every pool's mapping is watched now (a slot per
 * pool the process may hold). In a child process: a crash is a failure here.
 */
import { afterAll, expect, test } from "bun:test";
import { poolDirectory, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

test("the file of the 70th PMEM pool open at once, cut short, is a PMEMFileError, never a crash", async () => {
  const run = await runChild("many_truncated_child.ts", [poolDirectory, `memory-pool-test-${process.pid}-many`, "70"]);
  expect({ stderr: run.stderr, signal: run.signalCode, exitCode: run.exitCode }).toEqual({ stderr: "", signal: null, exitCode: 0 });
  expect(JSON.parse(run.stdout)).toEqual({ persist: "PMEM_FILE" });
}, 60_000);
