/**
 * renderTimeline(pool or history): memory over time as a self-contained HTML page, as PyTorch's
 * memory_viz draws its allocation history. The x axis counts events (allocations and frees, in
 * the order trackHistory recorded them); the y axis is bytes in use. Each allocation is one band,
 * stacked in the order the allocations were made: when one is freed, those above it move down.
 * Hovering a band shows its id, size, address, when it was made and freed, and its stack. The
 * peak is marked with a line and its figure. No network and no external scripts: the page is
 * one string, an SVG and a few lines of script for the hover details.
 */
import { ConfigError, describe, InvalidSnapshotError, MemoryPoolError } from "./errors";
import { escape, fixed } from "./markup";
import type { HistoryEvent } from "./debug/history";
import { bytes } from "./stats";
import { copyOfData, optionsArg, wholeNumberOption } from "./validate";

export interface TimelineOptions {
  /** Width and height of the plot in pixels (defaults 1100 and 480). */
  width?: number;
  height?: number;
  /** The page's title (default: the pool's name, where a pool is given). */
  title?: string;
}

/** What renderTimeline reads from a pool: its name and its history (trackHistory keeps it). */
export interface TimelineSource {
  readonly name: string;
  getHistory(): HistoryEvent[];
}

/** One allocation's band: present from event `start` (which made it) to event `end - 1` (the free is event `end`). */
interface Band {
  id: number;
  size: number;
  ptr: number;
  start: number;
  end: number;
  allocatedAt: number;
  freedAt: number | undefined;
  stack: string | undefined;
  /** Bytes below the band from event `step` on, at each event where that changes (a band below it was freed). */
  bases: { step: number; base: number }[];
}

const MARGIN = { left: 80, right: 24, top: 56, bottom: 44 };
const OPTIONS = "TimelineOptions";
/** The widest or tallest plot drawn, in pixels (as renderMemoryMap's width). */
const SIDE_MAX = 1 << 16;
/**
 * The most steps drawn in all bands' edges together (each is four points of a polygon). A free
 * moves down every band made after the one it frees, so a history that frees in the order it
 * allocated (a queue) makes steps as the square of its allocations: 4000 of them made a page of
 * 440 MB in 7 s, and a history of 10^5 events would not finish. This many always holds a history
 * of the default historySize (1000 events: 125,000 steps at most), and makes a page of ~15 MB.
 */
const BAND_STEPS_MAX = 1 << 18;

/** An HTML page of memory over time from a pool's history, or from its events (see the file comment). */
export function renderTimeline(source: TimelineSource | readonly HistoryEvent[], options?: TimelineOptions): string {
  const { events, name } = readSource(source);
  const given = optionsArg(OPTIONS, options, ["width", "height", "title"]);
  const width = wholeNumberOption(OPTIONS, given, "width", 200, SIDE_MAX, "pixels") ?? 1100;
  const height = wholeNumberOption(OPTIONS, given, "height", 200, SIDE_MAX, "pixels") ?? 480;
  if (given.title !== undefined && typeof given.title !== "string") throw new ConfigError("title", given.title, "must be a string", OPTIONS);
  const { bands, steps, totals } = layOut(events);
  const peakStep = totals.reduce((best, total, step) => (total > totals[best]! ? step : best), 0);
  const peakBytes = totals[peakStep] ?? 0;

  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const top = niceCeiling(Math.max(peakBytes, 1));
  const x = (step: number) => MARGIN.left + (steps === 0 ? 0 : (step / steps) * plotWidth);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;

  const shapes = bands.map((band) => {
    // Bottom edge left to right, then the top edge back: one polygon, stepping where bands below it left.
    const lower: string[] = [];
    const upper: string[] = [];
    band.bases.forEach(({ step, base }, i) => {
      // Event `step` is drawn over [step - 1, step]: the plot runs from x(0) to x(steps).
      const until = band.bases[i + 1]?.step ?? band.end;
      lower.push(`${fixed(x(step - 1))},${fixed(y(base))}`, `${fixed(x(until - 1))},${fixed(y(base))}`);
      upper.push(`${fixed(x(step - 1))},${fixed(y(base + band.size))}`, `${fixed(x(until - 1))},${fixed(y(base + band.size))}`);
    });
    const details = [
      `allocation #${band.id}: ${describeBytes(band.size)} at 0x${band.ptr.toString(16)}`,
      `made at event ${band.start}${band.freedAt === undefined ? ", still live at the end" : `, freed at event ${band.end}`}`,
    ].join("\n");
    return `<polygon class="band" fill="${colourOf(band.id)}" points="${[...lower, ...upper.reverse()].join(" ")}" data-id="${band.id}" data-size="${band.size}" data-details="${escape(details)}" data-stack="${escape(band.stack ?? "no stack kept (trackHistory keeps one)")}"/>`;
  });

  const axis: string[] = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top / 4) * tick;
    axis.push(`<line class="grid" x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${fixed(y(value))}" y2="${fixed(y(value))}"/>`);
    axis.push(`<text class="tick end" x="${MARGIN.left - 6}" y="${fixed(y(value) + 4)}">${escape(bytes(value))}</text>`);
  }
  axis.push(`<text class="tick" x="${MARGIN.left}" y="${height - 14}">event 0</text>`);
  axis.push(`<text class="tick end" x="${width - MARGIN.right}" y="${height - 14}">event ${steps}</text>`);

  const peakX = x(peakStep - 0.5);
  const peak =
    steps === 0
      ? ""
      : `<g id="peak" data-step="${peakStep}" data-bytes="${peakBytes}" data-x="${fixed(peakX)}" data-y="${fixed(y(peakBytes))}">` +
        `<line class="peak" x1="${fixed(peakX)}" x2="${fixed(peakX)}" y1="${MARGIN.top - 8}" y2="${MARGIN.top + plotHeight}"/>` +
        `<text class="peak-label${peakX > width / 2 ? " end" : ""}" x="${fixed(peakX + (peakX > width / 2 ? -6 : 6))}" y="${MARGIN.top - 12}">peak ${escape(bytes(peakBytes))} at event ${peakStep}</text></g>`;

  const title = (given.title as string | undefined) ?? (name === undefined ? "Memory over time" : `Memory over time: pool '${name}'`);
  const summary =
    steps === 0
      ? "No allocations or frees in the history: turn trackHistory on (PoolConfig.trackHistory = true) and allocate."
      : `${bands.length} allocation${bands.length === 1 ? "" : "s"} over ${steps} event${steps === 1 ? "" : "s"}; peak ${bytes(peakBytes)} at event ${peakStep}. Hover a band for its size and stack.`;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-steps="${steps}" data-top-bytes="${top}">`,
    `<rect class="background" width="${width}" height="${height}"/>`,
    ...axis,
    `<g id="bands">${shapes.join("")}</g>`,
    peak,
    "</svg>",
  ].join("\n");
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head>`,
    `<body><h1>${escape(title)}</h1><p class="summary">${escape(summary)}</p>`,
    svg,
    `<pre id="details">Hover a band for its details.</pre>`,
    `<script>${HOVER_SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

/**
 * Bands for the allocations in the history, stacked in the order they were made, and the bytes in
 * use after each event. A band's base changes only when a band below it is freed, so each band keeps
 * just those changes: the page grows with the events, not with events times live allocations.
 */
/**
 * The events to draw (a copy: see copyOfData) and the pool's name, read once from a pool or an
 * array. What the source's getters or a Proxy's traps throw is an InvalidSnapshotError; a pool's
 * own typed error (getHistory() of a destroyed pool) passes as it is.
 */
function readSource(source: unknown): { events: unknown[]; name: string | undefined } {
  let events: unknown;
  let name: string | undefined;
  try {
    if (Array.isArray(source)) events = source;
    else if (typeof (source as Partial<TimelineSource> | null)?.getHistory === "function") {
      events = (source as TimelineSource).getHistory();
      name = String((source as TimelineSource).name);
    } else throw new InvalidSnapshotError("renderTimeline takes a pool or an array of its history events (pool.getHistory())");
  } catch (err) {
    if (err instanceof MemoryPoolError) throw err;
    throw new InvalidSnapshotError(`renderTimeline cannot read its source (${describe(source)}): reading it threw ${describe(err)}`);
  }
  if (!Array.isArray(events)) throw new InvalidSnapshotError(`a pool's history is an array of events, got ${describe(events)}`);
  return { events: copyOfData(events, "the history"), name };
}

function layOut(events: readonly unknown[]): { bands: Band[]; steps: number; totals: number[] } {
  const bands: Band[] = [];
  const live: Band[] = []; // in the order made: each band's base is the sum of those before it
  const totals: number[] = [0];
  let total = 0;
  let step = 0;
  let drawnSteps = 0; // steps in every band's edges: one where it is made, one each time a band below it is freed
  for (const [index, event] of events.entries()) {
    checkEvent(index, event);
    if (event.kind !== "allocate" && event.kind !== "free") continue;
    step++;
    if (event.kind === "allocate") {
      const band: Band = { id: event.id, size: event.size, ptr: event.ptr, start: step, end: -1, allocatedAt: event.time, freedAt: undefined, stack: event.stack, bases: [{ step, base: total }] };
      live.push(band);
      bands.push(band);
      if (++drawnSteps > BAND_STEPS_MAX) throw tooManySteps(events.length, index);
      total += event.size;
    } else {
      // By id and pointer: ids wrap after 2^30 - 1, so two live allocations can share an id.
      // Searched from the newest: the bands above the one found each step down (counted against
      // BAND_STEPS_MAX), so the search costs no more than the drawing.
      const position = live.findLastIndex((band) => band.id === event.id && band.ptr === event.ptr);
      if (position >= 0) {
        // A free whose allocation the ring no longer holds (position -1) has nothing to draw.
        const [freed] = live.splice(position, 1);
        drawnSteps += live.length - position;
        if (drawnSteps > BAND_STEPS_MAX) throw tooManySteps(events.length, index);
        freed!.end = step;
        freed!.freedAt = event.time;
        total -= freed!.size;
        for (const above of live.slice(position)) above.bases.push({ step, base: above.bases.at(-1)!.base - freed!.size });
      }
    }
    totals[step] = total;
  }
  for (const band of live) band.end = step + 1; // live at the end: drawn through the last event
  return { bands, steps: step, totals };
}

/** The typed error for a history whose bands would take more than BAND_STEPS_MAX steps, found at event `at`. */
function tooManySteps(events: number, at: number): InvalidSnapshotError {
  return new InvalidSnapshotError(
    `the history's ${events} events are too many to draw: by event ${at} its bands already take more than ${BAND_STEPS_MAX} steps (one where each allocation is made, and one for each band made after an allocation freed): draw part of it, e.g. renderTimeline(pool.getHistory().slice(-2000))`,
  );
}

/**
 * A history event as the page reads it: an allocation or free has whole, non-negative id, ptr and
 * size, a finite time and a string stack if any (a history loaded from JSON may be anything: the
 * page must neither throw an untyped error nor draw NaN); other kinds are only skipped.
 */
function checkEvent(index: number, event: unknown): asserts event is HistoryEvent {
  const fail = (what: string): never => {
    throw new InvalidSnapshotError(`history event ${index} ${what} (events are what pool.getHistory() returns)`);
  };
  if (typeof event !== "object" || event === null || Array.isArray(event)) return fail(`is ${describe(event)}, not an object`);
  const fields = event as Record<string, unknown>;
  if (typeof fields.kind !== "string") fail(`has the kind ${describe(fields.kind)}, not a string`);
  if (fields.kind !== "allocate" && fields.kind !== "free") return;
  for (const field of ["id", "size", "ptr"] as const) {
    const value = fields[field];
    if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) fail(`needs a numeric id and size: its ${field} is ${describe(value)}, not a whole number from 0`);
  }
  if (!(typeof fields.time === "number" && Number.isFinite(fields.time))) fail(`has the time ${describe(fields.time)}, not a finite number`);
  if (fields.stack !== undefined && typeof fields.stack !== "string") fail(`has a stack that is ${describe(fields.stack)}, not a string`);
}

function niceCeiling(value: number): number {
  const power = 2 ** Math.ceil(Math.log2(value));
  return power * 0.75 >= value ? power * 0.75 : power;
}

function describeBytes(n: number): string {
  return n < 1024 ? `${n} B` : `${bytes(n)} (${n.toLocaleString("en-US")} B)`;
}

/** A colour per allocation id, spread around the wheel so neighbours differ. */
function colourOf(id: number): string {
  const hue = (id * 137.508) % 360;
  return `hsl(${hue.toFixed(1)} 62% ${id % 2 === 0 ? 58 : 68}%)`;
}

const STYLE = [
  "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;margin:16px;background:#fff}",
  "h1{font-size:18px;margin:0 0 4px}",
  ".summary{font-size:13px;color:#52606d;margin:0 0 8px}",
  ".background{fill:#fff}",
  ".grid{stroke:#e4e7eb;stroke-width:1}",
  ".tick{font-size:11px;fill:#7b8794}",
  ".end{text-anchor:end}",
  ".band{stroke:#fff;stroke-width:0.4}",
  ".band:hover{stroke:#111;stroke-width:1.2}",
  "#peak{pointer-events:none}", // hovering at the peak reaches the band under the line
  ".peak{stroke:#c23b33;stroke-width:1.5;stroke-dasharray:4 3}",
  ".peak-label{font-size:12px;font-weight:600;fill:#c23b33}",
  "#details{font-size:12px;background:#f5f7fa;border:1px solid #e4e7eb;padding:8px;white-space:pre-wrap;min-height:3em}",
].join("");

/** Shows a band's details under the plot on hover; no library, no network. */
const HOVER_SCRIPT = `
const details = document.getElementById("details");
document.getElementById("bands").addEventListener("mouseover", (event) => {
  const band = event.target.closest(".band");
  if (band) details.textContent = band.dataset.details + "\\n" + band.dataset.stack;
});`;
