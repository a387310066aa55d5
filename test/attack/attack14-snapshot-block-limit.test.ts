/**
 * snapshot() of a pool of very many blocks. Found by fuzzing pool configurations: a FixedSize pool
 * of 2 GiB in 16 B blocks (134 million blocks, which the pool itself keeps in a few hundred MB)
 * grew the process past 20 GB reading them all into a snapshot, until the kernel killed it. A
 * snapshot now holds at most 2^24 blocks; past that it is refused with UnsupportedOperationError
 * before any record is read, and the pool goes on as it was.
 */
import { expect, test } from "bun:test";
import { UnsupportedOperationError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

test("a snapshot of more than 2^24 blocks is refused, typed, and the pool goes on", () => {
  // 256 MiB + 64 KiB of 16 B blocks: 4096 blocks past the limit (nothing is touched until allocated).
  const p = pool("attack14-snapshot-limit", { allocatorType: "FixedSize", blockSize: 16, initialSize: (1 << 28) + (1 << 16) });
  const kept = p.allocate(16);
  kept.bytes.fill(7);
  const error = thrown(() => p.snapshot());
  expect(error).toBeInstanceOf(UnsupportedOperationError);
  expect(error.message).toBe(
    "snapshot() of pool 'attack14-snapshot-limit' would hold 16781312 blocks, more than the 16777216 a snapshot holds: getStats() gives its figures (a FixedSize pool of larger blocks has fewer)",
  );
  expect(kept.bytes.every((byte) => byte === 7)).toBe(true);
  expect(p.getStats().liveAllocations).toBe(1);
  kept.free();
});
