/**
 * MEMORY_POOL_LIBPMEM naming a library cut short, or a FIFO. Found by attack17: the core handed the
 * path straight to dlopen, which maps a truncated library's segments past the end of the file and
 * reads them, so the first createPMEMPool killed the process with SIGBUS (exit 135); on a FIFO,
 * dlopen's open() waited for a writer forever and createPMEMPool never returned. The core now looks
 * at the named file's ELF headers first (backend/runtime_library.zig fileProblem): such a file is a
 * PMEMUnavailableError that says what is wrong with it. The truncated library is a cut copy of the
 * core itself, so the test needs no libpmem. Each open runs in a child (a crash or hang fails it).
 */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const core = join(import.meta.dir, "..", "..", "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack17-libpmem-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});

async function openWith(library: string): Promise<{ outcome: string; message?: string }> {
  const child = await runBun(attackFixture("libpmem-variable-child.ts"), [poolPath("attack17-libpmem")], {
    env: { ...process.env, MEMORY_POOL_LIBPMEM: library },
    timeout: 10_000,
  });
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  return JSON.parse(child.stdout);
}

test("a truncated library at MEMORY_POOL_LIBPMEM is a PMEMUnavailableError saying so, not a SIGBUS", async () => {
  const cut = join(scratch, "libpmem-cut.so.1");
  writeFileSync(cut, readFileSync(core).subarray(0, 20_000));
  expect(await openWith(cut)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from MEMORY_POOL_LIBPMEM=${cut} (it is truncated or damaged: a segment it loads reaches past its end)`,
  });
}, 20_000);

test("a FIFO at MEMORY_POOL_LIBPMEM is refused at once, where dlopen waited for a writer forever", async () => {
  const fifo = join(scratch, "libpmem.fifo");
  execFileSync("mkfifo", [fifo]);
  expect(await openWith(fifo)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from MEMORY_POOL_LIBPMEM=${fifo} (it is not a regular file)`,
  });
}, 20_000);
