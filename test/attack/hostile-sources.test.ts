/**
 * Hostile objects where the library reads a caller's data: Proxies whose traps throw, revoked
 * Proxies, getters that throw or change their answer between reads. Found by attacking main with
 * such values in every argument of every public function: renderMemoryMap and renderTimeline let
 * the trap's own error or a TypeError ("Array.isArray cannot be called on a Proxy that has been
 * revoked") escape, and copy()'s `stream` option asked `instanceof GPUStream`, which runs a Proxy's
 * getPrototypeOf trap (its error escaped) and passes Object.create(GPUStream.prototype). Now the
 * pictures read their input once into a copy (checked, then drawn: a getter cannot pass the
 * check with one value and be drawn with another), what reading throws is an
 * InvalidSnapshotError, and a stream is known by its private field (a ConfigError otherwise).
 * The copy leaves typed arrays unread: a view of a pool's window inside a snapshot would have
 * made a deep copy read gigabytes of unmapped memory (checked in a child process).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { copy, GPUStream, InvalidSnapshotError, MemoryPoolManager, renderMemoryMap, renderTimeline, ThreadSafetyError } from "../../src/index";
import { outcome } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();

const throwingProxy = () => new Proxy({}, {
  get: () => { throw new Error("get trap"); },
  has: () => { throw new Error("has trap"); },
  ownKeys: () => { throw new Error("ownKeys trap"); },
  getPrototypeOf: () => { throw new Error("getPrototypeOf trap"); },
  getOwnPropertyDescriptor: () => { throw new Error("descriptor trap"); },
});
const revokedProxy = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

test("copy()'s stream option: a throwing or revoked Proxy, or an object made from GPUStream's prototype, is a ConfigError", () => {
  using pool = manager.createCPUPool("hostile-stream", { initialSize: 1 << 16 });
  const dst = pool.allocate(16);
  const src = pool.allocate(16).bytes.fill(4);
  for (const stream of [throwingProxy(), revokedProxy(), Object.create(GPUStream.prototype)]) {
    expect(outcome(() => copy(dst, src, 8, { stream }))).toBe("CONFIG");
  }
  expect(dst.bytes[0]).not.toBe(4); // nothing was copied
});

test("renderMemoryMap refuses unreadable snapshots with InvalidSnapshotError, and draws what a getter gave once", () => {
  using pool = manager.createCPUPool("hostile-map", { initialSize: 1 << 16 });
  pool.allocate(100);
  const snapshot = pool.snapshot();
  expect(outcome(() => renderMemoryMap(throwingProxy() as never))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderMemoryMap(revokedProxy() as never))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderMemoryMap({ ...snapshot, get blocks(): never { throw new Error("blocks getter"); } }))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderMemoryMap({ ...snapshot, blocks: [new Proxy(snapshot.blocks[0]!, { ownKeys: () => { throw new Error("trap"); } })] }))).toBe("INVALID_SNAPSHOT");
  // A getter that answers the check well and then badly: read once, it is drawn as checked.
  let reads = 0;
  const changing = { ...snapshot, get regions() { return reads++ === 0 ? snapshot.regions : (null as never); } };
  expect(renderMemoryMap(changing)).toContain("<svg");
  expect(reads).toBe(1);
  let error: unknown;
  try {
    renderMemoryMap(revokedProxy() as never);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(InvalidSnapshotError);
  expect((error as Error).message).toBe("the snapshot cannot be read as data: reading it threw a TypeError");
});

test("renderTimeline refuses unreadable sources with InvalidSnapshotError; a pool's own typed error passes", () => {
  const pool = manager.createCPUPool("hostile-timeline", { initialSize: 1 << 16, trackHistory: true });
  pool.allocate(100).free();
  const events = pool.getHistory();
  expect(outcome(() => renderTimeline(throwingProxy() as never))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderTimeline(revokedProxy() as never))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderTimeline({ name: "p", getHistory: () => { throw new Error("history getter"); } }))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderTimeline({ get name(): string { throw new Error("name getter"); }, getHistory: () => events }))).toBe("INVALID_SNAPSHOT");
  expect(outcome(() => renderTimeline([throwingProxy() as never]))).toBe("INVALID_SNAPSHOT");
  let reads = 0;
  const changing = { ...events[0]!, get size() { return reads++ === 0 ? 100 : (NaN as number); } };
  expect(renderTimeline([changing, events[1]!])).toContain("<svg");
  expect(reads).toBe(1);
  pool.destroy();
  expect(outcome(() => renderTimeline(pool))).toBe("done"); // a destroyed pool keeps its history
  // A pool's own typed error from getHistory() passes as it is (another thread's "none" pool's is a ThreadSafetyError).
  expect(outcome(() => renderTimeline({ name: "p", getHistory: () => { throw new ThreadSafetyError("pool 'p' belongs to another thread"); } }))).toBe("THREAD_SAFETY");
});

test("a view of a pool's window inside what is drawn is refused, never read (a child process: a read would crash)", () => {
  const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "fixtures", "attack", "hostile-sources-child.ts")], { stdout: "pipe", stderr: "pipe" });
  const lines = run.stdout.toString().trim().split("\n").map((line) => JSON.parse(line) as { case: string; outcome?: string });
  expect({ last: lines.at(-1)?.case, exitCode: run.exitCode, stderr: run.stderr.toString() }).toEqual({ last: "done", exitCode: 0, stderr: "" });
  for (const line of lines.slice(0, -1)) expect(line).toEqual({ case: line.case, outcome: "INVALID_SNAPSHOT" });
  expect(lines).toHaveLength(8);
});
