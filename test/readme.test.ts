// Every ```ts block of the README runs as written, each in a process of its own, as a reader would
// paste it: only the package name becomes the path of src/index.ts, and the PMEM block's pool file
// under /dev/shm becomes a file of this run. A block after `<!-- file: NAME -->` is a file another
// block uses (a Worker's script): it is written next to them, not run alone. Blocks that need a GPU
// or libpmem skip, saying why, where there is none (the GPU ones run on the GPU machine).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type TypeScript from "typescript";
import * as api from "../src/index";
import { gpuUnavailableReason, pmemUnavailableReason } from "../src/native";
import { blockNeeds, poolFileIn, README_PATH, readmeBlocks } from "./support/readme_blocks";
import { missingTypeTools, runsHere } from "./support/tools";

// The compiler reads src/index.ts's exports, where it is installed (a copy with only bun and mitata has none).
const parses = runsHere("test/readme: the exports named", missingTypeTools(["typescript"]));
let ts: typeof TypeScript;
if (parses) ts = (await import("typescript")).default;

const root = join(import.meta.dir, "..");
const readme = readFileSync(README_PATH, "utf8");
const folder = mkdtempSync(join(tmpdir(), "memory-pool-readme-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const whyNoGPU = gpuUnavailableReason();
const noGPU = whyNoGPU === undefined ? undefined : `no GPU here: ${whyNoGPU}`;
const whyNoPMEM = pmemUnavailableReason();
const noPMEM = whyNoPMEM === undefined ? undefined : `no libpmem here: ${whyNoPMEM}`;
function asRun(code: string): string {
  return poolFileIn(code.replaceAll(`from "bun-memory-pool"`, `from ${JSON.stringify(join(root, "src", "index.ts"))}`), folder);
}

const blocks = readmeBlocks(readme);
for (const block of blocks) if (block.file !== undefined) writeFileSync(join(folder, block.file), asRun(block.code));

/**
 * What the blocks that print must print, as the README says around them (the block found by a
 * line of its code): a block that runs but prints something else than its comments promise fails.
 */
const printed: { block: string; prints: RegExp[] }[] = [
  { block: `createCPUPool("main_cpu_pool", config)`, prints: [/^Memory pool 'main_cpu_pool'$/m, /^ {2}live allocations +0 /m] },
  // "cumulative: 4000 and 1000 here"
  { block: `createCPUPool("stats_demo")`, prints: [/^Memory pool 'stats_demo'$/m, /^ {2}allocated \/ freed +3\.91 KiB \/ 1000 B in 2 \/ 1 calls/m, /^ {2}live allocations +1 \(peak 2\)$/m] },
  // the window opt-in: the same view for the block's next allocation, and its buffer the window
  { block: `createCPUPool("hot", PoolConfig.FixedSizeCPU(64))`, prints: [/^sum 12742320; the same view again: true; its buffer: \d{7,} bytes of the pool$/m] },
  { block: `createCPUPool("shared", config)`, prints: [/^live allocations after the Worker freed it: 0$/m] },
  // "one byte too many: it lands in the canary": allocation #1, after it, 13 bytes from its start, and its stack
  { block: `libc.symbols.memset(a.ptr, 0, 14)`, prints: [/^1 after 13 +at .+:\d+:\d+$/m] },
  // the list of one node, 64 bytes
  { block: `pm.root("list", 8)`, prints: [/^64$/m] },
  { block: `createCPUPool("seen"`, prints: [/^ {2}seen +cpu +Variable /m, /^CPUMemoryPool 'seen' \(cpu, Variable\): 2 live allocations, /m] },
];

/** Every name src/index.ts exports, values and types, read from its export statements. */
function exportedNames(): string[] {
  const path = join(root, "src", "index.ts");
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.ESNext);
  return source.statements.flatMap((statement) =>
    ts.isExportDeclaration(statement) && statement.exportClause !== undefined && ts.isNamedExports(statement.exportClause) ? statement.exportClause.elements.map((element) => element.name.text) : [],
  );
}

describe("the README names the API", () => {
  test.skipIf(!parses)("every export of the package is named in the README, so a user can find what it is", () => {
    const names = exportedNames();
    expect(names.length).toBeGreaterThan(80);
    expect(names.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme))).toEqual([]);
  });

  test("every link to a section of the README names a heading there", () => {
    // GitHub's anchors: the heading in lower case, spaces to hyphens, other punctuation dropped.
    const anchors = new Set([...readme.matchAll(/^#{1,4} (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^\w\- ]/g, "").replaceAll(" ", "-")));
    const links = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]!);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  test("every npm script and every file of the repository it names is there", () => {
    const { scripts } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const named = [...readme.matchAll(/\bnpm run ([a-z:]+)/g)].map((match) => match[1]!);
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((script) => scripts[script] === undefined)).toEqual([]);
    const files = [...readme.matchAll(/\b((?:bench|examples|test|src|zig|docs|cuda|\.ci)\/[\w./-]+\.(?:ts|mjs|zig|cu|svg|json|md))\b/g)].map((match) => match[1]!);
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((file) => !existsSync(join(root, file)))).toEqual([]);
  });

  test("every error class is in the Errors section", () => {
    const section = readme.slice(readme.indexOf("### Errors"), readme.indexOf("### Types"));
    const classes = Object.keys(api).filter((name) => name.endsWith("Error"));
    expect(classes.length).toBeGreaterThan(20);
    expect(classes.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});

describe("the README's code blocks", () => {
  test("every block that prints has what it prints checked here, and every check names one block", () => {
    const printing = blocks.filter((b) => b.file === undefined && b.code.includes("console.log"));
    for (const block of printing) expect([block.index, printed.filter((p) => block.code.includes(p.block)).length]).toEqual([block.index, 1]);
    for (const { block } of printed) expect([block, blocks.filter((b) => b.code.includes(block)).length]).toEqual([block, 1]);
  });

  test("there are blocks in every section a reader tries first, and every file a block uses is one", () => {
    const sections = new Set(blocks.map((b) => b.section));
    for (const wanted of ["A first pool", "Configuration", "Statistics", "Threads", "Debugging", "GPU", "PMEM", "Seeing the memory"]) expect([wanted, sections.has(wanted)]).toEqual([wanted, true]);
    for (const block of blocks.filter((b) => b.file === undefined)) {
      for (const [, used] of block.code.matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) expect(blocks.some((b) => b.file === used)).toBe(true);
    }
  });

  blocks.forEach((block) => {
    const index = block.index - 1;
    if (block.file !== undefined) return;
    const needs = { gpu: noGPU, pmem: noPMEM, none: undefined }[blockNeeds(block) ?? "none"];
    const name = `block ${index + 1} (${block.section}) runs as written${needs === undefined ? "" : ` (skipped: ${needs})`}`;
    test.skipIf(needs !== undefined)(name, () => {
      const file = join(folder, `block-${index + 1}.ts`);
      writeFileSync(file, asRun(block.code));
      const env = { ...process.env, PMEM_IS_PMEM_FORCE: "1" };
      const result = Bun.spawnSync([process.execPath, file], { cwd: folder, env, stdout: "pipe", stderr: "pipe" });
      const stdout = result.stdout.toString();
      const stderr = result.stderr.toString();
      if (result.exitCode !== 0 || stderr !== "") console.error(`README block ${index + 1} (${block.section}):\n${block.code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
      expect(stderr).toBe("");
      expect(result.exitCode).toBe(0);
      for (const pattern of printed.find((p) => block.code.includes(p.block))?.prints ?? []) expect(stdout).toMatch(pattern);
    });
  });

  test("the guard-page fault output it shows is what such a fault prints: the core's report, then Bun's banner", () => {
    const shown = /\*\*What a guard-page fault prints\.\*\*[\s\S]*?\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    const script = `
      import { dlopen, FFIType } from "bun:ffi";
      import { MemoryPoolManager, PoolConfig } from ${JSON.stringify(join(root, "src", "index.ts"))};
      const libc = dlopen("libc.so.6", { memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
      const pool = MemoryPoolManager.getInstance().createCPUPool("guarded", PoolConfig.DebugCPU());
      const a = pool.allocate(100);
      libc.symbols.memset(a.ptr, 0, 200);
    `;
    const file = join(folder, "overflow.ts");
    writeFileSync(file, script);
    const result = Bun.spawnSync([process.execPath, file], { stdout: "pipe", stderr: "pipe" });
    expect(result.exitCode).not.toBe(0);
    const printed = result.stdout.toString() + result.stderr.toString();
    // Each line the README shows (addresses and paths aside) is printed, in that order.
    const generic = (line: string) => line.replace(/0x[0-9a-fA-F]+/g, "0x?").replace(/at \S+:\d+:\d+/, "at ?").replace(/Bun v\S+ \(\w+\)/, "Bun v?").trim();
    const lines = printed.split("\n").map(generic);
    let at = 0;
    for (const line of shown!.split("\n").map(generic).filter((l) => l !== "" && l !== "...")) {
      const found = lines.indexOf(line, at);
      expect([line, found >= 0]).toEqual([line, true]);
      at = found + 1;
    }
  });
});
