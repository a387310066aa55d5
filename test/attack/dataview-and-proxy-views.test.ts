/**
 * Views a program makes itself of an allocation's bytes, and sources that fight back. Found by
 * attacking main: a DataView over `a.bytes.buffer` (the common way to read a struct) reads its
 * length through a getter that throws, where a typed array's reads 0, once its buffer is detached
 * (the allocation was freed) or lies past a shrunk resizable buffer; so deallocate(dataView),
 * copy() on either side, persist(dataView) and memcpyPersist() threw an untyped TypeError ("Underlying
 * ArrayBuffer has been detached") where a typed array gets DoubleFreeError or OutOfBoundsError.
 * deallocate() of an empty view read `view.buffer` (an own getter that throws escaped), copy() of
 * one named it by `view.constructor.name` (null there: TypeError), and memcpyPersist() asked
 * `source instanceof ArrayBuffer` (a Proxy's getPrototypeOf trap ran and its error escaped).
 */
import { afterAll, expect, test } from "bun:test";
import { allocate, copy, deallocate, MemoryPoolError, MemoryPoolManager, type PMEMMemoryPool } from "../../src/index";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { outcome } from "../support/thrown";

afterAll(removePoolFiles);

const manager = MemoryPoolManager.getInstance();

test("a DataView of a freed allocation is a double free to deallocate, and empty to copy", () => {
  using cpu = manager.createCPUPool("attack-dataview-cpu", { initialSize: 1 << 16 });
  using fixed = manager.createCPUPool("attack-dataview-fixed", { allocatorType: "FixedSize", blockSize: 64, initialSize: 1 << 16 });
  for (const pool of [cpu, fixed]) {
    const a = pool.allocate(64);
    const whole = new DataView(a.bytes.buffer);
    const inner = new DataView(a.bytes.buffer, 8, 16);
    whole.setUint32(0, 7);
    expect(outcome(() => copy(new Uint8Array(64), whole))).toBe("done"); // alive: a DataView is a side like any view
    a.free();
    expect({ whole: whole.buffer.detached, inner: inner.buffer.detached }).toEqual({ whole: true, inner: true });
    expect(outcome(() => pool.deallocate(whole))).toBe("DOUBLE_FREE");
    expect(outcome(() => pool.deallocate(inner))).toBe("DOUBLE_FREE");
    expect(outcome(() => copy(new Uint8Array(64), whole))).toBe("OUT_OF_BOUNDS");
    expect(outcome(() => copy(whole, new Uint8Array(64)))).toBe("OUT_OF_BOUNDS");
    const b = pool.allocate(64);
    b.bytes.fill(9);
    expect(outcome(() => copy(b, inner, 4))).toBe("OUT_OF_BOUNDS");
    expect(b.bytes.every((byte) => byte === 9)).toBe(true); // nothing copied into it
    b.free();
  }
  const view = allocate(32); // the helpers' default pool too
  const dataView = new DataView(view.buffer);
  deallocate(view);
  expect(outcome(() => deallocate(dataView))).toBe("DOUBLE_FREE");
});

test("a DataView past the end of a shrunk resizable buffer spans no bytes", () => {
  using pool = manager.createCPUPool("attack-dataview-rab", { initialSize: 1 << 16 });
  const buffer = new ArrayBuffer(32, { maxByteLength: 64 });
  const view = new DataView(buffer, 16, 8);
  buffer.resize(8);
  expect(outcome(() => pool.deallocate(view))).toBe("INVALID_POINTER"); // empty, not detached: names no memory
  expect(outcome(() => copy(new Uint8Array(8), view))).toBe("OUT_OF_BOUNDS");
  expect(outcome(() => copy(view, new Uint8Array(8)))).toBe("OUT_OF_BOUNDS");
  buffer.resize(64);
  expect(outcome(() => copy(view, new Uint8Array(8).fill(3)))).toBe("done"); // in bounds again
  expect(new Uint8Array(buffer, 16, 8)).toEqual(new Uint8Array(8).fill(3));
});

test("empty views whose buffer or constructor getters throw, and sources that are Proxies", () => {
  using pool = manager.createCPUPool("attack-dataview-hostile", { initialSize: 1 << 16 });
  const throwingBuffer = new Uint8Array(0);
  Object.defineProperty(throwingBuffer, "buffer", { get: () => { throw new Error("buffer getter"); } });
  const nullConstructor = new Uint8Array(0);
  Object.defineProperty(nullConstructor, "constructor", { value: null });
  const throwingConstructor = new Uint8Array(0);
  Object.defineProperty(throwingConstructor, "constructor", { get: () => { throw new Error("constructor getter"); } });
  const freed = pool.allocate(16);
  const proxyBuffer = freed.bytes;
  freed.free();
  Object.defineProperty(proxyBuffer, "buffer", { value: new Proxy(new ArrayBuffer(1), { getPrototypeOf: () => { throw new Error("trap"); } }) });
  expect({
    throwingBuffer: outcome(() => pool.deallocate(throwingBuffer)),
    proxyBuffer: outcome(() => pool.deallocate(proxyBuffer)), // the view's real buffer is detached: a double free
    nullConstructorSource: outcome(() => copy(new Uint8Array(4), nullConstructor)),
    nullConstructorDestination: outcome(() => copy(nullConstructor, new Uint8Array(4))),
    throwingConstructor: outcome(() => copy(new Uint8Array(4), throwingConstructor)),
  }).toEqual({ throwingBuffer: "INVALID_POINTER", proxyBuffer: "DOUBLE_FREE", nullConstructorSource: "OUT_OF_BOUNDS", nullConstructorDestination: "OUT_OF_BOUNDS", throwingConstructor: "OUT_OF_BOUNDS" });
  let message = "";
  try {
    copy(new Uint8Array(4), nullConstructor);
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toBe("cannot copy from the source, a Uint8Array: it is empty or detached");
});

test("PMEM: persist and memcpyPersist of DataViews over freed blocks, and Proxy sources", () => {
  let pm: PMEMMemoryPool;
  try {
    pm = manager.createPMEMPool("attack-dataview-pmem", { pmemPoolPath: poolPath("attack-dataview"), initialSize: 1 << 20 });
  } catch (err) {
    if (err instanceof MemoryPoolError && err.code === "PMEM_UNAVAILABLE") return console.log(`skipped: ${err.message}`);
    throw err;
  }
  try {
    const target = pm.allocate(64);
    const a = pm.allocate(64);
    const view = new DataView(a.bytes.buffer);
    a.free();
    const hostile = new Proxy({}, { getPrototypeOf: () => { throw new Error("trap"); }, get: () => { throw new Error("get"); } });
    const shared = new Uint8Array(new SharedArrayBuffer(8)).fill(5);
    expect({
      persist: outcome(() => pm.persist(view)), // no bytes: nothing to persist
      flush: outcome(() => pm.flush(view, 0)),
      memcpyFrom: outcome(() => pm.memcpyPersist(target, view)),
      memcpyInto: outcome(() => pm.memcpyPersist(view, new Uint8Array(4))), // 4 bytes do not fit no bytes
      proxySource: outcome(() => pm.memcpyPersist(target, hostile as never)),
      sharedBufferItself: outcome(() => pm.memcpyPersist(target, shared.buffer as never)),
      sharedView: outcome(() => pm.memcpyPersist(target, shared)),
    }).toEqual({ persist: "done", flush: "done", memcpyFrom: "done", memcpyInto: "INVALID_SIZE", proxySource: "INVALID_ARGUMENT", sharedBufferItself: "INVALID_ARGUMENT", sharedView: "done" });
    expect(Array.from(target.bytes.subarray(0, 8))).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
  } finally {
    pm.close();
  }
});
