/**
 * renderTimeline over long histories. Found by attacking main: each free moves down every band
 * made after the one it frees, and the page drew each of those steps, so a history that frees in
 * the order it allocated (a queue) grew as the square of its allocations: 2000 of them made a page
 * of 110 MB, 4000 one of 440 MB in 7 s with 2.8 GB resident, and a pool's history of 10^5 events
 * (historySize takes up to 2^20) would not finish. The page now draws at most 2^18 steps and
 * refuses a history that needs more with an InvalidSnapshotError that says how to draw part of it;
 * the default history (1000 events) always fits. Frees are looked up from the newest band, so a
 * history freed newest first (a stack) costs what it draws, not the square of its allocations.
 */
import { expect, test } from "bun:test";
import { InvalidSnapshotError, renderTimeline, type HistoryEvent } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

/** `count` allocations of 16 bytes, then their frees: oldest first ("queue") or newest first ("stack"). */
function history(count: number, order: "queue" | "stack"): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  let time = 1;
  for (let id = 1; id <= count; id++) events.push({ kind: "allocate", id, ptr: id * 16, size: 16, time: time++ });
  for (let n = 1; n <= count; n++) {
    const id = order === "queue" ? n : count + 1 - n;
    events.push({ kind: "free", id, ptr: id * 16, size: 16, time: time++ });
  }
  return events;
}

test("a queue-shaped history too large to draw is an InvalidSnapshotError saying how to draw part of it", () => {
  const error = thrown(() => renderTimeline(history(2000, "queue")));
  expect(error).toBeInstanceOf(InvalidSnapshotError);
  expect(error.message).toContain("the history's 4000 events are too many to draw");
  expect(error.message).toContain("renderTimeline(pool.getHistory().slice(-2000))");
  // Part of it draws.
  expect(renderTimeline(history(2000, "queue").slice(-1000)).includes(`data-steps="1000"`)).toBe(true);
});

test("a stack-shaped history of many allocations draws every band", () => {
  const page = renderTimeline(history(20_000, "stack"));
  expect(page.match(/<polygon class="band"/g)?.length).toBe(20_000);
  expect(page.includes(`data-steps="40000"`)).toBe(true);
});

test("a pool's default history, freed oldest first (its most steps), always draws", () => {
  const p = pool("attack12-timeline-default", { trackHistory: true });
  const live = Array.from({ length: 500 }, () => p.allocate(32));
  for (const allocation of live) allocation.free();
  expect(p.getHistory().length).toBe(1000); // the default historySize, full
  const page = renderTimeline(p);
  expect(page.match(/<polygon class="band"/g)?.length).toBe(500);
  expect(page.includes(`data-steps="1000"`)).toBe(true);
});
