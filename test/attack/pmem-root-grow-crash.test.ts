/**
 * A root grown by root(name, size) (pmem-root-grow.test.ts: a zero-filled copy replaces it in one
 * atomic step) with the process killed at every persist barrier of the grow, by SIGKILL and by a
 * simulated power loss where only flushed and drained lines survive. The crash workloads of
 * test/pmem (crash, patterns) make roots but never grow one. After each recovery the root is the
 * old block, bytes intact, or the grown copy, its old bytes first and zeros after; nothing is
 * unreachable, no block is left besides the roots' (the copy or the old block is freed, never
 * both kept), and the other root and its link are as they were.
 */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { MemoryPoolManager } from "../../src/index";
import { BLOCK_SIZE, NEW_BYTES, OLD_BYTES, patternByte } from "../fixtures/attack/pmem-root-grow-crash-child";
import { poolPath, removePoolFiles, runChild } from "../pmem/helpers";

afterAll(removePoolFiles);

const manager = MemoryPoolManager.getInstance();
const CHILD = "../../fixtures/attack/pmem-root-grow-crash-child.ts";
let opened = 0;

/** Reopens `path` (recovering it) and says what the root "g" is now: "old" or "grown", or throws what is wrong. */
function recovered(path: string, strategy: "Variable" | "FixedSize"): "old" | "grown" {
  const pool = manager.createPMEMPool(`grow-check-${opened++}`, { pmemPoolPath: path, initialSize: 1 << 20, allocatorType: strategy, blockSize: BLOCK_SIZE });
  try {
    const root = pool.getRoot("g");
    if (root === undefined) throw new Error("the root 'g' is gone");
    const bytes = root.bytes;
    const oldIntact = Array.from(bytes.subarray(0, OLD_BYTES)).every((byte, i) => byte === patternByte(i));
    if (!oldIntact) throw new Error(`the root's first ${OLD_BYTES} bytes are damaged (size ${root.size})`);
    if (root.size !== OLD_BYTES && root.size !== NEW_BYTES[strategy]) throw new Error(`the root holds ${root.size} bytes`);
    if (bytes.subarray(OLD_BYTES).some((byte) => byte !== 0)) throw new Error("the grown root is not zero-filled past its old end");
    const unreachable = pool.allocations({ unreachable: true });
    if (unreachable.length > 0) throw new Error(`${unreachable.length} allocation(s) no root reaches: ${unreachable.map((a) => `${a.size} B`).join(", ")}`);
    const keep = pool.getRoot("keep");
    const child = keep === undefined ? undefined : pool.linked(keep, 8);
    if (child === undefined || child.size !== 32 || child.bytes.some((byte) => byte !== 0x6b)) throw new Error("the other root's link or child changed");
    expect(pool.allocations().length).toBe(3); // g, keep and its child: the other copy of g was freed
    expect(pool.getStats().liveAllocations).toBe(3);
    return root.size === OLD_BYTES ? "old" : "grown";
  } finally {
    pool.close();
  }
}

for (const strategy of ["Variable", "FixedSize"] as const) {
  test(`${strategy}: a root grown by root(name, size) and killed at every barrier is the old root or the grown one, whole`, async () => {
    const setupPath = poolPath(`grow-crash-setup-${strategy}`);
    const setup = await runChild(CHILD, [setupPath, strategy, "setup"]);
    expect({ exit: setup.exitCode, stderr: setup.stderr }).toEqual({ exit: 0, stderr: "" });
    // A clean grow, counting its barriers (MEMORY_POOL_CRASH_AT=0 counts and never kills).
    const cleanPath = poolPath(`grow-crash-clean-${strategy}`);
    copyFileSync(setupPath, cleanPath);
    const clean = await runChild(CHILD, [cleanPath, strategy, "grow"], { MEMORY_POOL_CRASH_AT: "0" });
    expect({ exit: clean.exitCode, stderr: clean.stderr }).toEqual({ exit: 0, stderr: "" });
    const [, before] = clean.stdout.match(/barriers (\d+)/)!.map(Number);
    const [, after, size] = clean.stdout.match(/grown (\d+) (\d+)/)!.map(Number);
    expect(size).toBe(NEW_BYTES[strategy]);
    expect(after!).toBeGreaterThan(before!); // the grow passes barriers: there is something to kill
    expect(recovered(cleanPath, strategy)).toBe("grown");
    const seen = { old: 0, grown: 0 };
    for (const mode of ["kill", "power"]) {
      for (let at = before! + 1; at <= after!; at++) {
        const path = poolPath(`grow-crash-${strategy}-${mode}-${at}`);
        copyFileSync(setupPath, path);
        const run = await runChild(CHILD, [path, strategy, "grow"], { MEMORY_POOL_CRASH_AT: String(at), MEMORY_POOL_CRASH_MODE: mode });
        expect({ at, mode, signal: run.signalCode, grown: run.stdout.includes("grown") }).toEqual({ at, mode, signal: "SIGKILL", grown: false });
        try {
          seen[recovered(path, strategy)]++;
        } catch (err) {
          throw new Error(`killed (${mode}) at barrier ${at} of ${before}..${after}: ${(err as Error).message}`);
        }
      }
    }
    // Killed before the grow's commit the old root stays; after it, the grown one.
    console.log(`${strategy}: barriers ${before! + 1}..${after}, recovered old ${seen.old}, grown ${seen.grown}`);
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.grown).toBeGreaterThan(0);
  }, 60_000);
}
