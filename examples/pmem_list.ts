/**
 * A persistent linked list (a guest book) in a PMEM pool, updated by two processes. Each entry is
 * published by the link to it: pool.link() writes the link and makes the new block an allocation
 * in one crash-atomic step, so a crash at any instant leaves the list whole and no block behind that
 * nothing reaches. A child process reopens the list, signs it, drops the oldest entry (unlinked and
 * freed in one step), starts a draft it never publishes, and exits without closing; the parent then
 * finds the list and nothing else.
 *
 *   PMEM_IS_PMEM_FORCE=1 bun examples/pmem_list.ts [pool file]
 */
import { rmSync } from "node:fs";
import { type Allocation, LINK_BYTES, MemoryPoolManager, type PMEMMemoryPool } from "bun-memory-pool";
import { twoProcessArgs } from "./support/cli.ts";

const usage = `Usage: PMEM_IS_PMEM_FORCE=1 bun examples/pmem_list.ts [pool file]

Keeps a guest book as a persistent linked list; a child process reopens it and signs it.
The pool file defaults to a new file in /dev/shm (or the temporary folder), removed at the end.

Options:
  -h, --help  show this help`;
const { isChild, path } = twoProcessArgs(usage, "pmem_list");
const KEEP = 3; // entries the book keeps

const open = (): PMEMMemoryPool => MemoryPoolManager.getInstance().createPMEMPool("guest_book", { pmemPoolPath: path, initialSize: 1024 * 1024 });

// An entry: [0, 8) the link to the next (older) entry, then a u32 length and the text in UTF-8.
const TEXT_AT = LINK_BYTES + 4;

/** The root "book" holds the link to the newest entry (a zero-filled block the first time). */
const bookOf = (pool: PMEMMemoryPool): Allocation => pool.root("book", LINK_BYTES);

function entries(pool: PMEMMemoryPool): Allocation[] {
  const found: Allocation[] = [];
  for (let entry = pool.linked(bookOf(pool), 0); entry !== undefined; entry = pool.linked(entry, 0)) found.push(entry);
  return found;
}

const textOf = (entry: Allocation): string => {
  const length = new DataView(entry.bytes.buffer, entry.bytes.byteOffset).getUint32(LINK_BYTES, true);
  return new TextDecoder().decode(entry.bytes.subarray(TEXT_AT, TEXT_AT + length));
};

/** A new entry, written and persisted but not yet published: a crash now would leave it free. */
function draft(pool: PMEMMemoryPool, text: string, next: Allocation | undefined): Allocation {
  const encoded = new TextEncoder().encode(text);
  const entry = pool.allocate(TEXT_AT + encoded.length);
  pool.link(entry, 0, next ?? null); // its own link to the older entries (the entry is not published yet)
  new DataView(entry.bytes.buffer, entry.bytes.byteOffset).setUint32(LINK_BYTES, encoded.length, true);
  entry.bytes.set(encoded, TEXT_AT);
  pool.persist(entry);
  return entry;
}

/** Signs the book: the new entry is published by the book's link to it, atomically. */
function sign(pool: PMEMMemoryPool, text: string): void {
  const book = bookOf(pool);
  pool.link(book, 0, draft(pool, text, pool.linked(book, 0)));
  const all = entries(pool);
  // Past KEEP entries, unlink the oldest from the one before it and free it, in one step.
  if (all.length > KEEP) pool.link(all[all.length - 2]!, 0, null, { freePrevious: true });
}

if (isChild) {
  const pool = open();
  const found = entries(pool);
  console.log(`[child ${process.pid}] reopened the book (created: ${pool.created}): ${found.length} entries, the newest "${textOf(found[0]!)}"`);
  sign(pool, `signed by process ${process.pid}`);
  draft(pool, "a draft never published", pool.linked(bookOf(pool), 0)); // no root or link reaches it
  console.log(`[child ${process.pid}] signed, dropped the oldest entry, left a draft unpublished, and exits without closing the pool`);
  process.exit(0);
}

rmSync(path, { force: true });
const pool = open();
for (const text of ["first guest", "second guest", "third guest"]) sign(pool, text);
console.log(`[parent] created ${path} and signed it ${entries(pool).length} times`);
pool.close();

const child = Bun.spawnSync([process.execPath, import.meta.path, "--child", path], { stdout: "inherit", stderr: "inherit" });
if (child.exitCode !== 0) throw new Error(`the child failed with ${child.exitCode}`);

const again = open();
const book = entries(again);
console.log(`[parent] reopened the book: ${book.length} entries, newest first:`);
for (const entry of book) console.log(`  ${textOf(entry)}`);
const unreachable = again.allocations({ unreachable: true }).length;
console.log(`[parent] ${again.getStats().liveAllocations} live allocations (the book and its entries); ${unreachable} that no root reaches: the child's draft was never published, so it was never kept`);
again.close();
rmSync(path);
console.log("[parent] removed the pool file");
