/**
 * Two copies of the library in one thread (the dual-package hazard: a second install of the package
 * loading the same core), on one threadSafety "none" pool: the second frees an allocation of the
 * first's by pointer, and the block is allocated again. Found by attack19:
 * - copy()'s fast path, and every check of a handle's life (alive, bytes, copies), took a handle as
 *   alive while its pool's count of ends had not moved; each copy of the library kept its own count,
 *   so the other copy's free moved none, and a copy through the freed handle wrote into the block's
 *   next allocation. The count is now the core's word for the pool (zig/src/end_counts.zig), on which
 *   both copies count; a view of the first copy, which the other's free does not detach, proves
 *   nothing once the pool had an end the first copy did not make.
 * - a FixedSize pool's JavaScript cache kept the pool's last id to itself, writing it to the core's
 *   word only before its own copy's core calls: the other copy's allocation took an id the cache had
 *   given, so the freed handle and the block's next allocation had the same id, and the core's check
 *   of the handle (its block holds its id) passed.
 * - a reset through the second copy, while the first copy's FixedSize cache held freed blocks in its
 *   own memory (it writes its stack to the core's record only before its own calls), left them
 *   there, free in the pool too: both copies then handed the same blocks out (64 of 64), or, the first
 *   copy first, the core's next allocation met a block the cache had taken and the process aborted.
 *   Such a reset is now an UnsupportedOperationError (the core says whether this thread's record is
 *   held by a JavaScript cache, mp_cache_viewed); a Variable pool's bins find their table emptied.
 * In a child process: the writes through a freed handle land in live memory.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun } from "../support/child";

const root = join(import.meta.dir, "..", "..");
const secondCopy = mkdtempSync(join(tmpdir(), "memory-pool-attack19-copy-"));
cpSync(join(root, "src"), join(secondCopy, "src"), { recursive: true });
afterAll(() => rmSync(secondCopy, { recursive: true, force: true }));
const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");

for (const pool of ["variable", "fixed"]) {
  test(`a handle the other copy of the library freed is dead to this copy's checks and copies (${pool} pool)`, async () => {
    const child = await runBun(attackFixture("attack19-two-copies-child.ts"), [secondCopy, pool], { env: { ...process.env, MEMORY_POOL_CORE_PATH: core } });
    expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
    const seen = JSON.parse(child.stdout) as Record<string, unknown> & { secondResetMessage: string };
    // The refusal says what to do: reset through the copy whose cache holds the blocks.
    if (pool === "fixed") expect(seen.secondResetMessage).toMatch(/^reset\(\) of pool '.+': another copy of the library in this thread .* reset it through that copy's pool object, or free the allocations$/);
    else expect(seen.secondResetMessage).toBe("");
    expect(seen).toEqual({
      sameBlock: true,
      newId: true,
      alive: false,
      copyInto: "UseAfterFreeError",
      copyIntoAt: "UseAfterFreeError",
      copyFrom: "UseAfterFreeError",
      bytes: "UseAfterFreeError",
      viewAttached: 64,
      nextUntouched: true,
      secondReset: pool === "fixed" ? "UnsupportedOperationError" : "reset",
      secondResetMessage: seen.secondResetMessage,
      handedOutTwice: 0,
      firstReset: "reset",
    });
  });
}
