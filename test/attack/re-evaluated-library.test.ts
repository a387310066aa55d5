/**
 * The library evaluated a second time at the same path in a process that is not under `bun --hot`
 * (a program or test tool that deletes require.cache entries and requires it again, as module
 * isolation does). Found by attack11: every evaluation's manager was taken for a `bun --hot`
 * reload of the one before, so the second copy's create of a name the first had made destroyed the
 * first copy's pool, whose code was alive and using it (its handles threw UseAfterFreeError). Only
 * under `bun --hot`, where the earlier evaluation's code is gone, is a pool given up for a reload;
 * otherwise the second copy's create is the PoolExistsError any second create of a name is.
 * In a child process: the re-evaluation would otherwise reach this process's own library.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

test("a second evaluation of the library at the same path, not under bun --hot, leaves the first's pools alone", () => {
  const index = join(import.meta.dir, "..", "..", "src", "index.ts");
  const src = join(import.meta.dir, "..", "..", "src");
  const probe = `
const first = require(${JSON.stringify(index)});
const pool = first.MemoryPoolManager.getInstance().createCPUPool("re-evaluated", { initialSize: 65536 });
const block = pool.allocate(64);
block.bytes.fill(7);
for (const key of Object.keys(require.cache)) if (key.startsWith(${JSON.stringify(src)})) delete require.cache[key];
const second = require(${JSON.stringify(index)});
let error = "none";
try { second.MemoryPoolManager.getInstance().createCPUPool("re-evaluated", { initialSize: 65536 }); } catch (err) { error = err.code; }
console.log(JSON.stringify({ reEvaluated: second !== first, error, destroyed: "destroyed" in pool.toJSON(), alive: block.alive, byte: block.bytes[63] }));`;
  const result = Bun.spawnSync([process.execPath, "-e", probe], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  expect(result.stderr.toString()).toBe("");
  expect(JSON.parse(result.stdout.toString())).toEqual({ reEvaluated: true, error: "POOL_EXISTS", destroyed: false, alive: true, byte: 7 });
});
