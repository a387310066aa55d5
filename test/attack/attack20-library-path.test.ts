/**
 * Two ways past attack19's look at the library file the loader would take from LD_LIBRARY_PATH
 * (zig/src/backend/runtime_library.zig searchedFileProblem), found by attack20; each killed the
 * process with SIGBUS (exit 135) at the first createPMEMPool or createGPUPool, dlopen mapping a
 * library cut short past its file's end:
 * - an empty entry of LD_LIBRARY_PATH (a leading, trailing or doubled `:` or `;`) is the current
 *   folder to the loader, and the look skipped it: a cut libpmem.so.1 in the folder the program
 *   runs in was taken with `LD_LIBRARY_PATH=/opt/lib:` (a common slip: `$X:$LD_LIBRARY_PATH`
 *   where the second was empty);
 * - LD_LIBRARY_PATH='$ORIGIN' (or ${ORIGIN}, or $ORIGIN/lib): the loader reads it as the program's
 *   folder (ld.so(8)), and the look took it as a folder named "$ORIGIN";
 * - MEMORY_POOL_LIBPMEM naming a bare file name (no slash), which dlopen too looks for on
 *   LD_LIBRARY_PATH: only a path was looked at.
 * Each open runs in a child, in a scratch folder (a crash or hang fails it).
 */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attackFixture, runCommand } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const core = join(import.meta.dir, "..", "..", "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack20-path-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});
const CUT = "it is truncated or damaged: a segment it loads reaches past its end";
const NONE = join(scratch, "no-such-folder");

/** A fresh folder holding `name`, a cut copy of the core (its first 20,000 bytes). */
function folderWithCut(name: string): string {
  const folder = mkdtempSync(join(scratch, "cut-"));
  writeFileSync(join(folder, name), readFileSync(core).subarray(0, 20_000));
  return folder;
}

/** `fixture` run by this test's Bun as another file in `folder` (a hard link, or a copy across file systems). */
function bunIn(folder: string): string {
  const program = join(folder, "bun");
  try {
    linkSync(process.execPath, program);
  } catch {
    copyFileSync(process.execPath, program);
  }
  return program;
}

async function openIn(fixture: string, args: string[], cwd: string, env: Record<string, string>, program?: string): Promise<{ outcome: string; message?: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  if (env.MEMORY_POOL_LIBPMEM === undefined) delete childEnv.MEMORY_POOL_LIBPMEM;
  const child = await runCommand([program ?? process.execPath, attackFixture(fixture), ...args], { env: childEnv, cwd, timeout: 10_000 });
  expect({ exitCode: child.exitCode, signalCode: child.signalCode, stderr: child.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  return JSON.parse(child.stdout);
}

for (const form of [`${NONE}:`, `:${NONE}`, `${NONE}::${NONE}`, `${NONE};;${NONE}`]) {
  test(`LD_LIBRARY_PATH="${form.replaceAll(NONE, "<none>")}" with a cut libpmem.so.1 in the current folder: a PMEMUnavailableError naming it, not a SIGBUS`, async () => {
    const folder = folderWithCut("libpmem.so.1");
    expect(await openIn("libpmem-variable-child.ts", [poolPath("attack20-path")], folder, { LD_LIBRARY_PATH: form })).toEqual({
      outcome: "PMEM_UNAVAILABLE",
      message: `PMEM pools need libpmem: libpmem could not be loaded from ./libpmem.so.1, first on LD_LIBRARY_PATH (${CUT})`,
    });
  }, 20_000);
}

test("MEMORY_POOL_LIBPMEM naming a bare file name, cut, on LD_LIBRARY_PATH: a PMEMUnavailableError naming the file, not a SIGBUS", async () => {
  const folder = folderWithCut("libpmem-attack20.so");
  const elsewhere = join(scratch, "elsewhere");
  mkdirSync(elsewhere, { recursive: true });
  expect(await openIn("libpmem-variable-child.ts", [poolPath("attack20-path")], elsewhere, { LD_LIBRARY_PATH: `${NONE}:${folder}`, MEMORY_POOL_LIBPMEM: "libpmem-attack20.so" })).toEqual({
    outcome: "PMEM_UNAVAILABLE",
    message: `PMEM pools need libpmem: libpmem could not be loaded from MEMORY_POOL_LIBPMEM=libpmem-attack20.so: ${join(folder, "libpmem-attack20.so")}, first on LD_LIBRARY_PATH (${CUT})`,
  });
}, 20_000);

test("a trailing ':' with a cut libcuda.so.1 in the current folder: a GPUUnavailableError naming it, not a SIGBUS (a machine with a driver too)", async () => {
  const folder = folderWithCut("libcuda.so.1");
  expect(await openIn("attack17-gpu-open-child.ts", [], folder, { LD_LIBRARY_PATH: `${NONE}:` })).toEqual({
    outcome: "GPU_UNAVAILABLE",
    message: `GPU pools are unavailable: the CUDA driver could not be loaded from ./libcuda.so.1, first on LD_LIBRARY_PATH (${CUT})`,
  });
}, 20_000);

test("an empty LD_LIBRARY_PATH searches no folder (the loader's rule): a cut libpmem.so.1 in the current folder is not what opens", async () => {
  const folder = folderWithCut("libpmem.so.1");
  const { outcome, message } = await openIn("libpmem-variable-child.ts", [poolPath("attack20-empty")], folder, { LD_LIBRARY_PATH: "" });
  // libpmem installed: the pool opens; not installed: the message names the package, never the cut file.
  expect(outcome === "opened" || (outcome === "PMEM_UNAVAILABLE" && !message!.includes("./libpmem.so.1"))).toBe(true);
}, 20_000);

for (const form of ["$ORIGIN", "${ORIGIN}", "$ORIGIN/"]) {
  test(`LD_LIBRARY_PATH='${form}' with a cut libpmem.so.1 beside the program: a PMEMUnavailableError naming it, not a SIGBUS`, async () => {
    const folder = folderWithCut("libpmem.so.1");
    const program = bunIn(folder);
    const elsewhere = join(scratch, "elsewhere");
    mkdirSync(elsewhere, { recursive: true });
    const opened = await openIn("libpmem-variable-child.ts", [poolPath("attack20-origin")], elsewhere, { LD_LIBRARY_PATH: form }, program);
    rmSync(program);
    expect(opened).toEqual({
      outcome: "PMEM_UNAVAILABLE",
      message: `PMEM pools need libpmem: libpmem could not be loaded from ${folder}/libpmem.so.1, first on LD_LIBRARY_PATH (${CUT})`,
    });
  }, 20_000);
}
