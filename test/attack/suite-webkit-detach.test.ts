/**
 * WebKit's JSTests on typed arrays whose buffer is detached in the middle of an operation
 * (stress/typedarray-*-detach*, typed-array-sort-detach, dataview-*-detached, atomics-*-detached,
 * typedarray-fill / -set / -copyWithin / -subarray with a valueOf that detaches; test262's
 * built-ins/TypedArray and TypedArrayConstructors "detached-buffer" cases), read and retold for this library's views, where the
 * detach is the allocation's free and the freed block is at once taken by a new allocation filled with
 * 0x77: sort (comparator), fill, set (a source getter), copyWithin, an element store, DataView.setUint32,
 * subarray and a view over the buffer (offset valueOf), Atomics.store, Array.prototype.fill.call, with(),
 * lastIndexOf, join, map, reduce writing back, a Buffer over the view's buffer (fill valueOf, write after),
 * TextEncoder.encodeInto, crypto.getRandomValues, reverse, structuredClone and an entries() iterator after
 * the free. On every CPU pool shape (guard pages too, where a stale write would fault: the cases run in a
 * child process): the new allocation reads 0x77 only (no engine write reached the block through the
 * stale view), the view is detached (length 0), each operation returns or throws the engine's own
 * TypeError, RangeError or DataCloneError (never an error of the library's), and the pool balances.
 * Left out: the transfer()/postMessage cases (suite-bun-views: a transferred buffer takes the block's
 * bytes by design, README "views"), resizable buffers (views are fixed-length by design) and the JIT
 * tiers' variants (the same operations, run more often: the engine's concern).
 */
import { expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";

test("an operation whose callback frees the allocation writes nothing into the block's next allocation", async () => {
  const run = await runBun(attackFixture("suite-webkit-detach-child.ts"), [], { timeout: 60_000 });
  expect(run.stderr).toBe("");
  expect([run.exitCode, run.signalCode]).toEqual([0, null]);
  const results = JSON.parse(run.stdout) as Record<string, Record<string, string>>;
  expect(Object.keys(results).length).toBe(6);
  const wrong: string[] = [];
  for (const [shape, row] of Object.entries(results)) {
    const { "live after": live, ...cases } = row;
    if (live !== "0") wrong.push(`${shape}: ${live} allocations left live`);
    expect(Object.keys(cases).length).toBe(23);
    for (const [name, outcome] of Object.entries(cases)) {
      if (!/^intact; (returned|engine (TypeError|RangeError|DataCloneError)); view length 0$/.test(outcome)) wrong.push(`${shape}, ${name}: ${outcome}`);
    }
  }
  expect(wrong).toEqual([]);
}, 60_000);
