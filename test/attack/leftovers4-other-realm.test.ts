/**
 * Typed array types from another realm (a node:vm context's Float32Array): the library refuses
 * them (its views are made with this realm's constructors, whose identity it checks), and said
 * "takes a typed array type such as Float32Array ..., not a function", as if Float32Array were no
 * typed array type at all. The message now says what it was given and what to pass instead. Typed
 * arrays of another realm are memory like any other: copy() takes them. A side of a copy that is
 * no memory (an ArrayBuffer) was named by `typeof`, "not object"; it is named by what it is now
 * (a forged handle, made from an allocation's prototype, as one no pool made).
 */
import { afterAll, expect, test } from "bun:test";
import vm from "node:vm";
import { allocate, Allocation, copy, InvalidArgumentError, InvalidPointerError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("leftovers4-other-realm", PoolConfig.FixedSizeCPU(64));
afterAll(() => manager.destroyPool(pool.name));
const realm = vm.createContext({});

test("another realm's typed array type is named as one, with this realm's to pass instead", () => {
  const allocation = pool.allocate(32);
  for (const name of ["Float32Array", "Uint8Array", "BigInt64Array", "Float16Array"]) {
    const foreign = vm.runInContext(name, realm) as Float32ArrayConstructor;
    expect(foreign).not.toBe(globalThis[name as "Float32Array"]);
    const viaAs = thrown<InvalidArgumentError>(() => allocation.as(foreign));
    expect(viaAs).toBeInstanceOf(InvalidArgumentError);
    expect(viaAs.message).toBe(`as takes a typed array type of this realm, such as Float32Array or Int32Array, not the ${name} of another realm (a node:vm context's): pass this realm's ${name}`);
    const viaHelper = thrown<InvalidArgumentError>(() => allocate(foreign, 4));
    expect(viaHelper).toBeInstanceOf(InvalidArgumentError);
    expect(viaHelper.message).toContain(`not the ${name} of another realm`);
  }
  // This realm's still serve, and what only looks like one is described as before.
  expect(allocation.as(Float32Array).length).toBe(8);
  const impostor = function Float32Array() {};
  expect(thrown(() => allocation.as(impostor as unknown as Float32ArrayConstructor)).message).toBe("as takes a typed array type such as Float32Array or Int32Array, not a function");
  const proxy = new Proxy(Float32Array, { getOwnPropertyDescriptor: () => { throw new Error("trap"); } });
  expect(thrown(() => allocation.as(proxy)).message).toBe("as takes a typed array type such as Float32Array or Int32Array, not a function");
  allocation.free();
});

test("typed arrays of another realm are copied like this realm's; an ArrayBuffer side is named as one", () => {
  const allocation = pool.allocate(16);
  const source = vm.runInContext("Uint8Array.from({ length: 16 }, (_, i) => i + 1)", realm) as Uint8Array;
  expect(copy(allocation, source)).toBe(16);
  expect([...allocation.bytes]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  const target = vm.runInContext("new Float32Array(4)", realm) as Float32Array;
  expect(copy(target, allocation)).toBe(16);
  expect(new Uint8Array(target.buffer)[15]).toBe(16);
  for (const buffer of [new ArrayBuffer(16), vm.runInContext("new ArrayBuffer(16)", realm)]) {
    const refused = thrown<InvalidPointerError>(() => copy(buffer as unknown as Uint8Array, allocation));
    expect(refused).toBeInstanceOf(InvalidPointerError);
    expect(refused.message).toBe("the destination of a copy is an allocation or a typed array (or DataView), not an ArrayBuffer");
  }
  // An object made from an allocation's prototype is not "an Allocation": it says no pool made it.
  const forged = Object.create(Allocation.prototype) as Allocation;
  expect(thrown(() => copy(forged, allocation)).message).toBe("the destination of a copy is an allocation or a typed array (or DataView), not an object with an allocation's prototype that no pool made");
  allocation.free();
});
