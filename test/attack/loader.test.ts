/**
 * MEMORY_POOL_CORE_PATH pointing at what is not a core: a directory, an empty file, text, a
 * library for another CPU. The dynamic loader's words misled (a core for another CPU was "No such
 * file or directory"); the error now says what the file is. isAvailable() and unavailableReason()
 * never throw. A relative path and a path with spaces to a real core load. Children run the import.
 */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { coreFileProblem } from "../../src/loader";

const root = join(import.meta.dir, "..", "..");
const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack-loader-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An ELF header of a 64-bit little-endian shared library for `machine` (e_machine). */
function elfHeader(machine: number): Uint8Array {
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  header[16] = 3; // ET_DYN
  header[18] = machine & 0xff;
  header[19] = machine >> 8;
  return header;
}

const other = process.arch === "arm64" ? { machine: 62, name: "x64" } : { machine: 183, name: "arm64" };
const files = {
  directory: join(scratch, "a directory"),
  empty: join(scratch, "empty.so"),
  text: join(scratch, "text.so"),
  foreign: join(scratch, "foreign.so"),
  spaced: join(scratch, "dir with spaces", "libmemory_pool.so"),
};
mkdirSync(files.directory);
writeFileSync(files.empty, "");
writeFileSync(files.text, "not a library at all, just words\n");
writeFileSync(files.foreign, elfHeader(other.machine));
mkdirSync(join(scratch, "dir with spaces"));
copyFileSync(core, files.spaced);

test("coreFileProblem says what a file that is not this process's core is, and never throws", () => {
  expect(coreFileProblem(files.directory)).toContain("is a directory");
  expect(coreFileProblem(files.empty)).toBe("it is empty");
  expect(coreFileProblem(files.text)).toContain("no ELF header");
  expect(coreFileProblem(files.foreign)).toBe(`it is built for ${other.name}, and this process runs on ${process.arch}`);
  expect(coreFileProblem(join(scratch, "missing.so"))).toBe("it cannot be read (ENOENT)");
  expect(coreFileProblem(core)).toBeUndefined();
});

const probe = `const m = await import(${JSON.stringify(join(root, "src", "index.ts"))}); console.log(JSON.stringify({ available: m.isAvailable(), reason: m.unavailableReason() ?? null }));`;

function load(corePath: string, cwd = root): { available: boolean; reason: string | null } {
  const run = Bun.spawnSync([process.execPath, "-e", probe], { cwd, env: { ...process.env, MEMORY_POOL_CORE_PATH: corePath } });
  expect(run.stderr.toString()).toBe("");
  expect(run.exitCode).toBe(0);
  return JSON.parse(run.stdout.toString());
}

test("a core path naming another CPU's library is refused in words that say so; isAvailable() does not throw", () => {
  const refused = load(files.foreign);
  expect(refused.available).toBe(false);
  expect(refused.reason).toContain(`it is built for ${other.name}`);
  expect(load(files.directory).reason).toContain("is a directory");
});

test("a core path with spaces, and one relative to the working directory, load", () => {
  expect(load(files.spaced)).toEqual({ available: true, reason: null });
  expect(load(relative(scratch, files.spaced), scratch)).toEqual({ available: true, reason: null });
});
