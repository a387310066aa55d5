/**
 * memcpyPersist from a view of the destination allocation itself (a shift inside one block, as a
 * log compaction does). Found by attacking main: on a file that is not PMEM (any file system: the
 * README's "Without persistent memory"), the core copied with @memcpy, which ReleaseSafe checks
 * for aliasing: "panic: @memcpy arguments alias", and the process died. On PMEM it called
 * pmem_memcpy_persist, whose areas must not overlap. The core now copies as memmove does (and
 * pmem_memmove_persist), so copy() into PMEM needs no path of its own for overlaps. Both modes,
 * each in a child process.
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

for (const [mode, force] of [["emulated PMEM (cache flushes)", "1"], ["a plain file (msync)", "0"]] as const) {
  test(`${mode}: an overlapping source is copied as memmove copies it`, async () => {
    const run = await runChild("../../fixtures/attack/pmem-overlap-child.ts", [poolPath(`attack-overlap-${force}`)], { PMEM_IS_PMEM_FORCE: force });
    expect({ signal: run.signalCode, stderr: run.stderr }).toEqual({ signal: null, stderr: "" });
    expect(run.exitCode).toBe(0);
    const { isPmem, results } = JSON.parse(run.stdout) as { isPmem: boolean; results: Record<string, number> };
    expect(isPmem).toBe(force === "1");
    expect(Object.keys(results)).toHaveLength(10);
    for (const wrong of Object.values(results)) expect(wrong).toBe(0);
  });
}
