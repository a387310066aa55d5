/**
 * Calls without options while Object.prototype has properties named as their options (prototype
 * pollution, as a dependency that merges `__proto__` from JSON leaves it). Found by attacking main:
 * a call given no options read them from an object with Object.prototype behind it, so copy()
 * wrote at a polluted dstOffset (silently misplaced bytes), setRoot freed the previous root's
 * allocation (freePrevious), allocations() listed only the unreachable ones, snapshot() refused a
 * polluted `details`, and the pictures took a polluted width or title. Options left out now read
 * as left out (optionsArg and copy's record of no options have no prototype).
 */
import { afterAll, expect, test } from "bun:test";
import { copy, MemoryPoolManager, renderMemoryMap, renderTimeline } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "../pmem/helpers";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();

/** Runs `fn` with Object.prototype given `values` (not enumerable, as a merge's `__proto__` leaves them), then restores it. */
function polluted<T>(values: Record<string, unknown>, fn: () => T): T {
  for (const [key, value] of Object.entries(values)) Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    for (const key of Object.keys(values)) delete (Object.prototype as Record<string, unknown>)[key];
  }
}

test("copy() without options copies to and from offset 0, whatever Object.prototype says", () => {
  const p = pool("attack12-polluted-copy");
  const source = p.allocate(8);
  source.bytes.fill(5);
  const floats = new Float32Array(8);
  const doubles = new Float64Array(4);
  const moved = polluted({ dstOffset: 8, srcOffset: 4 }, () => [copy(floats, new Float32Array([1, 2])), copy(doubles, source)]);
  expect(moved).toEqual([8, 8]);
  expect(Array.from(floats)).toEqual([1, 2, 0, 0, 0, 0, 0, 0]);
  expect(Array.from(new Uint8Array(doubles.buffer, 0, 16))).toEqual([5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test("snapshot(), renderMemoryMap() and renderTimeline() without options take their defaults", () => {
  const p = pool("attack12-polluted-pictures", { trackHistory: true });
  p.allocate(100);
  const [snapshot, map, page] = polluted({ details: 7777, width: 7777, rows: 7, title: "polluted title" }, () => {
    const taken = p.snapshot();
    return [taken, renderMemoryMap(taken), renderTimeline(p)] as const;
  });
  expect(snapshot.blocks.some((block) => block.state === "live" && typeof block.stack === "string")).toBe(true); // the pool's own history
  expect(map.includes(`width="960"`)).toBe(true);
  expect(page.includes("<title>Memory over time: pool &apos;attack12-polluted-pictures&apos;</title>")).toBe(true);
});

afterAll(removePoolFiles);

test("a PMEM pool's setRoot() and allocations() without options neither free the previous root nor leave allocations out", () => {
  const manager = MemoryPoolManager.getInstance();
  const pm = manager.createPMEMPool("attack12-polluted-pmem", pmemConfig(poolPath("attack12-polluted")));
  try {
    const first = pm.allocate(64);
    const second = pm.allocate(64);
    pm.setRoot("data", first);
    const listed = polluted({ freePrevious: true, unreachable: true }, () => {
      pm.setRoot("data", second);
      return pm.allocations().map((allocation) => allocation.ptr);
    });
    expect(first.alive).toBe(true);
    expect(listed).toEqual([first.ptr, second.ptr]);
  } finally {
    pm.close();
  }
});
