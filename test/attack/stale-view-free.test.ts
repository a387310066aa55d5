/**
 * deallocate(view) in a Worker whose view outlived its allocation: another thread ended it (reset(),
 * or a free by pointer) and took the same block for an allocation of its own. Found by attacking
 * main with Workers on shared pools: a Worker's view stays attached until it next views the block
 * (see the README), and deallocate(view) freed whatever allocation held the block by then, by
 * address: the other thread's live allocation was taken from it (its handle then said it was
 * freed, its bytes were anyone's), where the Worker's handle of the same allocation rightly said
 * DoubleFreeError. A view this thread made now frees its own allocation, by id, as its handle does:
 * a DoubleFreeError naming the allocation, and the stale view is detached. In a child process.
 */
import { describe, expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

const configs: [string, object][] = [
  ["mutex, Variable", { threadSafety: "mutex" }],
  ["mutex, FixedSize", { threadSafety: "mutex", allocatorType: "FixedSize", blockSize: 1024 }],
  ["lockFree, FixedSize (JavaScript caches)", { threadSafety: "lockFree", allocatorType: "FixedSize", blockSize: 1024 }],
  ["lockFree, Variable (sharded)", { threadSafety: "lockFree" }],
  ["mutex with safeViews, trackHistory and canaries", { threadSafety: "mutex", safeViews: true, trackHistory: true, canaries: true }],
];

interface Outcome { sameBlocks: number; views: string[]; handles: string[]; alive: number; intact: number; live: number; bytesInUse: number }

async function outcome(config: object, how: string): Promise<Outcome> {
  const run = await runChild("../../fixtures/attack/stale-view-free-child.ts", [JSON.stringify(config), how]);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  return JSON.parse(run.stdout) as Outcome;
}

describe("a Worker's view of an allocation another thread ended frees nothing of that thread's", () => {
  for (const [name, config] of configs) {
    for (const how of ["reset", "pointer"]) {
      if (how === "reset" && name.includes("JavaScript caches")) continue; // reset() needs the Worker's caches closed: its Worker ended
      test(`${name}: ended by ${how === "reset" ? "reset()" : "frees by pointer"}`, async () => {
        const result = await outcome(config, how);
        expect(result.views).toEqual(Array(6).fill("DOUBLE_FREE, length 0"));
        expect(result.handles).toEqual(Array(6).fill("DOUBLE_FREE"));
        expect(result.alive).toBe(6); // this thread's allocations, in the same blocks or not, all still its own
        expect(result.intact).toBe(6);
        expect({ live: result.live, bytesInUse: result.bytesInUse }).toEqual({ live: 0, bytesInUse: 0 });
      });
    }
  }
  test("the same views, their allocations still live, free them and are detached (the handle then says double free)", async () => {
    const result = await outcome({ threadSafety: "mutex" }, "kept");
    expect(result.views).toEqual(Array(6).fill("freed, length 0"));
    expect(result.handles).toEqual(Array(6).fill("DOUBLE_FREE"));
    expect({ live: result.live, bytesInUse: result.bytesInUse }).toEqual({ live: 0, bytesInUse: 0 });
  });
});
