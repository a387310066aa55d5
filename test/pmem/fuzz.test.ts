/**
 * The fuzzer over pool files (damage.ts makes the cases): a bit flipped at random in every byte of
 * the header and of the metadata in use, truncations, extensions, and headers, records, roots and
 * logs crafted to pass their own checks with hostile contents. Every damaged file must be refused
 * with the PMEMFormatError reason the case names, and left byte for byte as it was. The opens run
 * in child processes (fixtures/fuzz_child.ts), in batches, so a crash fails the test and names the
 * case it died in instead of ending the run.
 *
 * Another seed: FUZZ_SEED=123 bun test test/pmem/fuzz.test.ts
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { MemoryPoolManager, PoolConfig } from "../../src/index";
import { damageCases, VARIANTS, type DamageCase, type Variant } from "./damage";
import { inBatches, poolPath, removePoolFiles, runChild } from "./helpers";
import { commitLog, liveSlots, recordOffset } from "./pool_file";

afterAll(removePoolFiles);

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const BATCH = 4000;
/** Children a batch may lose to crashes before it stops looking further. */
const MAX_DEATHS = 20;
const manager = MemoryPoolManager.getInstance();

/** A sound file of `variant`: three allocations, persisted and published (roots, a link, a commit); its bytes. */
function soundFile(variant: Variant): Uint8Array {
  const path = poolPath(`fuzz-sound-${variant}`);
  const pool = manager.createPMEMPool(`fuzz-sound-${variant}`, Object.assign(new PoolConfig(), VARIANTS[variant], { pmemPoolPath: path }));
  const blocks = [pool.allocate(100), pool.allocate(200), pool.allocate(30)];
  blocks.forEach((block, index) => block.bytes.fill(index + 1));
  for (const block of blocks) pool.persist(block);
  pool.setRoot("first", blocks[0]!);
  if (variant !== "fixed") pool.setRoot("second root", blocks[1]!);
  else pool.commitUnpublished(blocks[1]!);
  pool.link(blocks[0]!, 16, blocks[2]!); // the third is published by a link from the first
  pool.close();
  const bytes = new Uint8Array(readFileSync(path));
  if (variant === "pendingLog") {
    // As a crash after the commit point of "free the third allocation" leaves it.
    commitLog(bytes, [[recordOffset(bytes, liveSlots(bytes)[2]!), 0n]]);
    writeFileSync(path, bytes);
  }
  return bytes;
}

interface Finding {
  case: string;
  expected: string;
  got: string;
}

/** Opens every case of `variant` in child processes; returns what did not go as the case says. */
async function fuzz(variant: Variant): Promise<{ cases: number; findings: Finding[] }> {
  const sound = soundFile(variant);
  const soundPath = poolPath(`fuzz-${variant}`);
  writeFileSync(soundPath, sound);
  const cases: DamageCase[] = damageCases(variant, sound, SEED);
  const batches = Array.from({ length: Math.ceil(cases.length / BATCH) }, (_, batch) => async () => {
    const findings: Finding[] = [];
    const end = Math.min(cases.length, (batch + 1) * BATCH);
    let first = batch * BATCH;
    // A child that dies is named by the first case without a line; a new child goes on after it.
    for (let restarts = 0; first < end && restarts <= MAX_DEATHS; restarts++) {
      const run = await runChild("fuzz_child.ts", [variant, soundPath, String(SEED), String(first), String(end), poolPath(`fuzz-work-${variant}`)]);
      const outcomes = new Map<number, string>();
      for (const line of run.stdout.split("\n")) {
        const [index, outcome] = line.split("\t");
        if (outcome !== undefined) outcomes.set(Number(index), outcome);
      }
      let index = first;
      for (; index < end; index++) {
        const got = outcomes.get(index);
        const { name, expected } = cases[index]!;
        if (got === undefined) {
          findings.push({ case: name, expected, got: `the process died (exit ${run.exitCode}, signal ${run.signalCode}): ${run.stderr.slice(0, 600)}` });
          break;
        }
        if (got !== expected) findings.push({ case: name, expected, got });
      }
      if (index === end && run.exitCode !== 0) findings.push({ case: `the child for cases ${first} to ${end}`, expected: "exit 0", got: `exit ${run.exitCode}: ${run.stderr.slice(0, 600)}` });
      first = index + 1;
    }
    return findings;
  });
  const findings = (await inBatches(batches, 2)).flat();
  return { cases: cases.length, findings };
}

for (const variant of Object.keys(VARIANTS) as Variant[]) {
  test(`damaged ${variant} files are refused with the reason each damage names, untouched, never a crash (seed ${SEED})`, async () => {
    const { cases, findings } = await fuzz(variant);
    expect(cases).toBeGreaterThan(variant === "pendingLog" ? 20 : 5000);
    expect(findings.slice(0, 20)).toEqual([]);
  }, 120_000);
}
