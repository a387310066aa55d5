/**
 * Handles are ordinary objects: Object.defineProperty(handle, "size", ...) gives one an own
 * property that hides the class's getter. Found by attacking this branch: copy() read `size`, `ptr`,
 * `pool` and `cachedBytes` through those getters, so two 64-byte handles claiming 256 MiB made a
 * memmove of 256 MiB, and a freed handle claiming an attached view was copied into as if alive
 * (into its block's next allocation). The library now reads its own private fields. In a child
 * process, so a crash is a failure naming the case.
 */
import { expect, test } from "bun:test";

const script = `
  import { copy, MemoryPoolManager, PoolConfig } from ${JSON.stringify(`${import.meta.dir}/../../src/index`)};
  const manager = MemoryPoolManager.getInstance();
  const outcome = (name, run) => {
    let result;
    try { result = run(); } catch (err) { result = err.code ?? String(err); }
    console.log(JSON.stringify({ case: name, outcome: result }));
  };
  const p = manager.createCPUPool("shadowed", Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: 64 * 64 }));
  const lie = (handle, fields) => { for (const [name, value] of Object.entries(fields)) Object.defineProperty(handle, name, { value }); return handle; };
  const a = p.allocate(64), b = p.allocate(64);
  a.bytes.fill(1);
  lie(a, { size: 1 << 28, ptr: b.ptr });
  lie(b, { size: 1 << 28 });
  outcome("copy between two handles claiming 256 MiB", () => copy(b, a));
  outcome("the bytes copied are a's", () => b.bytes.every((x) => x === 1));
  outcome("copy of 1 MiB between them", () => copy(b, a, 1 << 20));
  outcome("the views of a handle claiming 256 MiB", () => [b.bytes.buffer.byteLength, b.as(Uint32Array).length, b.windowBytes().length]);
  outcome("copy from a Uint8Array into a handle claiming 256 MiB", () => copy(b, new Uint8Array(1 << 20)));
  const freed = p.allocate(64);
  const view = freed.bytes;
  freed.free();
  const next = p.allocate(64); // the same block
  lie(freed, { cachedBytes: new Uint8Array(64), knownAlive: true, alive: true, pool: { kind: "cpu", config: { threadSafety: "none" } } });
  outcome("copy into a freed handle that claims to be alive", () => copy(freed, new Uint8Array(64).fill(9)));
  outcome("copy into it from an allocation", () => copy(freed, a));
  outcome("its bytes", () => freed.bytes.length);
  outcome("its window view", () => freed.windowBytes().length);
  outcome("the block's next allocation is untouched", () => next.bytes.every((x) => x === 0) && view.length === 0);
  manager.destroyPool("shadowed");
  console.log(JSON.stringify({ case: "done" }));
`;

test("handles whose fields are shadowed by own properties are read as the pool made them", () => {
  const child = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const lines = child.stdout.toString().trim().split("\n").map((line) => JSON.parse(line) as { case: string; outcome?: unknown });
  const outcomes = Object.fromEntries(lines.filter((line) => "outcome" in line).map((line) => [line.case, line.outcome]));
  expect({ last: lines.at(-1)?.case, signal: child.signalCode ?? null, stderr: child.stderr.toString() }).toEqual({ last: "done", signal: null, stderr: "" });
  expect(outcomes).toEqual({
    "copy between two handles claiming 256 MiB": 64,
    "the bytes copied are a's": true,
    "copy of 1 MiB between them": "OUT_OF_BOUNDS",
    "the views of a handle claiming 256 MiB": [64, 16, 64],
    "copy from a Uint8Array into a handle claiming 256 MiB": "OUT_OF_BOUNDS",
    "copy into a freed handle that claims to be alive": "USE_AFTER_FREE",
    "copy into it from an allocation": "USE_AFTER_FREE",
    "its bytes": "USE_AFTER_FREE",
    "its window view": "USE_AFTER_FREE",
    "the block's next allocation is untouched": true,
  });
});
