// copy()'s fast path since session 8 (src/copy.ts): every pair of host sides moved by one memmove in
// the core, handed an allocation's address or the typed array itself (bun:ffi passes its address);
// an allocation proven alive by its pool's count of ends (no view needed), or, after an end in its
// pool, by its attached view on the checked path, which records it alive again. Each case checks
// what would go wrong if an address, a length, an offset or a proof of life were wrong.
import { afterAll, describe, expect, test } from "bun:test";
import { copy, MemoryPoolManager, OutOfBoundsError, UseAfterFreeError, type Allocation, type CPUMemoryPool, type PMEMMemoryPool } from "../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "./pmem/helpers";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 167 + seed) & 0xff);
}

/** An allocation holding `bytes`; its `bytes` view made only where `viewed`. */
function holding(p: CPUMemoryPool, bytes: Uint8Array, viewed: boolean): Allocation {
  const a = p.allocate(bytes.length);
  copy(a, bytes);
  if (viewed) expect(a.bytes.length).toBe(bytes.length);
  return a;
}

/** The bytes of an allocation, read through a fresh copy (no view of it made). */
function contents(a: Allocation): Uint8Array {
  const out = new Uint8Array(a.size);
  copy(out, a);
  return out;
}

describe("every pair of sides, whole", () => {
  for (const length of [1, 64, 4096, 65536]) {
    for (const viewed of [false, true]) {
      test(`${length} B, allocations ${viewed ? "viewed" : "never viewed"}: the bytes arrive, the length is returned, nothing past them is touched`, () => {
        const p = pool("copyfast-pairs", { initialSize: 1 << 20 });
        const a = holding(p, pattern(length, 1), viewed);
        const b = holding(p, pattern(length, 2), viewed);
        const fence = holding(p, pattern(64, 3), viewed); // allocated after b: a write past b would reach it
        expect(copy(b, a)).toBe(length);
        expect(Buffer.compare(contents(b), pattern(length, 1))).toBe(0);
        const typed = pattern(length, 4);
        expect(copy(a, typed)).toBe(length);
        expect(Buffer.compare(contents(a), typed)).toBe(0);
        const out = new Uint8Array(length + 16).fill(0xee);
        const target = out.subarray(8, 8 + length);
        expect(copy(target, b)).toBe(length);
        expect(Buffer.compare(target, pattern(length, 1))).toBe(0);
        expect(out.subarray(0, 8).every((x) => x === 0xee) && out.subarray(8 + length).every((x) => x === 0xee)).toBe(true);
        const other = new Uint8Array(length);
        expect(copy(other, typed)).toBe(length);
        expect(Buffer.compare(other, typed)).toBe(0);
        expect(Buffer.compare(contents(fence), pattern(64, 3))).toBe(0);
      });
    }
  }

  test("typed arrays that start inside their buffers (subarray) and Buffers: the address passed is the view's first byte", () => {
    const p = pool("copyfast-subarrays");
    const backing = pattern(256, 5);
    const a = p.allocate(100);
    expect(copy(a, backing.subarray(37, 137))).toBe(100);
    expect(Buffer.compare(contents(a), backing.subarray(37, 137))).toBe(0);
    const into = new Uint8Array(300);
    expect(copy(into.subarray(123, 223), a)).toBe(100);
    expect(Buffer.compare(into.subarray(123, 223), backing.subarray(37, 137))).toBe(0);
    expect(into.subarray(0, 123).every((x) => x === 0) && into.subarray(223).every((x) => x === 0)).toBe(true);
    const buffer = Buffer.from(pattern(100, 6));
    expect(copy(a, buffer)).toBe(100);
    expect(Buffer.compare(contents(a), buffer)).toBe(0);
    const bufferOut = Buffer.alloc(100);
    expect(copy(bufferOut, a)).toBe(100);
    expect(Buffer.compare(bufferOut, buffer)).toBe(0);
  });

  test("bytes given as the whole source's length is the same copy; any other goes the checked way", () => {
    const p = pool("copyfast-bytes");
    const a = holding(p, pattern(64, 7), false);
    const b = holding(p, pattern(64, 8), false);
    expect(copy(b, a, 64)).toBe(64);
    expect(Buffer.compare(contents(b), pattern(64, 7))).toBe(0);
    expect(copy(b, pattern(64, 9), 16)).toBe(16);
    const expected = pattern(64, 7);
    expected.set(pattern(64, 9).subarray(0, 16));
    expect(Buffer.compare(contents(b), expected)).toBe(0);
    expect(thrown(() => copy(b, pattern(65, 1)))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(new Uint8Array(63), a))).toBeInstanceOf(OutOfBoundsError);
  });
});

describe("a destination offset", () => {
  test("into a typed array and into an allocation, at the last offset that fits and one past it", () => {
    const p = pool("copyfast-offsets");
    const a = holding(p, pattern(32, 10), false);
    const out = new Uint8Array(100);
    expect(copy(out, a, undefined, { dstOffset: 68 })).toBe(32);
    expect(Buffer.compare(out.subarray(68), pattern(32, 10))).toBe(0);
    expect(out.subarray(0, 68).every((x) => x === 0)).toBe(true);
    expect(thrown(() => copy(out, a, undefined, { dstOffset: 69 }))).toBeInstanceOf(OutOfBoundsError);
    const big = holding(p, new Uint8Array(100), false);
    expect(copy(big, pattern(32, 11), undefined, { dstOffset: 68 })).toBe(32);
    const expected = new Uint8Array(100);
    expected.set(pattern(32, 11), 68);
    expect(Buffer.compare(contents(big), expected)).toBe(0);
    expect(thrown(() => copy(big, pattern(32, 11), undefined, { dstOffset: 69 }))).toBeInstanceOf(OutOfBoundsError);
    expect(Buffer.compare(contents(big), expected)).toBe(0);
  });
});

describe("proof of life after other ends in the pool", () => {
  for (const viewed of [false, true]) {
    test(`allocations ${viewed ? "viewed" : "never viewed"}: an end of another allocation between copies changes nothing; an end of either side is a UseAfterFreeError`, () => {
      const p = pool("copyfast-churn");
      const a = holding(p, pattern(64, 12), viewed);
      const b = holding(p, pattern(64, 13), viewed);
      for (let round = 0; round < 5; round++) {
        p.allocate(64).free(); // an end in the pool: neither side is known alive by the count any more
        expect(copy(b, a)).toBe(64);
        expect(copy(b, a)).toBe(64); // recorded alive again by the first (viewed) or the core's check
        const typed = pattern(64, 14 + round);
        p.allocate(16).free();
        expect(copy(a, typed)).toBe(64);
        p.allocate(16).free();
        const out = new Uint8Array(64);
        expect(copy(out, a)).toBe(64);
        expect(Buffer.compare(out, typed)).toBe(0);
      }
      a.free();
      const next = holding(p, pattern(64, 30), false); // likely a's block again
      expect(thrown(() => copy(a, pattern(64, 31)))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(b, a))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(new Uint8Array(64), a))).toBeInstanceOf(UseAfterFreeError);
      expect(Buffer.compare(contents(next), pattern(64, 30))).toBe(0);
      p.deallocate(b.ptr);
      expect(thrown(() => copy(b, next))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(next, b))).toBeInstanceOf(UseAfterFreeError);
      expect(Buffer.compare(contents(next), pattern(64, 30))).toBe(0);
    });
  }

  test("an allocation recorded alive by its view, then freed by pointer and its block reused: the copy is refused, the new allocation untouched", () => {
    const p = pool("copyfast-recorded", { allocatorType: "FixedSize", blockSize: 64 });
    const a = holding(p, pattern(64, 40), true);
    p.allocate(64).free();
    expect(copy(a, pattern(64, 41))).toBe(64); // proven by the view, recorded alive
    p.deallocate(a.ptr);
    const reused = holding(p, pattern(64, 42), false);
    expect(thrown(() => copy(a, pattern(64, 43)))).toBeInstanceOf(UseAfterFreeError);
    expect(Buffer.compare(contents(reused), pattern(64, 42))).toBe(0);
  });

  test("reset and destroy end every allocation: both sides refused, views of them are empty", () => {
    const p = pool("copyfast-reset");
    const a = holding(p, pattern(64, 50), false);
    const view = holding(p, pattern(64, 51), true).bytes;
    p.reset();
    expect(thrown(() => copy(a, pattern(64, 52)))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(new Uint8Array(64), a))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(view, pattern(64, 53)))).toBeInstanceOf(OutOfBoundsError);
    const q = pool("copyfast-destroy");
    const c = holding(q, pattern(64, 54), false);
    const cView = holding(q, pattern(64, 55), true).bytes;
    manager.destroyPool("copyfast-destroy");
    expect(thrown(() => copy(c, pattern(64, 56)))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(pattern(64, 57), c))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(cView, pattern(64, 58)))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(new Uint8Array(64), cView))).toBeInstanceOf(OutOfBoundsError);
  });

  for (const viewed of [false, true]) {
    test(`a source whose length getter frees the destination (${viewed ? "viewed" : "never viewed"}): it runs once, UseAfterFreeError, the block's next allocation untouched`, () => {
      const p = pool("copyfast-getter", { allocatorType: "FixedSize", blockSize: 64 });
      const dst = holding(p, pattern(64, 60), viewed);
      let next: Allocation | undefined;
      let reads = 0;
      const source = pattern(64, 61);
      Object.defineProperty(source, "length", {
        get() {
          reads++;
          dst.free();
          next = holding(p, pattern(64, 62), false);
          return 64;
        },
      });
      expect(thrown(() => copy(dst, source))).toBeInstanceOf(UseAfterFreeError);
      expect(reads).toBe(1);
      expect(Buffer.compare(contents(next!), pattern(64, 62))).toBe(0);
    });
  }

  test("a source whose length getter only counts, into an allocation known alive only by its view: copied, the getter run once", () => {
    const p = pool("copyfast-getter-once");
    const dst = holding(p, pattern(64, 63), true);
    p.allocate(8).free(); // dst is known alive only by its view now
    let reads = 0;
    const source = pattern(64, 64);
    Object.defineProperty(source, "length", {
      get() {
        reads++;
        return 64;
      },
    });
    expect(copy(dst, source)).toBe(64);
    expect(reads).toBe(1);
    expect(Buffer.compare(contents(dst), pattern(64, 64))).toBe(0);
  });
});

describe("while a PMEM pool is open", () => {
  const opened: string[] = [];
  afterAll(() => {
    for (const name of opened) if (manager.hasPool(name)) manager.destroyPool(name);
    removePoolFiles();
  });
  function pmemPool(name: string): PMEMMemoryPool {
    opened.push(name);
    return manager.createPMEMPool(name, pmemConfig(poolPath(name)));
  }

  test("a typed destination outside PMEM still gets the bytes; one inside PMEM is written and the pool's bytes read back; after the pool closes, copies go on", () => {
    const p = pool("copyfast-pmem-cpu");
    const pm = pmemPool("copyfast-pmem");
    const a = holding(p, pattern(64, 70), false);
    const out = new Uint8Array(64);
    expect(copy(out, a)).toBe(64);
    expect(Buffer.compare(out, pattern(64, 70))).toBe(0);
    const durable = pm.allocate(64);
    expect(copy(durable.bytes, a)).toBe(64);
    expect(Buffer.compare(durable.bytes, pattern(64, 70))).toBe(0);
    expect(copy(durable.bytes, pattern(64, 71))).toBe(64);
    expect(Buffer.compare(durable.bytes, pattern(64, 71))).toBe(0);
    pm.close();
    const after = new Uint8Array(64);
    expect(copy(after, a)).toBe(64);
    expect(Buffer.compare(after, pattern(64, 70))).toBe(0);
  });
});
