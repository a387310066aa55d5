/**
 * A Variable pool whose maxSize is below one granule (1 to 15 bytes; a block is whole granules of
 * 16). Found by attacking main (attack16): the core cut the first region at maxSize to no granules
 * and handed it to TLSF, whose free lists have no list for a block of size 0: an assertion ended
 * the process (`createCPUPool("p", { maxSize: 1, initialSize: 1 })`, any threadSafety). The core
 * now refuses such a maxSize as it did a FixedSize block that maxSize cannot hold: a ConfigError
 * naming maxSize, which also counts the canaries a least block carries. Its message no longer
 * says `PoolConfig.maxSize = N:` twice. In a child process: without the fix, it crashes.
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("a Variable pool's maxSize below a granule is a ConfigError, not a crash; 16 bytes serve one block", async () => {
  const run = await runBun(attackFixture("attack16-tiny-max-size-child.ts"), [], { timeout: 30_000 });
  expect({ exitCode: run.exitCode, signal: run.signalCode, stderr: run.stderr }).toEqual({ exitCode: 0, signal: null, stderr: "" });
  const outcomes = JSON.parse(run.stdout) as Record<string, string>;
  for (const threadSafety of ["none", "mutex", "lockFree"]) {
    for (const maxSize of [1, 8, 15]) {
      expect(outcomes[`${threadSafety} ${maxSize}`]).toBe(
        `ConfigError maxSize: PoolConfig.maxSize = ${maxSize}: a Variable pool's least block takes 16 bytes (a granule of 16, with its canaries), more than maxSize holds in whole granules (0 bytes)`,
      );
    }
    expect(outcomes[`${threadSafety} 16`]).toBe("made: 1 B, then OutOfMemoryError, 0 B free");
  }
  // Canaries around the least block: 16 bytes of maxSize cannot hold it.
  expect(outcomes["canaries 16"]).toMatch(/^ConfigError maxSize: PoolConfig\.maxSize = 16: a Variable pool's least block takes \d+ bytes .* \(16 bytes\)$/);
  for (const outcome of Object.values(outcomes)) expect(outcome.match(/PoolConfig\.maxSize =/g)?.length ?? 0).toBeLessThanOrEqual(1);
});
