/**
 * The memory map of a snapshot of many blocks. Found by drawing FixedSize pools of small blocks:
 * every block was an element of its own however narrow, so a pool of 64 MiB in 64 B blocks drew a
 * million paths (117 MB of SVG, 21 s) and one of a few GiB never finished, though the rows drawn were
 * already bounded. Past 65,536 blocks, neighbours each narrower than a pixel are now drawn together,
 * a pixel at a time, coloured by the state holding most of their bytes, with a title that counts them.
 */
import { expect, test } from "bun:test";
import { renderMemoryMap } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { allElements, parseXml, type XmlElement } from "../support/xml";

const pool = cpuPoolsPerTest();

function blockElements(svg: XmlElement): XmlElement[] {
  return allElements(svg).filter((e) => e.name === "path" && (e.attributes.class ?? "").split(" ").includes("block"));
}

test("a FixedSize pool of 131,072 blocks, every other one live, draws about one element a pixel, and every block is counted once", () => {
  const p = pool("attack14-many-blocks", { allocatorType: "FixedSize", blockSize: 16, initialSize: 2 << 20 });
  const pointers = Array.from({ length: 60_000 }, () => p.allocateRaw(16));
  pointers.forEach((pointer, i) => i % 2 === 1 && p.deallocate(pointer)); // live and free in turn: nothing to merge by state
  const snap = p.snapshot();
  expect(snap.blocks.length).toBe(131_072);
  const svgText = renderMemoryMap(snap);
  expect(svgText.length).toBeLessThan(8 << 20); // it was about 15 MB
  const elements = blockElements(parseXml(svgText));
  // 2 MiB in 32 rows of 64 KiB, 850 pixels a row: about 77 bytes (4.8 blocks) a pixel.
  expect(elements.length).toBeLessThan(40_000);
  let counted = 0;
  const states = new Set<string>();
  for (const element of elements) {
    const title = element.children.find((c) => c.name === "title")?.text ?? "";
    states.add(element.attributes.class!);
    const group = /^(\d+) blocks under a pixel wide, .* at \+0x[0-9a-f]+ \(region 0\): (.*)$/.exec(title);
    if (group === null) {
      // A block left alone where its pixel ends the row or the region: drawn as before.
      expect(title, title).toMatch(/^(free: 16 B|live: allocation #\d+, 16 B block) at \+0x[0-9a-f]+ \(region 0\)$/);
      counted++;
      continue;
    }
    counted += Number(group[1]);
    // Each part says how many of which state: they add up to the group.
    const parts = [...group[2]!.matchAll(/(\d+) (live|free) \(/g)].reduce((sum, part) => sum + Number(part[1]), 0);
    expect(parts).toBe(Number(group[1]));
  }
  expect(counted).toBe(131_072);
  expect(states).toEqual(new Set(["block live", "block free"])); // the live half, then the free tail
}, 30_000); // parsing the picture back takes seconds on a loaded machine
