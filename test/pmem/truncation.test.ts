/**
 * A pool's file cut short while the pool is open (truncated, or overwritten by writeFileSync of its
 * path, from this program): the next access to the pages past the new end raised SIGBUS and killed
 * the process, whether the core's (a persist's flush, a link's write) or a view's. Now the core
 * refuses the pool's later PMEM calls with PMEMFileError saying what happened, a view reads zeros,
 * and the process lives (zig/src/pmem/truncation.zig). Each case runs in a child process, so a
 * crash is a failure here.
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "./helpers";

afterAll(removePoolFiles);

for (const how of ["truncate", "overwrite"] as const) {
  test(`a pool file cut short under the open pool (${how}) is a PMEMFileError at the next PMEM call, never a crash`, async () => {
    const path = poolPath(`truncated-${how}`);
    const run = await runChild("truncated_child.ts", [path, how]);
    expect({ stderr: run.stderr, signal: run.signalCode, exitCode: run.exitCode }).toEqual({ stderr: "", signal: null, exitCode: 0 });
    const steps = JSON.parse(run.stdout);
    const lost = `PMEM_FILE: the file of PMEM pool 'truncated' ('${path}') was cut short while the pool was open (truncated or overwritten)`;
    expect(steps.persist).toStartWith(lost);
    expect(steps.viewRead).toBe("ok: 0");
    expect(steps.link).toStartWith(lost);
    expect(steps.setRoot).toStartWith(lost);
    expect(steps.allocateFree).toBe("ok");
    expect(steps.freePublished).toStartWith(lost);
    expect(steps.close).toBe("ok");
    expect(steps.reopened).toBe("PMEM_FORMAT"); // what is left is no pool: said, as for any damaged file
  });
}

test("a SIGBUS that is no pool's still ends the process (passed on to the handler that was there before)", async () => {
  const run = await runChild("sigbus_child.ts", [poolPath("sigbus")]);
  expect(run.stdout).toBe("");
  expect(run.signalCode).toBe("SIGBUS");
});
