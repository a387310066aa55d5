/**
 * The README's TypeScript blocks, as test/readme.test.ts runs them and test/types.test.ts
 * type-checks them: each with the heading it is under, and the file name given by a
 * `<!-- file: NAME -->` line just before it (a file another block uses, such as a Worker's script).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ReadmeBlock {
  /** 1-based, in the README's order. */
  index: number;
  section: string;
  code: string;
  file: string | undefined;
}

export const README_PATH = join(import.meta.dir, "..", "..", "README.md");

/** The ts blocks in order, each with the heading it is under and its file marker, if any. */
export function readmeBlocks(readme: string = readFileSync(README_PATH, "utf8")): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  let section = "(top)";
  const pattern = /^(#{1,4}) (.+)$|(?:<!-- file: (\S+) -->\n)?^```ts\n([\s\S]*?)^```$/gm;
  for (const match of readme.matchAll(pattern)) {
    if (match[2] !== undefined) section = match[2];
    else blocks.push({ index: blocks.length + 1, section, code: match[4]!, file: match[3] });
  }
  return blocks;
}

/** The pool file the PMEM blocks name; a run puts it in a folder of its own (poolFileIn). */
export const README_PMEM_FILE = "/dev/shm/my_persistent_pool.pool";

/** `code` with the PMEM blocks' pool file moved into `folder`, so runs of the blocks never share it. */
export function poolFileIn(code: string, folder: string): string {
  return code.replaceAll(README_PMEM_FILE, join(folder, "my_persistent_pool.pool"));
}

/** What a block needs beyond the CPU: a GPU, libpmem, or nothing. */
export function blockNeeds(block: ReadmeBlock): "gpu" | "pmem" | undefined {
  return /createGPUPool|allocateGPU/.test(block.code) ? "gpu" : /createPMEMPool/.test(block.code) ? "pmem" : undefined;
}
