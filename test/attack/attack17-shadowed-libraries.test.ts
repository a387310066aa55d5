/**
 * A broken file named libpmem.so.1 or libcuda.so.1 first on the loader's path (LD_LIBRARY_PATH), in
 * front of the installed library. Found by attack17: the core said of every failed dlopen of
 * libpmem.so.1 that libpmem "is not installed: install the libpmem1 package", and of libcuda.so.1
 * that the driver "is not installed or not on the loader's path", where dlopen had said
 * "<dir>/libpmem.so.1: file too short"; following the advice changed nothing. Each message now says
 * "not installed" only where dlopen found no such file (runtime_library.zig isMissingFile), and
 * otherwise quotes dlopen's reason. Each open runs in a child (the core loads a library once a process).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun, type ChildResult } from "../support/child";
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

test("a broken libcuda.so.1 on LD_LIBRARY_PATH is named with dlopen's reason, not called a missing driver", async () => {
  const directory = join(scratch, "cuda");
  mkdirSync(directory);
  writeFileSync(join(directory, "libcuda.so.1"), "not a library\n");
  // The core tries libcuda.so after libcuda.so.1: broken too, or a machine with a driver loads its own libcuda.so.
  writeFileSync(join(directory, "libcuda.so"), "not a library\n");
  const child: ChildResult = await runBun(attackFixture("attack17-gpu-open-child.ts"), [], { env: { ...process.env, LD_LIBRARY_PATH: directory }, timeout: 10_000 });
  expect({ exitCode: child.exitCode, stderr: child.stderr }).toEqual({ exitCode: 0, stderr: "" });
  expect(JSON.parse(child.stdout)).toEqual({
    outcome: "GPU_UNAVAILABLE",
    message: `GPU pools are unavailable: the CUDA driver (libcuda.so.1) could not be loaded: ${join(directory, "libcuda.so.1")}: file too short`,
  });
}, 20_000);
