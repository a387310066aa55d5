/**
 * Allocators under an address-space limit (`ulimit -v`, RLIMIT_AS, which batch schedulers and some
 * containers set): compiler-rt's asan/TestCases/Linux/rlimit_mmap_test.cpp (an mmap refused under
 * RLIMIT_AS is reported as such, not a crash elsewhere) and glibc's allocation-failure tests
 * (malloc/tst-malloc-thread-fail: allocation fails cleanly, and the rest of the program carries on),
 * read and retold for this library's reservations: a pool without maxSize reserves 64 GiB of address
 * space, or where the OS refuses, the largest power of two below that fits. In child processes
 * started under limits of 6, 24 and 72 GB past what the program maps once it has loaded the library
 * (about 6 GB of Bun's own here, more on a machine of more cores): default pools are made until one is refused (16 at
 * most); each one made serves a block and is writable, the refusal is an OutOfMemoryError that says
 * the limit may be why; the last pool grows until its reservation is full, refused as an
 * OutOfMemoryError and counted; then the JavaScript heap gets what a program needs (256 arrays of
 * 1 MiB, a 256 MiB ArrayBuffer) and a Worker starts.
 * Found: the shrinking reservation took all the address space the limit left: under 80 GB, six
 * default pools held all of it, and the next `new Uint8Array(1 << 20)` threw "RangeError: Out of
 * memory" (or Bun aborted the process, "panic: abort() called"). A host reservation now keeps a
 * quarter of the limit for the rest of the process (zig/src/backend/address_limit.zig), as
 * process_reserve_max keeps a quarter of the 128 TiB where no limit is set.
 * The same under `ulimit -n` (RLIMIT_NOFILE) with PMEM pools, each of which keeps its file's
 * descriptor open (its lock), where libpmem loads: pools are opened until one is refused, a
 * PMEMFileError naming the limit; then the program opens a file and starts a Worker.
 * Found: nothing kept descriptors back, so under `ulimit -n 64` the 49th pool took the last one
 * the runtime had: the next file the program opened threw EMFILE, and starting a Worker made Bun
 * exit ("bun ran out of file descriptors"). Opening a pool file now keeps a quarter of the limit
 * (zig/src/backend/descriptor_limit.zig, asked by zig/src/pmem/file.zig openOrCreate).
 * Differs by design: ASan's test dies with its report; here a refusal is a typed error and the
 * process goes on. The limits are address space, not memory: nothing here touches more than 600 MiB.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pmemUnavailableReason } from "../../src/native";
import { poolDirectory } from "../pmem/helpers";
import { attackFixture, runCommand } from "../support/child";

const noPmem = pmemUnavailableReason();
if (noPmem !== undefined) console.log(`[suite-rlimits] the ulimit -n case is skipped: ${noPmem}`);
const folder = mkdtempSync(join(poolDirectory, "memory-pool-rlimits-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const GB = 1_000_000; // ulimit -v counts KiB

/** The address space (KiB) a program that has loaded the library maps before it makes a pool: Bun's own grows with the machine's cores. */
async function programKiB(): Promise<number> {
  const probe = `await import(${JSON.stringify(join(import.meta.dir, "../../src/index"))}); console.log(/VmSize:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]);`;
  const run = await runCommand([process.execPath, "-e", probe]);
  expect(run.exitCode).toBe(0);
  return Number(run.stdout.trim());
}

for (const room of [6, 24, 72]) {
  test(`under ulimit -v of the program's size + ${room} GB: pools are made or refused with a typed error, and the program keeps the room it needs`, async () => {
    const limit = (await programKiB()) + room * GB;
    const run = await runCommand(["sh", "-c", `ulimit -v ${limit} && exec "$0" "$1"`, process.execPath, attackFixture("suite-rlimits-as-child.ts")], { timeout: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout) as { made: { name: string; addressSpace: number }[]; refused: string; grownTo: number; failedAllocations: number; arrays: number; buffer: number; fromWorker: string };
    expect(out.made.length).toBeGreaterThan(0);
    const reserved = out.made.reduce((sum, pool) => sum + pool.addressSpace, 0);
    expect(reserved).toBeLessThanOrEqual((limit * 1024 * 3) / 4);
    if (out.refused !== "") expect(out.refused).toContain("ulimit -v");
    expect(out.grownTo).toBeGreaterThan(0);
    expect(out.failedAllocations).toBe(1);
    expect({ arrays: out.arrays, buffer: out.buffer, fromWorker: out.fromWorker }).toEqual({ arrays: 256, buffer: 256 << 20, fromWorker: "worker ran" });
  });
}

for (const limit of [64, 128]) {
  test.skipIf(noPmem !== undefined)(`under ulimit -n ${limit}: PMEM pools are opened or refused with a typed error, and the program keeps descriptors to run`, async () => {
    const env = { ...process.env, PMEM_IS_PMEM_FORCE: "1" };
    const run = await runCommand(["sh", "-c", `ulimit -n ${limit} && exec "$0" "$1" "$2"`, process.execPath, attackFixture("suite-rlimits-nofile-child.ts"), folder], { env, timeout: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout) as { made: number; refused: string; fromWorker: string };
    expect(out.made).toBeGreaterThan(0);
    expect(out.made).toBeLessThan(limit);
    expect(out.refused).toMatch(new RegExp(`file descriptors of its limit of ${limit} \\(ulimit -n\\).*: raise the limit, or destroy some pools$`));
    expect(out.fromWorker).toBe("worker ran");
    expect(readdirSync(folder)).toEqual([]);
  });
}
