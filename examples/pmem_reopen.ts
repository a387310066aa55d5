/**
 * Reopening a PMEM pool in a new process: this script writes a small journal into a pool, then runs
 * itself again as a child process that reopens the file, finds the journal through its root, appends
 * to it with a copy-on-write update, and exits without closing anything. The parent then reopens the
 * pool once more and reads what both processes wrote.
 *
 *   PMEM_IS_PMEM_FORCE=1 bun examples/pmem_reopen.ts [pool file]
 */
import { rmSync } from "node:fs";
import { type Allocation, MemoryPoolManager, type PMEMMemoryPool } from "bun-memory-pool";
import { twoProcessArgs } from "./support/cli.ts";

const usage = `Usage: PMEM_IS_PMEM_FORCE=1 bun examples/pmem_reopen.ts [pool file]

Writes a journal into a PMEM pool, has a child process reopen and append to it, then reads both.
The pool file defaults to a new file in /dev/shm (or the temporary folder), removed at the end.

Options:
  -h, --help  show this help`;
const { isChild, path } = twoProcessArgs(usage, "pmem_reopen");

const open = (): PMEMMemoryPool =>
  MemoryPoolManager.getInstance().createPMEMPool("journal_pool", { pmemPoolPath: path, initialSize: 1024 * 1024 });

/** The journal: lines of text, stored as one block; an update writes a new block and swaps the root. */
function readJournal(pool: PMEMMemoryPool): string[] {
  const block = pool.getRoot("journal");
  return block === undefined ? [] : new TextDecoder().decode(block.bytes).split("\n");
}

function writeJournal(pool: PMEMMemoryPool, lines: string[]): Allocation {
  const text = new TextEncoder().encode(lines.join("\n"));
  const block = pool.allocate(text.length);
  pool.memcpyPersist(block, text); // contents durable first ...
  pool.setRoot("journal", block, { freePrevious: true }); // ... then published, and the old version freed, in one step
  return block;
}

if (isChild) {
  const pool = open();
  const lines = readJournal(pool);
  console.log(`[child ${process.pid}] reopened the pool (created: ${pool.created}) and found ${lines.length} line(s): "${lines.at(-1)}"`);
  writeJournal(pool, [...lines, `process ${process.pid} was here`]);
  console.log(`[child ${process.pid}] appended a line and exits without closing the pool`);
  process.exit(0);
}

rmSync(path, { force: true });
const pool = open();
console.log(`[parent] created ${path} (created: ${pool.created})`);
writeJournal(pool, ["written by the first process"]);
pool.close();

const child = Bun.spawnSync([process.execPath, import.meta.path, "--child", path], { stdout: "inherit", stderr: "inherit" });
if (child.exitCode !== 0) throw new Error(`the child failed with ${child.exitCode}`);

const again = open();
const lines = readJournal(again);
console.log(`[parent] reopened the pool: ${lines.length} lines, ${again.getStats().liveAllocations} live allocation (the old versions were freed)`);
for (const line of lines) console.log(`  ${line}`);
again.close();
rmSync(path);
console.log("[parent] removed the pool file");
