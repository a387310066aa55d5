/**
 * Characters XML cannot hold, in what the pictures write. Found by attacking main: a pool's name
 * may hold any well-formed Unicode, a NUL or U+0001 included (test/attack/names.test.ts), and the
 * memory map and timeline wrote it as it was: XML 1.0 has no way to hold those characters (a
 * character reference to one is as ill-formed), so the SVG of such a pool was one a browser
 * refuses to load at all. A loaded snapshot or history may hold lone surrogates too. They now read
 * as their \uXXXX escapes; everything else is written as before.
 */
import { expect, test } from "bun:test";
import { renderMemoryMap, renderTimeline, type HistoryEvent } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { parseXml } from "../support/xml";

const pool = cpuPoolsPerTest();

/** Every character XML 1.0 allows (its Char production). */
const XML_CHARS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

test("a pool named with control characters and U+FFFF draws an SVG and a page of XML characters only, the name escaped", () => {
  const name = "attack12-xml \u0000\u0001\u001f\uffff end";
  const p = pool(name, { trackHistory: true });
  p.allocate(100);
  const map = renderMemoryMap(p.snapshot());
  expect(XML_CHARS.test(map)).toBe(true);
  expect(parseXml(map).name).toBe("svg");
  expect(map).toContain("attack12-xml \\u0000\\u0001\\u001F\\uFFFF end");
  const page = renderTimeline(p);
  expect(XML_CHARS.test(page)).toBe(true);
  expect(page).toContain("attack12-xml \\u0000\\u0001\\u001F\\uFFFF end");
});

test("lone surrogates and controls in a loaded snapshot and history are escaped; tabs, newlines and astral characters stay", () => {
  const p = pool("attack12-xml-loaded");
  p.allocate(100);
  const snapshot = JSON.parse(JSON.stringify(p.snapshot()));
  snapshot.pool = "lone \ud800 and \udfff, tab\tnewline\n emoji \u{1F600}";
  const map = renderMemoryMap(snapshot);
  expect(XML_CHARS.test(map)).toBe(true);
  expect(map).toContain("lone \\uD800 and \\uDFFF, tab\tnewline\n emoji \u{1F600}");
  const history: HistoryEvent[] = [{ kind: "allocate", id: 1, ptr: 4096, size: 64, time: 1, stack: "    at f\u0002 (\ud83d.ts:1:1)" }];
  const page = renderTimeline(history, { title: "title \u0007" });
  expect(XML_CHARS.test(page)).toBe(true);
  expect(page).toContain("title \\u0007");
  expect(page).toContain("at f\\u0002 (\\uD83D.ts:1:1)");
});
