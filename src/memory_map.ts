/**
 * renderMemoryMap(snapshot): a picture of a pool as an SVG string. Each region is a band of rows
 * (one row holds the same number of bytes everywhere, so sizes compare at a glance); each block
 * is one <path class="block STATE"> coloured by its state, with a <title> that browsers show on
 * hover. Fragmentation shows as colour: free blocks smaller than the pool's largest free block
 * (space a larger request cannot use) are drawn warm, and a bar at the top splits the reserved
 * bytes into live blocks, the largest free block, and that scattered free space. Pure
 * TypeScript: it reads a snapshot, live or loaded from JSON.
 */
import { ConfigError, describe, InvalidSnapshotError } from "./errors";
import { escape, fixed } from "./markup";
import type { BlockState, PoolSnapshot, SnapshotBlock, SnapshotRegion } from "./snapshot";
import { bytes, reservedParts } from "./stats";
import { copyOfData, optionsArg, wholeNumberOption } from "./validate";

export interface MemoryMapOptions {
  /** Width of the picture in pixels (default 960). */
  width?: number;
  /** Bytes one row shows; by default a power of two (a whole number of blocks for fixed-size pools) that fills about `rows` rows. */
  rowBytes?: number;
  /** Rows to aim for when choosing rowBytes (default 32). */
  rows?: number;
}

const COLOURS: Record<BlockState, { fill: string; label: string }> = {
  live: { fill: "#2f6db5", label: "live" },
  free: { fill: "#dde5ee", label: "free" },
  pending: { fill: "#8e5cc2", label: "freed on a stream, pending" },
  guard: { fill: "#c23b33", label: "guard pages" },
  quarantined: { fill: "#e39a1b", label: "quarantined" },
  guardFree: { fill: "#f1dcdb", label: "free guard-region pages" },
};
const SCATTERED_FREE = "#f4c09a";
const MARGIN = 16;
const GUTTER = 78; // row labels: the offset of each row's first byte
const ROW_HEIGHT = 16;
const ROW_GAP = 3;
const REGION_LABEL = 22;
const REGION_GAP = 14;
const ROW_BYTES_MIN = 256;
const OPTIONS = "MemoryMapOptions";
const WIDTH_MAX = 1 << 16;
const TARGET_ROWS_MAX = 4096;
/** At most this many rows in one picture, over all regions. */
const DRAWN_ROWS_MAX = 1 << 16;
/**
 * Snapshots of up to this many blocks draw each as an element of its own. Past it, neighbours
 * narrower than a pixel are drawn together, a pixel at a time: a FixedSize pool of 64 MiB in 64 B
 * blocks drew a million elements, 117 MB of SVG in 21 s, and one of a few GiB never finished.
 */
const BLOCKS_DRAWN_ONE_BY_ONE = 1 << 16;

/** An SVG picture of the pool the snapshot describes (see the file comment). */
export function renderMemoryMap(source: PoolSnapshot, options?: MemoryMapOptions): string {
  const snapshot = copyOfData(source, "the snapshot");
  checkSnapshot(snapshot);
  const given = optionsArg(OPTIONS, options, ["width", "rowBytes", "rows"]);
  const width = wholeNumberOption(OPTIONS, given, "width", 320, WIDTH_MAX, "pixels") ?? 960;
  const targetRows = wholeNumberOption(OPTIONS, given, "rows", 1, TARGET_ROWS_MAX, "rows") ?? 32;
  const givenRowBytes = wholeNumberOption(OPTIONS, given, "rowBytes", 16, Number.MAX_SAFE_INTEGER, "bytes");
  const reserved = snapshot.regions.reduce((sum, region) => sum + region.size, 0);
  // A run of blocks (a request over blockSize) is one block of several strides: the stride is the smallest.
  const stride = snapshot.config.allocatorType === "FixedSize" && snapshot.blocks.length > 0 ? snapshot.blocks.reduce((least, block) => Math.min(least, block.size), Infinity) : undefined;
  const rowBytes = givenRowBytes ?? chooseRowBytes(reserved, targetRows, stride);
  // Every row is drawn: a picture of a few GiB in rows of 16 bytes would never finish.
  const drawnRows = snapshot.regions.reduce((sum, region) => sum + Math.max(1, Math.ceil(region.size / rowBytes)), 0);
  if (drawnRows > DRAWN_ROWS_MAX) {
    if (givenRowBytes !== undefined) {
      throw new ConfigError("rowBytes", rowBytes, `would draw ${drawnRows} rows of this snapshot, more than ${DRAWN_ROWS_MAX}: choose larger rows (or leave rowBytes out)`, OPTIONS);
    }
    throw new InvalidSnapshotError(`the snapshot's ${snapshot.regions.length} regions would need ${drawnRows} rows, more than ${DRAWN_ROWS_MAX}: too many to draw`);
  }
  const mapWidth = width - 2 * MARGIN - GUTTER;
  const scale = mapWidth / rowBytes; // pixels per byte
  const present = new Set(snapshot.blocks.map((block) => block.state));
  const totals = tally(snapshot);

  const out: string[] = [];
  let y = MARGIN;
  // Header: what the pool is, its figures, and the bar that shows what fragmentation costs.
  const config = snapshot.config;
  const allocator = config.allocatorType === "FixedSize" ? `fixed-size, ${bytes(Number(config.blockSize))} blocks` : "variable-size (TLSF)";
  out.push(text(MARGIN, (y += 16), `Pool '${snapshot.pool}': ${snapshot.kind}, ${allocator}`, "title"));
  out.push(text(width - MARGIN, y, `taken ${snapshot.takenAt.replace("T", " ").replace(/\.\d+Z$/, " UTC")}`, "note end"));
  // The largest request the free space serves, and fragmentation, as the core counts them (the statistics
  // taken with the blocks): a free block's bytes are not all one request's where requests are aligned past
  // a granule (the gap before the aligned start) or carry canaries, which only the core knows the sizes of.
  const largestRequest = snapshot.stats.largestFreeBlock;
  const fragmentation = snapshot.stats.fragmentation;
  const fragmentationOf = (free: number, largest: number) => (free === 0 ? 0 : 1 - largest / free);
  // The reserved bytes by what holds them, counted from the blocks: the rows of getStatsString(),
  // which counts them in the core (canaries and the peak are not blocks: those two come from the statistics).
  out.push(text(MARGIN, (y += 20), `${bytes(totals.requested)} in use in ${totals.live} allocation${totals.live === 1 ? "" : "s"}`, "summary"));
  const parts = reservedParts({
    reserved,
    regions: snapshot.regions.length,
    peakReserved: snapshot.stats.peakBytesReserved,
    // The core counts a block freed on a stream as held until its stream is done (it is drawn as pending).
    liveBlocks: totals.liveBytes + totals.pendingBytes,
    canaries: snapshot.stats.canaryBytes,
    free: totals.freeBytes,
    largestFree: largestRequest,
    fragmentation,
    guardPages: totals.guardPages,
    guardFree: totals.guardFree,
    quarantined: totals.quarantined,
  });
  for (const [label, value] of parts) out.push(text(MARGIN, (y += 16), `${label}: ${value}`, "summary part"));
  y += 10;
  out.push(compositionBar(MARGIN, y, width - 2 * MARGIN, reserved, totals));
  y += 12 + 18;
  // Legend: the states present (live and free always), and the other marks.
  const cursor = { x: MARGIN, y };
  const share = (n: number) => {
    const percent = reserved === 0 ? 0 : (n / reserved) * 100;
    return percent === 0 ? "" : percent < 1 ? " < 1 %" : ` ${percent.toFixed(0)} %`;
  };
  const legendRight = width - MARGIN;
  const stateBytes = (state: BlockState) => snapshot.blocks.reduce((sum, block) => (block.state === state ? sum + block.size : sum), 0);
  for (const state of ["live", "free", "pending", "quarantined", "guard", "guardFree"] as const) {
    if (state !== "live" && state !== "free" && !present.has(state)) continue;
    const held = state === "free" ? totals.freeBytes - totals.scattered : stateBytes(state);
    const label = state === "free" && totals.scattered > 0 ? "free, in the largest blocks" : COLOURS[state].label;
    legendItem(out, cursor, legendRight, `<rect class="${state}" width="12" height="12"/>`, label + share(held));
  }
  if (totals.scattered > 0) legendItem(out, cursor, legendRight, `<rect class="scattered" width="12" height="12"/>`, "free, in smaller blocks" + share(totals.scattered));
  if (totals.uncovered > 0) legendItem(out, cursor, legendRight, `<rect class="noblock" width="12" height="12"/>`, "no block" + share(totals.uncovered));
  y = cursor.y + 12 + 18;
  out.push(text(MARGIN, y, `one row = ${bytes(rowBytes)}, one pixel ≈ ${bytes(Math.max(1, Math.round(1 / scale)))}; hover a block for its details`, "note"));
  y += 12;

  // Regions: a label, then rows of rowBytes each, blocks drawn across them.
  for (const region of snapshot.regions) {
    const rows = Math.max(1, Math.ceil(region.size / rowBytes));
    const regionFragmentation = fragmentationOf(region.freeBytes, region.largestFreeBlock);
    out.push(
      text(
        MARGIN,
        y + 15,
        `region ${region.index} at +0x${region.offset.toString(16)}, ${bytes(region.size)}: ${region.liveBlocks} live, ` +
          (guardRegion(snapshot, region)
            ? `guard pages: ${bytes(blockBytes(snapshot, region, "guardFree"))} free for allocations with guard pages`
            : `${region.freeBlocks} free (${bytes(region.freeBytes)}, largest ${bytes(region.largestFreeBlock)}, fragmentation ${(regionFragmentation * 100).toFixed(1)} %)`),
        "region",
      ),
    );
    y += REGION_LABEL;
    const top = y;
    const rowY = (row: number) => top + row * (ROW_HEIGHT + ROW_GAP);
    for (let row = 0; row < rows; row++) {
      out.push(text(MARGIN + GUTTER - 6, rowY(row) + 12, `+0x${(region.offset + row * rowBytes).toString(16)}`, "address end"));
    }
    const segments = (start: number, end: number, gap = true) => {
      let d = "";
      for (let at = start; at < end; ) {
        const row = Math.floor(at / rowBytes);
        const rowEnd = Math.min(end, (row + 1) * rowBytes);
        const x0 = MARGIN + GUTTER + (at - row * rowBytes) * scale;
        let w = (rowEnd - at) * scale;
        if (gap && rowEnd === end) w -= w >= 6 ? 1.5 : w >= 3 ? 1 : 0; // a gap where one block ends and the next begins
        d += `M${fixed(x0)} ${rowY(row)}h${fixed(Math.max(w, 0.3))}v${ROW_HEIGHT}h${fixed(-Math.max(w, 0.3))}z`;
        at = rowEnd;
      }
      return d;
    };
    // Bytes no block covers (a fixed-size region's tail, shorter than a block) are hatched.
    let covered = 0;
    const uncovered: string[] = [];
    for (let b = region.firstBlock; b <= region.firstBlock + region.blockCount; b++) {
      const next = b < region.firstBlock + region.blockCount ? snapshot.blocks[b]!.offset - region.offset : region.size;
      if (next > covered) uncovered.push(segments(covered, next, false));
      if (b < region.firstBlock + region.blockCount) covered = next + snapshot.blocks[b]!.size;
    }
    if (uncovered.length > 0) out.push(`<path class="noblock" d="${uncovered.join("")}"><title>no block: too small for one</title></path>`);
    const merging = snapshot.blocks.length > BLOCKS_DRAWN_ONE_BY_ONE;
    for (let b = region.firstBlock; b < region.firstBlock + region.blockCount; ) {
      const block = snapshot.blocks[b]!;
      const start = block.offset - region.offset;
      // Past the limit, this block and the neighbours after it that end within its pixel, each narrower than one.
      let last = b;
      if (merging && block.size * scale < 1) {
        while (last + 1 < region.firstBlock + region.blockCount) {
          const next = snapshot.blocks[last + 1]!;
          const end = snapshot.blocks[last]!.offset + snapshot.blocks[last]!.size;
          if (!(next.offset === end && next.size * scale < 1 && (next.offset + next.size - block.offset) * scale <= 1)) break;
          last++;
        }
      }
      if (last === b) {
        const scattered = block.state === "free" && block.size < totals.largestFree;
        out.push(
          `<path class="block ${block.state}${scattered ? " scattered" : ""}" d="${segments(start, start + block.size)}"><title>${escape(describeBlock(block, region, totals.largestFree))}</title></path>`,
        );
      } else {
        const group = snapshot.blocks.slice(b, last + 1);
        const end = group[group.length - 1]!.offset + group[group.length - 1]!.size - region.offset;
        const state = mostBytes(group);
        const scattered = state === "free" && group.every((one) => one.state !== "free" || one.size < totals.largestFree);
        out.push(
          `<path class="block ${state}${scattered ? " scattered" : ""}" d="${segments(start, end)}"><title>${escape(describeGroup(group, region))}</title></path>`,
        );
      }
      b = last + 1;
    }
    y = rowY(rows) - ROW_GAP + REGION_GAP;
  }
  if (snapshot.regions.length === 0) out.push(text(MARGIN, (y += 16), "no committed regions", "region"));

  const height = Math.ceil(y + MARGIN);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escape(`Memory map of pool '${snapshot.pool}'`)}</title>`,
    `<style>${STYLE}</style>`,
    `<defs><pattern id="noblock" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f5f5f5"/><rect width="2" height="6" fill="#cfcfcf"/></pattern></defs>`,
    `<rect class="background" width="${width}" height="${height}"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

const STYLE = [
  "text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#1f2933}",
  ".title{font-size:16px;font-weight:600}",
  ".summary{font-size:12.5px}",
  ".region{font-size:12px;font-weight:600;fill:#3e4c59}",
  ".note,.legend{font-size:11.5px;fill:#52606d}",
  ".address{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:10.5px;fill:#7b8794}",
  ".end{text-anchor:end}",
  ".background{fill:#ffffff}",
  ".noblock{fill:url(#noblock)}",
  ...Object.entries(COLOURS).map(([state, { fill }]) => `.${state}{fill:${fill}}`),
  `.scattered{fill:${SCATTERED_FREE}}`,
  ".block:hover{stroke:#111;stroke-width:1.5}",
].join("");

interface Totals {
  live: number;
  requested: number;
  liveBytes: number;
  /** Blocks freed on a stream whose work is not done: still held, drawn as pending. */
  pendingBytes: number;
  otherBytes: number; // pending, guard, quarantined
  guardPages: number;
  quarantined: number;
  /** Free pages of guard regions: not free space for ordinary allocations. */
  guardFree: number;
  freeBytes: number;
  freeBlocks: number;
  largestFree: number;
  /** Free bytes in blocks smaller than the largest free block. */
  scattered: number;
  uncovered: number;
}

function tally(snapshot: PoolSnapshot): Totals {
  const totals: Totals = { live: 0, requested: 0, liveBytes: 0, pendingBytes: 0, otherBytes: 0, guardPages: 0, quarantined: 0, guardFree: 0, freeBytes: 0, freeBlocks: 0, largestFree: 0, scattered: 0, uncovered: 0 };
  for (const block of snapshot.blocks) {
    if (block.state === "live") {
      totals.live++;
      totals.requested += block.requestedSize ?? block.size;
      totals.liveBytes += block.size;
    } else if (block.state === "free") {
      totals.freeBlocks++;
      totals.freeBytes += block.size;
      totals.largestFree = Math.max(totals.largestFree, block.size);
    } else if (block.state === "guardFree") {
      totals.guardFree += block.size;
    } else {
      totals.otherBytes += block.size;
      if (block.state === "guard") totals.guardPages += block.size;
      if (block.state === "quarantined") totals.quarantined += block.size;
      if (block.state === "pending") totals.pendingBytes += block.size;
    }
  }
  for (const block of snapshot.blocks) if (block.state === "free" && block.size < totals.largestFree) totals.scattered += block.size;
  const covered = totals.liveBytes + totals.otherBytes + totals.freeBytes + totals.guardFree;
  totals.uncovered = snapshot.regions.reduce((sum, region) => sum + region.size, 0) - covered;
  return totals;
}

/** Reserved bytes as one bar: live, other held blocks, the largest free piece, free elsewhere, no block. */
function compositionBar(x: number, y: number, width: number, reserved: number, totals: Totals): string {
  const parts: [string, number, string][] = [
    [`class="live"`, totals.liveBytes, `live blocks: ${bytes(totals.liveBytes)}`],
    [`fill="${COLOURS.quarantined.fill}"`, totals.otherBytes, `pending, quarantined or guard: ${bytes(totals.otherBytes)}`],
    [`class="guardFree"`, totals.guardFree, `free guard-region pages (only allocations with guard pages use them): ${bytes(totals.guardFree)}`],
    [`class="free"`, totals.freeBytes - totals.scattered, `free in blocks of the largest size (${bytes(totals.largestFree)}): ${bytes(totals.freeBytes - totals.scattered)}`],
    [`class="scattered"`, totals.scattered, `free in smaller blocks, which a request over their size cannot use: ${bytes(totals.scattered)}`],
    [`class="noblock"`, totals.uncovered, `no block: ${bytes(totals.uncovered)}`],
  ];
  const shapes: string[] = [];
  let at = x;
  for (const [paint, size, title] of parts) {
    if (size <= 0 || reserved === 0) continue;
    const w = (size / reserved) * width;
    shapes.push(`<rect ${paint} x="${fixed(at)}" y="${y}" width="${fixed(Math.max(w, 1))}" height="12"><title>${escape(title)}</title></rect>`);
    at += w;
  }
  return `<g class="composition">${shapes.join("")}<rect x="${x}" y="${y}" width="${width}" height="12" fill="none" stroke="#9aa5b1" stroke-width="0.8"/></g>`;
}

/** Whether the debug layer placed the region (guard pages and their free pages; never a free block of the strategy). */
function guardRegion(snapshot: PoolSnapshot, region: SnapshotRegion): boolean {
  const blocks = snapshot.blocks.slice(region.firstBlock, region.firstBlock + region.blockCount);
  return region.freeBlocks === 0 && blocks.some((block) => block.state === "guard" || block.state === "guardFree");
}

function blockBytes(snapshot: PoolSnapshot, region: SnapshotRegion, state: BlockState): number {
  let sum = 0;
  for (let b = region.firstBlock; b < region.firstBlock + region.blockCount; b++) if (snapshot.blocks[b]!.state === state) sum += snapshot.blocks[b]!.size;
  return sum;
}

/** Appends a swatch and its label at the cursor, wrapping to a new line past `right`. */
function legendItem(out: string[], cursor: { x: number; y: number }, right: number, swatch: string, label: string): void {
  const itemWidth = 17 + label.length * 6.3; // 11.5px text runs about 6.3px a character
  if (cursor.x > MARGIN && cursor.x + itemWidth > right) {
    cursor.x = MARGIN;
    cursor.y += 20;
  }
  out.push(`<g transform="translate(${fixed(cursor.x)} ${cursor.y})">${swatch}</g>`);
  out.push(text(cursor.x + 17, cursor.y + 10, label, "legend"));
  cursor.x += itemWidth + 16;
}

function describeBlock(block: SnapshotBlock, region: SnapshotRegion, largestFree: number): string {
  const where = `at +0x${block.offset.toString(16)} (region ${region.index})`;
  if (block.state === "free") return `free: ${formatBytes(block.size)} ${where}${block.size < largestFree ? `, smaller than the largest free block (${bytes(largestFree)})` : ""}`;
  if (block.state === "guardFree") return `free guard-region pages: ${formatBytes(block.size)} ${where}, for allocations with guard pages`;
  const parts = [`${block.state}: allocation #${block.id ?? "?"}, ${formatBytes(block.size)} block`];
  if (block.requestedSize !== undefined && block.requestedSize !== block.size) parts[0] += ` (asked ${formatBytes(block.requestedSize)})`;
  parts.push(where);
  const ages: string[] = [];
  if (block.age !== undefined) ages.push(`${block.age} allocation${block.age === 1 ? "" : "s"} ago`);
  if (block.ageMs !== undefined) ages.push(`${block.ageMs.toFixed(1)} ms ago`);
  if (ages.length > 0) parts.push(`allocated ${ages.join(", ")}`);
  let description = parts.join(", ");
  if (block.stack !== undefined) description += `\n${block.stack}`;
  return description;
}

/** The state that holds most of a group's bytes (the first such, where two hold as many): its colour in the picture. */
function mostBytes(group: readonly SnapshotBlock[]): BlockState {
  const held = new Map<BlockState, number>();
  for (const block of group) held.set(block.state, (held.get(block.state) ?? 0) + block.size);
  let most = group[0]!.state;
  for (const [state, size] of held) if (size > held.get(most)!) most = state;
  return most;
}

/** A group of blocks narrower than a pixel, drawn as one: where it lies and what its blocks are. */
function describeGroup(group: readonly SnapshotBlock[], region: SnapshotRegion): string {
  const first = group[0]!;
  const size = group.reduce((sum, block) => sum + block.size, 0);
  const counts = new Map<BlockState, { blocks: number; size: number }>();
  for (const block of group) {
    const count = counts.get(block.state) ?? { blocks: 0, size: 0 };
    count.blocks++;
    count.size += block.size;
    counts.set(block.state, count);
  }
  const parts = [...counts].map(([state, count]) => `${count.blocks} ${COLOURS[state].label} (${formatBytes(count.size)})`);
  return `${group.length} blocks under a pixel wide, ${formatBytes(size)} at +0x${first.offset.toString(16)} (region ${region.index}): ${parts.join(", ")}`;
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : `${bytes(n)} (${n.toLocaleString("en-US")} B)`;
}

/**
 * The smallest power of two (from 256 B) that shows `reserved` bytes in at most about `rows` rows;
 * for fixed-size blocks, the nearest whole number of blocks, so the blocks line up in columns.
 */
function chooseRowBytes(reserved: number, rows: number, stride: number | undefined): number {
  let rowBytes = ROW_BYTES_MIN;
  while (reserved / rowBytes > rows) rowBytes *= 2;
  if (stride === undefined) return rowBytes;
  return stride * Math.max(1, Math.round(rowBytes / stride));
}

function text(x: number, y: number, content: string, className: string): string {
  return `<text class="${className}" x="${fixed(x)}" y="${fixed(y)}">${escape(content)}</text>`;
}

/** Throws InvalidSnapshotError for anything that is not a pool snapshot this version can draw. */
function checkSnapshot(snapshot: unknown): asserts snapshot is PoolSnapshot {
  const fail = (what: string): never => {
    throw new InvalidSnapshotError(`not a memory-pool snapshot: ${what} (take one with pool.snapshot(), or load the JSON it was saved as)`);
  };
  const whole = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (!isRecord(snapshot)) return fail(`got ${describe(snapshot)}`);
  if (snapshot.format !== "memory-pool/snapshot") fail(`format is ${describe(snapshot.format)}`);
  if (snapshot.version !== 1) fail(`version ${describe(snapshot.version)} is not 1`);
  for (const field of ["pool", "kind", "takenAt"] as const) if (typeof snapshot[field] !== "string") fail(`${field} is ${describe(snapshot[field])}, not a string`);
  const config = snapshot.config;
  if (!isRecord(config)) return fail(`config is ${describe(config)}, not an object`);
  if (config.allocatorType !== "FixedSize" && config.allocatorType !== "Variable") fail(`config.allocatorType is ${describe(config.allocatorType)}`);
  if (config.allocatorType === "FixedSize" && !(whole(config.blockSize) && (config.blockSize as number) > 0)) fail(`config.blockSize is ${describe(config.blockSize)}`);
  // The map reads two figures of the statistics (what the blocks cannot say).
  const stats = snapshot.stats;
  if (!isRecord(stats)) return fail(`stats is ${describe(stats)}, not an object`);
  for (const field of ["peakBytesReserved", "canaryBytes"] as const) if (!whole(stats[field])) fail(`stats.${field} is ${describe(stats[field])}, not a whole number`);
  const { regions, blocks } = snapshot;
  if (!Array.isArray(regions) || !Array.isArray(blocks)) return fail("regions and blocks must be arrays");
  for (const [b, block] of blocks.entries()) {
    if (!isRecord(block)) return fail(`block ${b} is ${describe(block)}`);
    if (!(typeof block.state === "string" && Object.hasOwn(COLOURS, block.state))) fail(`block ${b} has the unknown state ${describe(block.state)}`);
    if (!(whole(block.offset) && whole(block.size) && (block.size as number) > 0)) fail(`block ${b} has no whole offset and size`);
    for (const field of ["id", "requestedSize", "age"] as const) {
      if (block[field] !== undefined && !whole(block[field])) fail(`block ${b} has ${field} ${describe(block[field])}`);
    }
    if (block.ageMs !== undefined && !(typeof block.ageMs === "number" && Number.isFinite(block.ageMs))) fail(`block ${b} has ageMs ${describe(block.ageMs)}`);
    if (block.stack !== undefined && typeof block.stack !== "string") fail(`block ${b} has a stack that is ${describe(block.stack)}`);
  }
  // Regions in address order, each over its own run of blocks, in address order, inside it.
  let regionsEnd = 0;
  let blocksEnd = 0;
  for (const [r, region] of regions.entries()) {
    if (!isRecord(region)) return fail(`region ${r} is ${describe(region)}`);
    for (const field of ["index", "offset", "size", "liveBlocks", "freeBlocks", "freeBytes", "largestFreeBlock", "firstBlock", "blockCount"] as const) {
      if (!whole(region[field])) fail(`region ${r} has ${field} ${describe(region[field])}, not a whole number`);
    }
    const { offset, size, firstBlock, blockCount } = region as unknown as SnapshotRegion;
    if (offset < regionsEnd) fail(`region ${r} overlaps the one before it or is out of order`);
    if (firstBlock < blocksEnd || firstBlock + blockCount > blocks.length) fail(`region ${r} names blocks another region has, or past the end of the list`);
    let end = offset;
    for (let b = firstBlock; b < firstBlock + blockCount; b++) {
      const block = blocks[b] as SnapshotBlock;
      if (block.offset < end || block.offset + block.size > offset + size) fail(`block ${b} overlaps the block before it or lies outside its region ${r}`);
      end = block.offset + block.size;
    }
    regionsEnd = offset + size;
    blocksEnd = firstBlock + blockCount;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
