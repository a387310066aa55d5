/**
 * A library cut short, or a FIFO, named libpmem.so.1 or libcuda.so.1 first on LD_LIBRARY_PATH. Found
 * by attack19: attack17 made the core look at the file MEMORY_POOL_LIBPMEM names before dlopen, but a
 * bare name went straight to dlopen, which takes the first file of the name on LD_LIBRARY_PATH,
 * maps its segments past the file's end and reads them: the first createPMEMPool, or createGPUPool,
 * killed the process with SIGBUS (exit 135); on a FIFO, dlopen's open() waits for a writer forever.
 * The core now looks at the file the loader would take from LD_LIBRARY_PATH first
 * (backend/runtime_library.zig searchedFileProblem): the pool's error says what is wrong with it.
 * The cut library is a cut copy of the core itself. Each open runs in a child (a crash or hang fails it).
 */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runBun } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const core = join(import.meta.dir, "..", "..", "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack19-path-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});
const CUT = "it is truncated or damaged: a segment it loads reaches past its end";

/** A folder holding `name` as a cut copy of the core (or a FIFO), with an empty folder before it on the path. */
function libraryPath(name: string, as: "cut" | "fifo"): { folder: string; value: string } {
  const folder = join(scratch, `${as}-${name}`);
  mkdirSync(folder);
  if (as === "cut") writeFileSync(join(folder, name), readFileSync(core).subarray(0, 20_000));
  else execFileSync("mkfifo", [join(folder, name)]);
  return { folder, value: `${join(scratch, "no-such-folder")}:${folder}` };
}

async function openIn(fixture: string, args: string[], path: string): Promise<{ outcome: string; message?: string }> {
  const env: Record<string, string | undefined> = { ...process.env, LD_LIBRARY_PATH: path };
  delete env.MEMORY_POOL_LIBPMEM;
  const child = await runBun(attackFixture(fixture), args, { env, timeout: 10_000 });
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  return JSON.parse(child.stdout);
}

test("a truncated libpmem.so.1 first on LD_LIBRARY_PATH is a PMEMUnavailableError naming it, not a SIGBUS", async () => {
  const { folder, value } = libraryPath("libpmem.so.1", "cut");
  expect(await openIn("libpmem-variable-child.ts", [poolPath("attack19-path")], value)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from ${join(folder, "libpmem.so.1")}, first on LD_LIBRARY_PATH (${CUT})`,
  });
}, 20_000);

test("a FIFO named libpmem.so.1 first on LD_LIBRARY_PATH is a PMEMUnavailableError, not a wait without end", async () => {
  const { folder, value } = libraryPath("libpmem.so.1", "fifo");
  expect(await openIn("libpmem-variable-child.ts", [poolPath("attack19-path")], value)).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from ${join(folder, "libpmem.so.1")}, first on LD_LIBRARY_PATH (it is not a regular file)`,
  });
}, 20_000);

test("a truncated libcuda.so.1 first on LD_LIBRARY_PATH is a GPUUnavailableError naming it, not a SIGBUS (a machine with a driver too)", async () => {
  const { folder, value } = libraryPath("libcuda.so.1", "cut");
  expect(await openIn("attack17-gpu-open-child.ts", [], value)).toEqual({
    outcome: "GPU_UNAVAILABLE",
    message: `GPU pools are unavailable: the CUDA driver could not be loaded from ${join(folder, "libcuda.so.1")}, first on LD_LIBRARY_PATH (${CUT})`,
  });
}, 20_000);
