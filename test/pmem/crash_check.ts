/**
 * After a crash: reopen the pool (which recovers it) and check it against what the workload's log
 * says was committed (fixtures/workload.ts). The invariants: every published allocation is there
 * with its size and contents, nothing else is (no draft, which was never published, and the one
 * operation in flight may or may not have happened, wholly), roots are as committed, no two
 * allocations overlap, and every heap byte is either in a live block or free.
 */
import { expect } from "bun:test";
import { type Allocation, MemoryPoolManager, PMEMRootError, type PMEMMemoryPool } from "../../src/index";
import { pmemConfig } from "./helpers";
import { THREAD_MODES, type ThreadMode } from "./thread_modes";
import { offsetOfAllocation } from "../../src/allocation";

export interface Model {
  live: Map<number, number>; // offset -> size
  roots: Map<string, number>; // name -> offset
}

export const emptyModel = (): Model => ({ live: new Map(), roots: new Map() });
const cloneModel = (model: Model): Model => ({ live: new Map(model.live), roots: new Map(model.roots) });

/** Applies the completed operations of a log to `model`; returns the operation left in flight, if any. */
export function applyLog(model: Model, stdout: string): string[] | undefined {
  let pending: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const [op, ...rest] = line.split(" ");
    if (op === ">") {
      pending = rest;
      continue;
    }
    if (op === "A" && rest[0] !== "full") model.live.set(Number(rest[0]), Number(rest[1]));
    // D and X (a draft made or freed) change nothing durable.
    if (op === "F") model.live.delete(Number(rest[0]));
    if (op === "R") {
      if (rest[1] === "0") model.roots.delete(rest[0]!);
      else model.roots.set(rest[0]!, Number(rest[1]));
    }
    if (op === "S" && rest[0] !== "full") {
      model.roots.set(rest[0]!, Number(rest[1]));
      model.live.delete(Number(rest[2]));
      model.live.set(Number(rest[1]), Number(rest[3]));
    }
    if (op === "C" && rest[0] !== "full") {
      model.live.set(Number(rest[1]), Number(rest[2]));
      model.roots.set(rest[0]!, Number(rest[1]));
    }
    if (["A", "F", "R", "S", "C", "P", "D", "X"].includes(op!)) pending = undefined;
  }
  return pending;
}

/** Whether the bytes are what the workload wrote: a u32 tag, then (tag * 31 + i) & 255; tag 0: zeros. */
export function intact(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const tag = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  for (let i = 4; i < bytes.length; i++) {
    if (bytes[i] !== (tag === 0 ? 0 : (tag * 31 + i) & 255)) return false;
  }
  return true;
}

function stateOf(pool: PMEMMemoryPool, allocations: Allocation[]): Model {
  const model = emptyModel();
  for (const allocation of allocations) model.live.set(offsetOfAllocation(allocation), allocation.size);
  for (const name of pool.roots()) model.roots.set(name, offsetOfAllocation(pool.getRoot(name)!));
  return model;
}

const same = (a: Model, b: Model) =>
  a.live.size === b.live.size &&
  [...a.live].every(([offset, size]) => b.live.get(offset) === size) &&
  a.roots.size === b.roots.size &&
  [...a.roots].every(([name, offset]) => b.roots.get(name) === offset);

/** The states a crash may leave: the committed one, or that plus the operation in flight. */
function candidates(model: Model, pending: string[] | undefined, actual: Model): Model[] {
  const result: Model[] = [model];
  if (pending === undefined) return result;
  const [op, ...rest] = pending;
  const extras = [...actual.live].filter(([offset]) => !model.live.has(offset));
  if (op === "A" && extras.length === 1 && extras[0]![1] === Number(rest[0])) {
    const state = cloneModel(model);
    state.live.set(extras[0]![0], extras[0]![1]);
    result.push(state);
  }
  if (op === "F") {
    const state = cloneModel(model);
    state.live.delete(Number(rest[0]));
    result.push(state);
  }
  if (op === "R") {
    const state = cloneModel(model);
    if (rest[1] === "0") state.roots.delete(rest[0]!);
    else state.roots.set(rest[0]!, Number(rest[1]));
    result.push(state);
  }
  if (op === "S" && extras.length === 1 && extras[0]![1] === Number(rest[1])) {
    const state = cloneModel(model);
    state.live.set(extras[0]![0], extras[0]![1]);
    state.roots.set(rest[0]!, extras[0]![0]);
    state.live.delete(Number(rest[2]));
    result.push(state);
  }
  if (op === "C" && extras.length === 1 && extras[0]![1] === Number(rest[1])) {
    const state = cloneModel(model);
    state.live.set(extras[0]![0], extras[0]![1]);
    state.roots.set(rest[0]!, extras[0]![0]);
    result.push(state);
  }
  return result;
}

let checks = 0;

/**
 * Reopens the pool at `path` in this process, checks it against `model` (the state before the run)
 * and the run's log, and returns the state found. `leakCheck` then frees everything and checks the
 * whole heap comes back free in one piece.
 */
export function checkRecovered(path: string, strategy: "Variable" | "FixedSize", model: Model, stdout: string, leakCheck: boolean, mode: ThreadMode = "none"): Model {
  const expected = cloneModel(model);
  const pending = applyLog(expected, stdout);
  const manager = MemoryPoolManager.getInstance();
  const pool = manager.createPMEMPool(`crash-check-${checks++}`, pmemConfig(path, { allocatorType: strategy, blockSize: 256, ...THREAD_MODES[mode] }));
  try {
    const allocations = pool.allocations();
    const actual = stateOf(pool, allocations);
    const match = candidates(expected, pending, actual).find((candidate) => same(candidate, actual));
    if (match === undefined) {
      throw new Error(`recovered state does not match the log: in flight ${pending?.join(" ")}\nexpected ${JSON.stringify([...expected.live])} roots ${JSON.stringify([...expected.roots])}\nfound ${JSON.stringify([...actual.live])} roots ${JSON.stringify([...actual.roots])}`);
    }
    // Contents: every allocation was persisted before it was published.
    for (const allocation of allocations) {
      if (!intact(allocation.bytes)) throw new Error(`allocation at offset ${offsetOfAllocation(allocation)} (${allocation.size} bytes) lost its contents`);
    }
    // No space owned twice: blocks in address order do not overlap.
    const stride = (size: number) => (strategy === "FixedSize" ? 256 : Math.ceil(size / 16) * 16);
    const byOffset = [...actual.live].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < byOffset.length; i++) {
      const [offset, size] = byOffset[i - 1]!;
      expect(offset * 16 + stride(size)).toBeLessThanOrEqual(byOffset[i]![0] * 16);
    }
    // Nothing leaked: the heap is exactly live blocks plus free space.
    const stats = pool.getStats();
    expect(stats.liveAllocations).toBe(actual.live.size);
    expect(stats.freeBytes + stats.bytesAllocated).toBe(stats.bytesReserved);
    if (leakCheck) {
      for (const name of pool.roots()) pool.setRoot(name, null);
      // A block a link still names cannot be freed: parents go first, a pass at a time.
      for (let left = pool.allocations(); left.length > 0; ) {
        const refused = left.filter((allocation) => {
          try {
            pool.deallocate(allocation);
            return false;
          } catch (err) {
            if (!(err instanceof PMEMRootError)) throw err;
            return true;
          }
        });
        if (refused.length === left.length) throw new Error(`${left.length} allocations name each other through links: none can be freed first`);
        left = refused;
      }
      const empty = pool.getStats();
      expect(empty.freeBytes).toBe(empty.bytesReserved);
      if (strategy === "Variable") expect(empty.largestFreeBlock).toBe(empty.freeBytes);
    }
    return actual;
  } finally {
    pool.close();
  }
}
