/**
 * glibc's malloc tests of its free-list hardening (malloc/tst-safe-linking.c: a freed chunk's next
 * pointer overwritten, the next malloc must not follow it; tst-tcfree1/2/3: a double free of a
 * tcache chunk between other frees is caught) and the heap-exploitation programs of shellphish's
 * how2heap that those checks answer (tcache_poisoning, fastbin_dup, house_of_spirit,
 * overlapping_chunks, poison_null_byte, unsafe_unlink), read and retold for this library's pools,
 * whose block records live out of band (no pointer or size is kept in the memory a block hands out):
 * native code writes over freed blocks (a forged next pointer into a live block, another freed block,
 * outside the pool, garbage; the rest 0x41), over the 16 bytes before a block (a forged prev_size and
 * a size 64 times larger), a null byte into a freed neighbour, forged fd/bk links into a freed block
 * before its neighbours' frees merge the space; frees a block twice between other frees; frees forged
 * blocks (inside a live block, in JavaScript memory behind a forged size field, far past the pool).
 * After each, every block the pool hands out is one of its own: inside one of its regions, aligned,
 * overlapping no live block, never one that is live, and every live block's stamp intact; the double
 * and forged frees are DoubleFreeError / InvalidPointerError and change no count. Sizes 24 B to
 * 4 KiB (48 and 64 on FixedSize 64), on six CPU shapes (JavaScript bins and cache, mutex, lockFree
 * shards and stack, thread caches), in a child process: a forged pointer handed out and written
 * would fault. No defect found: the out-of-band records (tlsf.zig, fixed.zig, lockfree_fixed.zig and
 * the JavaScript bins' arrays of pointers) never read what a stray write leaves in a block.
 * Left out: glibc's safe-linking mangling itself (PROTECT_PTR: there is no in-band pointer to mangle)
 * and the house_of_* programs that need realloc, mmap thresholds or top-chunk sizes (no such things here).
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("writes over freed blocks and beside live ones never steer the pool: every block it hands out is its own", async () => {
  const run = await runBun(attackFixture("suite-safe-linking-child.ts"), [], { timeout: 60_000 });
  expect(run.stderr).toBe("");
  expect([run.exitCode, run.signalCode]).toEqual([0, null]);
  const results = JSON.parse(run.stdout) as Record<string, Record<string, string[]>>;
  expect(Object.keys(results).length).toBe(6);
  const wrong: string[] = [];
  let cases = 0;
  for (const [shape, row] of Object.entries(results)) {
    for (const [name, problems] of Object.entries(row)) {
      cases++;
      for (const problem of problems) wrong.push(`${shape}, ${name}: ${problem}`);
    }
  }
  expect(cases).toBe(3 * 4 * 4 + 3 * 4 * 2);
  expect(wrong).toEqual([]);
}, 60_000);
