/**
 * test262's detached-buffer tests of typed arrays (built-ins/TypedArray/prototype/<every method>/
 * detached-buffer*.js, the length / byteLength / byteOffset getters' detached-buffer.js,
 * built-ins/TypedArrayConstructors/internals/{Get,Set,HasProperty,DefineOwnProperty,Delete,
 * GetOwnProperty,OwnPropertyKeys}/detached-buffer*.js, the constructors' ctors/buffer-arg and
 * typedarray-arg detached cases, built-ins/Atomics/(each)/validate-arraytype-before-index-coercion and detached cases,
 * built-ins/ArrayIteratorPrototype/next/detach-typedarray-in-progress.js, built-ins/ArrayBuffer/
 * prototype/{slice,transfer}/this-is-detached.js, built-ins/DataView/detached-buffer.js), read and
 * retold for this library's views: the spec's detached buffer is here an allocation's buffer after
 * the allocation ended, by each route that ends one: free(), deallocate(allocation), deallocate(ptr),
 * deallocate(bytes), deallocate(as(T)), Symbol.dispose, reset(), destroyPool, pool.destroy(), and the
 * helpers' deallocate(array). For every typed array type (Float16Array where the engine has it), every
 * kind of view a user holds (`.bytes`, `as(T)`, a subarray of it, `new T(bytes.buffer, 8)`), four
 * CPU pool shapes (Variable; mutex with thread caches; FixedSize lockFree; guard pages and canaries)
 * and two PMEM shapes where libpmem loads (Variable; FixedSize mutex; destroy is the pool's close),
 * each of 75 operations has the outcome it has on a typed array whose buffer the engine itself
 * detached (buffer.transfer()): the same return value or the same engine error class, never an error
 * of the library's. An iterator taken one step before the end throws on its next step as the
 * engine's does. The block's next allocation, stamped before the operations, keeps its stamp (no
 * write through a stale view reached pool memory), check() finds no damaged canary and the pool
 * balances. The reference outcomes are also held to the spec's (the getters read 0, the methods
 * throw TypeError, element writes are ignored, structuredClone is a DataCloneError), so the
 * comparison cannot pass by both sides being wrong alike. In a child process: a stale write that
 * reached a guard page would fault.
 * Left out: window views (windowBytes(), allocateWindowBytes(): never detached, by design and by
 * name, README "Allocations"); resizable and growable buffers (views are fixed-length by design);
 * the cases where a callback detaches mid-operation (suite-webkit-detach); Worker-made views of a
 * block freed in another Worker (detached on their next touch, README "Views die with their
 * allocation": attack15-racing-frees and stale-view-free cover them).
 */
import { expect, test } from "bun:test";
import { pmemUnavailableReason } from "../../src/native";
import { attackFixture, runBun } from "../support/child";

const whyNoPmem = pmemUnavailableReason();
if (whyNoPmem !== undefined) console.log(`[test/attack/suite-test262-detached] PMEM shapes skipped: ${whyNoPmem}`);

test("every typed array operation on a stale view behaves as on a detached buffer, by every route that ends an allocation", async () => {
  const run = await runBun(attackFixture("suite-test262-detached-child.ts"), [], { timeout: 60_000, env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" } });
  expect(run.stderr).toBe("");
  expect([run.exitCode, run.signalCode]).toEqual([0, null]);
  const result = JSON.parse(run.stdout) as { compared: number; stampsChecked: number; types: number; shapes: number; mismatches: string[]; references: Record<string, Record<string, string>> };
  expect(result.mismatches).toEqual([]);
  // shapes x 9 routes x each type x 4 views x 75 operations (+ the iterator), and the helpers' 2 views.
  expect(result.types).toBeGreaterThanOrEqual(11);
  expect(result.shapes).toBe(whyNoPmem === undefined ? 6 : 4);
  expect(result.compared).toBe(result.types * (result.shapes * 9 * (4 * 75 + 1) + 2 * 75));
  expect(result.stampsChecked).toBe(result.types * (result.shapes * 7 + 1));
  // The reference is the spec's detached buffer, not just the engine's.
  for (const [type, row] of Object.entries(result.references)) {
    expect(Object.keys(row).length).toBe(75);
    for (const getter of ["length", "byteLength", "byteOffset", "buffer.byteLength"]) expect(`${type} ${getter}: ${row[getter]}`).toBe(`${type} ${getter}: returned number 0`);
    const throwing = ["at", "copyWithin", "entries", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex", "forEach", "includes", "indexOf", "join", "keys", "lastIndexOf", "map", "reduce", "reduceRight", "reverse", "set from an array", "set from a stale view (onto a live array)", "slice", "some", "sort", "subarray", "toLocaleString", "toReversed", "toSorted", "toString", "values", "with", "spread", "new DataView(buffer)", "buffer.slice", "Atomics.load", "Atomics.store"];
    for (const name of throwing) expect(`${type} ${name}: ${row[name]}`).toBe(`${type} ${name}: throws TypeError`);
    expect([row["element read"], row["Reflect.set"], row["Reflect.has"], row["Reflect.defineProperty"], row["Object.keys"], row["structuredClone"]]).toEqual(["returned undefined", "returned true", "returned false", "returned false", "returned array []", "throws DataCloneError"]);
  }
}, 60_000);
