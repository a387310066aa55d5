/**
 * An allocation's address, size and identity as a JavaScript caller can reach them. Found by
 * attacking main: `ptr`, `size`, `offset`, `id` and `pool` were readonly in the types only; at run
 * time they were plain writable properties, and native code trusts them. `a.size = 1 << 28` (as if
 * to resize the block) then `copy(a, array)` or `a.bytes` wrote far past the block and crashed the
 * process; `a.ptr = 4096` made copy() write at that address. They are now accessors over private
 * fields: an assignment is a TypeError (ES modules are strict) and changes nothing. In a child
 * process, so a crash is a failure naming the case.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("assigning to an allocation's ptr, size, id or pool throws a TypeError and changes nothing; to offset or epoch (private) reaches nothing the library reads", async () => {
  const run = await runChild("../../fixtures/attack/handle-fields-child.ts", []);
  expect({ signal: run.signalCode, stderr: run.stderr }).toEqual({ signal: null, stderr: "" });
  expect(run.exitCode).toBe(0);
  const results = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  expect(results).toEqual([
    ...["ptr", "size"].map((field) => ({ field, assignment: "TypeError", unchanged: true, copied: 64, viewBytes: 64, freed: true })),
    // `offset` is private since leftovers5 (no member), as `epoch` is: the assignment makes an own property the library never reads.
    { field: "offset", assignment: "none", unchanged: false, copied: 64, viewBytes: 64, freed: true },
    ...["id", "pool"].map((field) => ({ field, assignment: "TypeError", unchanged: true, copied: 64, viewBytes: 64, freed: true })),
    // `epoch` is private now (no member): the assignment makes an own property the library never reads.
    { field: "epoch", assignment: "none", unchanged: false, copied: 64, viewBytes: 64, freed: true },
  ]);
});

test("JSON.stringify of an allocation names it: pool, id, address and size", async () => {
  const { MemoryPoolManager } = await import("../../src/index");
  using pool = MemoryPoolManager.getInstance().createCPUPool("attack-handle-json");
  const a = pool.allocate(24);
  expect(JSON.parse(JSON.stringify(a))).toEqual({ pool: "attack-handle-json", id: a.id, ptr: a.ptr, size: 24 });
});
