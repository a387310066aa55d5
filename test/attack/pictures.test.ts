/**
 * renderTimeline and renderMemoryMap given hostile histories and snapshots (as loaded from JSON a
 * user was sent): a missing ptr, a stack that is a number, NaN or negative sizes and times, a null
 * event, a bigint made renderTimeline throw a TypeError or draw NaN; now each is an
 * InvalidSnapshotError naming the event, bad options a ConfigError, and text carrying markup
 * (</script>, quotes, HTML) stays inert: escaped wherever it lands, no element added.
 */
import { expect, test } from "bun:test";
import { ConfigError, InvalidSnapshotError, renderMemoryMap, renderTimeline, type HistoryEvent } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const PAYLOAD = `</script><script>alert(1)</script><img src=x onerror="alert(2)">'&`;
const event = (fields: Record<string, unknown>) => ({ kind: "allocate", id: 1, ptr: 4096, size: 64, time: 1, ...fields }) as HistoryEvent;

/** The page has the one script the library writes and no element or attribute the payload made. */
function expectInert(page: string): void {
  expect((page.match(/<script/g) ?? []).length).toBe(page.startsWith("<svg") ? 0 : 1);
  expect(page).not.toContain("<img");
  expect(page).not.toContain('onerror="');
  expect(page).not.toContain("NaN");
}

test("renderTimeline refuses hostile events with InvalidSnapshotError naming the event, never a TypeError or NaN", () => {
  const bad: Record<string, unknown>[] = [
    { ptr: undefined },
    { ptr: PAYLOAD },
    { stack: 5 },
    { size: NaN },
    { size: -64 },
    { size: Infinity },
    { id: 2 ** 53 },
    { id: 1n },
    { time: NaN },
    { kind: {} },
    { kind: "free", id: -1 },
  ];
  for (const fields of bad) {
    const error = thrown(() => renderTimeline([event({}), event({ id: 2, ...fields })]));
    expect(error).toBeInstanceOf(InvalidSnapshotError);
    expect(error.message).toStartWith("history event 1 ");
  }
  for (const events of [[null], [[]], ["allocate"]]) expect(thrown(() => renderTimeline(events as never))).toBeInstanceOf(InvalidSnapshotError);
  expect(thrown(() => renderTimeline({ name: "x", getHistory: () => null as never }))).toBeInstanceOf(InvalidSnapshotError);
  // Kinds the page does not draw are skipped, as before.
  expect(renderTimeline([event({}), { kind: "violation", detail: PAYLOAD } as never])).toContain("1 allocation over 1 event");
});

test("renderTimeline's options are checked as every call's options are", () => {
  const history = [event({})];
  const cases: [unknown, string][] = [
    [null, "TimelineOptions"],
    [{ width: Symbol("w") }, "width"],
    [{ height: 1e9 }, "height"],
    [{ width: 199 }, "width"],
    [{ title: 5 }, "title"],
    [{ colour: "red" }, "colour"],
  ];
  for (const [options, field] of cases) {
    const error = thrown<ConfigError>(() => renderTimeline(history, options as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe(field);
  }
});

test("markup in a history, a title, a pool's name and a snapshot stays inert", () => {
  const history = [event({ stack: PAYLOAD }), event({ id: 2, kind: "free", stack: PAYLOAD })];
  expectInert(renderTimeline(history, { title: PAYLOAD }));
  expectInert(renderTimeline({ name: PAYLOAD, getHistory: () => history }));
  const p = pool("attack-pictures");
  p.allocate(100);
  const snapshot = JSON.parse(JSON.stringify(p.snapshot()));
  snapshot.pool = PAYLOAD;
  snapshot.kind = PAYLOAD;
  snapshot.takenAt = PAYLOAD;
  snapshot.blocks[0].stack = PAYLOAD;
  const map = renderMemoryMap(snapshot);
  expectInert(map);
  expect(map).toContain("&lt;/script&gt;");
  // A snapshot's hostile numbers are refused as the memory map's tests show (test/attack/hostile.test.ts).
  snapshot.blocks[0].size = NaN;
  expect(thrown(() => renderMemoryMap(snapshot))).toBeInstanceOf(InvalidSnapshotError);
});
