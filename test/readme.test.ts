// Every ```ts block of the README runs as written, each in a process of its own, as a reader would
// paste it: only the package name becomes the path of src/index.ts, and the PMEM block's pool file
// under /dev/shm becomes a file of this run. A block after `<!-- file: NAME -->` is a file another
// block uses (a Worker's script): it is written next to them, not run alone. Blocks that need a GPU
// or libpmem skip, saying why, where there is none (the GPU ones run on the GPU machine).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { core, lastError } from "../src/native";

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

const deviceCount = core.mp_gpu_device_count();
const noGPU = deviceCount > 0 ? undefined : `no GPU here: ${deviceCount < 0 ? lastError() : "the CUDA driver sees no device"}`;
const noPMEM = core.mp_pmem_available() === 0 ? undefined : `no libpmem here: ${lastError()}`;
const PMEM_FILE = "/dev/shm/my_persistent_pool.pool";

function asRun(code: string): string {
  return code.replaceAll(`from "memory-pool"`, `from ${JSON.stringify(join(root, "src", "index.ts"))}`).replaceAll(PMEM_FILE, join(folder, "my_persistent_pool.pool"));
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
});
