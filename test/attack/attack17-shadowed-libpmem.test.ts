/**
 * A broken file named libpmem.so.1 first on the loader's path (LD_LIBRARY_PATH), in front of the
 * installed libpmem. Found by attack17: the core said of every failed dlopen of libpmem.so.1 that
 * libpmem "is not installed: install the libpmem1 package", where it was installed and dlopen had
 * said "<dir>/libpmem.so.1: file too short"; following the advice changed nothing. The message now
 * says "not installed" only where dlopen found no such file, and otherwise quotes dlopen's reason.
 * Each open runs in a child (the core loads libpmem once a process).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack17-shadow-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});

test("a broken libpmem.so.1 on LD_LIBRARY_PATH is named with dlopen's reason, not called a missing package", async () => {
  writeFileSync(join(scratch, "libpmem.so.1"), "not a library\n");
  const env: Record<string, string | undefined> = { ...process.env, LD_LIBRARY_PATH: scratch };
  delete env.MEMORY_POOL_LIBPMEM;
  const child = await runBun(attackFixture("libpmem-variable-child.ts"), [poolPath("attack17-shadow")], { env, timeout: 10_000 });
  expect({ exitCode: child.exitCode, stderr: child.stderr }).toEqual({ exitCode: 0, stderr: "" });
  expect(JSON.parse(child.stdout)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem (PMDK's libpmem.so.1) could not be loaded: ${join(scratch, "libpmem.so.1")}: file too short`,
  });
}, 20_000);
