/**
 * MEMORY_POOL_CORE_PATH naming a core cut short (a copy interrupted, a full disk) or a FIFO. Found by
 * attack17: the loader asked dlopen first and looked at the file only when dlopen failed, but glibc's
 * dlopen maps a truncated library's segments past the end of the file and reads them, so importing
 * the library killed the process with SIGBUS (exit 135), before isAvailable() could say anything;
 * and on a FIFO dlopen's open() waited for a writer forever. The file's headers are now read before
 * dlopen: a file that is not regular, or whose loaded segments reach past its end, is a
 * NativeLibraryError that says so. Children run the import, so a crash or a hang fails the test.
 */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreFileProblem } from "../../src/loader";
import { runBun } from "../support/child";

const root = join(import.meta.dir, "..", "..");
const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");
const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack17-core-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const whole = readFileSync(core);
/** The core's first `bytes` bytes, in a file of its own. */
function truncated(bytes: number): string {
  const path = join(scratch, `core-${bytes}.so`);
  writeFileSync(path, whole.subarray(0, bytes));
  return path;
}

const probe = join(scratch, "probe.ts");
writeFileSync(probe, `const m = await import(${JSON.stringify(join(root, "src", "index.ts"))}); console.log(JSON.stringify({ available: m.isAvailable(), reason: m.unavailableReason() ?? null }));`);

async function load(corePath: string): Promise<{ available: boolean; reason: string | null }> {
  const run = await runBun(probe, [], { env: { ...process.env, MEMORY_POOL_CORE_PATH: corePath }, timeout: 10_000 });
  expect({ exitCode: run.exitCode, signalCode: run.signalCode, stderr: run.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  return JSON.parse(run.stdout);
}

// Cut inside the first loaded segment, and far past it inside a later one: dlopen died of SIGBUS on both.
for (const bytes of [2000, 1_000_000]) {
  test(`a core cut to its first ${bytes} bytes is a NativeLibraryError that says it is truncated, not a SIGBUS`, async () => {
    const path = truncated(bytes);
    expect(coreFileProblem(path)).toMatch(new RegExp(`^it is truncated or damaged: it has ${bytes} bytes, and a segment it loads reaches byte \\d+$`));
    const loaded = await load(path);
    expect(loaded.available).toBe(false);
    expect(loaded.reason).toContain(`the core at ${path} cannot be opened (it is truncated or damaged`);
  }, 20_000);
}

test("a core cut inside its headers says so", () => {
  expect(coreFileProblem(truncated(100))).toBe("it is truncated or damaged: its 100 bytes do not hold the ELF headers it names");
});

test("a core path naming a FIFO is refused at once, where dlopen waited for a writer forever", async () => {
  const fifo = join(scratch, "core.fifo");
  execFileSync("mkfifo", [fifo]);
  // Only in a child: an open of the FIFO here would wait as dlopen's did.
  const loaded = await load(fifo);
  expect(loaded.available).toBe(false);
  expect(loaded.reason).toContain("it is not a regular file");
}, 20_000);

test("the whole core still passes the check and loads", async () => {
  expect(coreFileProblem(core)).toBeUndefined();
  expect(await load(core)).toEqual({ available: true, reason: null });
});
