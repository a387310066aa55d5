// Every ```ts block of the README runs as written, each in a process of its own, as a reader would
// paste it: only the package name becomes the path of src/index.ts, and the PMEM block's pool file
// under /dev/shm becomes a file of this run. A block after `<!-- file: NAME -->` is a file another
// block uses (a Worker's script): it is written next to them, not run alone. Blocks that need a GPU
// or libpmem skip, saying why, where there is none (the GPU ones run on the GPU machine).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gpuUnavailableReason, pmemUnavailableReason } from "../src/native";

const root = join(import.meta.dir, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const folder = mkdtempSync(join(tmpdir(), "memory-pool-readme-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Block {
  section: string;
  code: string;
  file: string | undefined;
}

/** The ts blocks in order, each with the heading it is under and its file marker, if any. */
function tsBlocks(): Block[] {
  const blocks: Block[] = [];
  let section = "(top)";
  const pattern = /^(#{1,4}) (.+)$|(?:<!-- file: (\S+) -->\n)?^```ts\n([\s\S]*?)^```$/gm;
  for (const match of readme.matchAll(pattern)) {
    if (match[2] !== undefined) section = match[2];
    else blocks.push({ section, code: match[4]!, file: match[3] });
  }
  return blocks;
}

const whyNoGPU = gpuUnavailableReason();
const noGPU = whyNoGPU === undefined ? undefined : `no GPU here: ${whyNoGPU}`;
const whyNoPMEM = pmemUnavailableReason();
const noPMEM = whyNoPMEM === undefined ? undefined : `no libpmem here: ${whyNoPMEM}`;
const PMEM_FILE = "/dev/shm/my_persistent_pool.pool";

function asRun(code: string): string {
  return code.replaceAll(`from "bun-memory-pool"`, `from ${JSON.stringify(join(root, "src", "index.ts"))}`).replaceAll(PMEM_FILE, join(folder, "my_persistent_pool.pool"));
}

const blocks = tsBlocks();
for (const block of blocks) if (block.file !== undefined) writeFileSync(join(folder, block.file), asRun(block.code));

describe("the README's code blocks", () => {
  test("there are blocks in every section a reader tries first, and every file a block uses is one", () => {
    const sections = new Set(blocks.map((b) => b.section));
    for (const wanted of ["A first pool", "Configuration", "Statistics", "Threads", "Debugging", "GPU", "PMEM", "Seeing the memory"]) expect([wanted, sections.has(wanted)]).toEqual([wanted, true]);
    for (const block of blocks.filter((b) => b.file === undefined)) {
      for (const [, used] of block.code.matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) expect(blocks.some((b) => b.file === used)).toBe(true);
    }
  });

  blocks.forEach((block, index) => {
    if (block.file !== undefined) return;
    const needs = /createGPUPool|allocateGPU/.test(block.code) ? noGPU : /createPMEMPool/.test(block.code) ? noPMEM : undefined;
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
      if (block.section === "A first pool") expect(stdout).toContain("Memory pool 'main_cpu_pool'");
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
