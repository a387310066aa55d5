/**
 * A shared FixedSize pool (JavaScript thread caches) destroyed by another Worker at the instants a
 * thread's cache is between two core calls. Found by attacking main with Workers that churn while
 * the pool is destroyed and made again under its name: about one Worker in three met a
 * NativeLibraryError ("the core gave a cache of pool ... but no id word": the pool went between
 * mp_cache_open and mp_cache_ids, and the record opened was never released), or an untyped
 * TypeError ("undefined is not an object (evaluating 'chunk[at]')": the cache popped a block of a
 * chunk of state words it had not viewed, which the core no longer gave); a free of such a block
 * said InvalidPointerError "never gave out", of a block the pool did give out (also from the
 * moment a destroy begins, when the core gives no chunk, until it closes the record: seen under
 * load). Each is now the PoolNotFoundError every other use of a destroyed pool gets: a cache
 * without the block's chunk leaves the free to the core, which knows why. The instants are made exact by
 * wrapping the core's cache calls in a child process (a crash fails the test, naming the case).
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

async function run(script: string, args: string[] = []): Promise<{ stdout: string; stderr: string; exitCode: number | null; signal: unknown }> {
  const { stdout, stderr, exitCode, signalCode } = await runBun(attackFixture(script), args);
  return { stdout, stderr, exitCode, signal: signalCode };
}

test("the pool destroyed while a cache opens, or before it views a block's chunk: PoolNotFoundError; a chunk not given: the core decides", async () => {
  const result = await run("cache-destroy-races-child.ts");
  const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { case: string; outcome?: string });
  expect({ last: lines.at(-1)?.case, exitCode: result.exitCode, signal: result.signal, stderr: result.stderr }).toEqual({ last: "done", exitCode: 0, signal: null, stderr: "" });
  expect(Object.fromEntries(lines.filter((line) => line.outcome !== undefined).map((line) => [line.case, line.outcome]))).toEqual({
    "allocate: destroyed while the cache opens": "PoolNotFoundError",
    "allocate again": "PoolNotFoundError",
    "the refill's first block is of the first chunk": "true", // the arrangement the next case needs holds
    "allocate: a block of a chunk not viewed yet, the pool destroyed": "PoolNotFoundError",
    "deallocate: a block of a chunk not viewed yet, the pool destroyed": "PoolNotFoundError",
    "allocate: no chunk given, the record open": "PoolNotFoundError",
    "allocate after: a block of the second chunk": "true", // the stack was left as it was
    "deallocate: no chunk given, the pool alive": "none", // the core decided: a block it gave out
    "deallocate again: a double free": "DoubleFreeError",
    "statistics balance": "true",
  });
});

for (const [threadSafety, cache] of [["lockFree", "0"], ["mutex", "1"]] as const) {
  test(`Workers churning on a ${threadSafety}${cache === "1" ? " threadLocalCache" : ""} pool destroyed and made again 25 times meet PoolNotFoundError only`, async () => {
    const result = await run("recreate-churn-child.ts", [threadSafety, cache]);
    expect({ exitCode: result.exitCode, signal: result.signal, stderr: result.stderr }).toEqual({ exitCode: 0, signal: null, stderr: "" });
    const workers = JSON.parse(result.stdout) as { codes: Record<string, number>; untyped: string[] }[];
    expect(workers).toHaveLength(3);
    for (const { codes, untyped } of workers) {
      expect(untyped).toEqual([]);
      expect(Object.keys(codes).filter((code) => code !== "POOL_NOT_FOUND" && code !== "getPool:POOL_NOT_FOUND")).toEqual([]);
    }
    expect(workers.some(({ codes }) => (codes.POOL_NOT_FOUND ?? 0) > 0)).toBe(true); // the destroys met them
  }, 30_000);
}
