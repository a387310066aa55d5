/**
 * memcpyPersist and copy() into an allocation of a "mutex" PMEM pool while another Worker frees
 * the block by its pointer and takes it again. Found by attacking the one-call memcpyPersist: the
 * core checked the allocation (offset and id) under the pool's lock, let the lock go, then copied,
 * so a free and an allocation in between made the copy write over the Worker's new allocation
 * (hundreds of its pages in most rounds) and return as if done; copy() checked in TypeScript,
 * then copied by file offset, with the same window. Both now make the one core call, whose copy
 * holds the lock its check holds: either the copy lands in the allocation it was given (the
 * Worker's free waits for it), or it is a UseAfterFreeError and writes nothing. In a child
 * process (a Worker, 16 MiB copies).
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

for (const route of ["memcpyPersist", "copy"]) test(`${route}: a copy never lands in the allocation that took its block in another Worker`, async () => {
  const run = await runChild("../../fixtures/attack/pmem-copy-race-child.ts", [poolPath(`attack-copy-race-${route}`), route]);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const rounds = JSON.parse(run.stdout) as { copy: string; overwritten: number }[];
  expect(rounds.length).toBe(12);
  for (const round of rounds) {
    expect(["ok", "UseAfterFreeError"]).toContain(round.copy);
    expect(round.overwritten).toBe(0);
  }
}, 30_000);
