/**
 * Views that lie about their length. Found by attacking main: copy() read `view.byteLength`, which
 * a subclass's getter, an own property or a patched prototype can make say anything, and handed
 * the view's address with that length to native code: copy(new Uint8Array(1 << 24), view) with a
 * 16-byte view claiming 1 GiB crashed the process (a memmove far past the view). memcpyPersist,
 * persist(view) and SharedGPUMemory read and write took the same word. They now measure a view
 * with the engine's own getters. In a child process, so a crash is a failure naming the case.
 */
import { afterAll, expect, test } from "bun:test";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

test("every call that hands a view to native code measures it as it is, whatever it claims", async () => {
  const run = await runChild("../../fixtures/attack/lying-views-child.ts", [poolPath("attack-lying")]);
  const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { case: string; outcome?: unknown });
  const outcomes = Object.fromEntries(lines.filter((line) => "outcome" in line).map((line) => [line.case, line.outcome]));
  expect({ last: lines.at(-1)?.case, signal: run.signalCode, stderr: run.stderr }).toEqual({ last: "copy: a patched TypedArray prototype", signal: null, stderr: "" });
  expect(run.exitCode).toBe(0);
  expect(outcomes).toEqual({
    "copy: a source with an own byteLength into a large array": 16, // its 16 real bytes, by default all of the source
    "copy: a source subclass into a large array": 16,
    "copy: a destination with an own byteLength": "OUT_OF_BOUNDS",
    "copy: a lying source into an allocation": "OUT_OF_BOUNDS",
    "copy: a lying DataView source": 16,
    "memcpyPersist: a lying source": "done", // 16 bytes, which fit the 64-byte allocation
    "memcpyPersist: an ArrayBuffer with an own byteLength": "done",
    "persist: a lying view of a PMEM allocation": "done", // its 8 real bytes
    "deallocate: a lying detached view": "DOUBLE_FREE",
    "copy: a patched TypedArray prototype": 16,
  });
});
