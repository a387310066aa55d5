/**
 * MEMORY_POOL_LIBPMEM naming a bare library (`libpmem.so.1`, not a path) with a truncated file of
 * that name first on LD_LIBRARY_PATH. Found by review9: attack17 looked at the file an override
 * names only where it is a path, and attack19 looked on LD_LIBRARY_PATH only where no override is
 * set, so this one went straight to dlopen, which maps the cut file's segments past its end: the
 * first createPMEMPool died of SIGBUS. Every name is now looked at one way
 * (zig/src/backend/runtime_library.zig loadProblem). The open runs in a child (a crash fails it).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const core = join(import.meta.dir, "..", "..", "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-review9-override-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});

test("MEMORY_POOL_LIBPMEM=libpmem.so.1 with a truncated one first on LD_LIBRARY_PATH is a PMEMUnavailableError naming both, not a SIGBUS", async () => {
  const folder = join(scratch, "cut");
  mkdirSync(folder);
  writeFileSync(join(folder, "libpmem.so.1"), readFileSync(core).subarray(0, 20_000));
  const env = { ...process.env, LD_LIBRARY_PATH: folder, MEMORY_POOL_LIBPMEM: "libpmem.so.1" };
  const child = await runBun(attackFixture("libpmem-variable-child.ts"), [poolPath("review9-override")], { env, timeout: 10_000 });
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  expect(JSON.parse(child.stdout)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from MEMORY_POOL_LIBPMEM=libpmem.so.1: ${join(folder, "libpmem.so.1")}, first on LD_LIBRARY_PATH (it is truncated or damaged: a segment it loads reaches past its end)`,
  });
}, 20_000);
