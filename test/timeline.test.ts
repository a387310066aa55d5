/**
 * renderTimeline: memory over time from a pool's history, as a self-contained page. The page is
 * checked as a string (no network, one band per allocation) and in a real headless Chromium: it
 * renders, the tallest point of the drawing is at the peak the history gives, hovering a band shows
 * its details, and a screenshot is not blank.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, renderTimeline, type HistoryEvent } from "../src/index";
import { chromiumPath, noChromium, openPage, pngColours } from "./support/chromium";
import { cpuPoolsPerTest } from "./support/pools";

const pool = cpuPoolsPerTest();
const folder = mkdtempSync(join(tmpdir(), "memory-pool-timeline-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Allocations that grow to a peak, half freed, then a second smaller rise: the peak is in the middle. */
function history(name: string): HistoryEvent[] {
  const p = pool(name, { trackHistory: true });
  const held = Array.from({ length: 16 }, (_, i) => p.allocate(512 * (1 + (i % 4))));
  held.forEach((a, i) => i % 2 === 0 && a.free());
  const later = Array.from({ length: 4 }, () => p.allocate(700));
  later[1]!.free();
  return p.getHistory();
}

/** The step (1-based, counting allocations and frees) where bytes in use are highest, and how many. */
function peakOf(events: HistoryEvent[]): { step: number; bytes: number; steps: number } {
  let total = 0;
  let step = 0;
  let peak = { step: 0, bytes: 0 };
  for (const event of events) {
    if (event.kind !== "allocate" && event.kind !== "free") continue;
    step++;
    total += event.kind === "allocate" ? event.size : -event.size;
    if (total > peak.bytes) peak = { step, bytes: total };
  }
  return { ...peak, steps: step };
}

describe("renderTimeline as a page", () => {
  test("one band per allocation, the peak's figures, and nothing fetched from anywhere", () => {
    const events = history("timeline-page");
    const html = renderTimeline(events, { title: "test page" });
    expect(html).toStartWith("<!DOCTYPE html>");
    expect(html.match(/<polygon class="band"/g)?.length).toBe(events.filter((e) => e.kind === "allocate").length);
    const peak = peakOf(events);
    expect(html).toContain(`<g id="peak" data-step="${peak.step}" data-bytes="${peak.bytes}"`);
    expect(html).not.toMatch(/\b(src|href)=|https?:\/\/(?!www\.w3\.org\/2000\/svg)|@import|url\(/);
    expect(html).toContain(`data-stack="`);
    expect(html).toContain("timeline.test.ts"); // the allocations' stacks
  });

  test("a pool is read through its history; one without trackHistory says how to get one", () => {
    const p = pool("timeline-plain");
    p.allocate(100);
    const html = renderTimeline(p);
    expect(html).toContain("Memory over time: pool &apos;timeline-plain&apos;");
    expect(html).toContain("turn trackHistory on");
    expect(html).not.toContain('<polygon class="band"');
  });

  test("bad options and bad input are typed errors", () => {
    expect(() => renderTimeline([], { width: 10 })).toThrow(ConfigError);
    expect(() => renderTimeline({} as never)).toThrow("renderTimeline takes a pool or an array of its history events");
    expect(() => renderTimeline([{ kind: "allocate", id: "x" } as never])).toThrow("history event 0 needs a numeric id and size");
  });
});

describe.skipIf(chromiumPath === undefined)(`renderTimeline in headless Chromium${chromiumPath === undefined ? ` (skipped: ${noChromium})` : ""}`, () => {
  test("renders; the drawing is tallest at the peak the history gives; hover shows details; the screenshot is not blank", async () => {
    const events = history("timeline-browser");
    const peak = peakOf(events);
    const file = join(folder, "timeline.html");
    writeFileSync(file, renderTimeline(events));
    const page = await openPage(`file://${file}`);
    try {
      const geometry = await page.evaluate<{ bands: number; left: number; right: number; top: number; bottom: number; peakX: number; atPeakTop: string | null; besidePeakTop: string | null }>(`(() => {
        const boxes = [...document.querySelectorAll(".band")].map((band) => band.getBoundingClientRect());
        const line = document.querySelector("#peak line").getBoundingClientRect();
        const top = Math.min(...boxes.map((b) => b.top));
        const peakX = line.left + line.width / 2;
        const hit = (x, y) => document.elementsFromPoint(x, y).find((e) => e.classList.contains("band"))?.dataset.id ?? null;
        const left = Math.min(...boxes.map((b) => b.left)), right = Math.max(...boxes.map((b) => b.right));
        return { bands: boxes.length, left, right, top, bottom: Math.max(...boxes.map((b) => b.bottom)), peakX,
                 atPeakTop: hit(peakX, top + 1.5), besidePeakTop: hit(peakX + (right - left) / ${peak.steps}, top + 1.5) };
      })()`);
      expect(geometry.bands).toBe(events.filter((e) => e.kind === "allocate").length);
      expect(geometry.bottom - geometry.top).toBeGreaterThan(200); // drawn, at a readable size
      // The peak line stands in the middle of the peak event's column, and the stack is tallest there.
      const column = (geometry.right - geometry.left) / peak.steps;
      expect(Math.abs(geometry.peakX - (geometry.left + (peak.step - 0.5) * column))).toBeLessThan(1);
      expect(geometry.atPeakTop).not.toBeNull();
      expect(geometry.besidePeakTop).toBeNull();
      // Hover the top band at the peak: its details and stack appear under the plot.
      await page.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: 1, y: 1 });
      await page.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: geometry.peakX, y: geometry.top + 1.5 });
      const details = await page.evaluate<string>(`new Promise((done) => requestAnimationFrame(() => done(document.getElementById("details").textContent)))`);
      expect(details).toStartWith(`allocation #${geometry.atPeakTop}: `);
      expect(details).toContain("timeline.test.ts");
      const shot = (await page.send("Page.captureScreenshot", { format: "png" })) as { data: string };
      expect(pngColours(Buffer.from(shot.data, "base64"))).toBeGreaterThan(8);
    } finally {
      await page.close();
    }
  }, 30_000);
});
