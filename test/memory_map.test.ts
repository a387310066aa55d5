import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, InvalidSnapshotError, renderMemoryMap, type CPUMemoryPool, type PoolSnapshot } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { allElements, parseXml, type XmlElement } from "./support/xml";

const KiB = 1024;
const pool = cpuPoolsPerTest();

/** The <path class="block STATE"> elements, one per block. */
function blockElements(svg: XmlElement): XmlElement[] {
  return allElements(svg).filter((e) => e.name === "path" && (e.attributes.class ?? "").split(" ").includes("block"));
}

function titleOf(element: XmlElement): string {
  return element.children.find((c) => c.name === "title")?.text ?? "";
}

/** A variable-size pool left fragmented: freed blocks between live ones, over two regions. */
function fragmentedPool(name: string): CPUMemoryPool {
  const p = pool(name, { initialSize: 64 * KiB, growth: 1 });
  const live = Array.from({ length: 120 }, (_, i) => p.allocate(100 + ((i * 977) % 1500)));
  live.forEach((a, i) => i % 3 === 0 && a.free());
  return p;
}

describe("renderMemoryMap", () => {
  test("is well-formed XML with one element per block, in order, each titled with its details", () => {
    const snap = fragmentedPool("map-fragmented").snapshot();
    expect(snap.regions.length).toBeGreaterThan(1);
    const svg = parseXml(renderMemoryMap(snap));
    expect(svg.name).toBe("svg");
    expect(svg.attributes.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(Number(svg.attributes.width)).toBe(960);
    expect(Number(svg.attributes.height)).toBeGreaterThan(100);
    const blocks = blockElements(svg);
    expect(blocks.length).toBe(snap.blocks.length);
    blocks.forEach((element, i) => {
      const block = snap.blocks[i]!;
      expect(element.attributes.class!.split(" ")).toContain(block.state);
      expect(element.attributes.d).toMatch(/^(M[\d.]+ [\d.]+h[\d.]+v\d+h-[\d.]+z)+$/);
      const title = titleOf(element);
      expect(title).toContain(`at +0x${block.offset.toString(16)}`);
      if (block.state === "live") expect(title).toContain(`allocation #${block.id}`);
    });
    // Fragmentation shows: free blocks smaller than the largest one are marked, and the summary says how much.
    const largest = Math.max(...snap.blocks.filter((b) => b.state === "free").map((b) => b.size));
    const scattered = snap.blocks.filter((b) => b.state === "free" && b.size < largest).length;
    expect(scattered).toBeGreaterThan(0);
    expect(blocks.filter((e) => e.attributes.class!.includes("scattered")).length).toBe(scattered);
    const texts = allElements(svg).filter((e) => e.name === "text").map((e) => e.text);
    expect(texts.some((t) => t.includes(`fragmentation ${(snap.stats.fragmentation * 100).toFixed(1)} %`))).toBe(true);
    for (const region of snap.regions) expect(texts.some((t) => t.startsWith(`region ${region.index} at +0x${region.offset.toString(16)}`))).toBe(true);
  });

  test("a fixed-size pool: one element per slot, none scattered, its tail marked as no block", () => {
    const p = pool("map-fixed", { allocatorType: "FixedSize", blockSize: 1000, initialSize: 64 * KiB });
    const blocks = Array.from({ length: 30 }, () => p.allocate(1000));
    blocks.forEach((a, i) => i % 4 === 0 && a.free());
    const snap = p.snapshot();
    const svg = parseXml(renderMemoryMap(snap));
    const elements = blockElements(svg);
    expect(elements.length).toBe(65); // 64 KiB of 1008-byte slots
    expect(elements.filter((e) => e.attributes.class === "block live").length).toBe(22);
    expect(elements.some((e) => e.attributes.class!.includes("scattered"))).toBe(false);
    const noBlock = allElements(svg).filter((e) => e.attributes.class === "noblock" && e.name === "path");
    expect(noBlock.length).toBe(1); // the 16 bytes after the last slot
    const texts = allElements(svg).filter((e) => e.name === "text").map((e) => e.text);
    // a request over one block takes a run of free blocks in a row: the 35 after the last one taken
    expect(snap.stats.largestFreeBlock).toBe(35 * 1008);
    const fragmentation = `fragmentation ${(snap.stats.fragmentation * 100).toFixed(1)} %`;
    expect(fragmentation).toBe(`fragmentation ${((1 - 35 / 43) * 100).toFixed(1)} %`);
    expect(texts.filter((t) => t.includes(fragmentation)).length).toBe(2); // the pool's and its region's
  });

  test("10^4 blocks: still one element each", () => {
    const p = pool("map-many", { allocatorType: "FixedSize", blockSize: 16, initialSize: 192 * KiB });
    for (let i = 0; i < 6000; i++) p.allocateRaw(16);
    const snap = p.snapshot();
    expect(snap.blocks.length).toBe(12_288);
    expect(blockElements(parseXml(renderMemoryMap(snap))).length).toBe(12_288);
  });

  test("every state has its colour; names and stacks are escaped, and read back as they were", () => {
    const p = pool("map-states");
    const kept = [p.allocate(100), p.allocate(200), p.allocate(300), p.allocate(400)];
    const snap = p.snapshot({ details: ({ id }) => (id === kept[0]!.id ? { ageMs: 3, stack: `at <anonymous> (a&b.ts:1:1) "quoted" 'too'` } : undefined) });
    snap.pool = `<pool & "friends">`;
    snap.blocks[1]!.state = "pending";
    snap.blocks[2]!.state = "quarantined";
    snap.blocks[3]!.state = "guard";
    const svg = parseXml(renderMemoryMap(snap));
    expect(blockElements(svg).map((e) => e.attributes.class)).toEqual(["block live", "block pending", "block quarantined", "block guard", "block free"]);
    expect(titleOf(blockElements(svg)[0]!)).toContain(`at <anonymous> (a&b.ts:1:1) "quoted" 'too'`);
    expect(titleOf(blockElements(svg)[0]!)).toContain("3.0 ms ago");
    expect(svg.children.find((c) => c.name === "title")?.text).toBe(`Memory map of pool '<pool & "friends">'`);
    const legend = allElements(svg).filter((e) => e.attributes.class === "legend").map((e) => e.text);
    expect(legend.some((t) => t.startsWith("quarantined"))).toBe(true);
    expect(legend.some((t) => t.startsWith("guard pages"))).toBe(true);
  });

  test("draws a snapshot loaded from JSON exactly as the live one, at the width and row size asked", () => {
    const snap = fragmentedPool("map-json").snapshot();
    const loaded = JSON.parse(JSON.stringify(snap)) as PoolSnapshot;
    expect(renderMemoryMap(loaded)).toBe(renderMemoryMap(snap));
    const svg = parseXml(renderMemoryMap(snap, { width: 640, rowBytes: 4 * KiB }));
    expect(svg.attributes.width).toBe("640");
    const rows = allElements(svg).filter((e) => e.attributes.class === "address end");
    expect(rows.length).toBe(snap.regions.reduce((sum, r) => sum + Math.ceil(r.size / (4 * KiB)), 0));
  });

  test("anything that is not a snapshot is an InvalidSnapshotError; bad options a ConfigError", () => {
    const snap = pool("map-bad").snapshot();
    const broken: unknown[] = [
      null,
      42,
      {},
      { ...snap, format: "something else" },
      { ...snap, version: 2 },
      { ...snap, blocks: "none" },
      { ...snap, blocks: [{ ...snap.blocks[0]!, state: "haunted" }] },
      { ...snap, blocks: [{ ...snap.blocks[0]!, offset: snap.regions[0]!.size }] },
      { ...snap, regions: [{ ...snap.regions[0]!, blockCount: 5 }] },
    ];
    for (const bad of broken) {
      let caught: unknown;
      try {
        renderMemoryMap(bad as PoolSnapshot);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidSnapshotError);
      expect((caught as InvalidSnapshotError).code).toBe("INVALID_SNAPSHOT");
    }
    expect(() => renderMemoryMap(snap, { width: 100 })).toThrow(ConfigError);
    expect(() => renderMemoryMap(snap, { rowBytes: 0.5 })).toThrow(ConfigError);
  });
});

describe("the XML check itself", () => {
  test("accepts well-formed XML and refuses the rest", () => {
    expect(parseXml(`<?xml version="1.0"?><a x="1" y='&lt;2&gt;'><!-- c --><b/>t&amp;&#65;<![CDATA[<raw>]]></a>`).text).toBe("t&A<raw>");
    for (const bad of ["<a><b></a></b>", "<a x=1/>", '<a x="1" x="2"/>', "<a>&nope;</a>", "<a>a & b</a>", "<a/><b/>", "<a>", "text<a/>", '<a x="<"/>', '<a x="1"y="2"/>']) {
      expect(() => parseXml(bad)).toThrow();
    }
  });
});

describe("examples/render_memory_map.ts", () => {
  const script = join(import.meta.dir, "..", "examples", "render_memory_map.ts");
  const run = (...args: string[]) => {
    const result = Bun.spawnSync([process.execPath, script, ...args], { stdout: "pipe", stderr: "pipe" });
    return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };

  test("draws a saved snapshot to a file, and refuses a file that is none", () => {
    const dir = mkdtempSync(join(tmpdir(), "memory-map-"));
    const snap = fragmentedPool("map-saved").snapshot();
    writeFileSync(join(dir, "saved.json"), JSON.stringify(snap));
    const drawn = run(join(dir, "saved.json"), "--out", join(dir, "picture.svg"));
    expect(drawn.stderr).toBe("");
    expect(drawn.exitCode).toBe(0);
    expect(drawn.stdout).toContain(`Drew ${join(dir, "saved.json")} (pool 'map-saved', ${snap.blocks.length} blocks) to ${join(dir, "picture.svg")}.`);
    expect(readFileSync(join(dir, "picture.svg"), "utf8")).toBe(renderMemoryMap(snap));
    writeFileSync(join(dir, "other.json"), JSON.stringify({ hello: "world" }));
    const refused = run(join(dir, "other.json"));
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toContain("is no pool snapshot: not a memory-pool snapshot");
  });
});
