/**
 * Hostile input found wanting by attacking main: a snapshot without its statistics made
 * renderMemoryMap throw an untyped TypeError, and fromPointer with another pool's pointer said
 * only that it was not the start of an allocation (deallocate named the pool it belongs to).
 */
import { expect, test } from "bun:test";
import { InvalidPointerError, InvalidSnapshotError, renderMemoryMap } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

test("renderMemoryMap refuses a snapshot whose statistics are missing or not numbers with InvalidSnapshotError", () => {
  const p = pool("attack-hostile-snapshot");
  p.allocate(100);
  const saved = JSON.stringify(p.snapshot());
  expect(renderMemoryMap(JSON.parse(saved))).toStartWith("<svg");
  const damaged = [(s: Record<string, unknown>) => delete s.stats, (s: Record<string, unknown>) => (s.stats = null), (s: Record<string, { peakBytesReserved: unknown }>) => (s.stats!.peakBytesReserved = "1 MiB"), (s: Record<string, { canaryBytes: unknown }>) => (s.stats!.canaryBytes = -1)];
  for (const damage of damaged) {
    const snapshot = JSON.parse(saved);
    damage(snapshot);
    const error = thrown(() => renderMemoryMap(snapshot));
    expect(error).toBeInstanceOf(InvalidSnapshotError);
    expect(error.message).toContain("stats");
  }
});

test("fromPointer with a pointer of another pool names the pool it belongs to", () => {
  const mine = pool("attack-hostile-mine");
  const theirs = pool("attack-hostile-theirs");
  const allocation = theirs.allocate(64);
  const error = thrown(() => mine.fromPointer(allocation.ptr));
  expect(error).toBeInstanceOf(InvalidPointerError);
  expect(error.message).toContain("it belongs to pool 'attack-hostile-theirs'");
  expect(thrown(() => mine.fromPointer(2 ** 40))).toBeInstanceOf(InvalidPointerError);
});
