// The edges of copy()'s fast path (src/copy.ts): allocations whose `bytes` view was made, and
// Uint8Arrays, copied with no call into the core but the copy. Each case is checked where the
// fast path would go wrong if its proof of life or its lengths were wrong: overlaps, the last
// byte of either side, ends by every route, views that outlive their allocation, views that lie.
// Persistence of PMEM destinations that the fast path must leave alone: test/pmem/copy.test.ts.
import { describe, expect, test } from "bun:test";
import { copy, OutOfBoundsError, UseAfterFreeError, MemoryPoolManager, type Allocation } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed) & 0xff);
}

/** An allocation holding `bytes`, its view made (what the fast path needs). */
function viewed(p: ReturnType<typeof pool>, bytes: Uint8Array): Allocation {
  const a = p.allocate(bytes.length);
  a.bytes.set(bytes);
  return a;
}

describe("copy within one allocation over itself", () => {
  const original = pattern(100, 1);
  for (const [what, options, from, to] of [
    ["forwards (destination after source)", { dstOffset: 10 }, 0, 10],
    ["backwards (destination before source)", { srcOffset: 10 }, 10, 0],
  ] as const) {
    test(`${what}, as if through a buffer`, () => {
      const a = viewed(pool("fast-overlap"), original);
      expect(copy(a, a, 60, options)).toBe(60);
      const expected = original.slice();
      expected.set(original.subarray(from, from + 60), to);
      expect(Buffer.compare(a.bytes, expected)).toBe(0);
    });
  }

  test("Buffers on either side, whole and at an offset", () => {
    const a = viewed(pool("fast-buffer"), pattern(64, 15));
    const out = Buffer.alloc(80);
    expect(copy(out, a, undefined, { dstOffset: 16 })).toBe(64);
    expect(Buffer.compare(out.subarray(16), pattern(64, 15))).toBe(0);
    expect(copy(a, Buffer.from(pattern(64, 16)))).toBe(64);
    expect(Buffer.compare(a.bytes, pattern(64, 16))).toBe(0);
  });

  test("two Uint8Arrays over one buffer, overlapping both ways", () => {
    const bytes = pattern(100, 2);
    copy(bytes.subarray(10, 70), bytes.subarray(0, 60));
    expect(Buffer.compare(bytes.subarray(10, 70), pattern(100, 2).subarray(0, 60))).toBe(0);
    const back = pattern(100, 2);
    copy(back.subarray(0, 60), back.subarray(10, 70));
    expect(Buffer.compare(back.subarray(0, 60), pattern(100, 2).subarray(10, 70))).toBe(0);
  });
});

describe("between two allocations through their views (the engine's set)", () => {
  test("all of a smaller allocation into a larger one at an offset, of two pools; one past the end moves nothing", () => {
    const big = viewed(pool("fast-views-big"), pattern(96, 3));
    const small = viewed(pool("fast-views-small", { allocatorType: "FixedSize", blockSize: 32 }), pattern(32, 4));
    expect(copy(big, small, undefined, { dstOffset: 64 })).toBe(32);
    const expected = pattern(96, 3);
    expected.set(pattern(32, 4), 64);
    expect(Buffer.compare(big.bytes, expected)).toBe(0);
    expect(thrown(() => copy(big, small, undefined, { dstOffset: 65 }))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(small, big))).toBeInstanceOf(OutOfBoundsError);
    expect(Buffer.compare(big.bytes, expected)).toBe(0);
    expect(Buffer.compare(small.bytes, pattern(32, 4))).toBe(0);
  });

  test("an allocation into itself, whole, and one of them freed: UseAfterFreeError on either side", () => {
    const p = pool("fast-views-self");
    const a = viewed(p, pattern(48, 5));
    expect(copy(a, a)).toBe(48);
    expect(Buffer.compare(a.bytes, pattern(48, 5))).toBe(0);
    const b = viewed(p, pattern(48, 6));
    p.deallocate(b.ptr);
    expect(thrown(() => copy(a, b))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(b, a))).toBeInstanceOf(UseAfterFreeError);
    expect(Buffer.compare(a.bytes, pattern(48, 5))).toBe(0);
  });
});

describe("offsets at the ends", () => {
  test("the last byte of each side is reached, one past it is an OutOfBoundsError, and nothing moved then", () => {
    const p = pool("fast-ends");
    const src = viewed(p, pattern(64, 3));
    const dst = viewed(p, new Uint8Array(64));
    expect(copy(dst, src, 1, { dstOffset: 63, srcOffset: 63 })).toBe(1);
    expect(dst.bytes[63]).toBe(src.bytes[63]!);
    expect(dst.bytes.subarray(0, 63).every((b) => b === 0)).toBe(true);
    for (const options of [{ dstOffset: 64 }, { srcOffset: 64 }, { dstOffset: 63, srcOffset: 0 }]) {
      expect(thrown(() => copy(dst, src, 2, options))).toBeInstanceOf(OutOfBoundsError);
    }
    expect(thrown(() => copy(dst, src, 65))).toBeInstanceOf(OutOfBoundsError);
    expect(dst.bytes.subarray(0, 63).every((b) => b === 0)).toBe(true);
  });

  test("all of a typed array into an allocation at the offset that ends it, and one further", () => {
    const dst = viewed(pool("fast-ends-typed"), new Uint8Array(64));
    const src = pattern(16, 4);
    expect(copy(dst, src, undefined, { dstOffset: 48 })).toBe(16);
    expect(Buffer.compare(dst.bytes.subarray(48), src)).toBe(0);
    expect(thrown(() => copy(dst, src, undefined, { dstOffset: 49 }))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(new Uint8Array(15), dst, 16, { dstOffset: 0 }))).toBeInstanceOf(OutOfBoundsError);
    const out = new Uint8Array(80);
    expect(copy(out, dst, undefined, { dstOffset: 16 })).toBe(64);
    expect(thrown(() => copy(out, dst, undefined, { dstOffset: 17 }))).toBeInstanceOf(OutOfBoundsError);
  });
});

describe("an allocation that ended is a UseAfterFreeError on either side, and its block's next allocation is untouched", () => {
  const ends: [string, (p: ReturnType<typeof pool>, a: Allocation) => void][] = [
    ["free()", (_, a) => a.free()],
    ["deallocate(pointer)", (p, a) => p.deallocate(a.ptr)],
    ["deallocate(view)", (p, a) => p.deallocate(a.bytes)],
    ["free() of another handle on its block", (p, a) => p.fromPointer(a.ptr).free()],
    ["reset()", (p) => p.reset()],
  ];
  for (const [route, end] of ends) {
    for (const side of ["destination", "source"] as const) {
      test(`${route}, as the ${side}`, () => {
        const p = pool("fast-ended", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 64 });
        const other = pool("fast-other");
        const live = viewed(other, pattern(64, 5));
        const array = pattern(64, 6);
        const ended = viewed(p, new Uint8Array(64));
        end(p, ended);
        const next = viewed(p, new Uint8Array(64)); // a FixedSize pool gives the freed block out again first
        if (side === "destination") {
          expect(thrown(() => copy(ended, live))).toBeInstanceOf(UseAfterFreeError);
          expect(thrown(() => copy(ended, array))).toBeInstanceOf(UseAfterFreeError);
          expect(next.bytes.every((b) => b === 0)).toBe(true);
        } else {
          const out = viewed(other, new Uint8Array(64));
          expect(thrown(() => copy(live, ended))).toBeInstanceOf(UseAfterFreeError);
          expect(thrown(() => copy(out.bytes, ended))).toBeInstanceOf(UseAfterFreeError);
          expect(out.bytes.every((b) => b === 0)).toBe(true);
        }
      });
    }
  }

  // Allocations never viewed: their proof of life is the pool's count of ends (Allocation.knownAlive).
  for (const [route, end] of ends) {
    test(`${route}, between allocations never viewed`, () => {
      const p = pool("fast-unviewed", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 64 });
      const source = p.allocate(64);
      const target = p.allocate(64);
      copy(target, source); // taken with no view made, no call into the core but the copy
      const ended = p.allocate(64);
      end(p, ended);
      const next = p.allocate(64);
      const other = route === "reset()" ? p.allocate(64) : target;
      expect(thrown(() => copy(ended, other))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(other, ended))).toBeInstanceOf(UseAfterFreeError);
      expect(next.bytes.every((b) => b === 0)).toBe(true);
      if (route !== "reset()") expect(copy(target, source)).toBe(64); // the others live on (the core asked once)
    });
  }

  test("a destroyed pool's allocation, on either side", () => {
    const live = viewed(pool("fast-live"), pattern(64, 7));
    const gone = viewed(pool("fast-destroyed"), new Uint8Array(64));
    manager.destroyPool("fast-destroyed");
    expect(thrown(() => copy(gone, live))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(live, gone))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => copy(new Uint8Array(64), gone))).toBeInstanceOf(UseAfterFreeError);
  });

  test("a view kept after its allocation ended names no memory on either side", () => {
    const p = pool("fast-stale-view", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 64 });
    const a = viewed(p, pattern(64, 8));
    const view = a.bytes;
    a.free();
    const next = viewed(p, new Uint8Array(64));
    expect(thrown(() => copy(view, pattern(64, 9)))).toBeInstanceOf(OutOfBoundsError);
    expect(thrown(() => copy(next, view))).toBeInstanceOf(OutOfBoundsError);
    expect(next.bytes.every((b) => b === 0)).toBe(true);
  });

  test("a view whose buffer the caller transferred away: the allocation lives, and the copy still goes through", () => {
    const a = viewed(pool("fast-transferred"), new Uint8Array(64));
    a.bytes.buffer.transfer();
    expect(copy(a, pattern(64, 10))).toBe(64);
    expect(Buffer.compare(a.bytes, pattern(64, 10))).toBe(0);
  });
});

describe("views that lie about their length", () => {
  test("an own length: the real bytes are copied and counted, never more", () => {
    const p = pool("fast-lying");
    const dst = viewed(p, new Uint8Array(64));
    const short = Object.defineProperty(pattern(16, 11), "length", { value: 64 });
    expect(copy(dst, short)).toBe(16);
    expect(Buffer.compare(dst.bytes.subarray(0, 16), pattern(16, 11))).toBe(0);
    expect(dst.bytes.subarray(16).every((b) => b === 0)).toBe(true);
    const small = Object.defineProperty(new Uint8Array(16), "length", { value: 4096 });
    expect(thrown(() => copy(small, dst))).toBeInstanceOf(OutOfBoundsError);
    const long = Object.defineProperty(pattern(64, 12), "length", { value: 8 });
    expect(copy(dst, long)).toBe(64);
    expect(Buffer.compare(dst.bytes, pattern(64, 12))).toBe(0);
  });

  test("a patched length getter that frees the destination as it is read: UseAfterFreeError, the block's next allocation untouched", () => {
    const p = pool("fast-lying-getter", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 64 });
    const dst = viewed(p, new Uint8Array(64));
    const src = pattern(64, 13);
    const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
    const original = Object.getOwnPropertyDescriptor(typedArrayPrototype, "length")!;
    let next: Allocation | undefined;
    Object.defineProperty(typedArrayPrototype, "length", {
      configurable: true,
      get(this: Uint8Array) {
        if (next === undefined && this === src) {
          dst.free();
          next = p.allocate(64);
        }
        return original.get!.call(this);
      },
    });
    try {
      expect(thrown(() => copy(dst, src))).toBeInstanceOf(UseAfterFreeError);
    } finally {
      Object.defineProperty(typedArrayPrototype, "length", original);
    }
    expect(next).toBeDefined();
    expect(next!.bytes.every((b) => b === 0)).toBe(true);
  });
});

test("a shared (mutex) pool's allocation freed in another Worker is a UseAfterFreeError here, though this thread's view of it is still attached", async () => {
  const p = pool("fast-shared", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 64, threadSafety: "mutex" });
  const a = viewed(p, new Uint8Array(64));
  const view = a.bytes;
  const worker = new Worker(new URL("./fixtures/free-by-pointer-worker.ts", import.meta.url));
  try {
    const done = new Promise<unknown>((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    worker.postMessage({ pool: "fast-shared", pointer: a.ptr });
    expect(await done).toBe("freed");
  } finally {
    worker.terminate();
  }
  expect(view.byteLength).toBe(64); // another thread's free cannot detach it
  const next = p.allocate(64);
  expect(thrown(() => copy(a, pattern(64, 14)))).toBeInstanceOf(UseAfterFreeError);
  expect(thrown(() => copy(new Uint8Array(64), a))).toBeInstanceOf(UseAfterFreeError);
  expect(next.bytes.every((b) => b === 0)).toBe(true);
});
