/**
 * Bun's own tests of bun:ffi pointers and of ArrayBuffers (test/js/bun/ffi: ptr, read.*, CString,
 * toArrayBuffer; test/js/web: ArrayBuffer detach, transfer, structuredClone, postMessage), read and
 * retold for this library's views, which are external ArrayBuffers over pool memory and must pass what
 * Bun asks of any buffer, on every CPU pool shape (guard pages and canaries included):
 * - ptr(view, offset) of `bytes`, `as(T)` and subarrays is the allocation's address plus the offset;
 *   read.u8 ... read.f64 agree with a DataView of the same bytes (little-endian), CString reads a
 *   string written through the view, toArrayBuffer(ptr, 0, size) sees the view's writes;
 * - native code called through dlopen (libc's memset, memcpy, strlen) with .ptr or a view as the pointer
 *   argument works on the block; a freed view is passed as NULL, never as the block's address;
 * - a live view's buffer is fixed-length (not resizable, maxByteLength = size); slice() and
 *   structuredClone() copy (writes to the copy never reach the pool, and the copy survives the free);
 * - after the free, every view made is detached: structuredClone and postMessage are DataCloneErrors,
 *   slice, transfer, DataView, Atomics and Buffer.from TypeErrors, ptr() gives no address, Blob and TextDecoder read
 *   nothing; no write reaches the block, whose next allocation reads only its own bytes;
 * - Response, Request, Blob, File, ArrayBufferSink and Buffer.from made from a view copy it at once; a
 *   ReadableStream chunk and a Buffer over the view's buffer see it detached: none of them reads the
 *   block's next allocation after the free;
 * - postMessage to a Worker (in a child process): a view is copied (the Worker's writes stay its own),
 *   a subarray is copied as the subarray, an Allocation sent whole arrives as a plain object that the
 *   Worker's deallocate refuses with an InvalidPointerError (the allocation stays live), a pointer is
 *   freed there and the handle here reads not alive.
 * Differs by design (README, "views"): a buffer the user transfers away (a postMessage or structuredClone
 * transfer list, buffer.transfer()) takes the block's bytes with it: JSC moves an external buffer's
 * memory, it does not copy it. The library detaches its own views and frees the block without an error,
 * but the transferred buffer keeps reaching the block; only its holder can prevent that. The Worker
 * case below asserts just that, and that nothing crashes when that Worker ends and is collected.
 */
import { describe, expect, test } from "bun:test";
import { CString, dlopen, FFIType, ptr, read, toArrayBuffer } from "bun:ffi";
import { Buffer } from "node:buffer";
import { PoolConfig } from "../../src/index";
import { runChild } from "../pmem/helpers";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { random } from "../support/random";

const pool = cpuPoolsPerTest();
const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["FixedSize 64 (runs)", PoolConfig.FixedSizeCPU(64)],
  ["FixedSize 64, lockFree", { ...PoolConfig.FixedSizeCPU(64), threadSafety: "lockFree" }],
  ["guard pages and canaries", { guardPages: true, canaries: true }],
];

/**
 * What ptr() makes of a view: Bun refuses an empty one with a TypeError, thrown, or (seen on its
 * optimised path) returned as the value; either way no address.
 */
function addressOf(view: Uint8Array | Int32Array): string {
  try {
    return typeof ptr(view) === "number" ? "address" : "no address";
  } catch (err) {
    return err instanceof TypeError ? "no address" : `untyped: ${String(err)}`;
  }
}

const SIZES = [1, 7, 8, 63, 64, 65, 200, 4096, 5000];

describe("bun:ffi on pool views (test/js/bun/ffi)", () => {
  for (const [shapeName, shape] of shapes) {
    test(`ptr, read.*, CString and toArrayBuffer agree with the views (${shapeName})`, () => {
      const p = pool(`suite-bun-ffi-${shapeName}`, shape);
      const next = random(0xb0b);
      for (const size of SIZES) {
        const a = p.allocate(size);
        const bytes = a.bytes;
        expect(ptr(bytes)).toBe(a.ptr);
        expect(Number(ptr(bytes, size - 1))).toBe((a.ptr as number) + size - 1);
        expect(Number(ptr(bytes.subarray(size >> 1)))).toBe((a.ptr as number) + (size >> 1));
        if (size >= 8) expect(ptr(a.as(Float64Array))).toBe(a.ptr);
        for (let i = 0; i < size; i++) bytes[i] = Math.floor(next() * 256);
        const data = new DataView(bytes.buffer, bytes.byteOffset, size);
        for (let at = 0; at < size; at++) {
          expect(read.u8(a.ptr, at)).toBe(data.getUint8(at));
          expect(read.i8(a.ptr, at)).toBe(data.getInt8(at));
          if (at + 2 <= size) expect(read.u16(a.ptr, at)).toBe(data.getUint16(at, true));
          if (at + 4 <= size) {
            expect(read.u32(a.ptr, at)).toBe(data.getUint32(at, true));
            expect(read.i32(a.ptr, at)).toBe(data.getInt32(at, true));
            expect(Object.is(read.f32(a.ptr, at), data.getFloat32(at, true))).toBe(true);
          }
          if (at + 8 <= size) {
            expect(read.u64(a.ptr, at)).toBe(data.getBigUint64(at, true));
            expect(read.i64(a.ptr, at)).toBe(data.getBigInt64(at, true));
            expect(Object.is(read.f64(a.ptr, at), data.getFloat64(at, true))).toBe(true);
          }
          if (at > 64 && at + 64 < size) at += 61; // the edges in full, the middle sampled
        }
        const text = "pool".repeat(size).slice(0, size - 1);
        bytes.set(new TextEncoder().encode(text));
        bytes[size - 1] = 0;
        expect(new CString(a.ptr).toString()).toBe(text);
        // A buffer of the caller's own over the same address sees the view's writes, and the view its writes.
        const own = new Uint8Array(toArrayBuffer(a.ptr, 0, size));
        own[size - 1] = 0x5a;
        expect(bytes[size - 1]).toBe(0x5a);
        bytes[0] = 0xa5;
        expect(own[0]).toBe(0xa5);
        a.free();
        expect(addressOf(bytes)).toBe("no address"); // the stale view names no memory
      }
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

/** libc's memset, memcpy and strlen through dlopen, as Bun's ffi tests call native code; undefined where no glibc is found. */
function openLibc() {
  try {
    return dlopen("libc.so.6", {
      memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr },
      memcpy: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.ptr },
      strlen: { args: [FFIType.ptr], returns: FFIType.u64 },
    }).symbols;
  } catch {
    console.log("[test/attack/suite-bun-views] native-call cases skipped: no libc.so.6 (glibc) to dlopen");
    return undefined;
  }
}
const libc = openLibc();

describe.skipIf(libc === undefined)("native calls on pool memory through dlopen (test/js/bun/ffi: typed arrays as pointer arguments)", () => {
  for (const [shapeName, shape] of shapes) {
    test(`memset, memcpy and strlen take .ptr and views alike; a freed view passes NULL, never the block (${shapeName})`, () => {
      const c = libc!;
      const p = pool(`suite-bun-native-${shapeName}`, shape);
      for (const size of SIZES) {
        const a = p.allocate(size);
        const b = p.allocate(size);
        expect(c.memset(a.ptr, 7, size)).toBe(a.ptr);
        expect(a.bytes.every((byte) => byte === 7)).toBe(true);
        c.memset(a.bytes, 8, size);
        c.memcpy(b.bytes, a.bytes, size);
        expect(b.bytes.every((byte) => byte === 8)).toBe(true);
        a.bytes.fill(0x41, 0, size - 1);
        a.bytes[size - 1] = 0;
        expect(c.strlen(a.ptr)).toBe(BigInt(size - 1));
        expect(c.strlen(a.as(Uint8Array))).toBe(BigInt(size - 1));
        const stale = a.bytes;
        a.free();
        expect(c.memset(stale, 0, 0)).toBeNull(); // a detached view is passed as NULL
        b.free();
      }
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

describe("ArrayBuffer semantics of pool views (test/js/web: detach, transfer, structuredClone)", () => {
  for (const [shapeName, shape] of shapes) {
    test(`a live view's buffer is fixed-length and its copies are its own; a freed one is detached to every reader (${shapeName})`, () => {
      const p = pool(`suite-bun-buffers-${shapeName}`, shape);
      for (const size of SIZES) {
        const before = p.allocate(size);
        const a = p.allocate(size);
        const after = p.allocate(size);
        for (const n of [before, after]) stamp(n.bytes, n.ptr as number);
        const view = a.bytes;
        const buffer = view.buffer;
        view.fill(0x33);
        expect({ resizable: buffer.resizable, maxByteLength: buffer.maxByteLength, byteLength: buffer.byteLength, detached: buffer.detached })
          .toEqual({ resizable: false, maxByteLength: size, byteLength: size, detached: false });
        expect(buffer instanceof SharedArrayBuffer).toBe(false);
        const sliced = new Uint8Array(buffer.slice(0));
        const cloned = structuredClone(view);
        const clonedBuffer = new Uint8Array(structuredClone(buffer));
        for (const copy of [sliced, cloned, clonedBuffer]) {
          expect(copy.length).toBe(size);
          copy.fill(0x44);
        }
        expect(view.every((byte) => byte === 0x33)).toBe(true); // no copy reaches the pool
        const typed = size >= 4 ? a.as(Int32Array) : undefined;
        a.free();
        expect({ detached: buffer.detached, byteLength: buffer.byteLength, length: view.length, typed: typed?.length ?? 0 })
          .toEqual({ detached: true, byteLength: 0, length: 0, typed: 0 });
        const errorOf = (fn: () => unknown): string => {
          try {
            fn();
            return "none";
          } catch (err) {
            return (err as Error).name;
          }
        };
        expect({
          cloneView: errorOf(() => structuredClone(view)),
          cloneBuffer: errorOf(() => structuredClone(buffer)),
          slice: errorOf(() => buffer.slice(0)),
          transfer: errorOf(() => buffer.transfer()),
          dataView: errorOf(() => new DataView(buffer)),
          atomics: errorOf(() => Atomics.load(new Int32Array(buffer), 0)),
          bufferFrom: errorOf(() => Buffer.from(buffer)),
          set: errorOf(() => view.set([1])),
        }).toEqual({ cloneView: "DataCloneError", cloneBuffer: "DataCloneError", slice: "TypeError", transfer: "TypeError", dataView: "TypeError", atomics: "TypeError", bufferFrom: "TypeError", set: "TypeError" });
        expect(addressOf(view)).toBe("no address");
        expect(new Blob([view]).size).toBe(0);
        expect(new TextDecoder().decode(view)).toBe("");
        view[0] = 0x55; // goes nowhere
        if (typed !== undefined) typed[0] = -1;
        for (const copy of [sliced, cloned, clonedBuffer]) expect(copy.every((byte) => byte === 0x44)).toBe(true);
        // the block's next allocation: its own bytes only, its own live buffer
        const again = p.allocate(size);
        again.bytes.fill(0x66);
        expect(again.bytes.every((byte) => byte === 0x66)).toBe(true);
        expect(again.bytes.buffer.detached).toBe(false);
        expect(view.length).toBe(0);
        for (const n of [before, after]) expect(stampHolds(n.bytes, n.ptr as number)).toBe(true);
        for (const n of [before, again, after]) n.free();
      }
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

describe("Bun's web APIs given a view, then the allocation freed and its block reused (test/js/web fetch, blob, streams)", () => {
  // Each made from the view before the free, read after the block holds another allocation's bytes.
  const consumers: [string, "copied" | "detached", (view: Uint8Array<ArrayBuffer>) => () => Promise<Uint8Array>][] = [
    ["Response", "copied", (view) => { const r = new Response(view); return async () => new Uint8Array(await r.arrayBuffer()); }],
    ["Request body", "copied", (view) => { const r = new Request("http://localhost/", { method: "POST", body: view }); return async () => new Uint8Array(await r.arrayBuffer()); }],
    ["Blob", "copied", (view) => { const b = new Blob([view]); return async () => new Uint8Array(await b.arrayBuffer()); }],
    ["File", "copied", (view) => { const f = new File([view], "f.bin"); return async () => new Uint8Array(await f.arrayBuffer()); }],
    ["Bun.ArrayBufferSink", "copied", (view) => { const sink = new Bun.ArrayBufferSink(); sink.start({ asUint8Array: true }); sink.write(view); return async () => sink.end() as Uint8Array; }],
    ["Buffer.from(view)", "copied", (view) => { const b = Buffer.from(view); return async () => b; }],
    ["a ReadableStream chunk", "detached", (view) => { const stream = new ReadableStream({ start(c) { c.enqueue(view); c.close(); } }); return async () => new Uint8Array(await new Response(stream).arrayBuffer()); }],
    ["Buffer.from(view.buffer)", "detached", (view) => { const b = Buffer.from(view.buffer); return async () => b; }],
  ];
  for (const [name, expected, consume] of consumers) {
    test(`${name}: ${expected === "copied" ? "a copy made at once" : "sees the view detached"}; the block's next allocation is never read`, async () => {
      const p = pool(`suite-bun-web-${name}`);
      const a = p.allocate(64);
      a.bytes.fill(3);
      const read = consume(a.bytes);
      a.free();
      const b = p.allocate(64);
      b.bytes.fill(9);
      expect(b.ptr).toBe(a.ptr);
      const got = await read();
      expect(got.byteLength === 0 ? [] : Array.from(got)).toEqual(expected === "copied" ? new Array(64).fill(3) : []); // a detached one reads as empty (Array.from throws on it)
      b.free();
    });
  }
});

test("postMessage of views, allocations and pointers to a Worker; a transfer list takes the block's bytes along, by design (child process)", async () => {
  const run = await runChild("../../fixtures/attack/suite-bun-views-child.ts", []);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    viewCopy: { length: 64, first: [3, 3, 3, 3], poolAfter: 3 },
    subarrayCopy: { length: 8, first: [8, 9, 10, 11], poolAfter: 8 },
    allocationWhole: { answer: { error: "INVALID_POINTER" }, alive: true },
    freedView: "DataCloneError",
    transferred: { length: 64, first: [5, 5, 5, 5], mainViewLength: 0, alive: true, blockByte: 0xee },
    transferredFree: "done",
    pointerFree: { answer: { freed: true }, alive: false },
    end: { liveAllocations: 0, bytesInUse: 0 },
  });
}, 20_000);
