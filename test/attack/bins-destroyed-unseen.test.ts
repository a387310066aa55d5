/**
 * A default Variable pool destroyed unseen by the JavaScript bins that view its table: a second copy
 * of the library in the thread (the dual-package hazard) destroys it. Found by attacking main: the
 * core freed the bins' table with the pool, and the first copy's next allocation of a binned size
 * read the unmapped table: a segmentation fault. The core now keeps a table JavaScript views past
 * its pool's end, emptied, so every lookup there misses and takes the core's path (which says the
 * pool is gone: PoolNotFoundError), and frees it when that view lets go (its flush, which the miss
 * makes): cycled 300 times, the process does not grow by the tables (180 MB before).
 *
 * And the first copy's views of the destroyed pool: the core unmapped the pool's range (only one
 * thread had asked for its base), the successor made under the same name took it, and a view the
 * first copy still held wrote into the successor's allocation. A second object asking for a pool's
 * base in the same thread now counts as a viewer elsewhere (zig/src/sync/viewers.zig): the range
 * stays mapped, reading zeros, as for a pool viewed by another Worker. In a child process.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChild } from "../pmem/helpers";

const root = join(import.meta.dir, "..", "..");
const copy = mkdtempSync(join(tmpdir(), "memory-pool-bins-unseen-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

test("a pool a second copy destroyed: every route of the first copy is a PoolNotFoundError, never a fault, its views never reach the next pool, and its bins' table goes", async () => {
  cpSync(join(root, "src"), join(copy, "src"), { recursive: true });
  const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");
  const run = await runChild("../../fixtures/attack/bins-destroyed-unseen-child.ts", [copy], { MEMORY_POOL_CORE_PATH: core });
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  const result = JSON.parse(run.stdout) as { cachedBefore: number; routes: Record<string, string>; successorIntact: boolean; rssGrowth: number };
  expect(result.cachedBefore).toBeGreaterThan(0);
  expect(result.routes).toEqual({
    allocateBinnedSize: "POOL_NOT_FOUND",
    allocateOtherSize: "POOL_NOT_FOUND",
    allocateRaw: "POOL_NOT_FOUND",
    free: "POOL_NOT_FOUND",
    deallocatePointer: "POOL_NOT_FOUND",
    alive: "false",
    viewWrite: "ok",
    getStats: "POOL_NOT_FOUND",
    trim: "POOL_NOT_FOUND",
    flushThreadCaches: "ok",
    destroy: "POOL_NOT_FOUND", // destroyed already
  });
  expect(result.successorIntact).toBe(true);
  // Each table kept and never freed holds ~600 KiB of touched pages: 180 MB over 300 pools (16 MB with them freed).
  expect(result.rssGrowth).toBeLessThan(64 << 20);
});
