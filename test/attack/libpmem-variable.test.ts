/**
 * MEMORY_POOL_LIBPMEM (the libpmem to load instead of libpmem.so.1) with values a shell leaves:
 * empty, a directory, a library that is not libpmem. Found by attacking main: set but empty (as
 * `MEMORY_POOL_LIBPMEM= bun app.ts` clears a variable), the core handed "" to dlopen, which opens
 * the program itself, so every PMEM pool was refused with "the libpmem at  is too old or not
 * PMDK's: it lacks pmem_persist" on a machine with libpmem installed. Empty now means unset, as
 * MEMORY_POOL_CORE_PATH's does. Each open runs in a child process (the core reads the variable once).
 */
import { afterAll, expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

afterAll(removePoolFiles);

async function openWith(value: string | undefined): Promise<{ outcome: string; message?: string }> {
  const env: Record<string, string | undefined> = { ...process.env, MEMORY_POOL_LIBPMEM: value };
  if (value === undefined) delete env.MEMORY_POOL_LIBPMEM;
  const child = await runBun(attackFixture("libpmem-variable-child.ts"), [poolPath("libpmem-variable")], { env });
  expect({ exitCode: child.exitCode, stderr: child.stderr }).toEqual({ exitCode: 0, stderr: "" });
  return JSON.parse(child.stdout);
}

test("an empty MEMORY_POOL_LIBPMEM is as if unset; a directory or another library is PMEMUnavailableError saying so", async () => {
  const unset = await openWith(undefined);
  expect(await openWith("")).toEqual(unset); // opened where libpmem is installed, or the same reason where not
  if (unset.outcome === "PMEM_UNAVAILABLE") console.log(`libpmem is missing here: the empty variable gave the default's reason (${unset.message})`);
  const directory = await openWith("/tmp");
  expect(directory.outcome).toBe("PMEM_UNAVAILABLE");
  expect(directory.message).toContain("MEMORY_POOL_LIBPMEM=/tmp");
  const libc = await openWith("libc.so.6");
  expect(libc).toEqual({ outcome: "PMEM_UNAVAILABLE", message: "PMEM pools need libpmem: the libpmem at libc.so.6 is too old or not PMDK's: it lacks pmem_persist" });
});

test("a long MEMORY_POOL_LIBPMEM is quoted by its start and end around a marker of what was cut, never cut off mid-reason", async () => {
  // The reason was written into 384 bytes and cut there without a word: a path of a few hundred
  // bytes left the message ending inside it, and dlerror's own reason lost.
  const long = `/nonexistent/${"d".repeat(40)}/`.repeat(12) + "libpmem.so.1";
  const { outcome, message } = await openWith(long);
  expect(outcome).toBe("PMEM_UNAVAILABLE");
  expect(message).toStartWith(`PMEM pools need libpmem: libpmem could not be loaded from MEMORY_POOL_LIBPMEM=${long.slice(0, 60)}[... `);
  expect(message).toContain(` bytes cut ...]${long.slice(-90)} (`);
  expect(message).toEndWith("libpmem.so.1: cannot open shared object file: No such file or directory)");
  expect(message!.length).toBeLessThan(512);
});
