// Views are safe by default (issue 12): a view's buffer is exactly its allocation, and every route
// that ends the allocation in this thread detaches it, so a stale view reads and writes nothing.
// Window views are the named opt-in and keep neither property.
import { describe, expect, test } from "bun:test";
import { ptr as addressOf, read } from "bun:ffi";
import { allocate, deallocate, DoubleFreeError, InvalidPointerError, InvalidSizeError, MemoryPoolManager, PoolConfig, UnsupportedOperationError, UseAfterFreeError, type Allocation, type CPUMemoryPool } from "../src/index";
import * as native from "../src/native";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";
import { baseOf, handleOf } from "../src/pool";
import { offsetOfAllocation } from "../src/allocation";

const manager = MemoryPoolManager.getInstance();
const pool = cpuPoolsPerTest();

/** Every route that ends an allocation, applied to `victim` of pool `p` (named `name`). */
const routes: [string, (p: CPUMemoryPool, victim: Allocation, name: string) => void][] = [
  ["free()", (_p, victim) => victim.free()],
  ["deallocate(pointer)", (p, victim) => p.deallocate(victim.ptr)],
  ["deallocate(view)", (p, victim) => p.deallocate(victim.bytes)],
  ["deallocate(allocation)", (p, victim) => p.deallocate(victim)],
  ["reset()", (p) => p.reset()],
  ["destroyPool", (_p, _victim, name) => manager.destroyPool(name)],
];

const configs: [string, Partial<PoolConfig>][] = [
  ["Variable", {}],
  // Frees on the JavaScript thread cache (src/block_cache.ts): plain stores on a default ("none") pool, compare-and-swap on a shared one.
  ["FixedSize", PoolConfig.FixedSizeCPU(256)],
  ["FixedSize with a JavaScript cache", { ...PoolConfig.FixedSizeCPU(256), threadSafety: "mutex", threadLocalCache: true }],
  // The core's path for fixed-size blocks.
  ["FixedSize, mutex", { ...PoolConfig.FixedSizeCPU(256), threadSafety: "mutex" }],
];

describe("default views", () => {
  for (const [kind, fields] of configs) {
    test(`${kind}: .bytes, .as() and their .buffer hold exactly the allocation`, () => {
      const p = pool(`exact-${kind}`, fields);
      for (const size of [1, 16, 64, 100, 256]) {
        const a = p.allocate(size);
        expect(a.bytes.buffer.byteLength).toBe(size);
        expect(a.bytes.byteOffset).toBe(0);
        expect(addressOf(a.bytes)).toBe(a.ptr);
        expect(a.as(Uint32Array).length).toBe(Math.floor(size / 4));
        expect(a.as(Uint32Array).buffer as ArrayBuffer).toBe(a.bytes.buffer as ArrayBuffer);
        a.free();
      }
    });

    for (const [route, end] of routes) {
      test(`${kind}: after ${route} a view taken before has length 0 and a write through it reaches no other allocation`, () => {
        const name = `ended-${kind}-${route}`;
        const p = pool(name, fields);
        const victim = p.allocate(64);
        const neighbours = Array.from({ length: 4 }, () => p.allocate(64));
        for (const n of neighbours) n.bytes.fill(0x5a);
        const bytes = victim.bytes;
        const words = victim.as(Float64Array);
        end(p, victim, name);
        for (const view of [bytes, words]) {
          expect(view.byteLength).toBe(0);
          expect(view.buffer.byteLength).toBe(0);
          expect(view[0]).toBeUndefined();
          view[0] = 9; // ignored: a detached view reaches nothing
          expect(view[0]).toBeUndefined();
          expect(() => view.fill(7)).toThrow(TypeError);
        }
        if (route === "destroyPool") return; // the memory is gone with the pool
        if (route !== "reset()") {
          for (const n of neighbours) expect(n.bytes.every((b) => b === 0x5a)).toBe(true);
          // The next allocation of the same block and size (views over its spare buffer) is untouched too.
          const next = p.allocate(64);
          next.bytes.fill(1);
          bytes[0] = 2;
          expect(next.bytes[0]).toBe(1);
          expect(bytes.length).toBe(0);
        } else {
          for (const n of neighbours) expect(read.u8(n.ptr, 0)).toBe(0x5a); // reset frees, it does not write
        }
      });
    }
  }

  test("a block's next allocation of the same size gets a view of its own: the old one stays dead", () => {
    const p = pool("spare-reuse", PoolConfig.FixedSizeCPU(64));
    const first = p.allocate(48);
    const old = first.bytes;
    first.free();
    const second = p.allocate(48);
    expect(second.ptr).toBe(first.ptr); // the same block
    const fresh = second.bytes;
    expect(fresh.buffer).not.toBe(old.buffer);
    fresh[0] = 3;
    expect(old.length).toBe(0);
    expect(old[0]).toBeUndefined();
    const third = p.allocate(48);
    second.free();
    expect(fresh.length).toBe(0);
    third.free();
  });

  test("blocks freed past the spares' byte budget keep no spare: their next allocations still get exact views, the old ones stay dead", () => {
    const p = pool("spare-budget", { initialSize: 16 << 20 });
    const size = 256 << 10; // 8 of them are twice the budget (1 MiB)
    const first = Array.from({ length: 8 }, () => p.allocate(size));
    const old = first.map((a) => a.bytes);
    for (const a of first) a.free();
    const again = Array.from({ length: 8 }, () => p.allocate(size));
    expect(new Set(again.map((a) => a.ptr))).toEqual(new Set(first.map((a) => a.ptr)));
    again.forEach((a, i) => {
      expect(a.bytes.buffer.byteLength).toBe(size);
      a.bytes.fill(i + 1);
    });
    for (const view of old) expect(view.length).toBe(0);
    again.forEach((a, i) => expect(read.u8(a.ptr, size - 1)).toBe(i + 1));
    for (const a of again) a.free();
  });

  test("an allocation that ended where this thread did not see it (another Worker) has its views detached when the block is viewed again", () => {
    // A Variable pool: the core's path, which hands the freed block out again at once (a FixedSize
    // pool's JavaScript cache would hand out one of its own blocks first).
    const p = pool("ended-elsewhere", Object.assign(new PoolConfig(), { initialSize: 1 << 20 }));
    const first = p.allocate(32);
    const old = first.bytes;
    expect(native.free(handleOf(p), offsetOfAllocation(first), first.id)).toBe(0); // as another Worker's free would
    const second = p.allocate(32);
    expect(second.ptr).toBe(first.ptr);
    second.bytes[0] = 1;
    expect(old.length).toBe(0);
    second.free();
  });

  test("fromPointer's handle shares the allocation's buffer; both die with it", () => {
    const p = pool("from-pointer-views");
    const a = p.allocate(40);
    const other = p.fromPointer(a.ptr);
    expect(other.bytes.buffer).toBe(a.bytes.buffer);
    p.deallocate(other.bytes);
    expect(a.alive).toBe(false);
    expect(() => a.bytes).toThrow();
  });

  test("a stale view handed back is a double free; an empty view of no allocation is an invalid pointer", () => {
    const p = pool("stale-view");
    const view = p.allocate(24).bytes;
    p.deallocate(view);
    expect(thrown(() => p.deallocate(view))).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => p.deallocate(new Uint8Array(0)))).toBeInstanceOf(InvalidPointerError);
  });

  test("the helpers give exact views that deallocate() detaches", () => {
    const bytes = allocate(100);
    expect(bytes.buffer.byteLength).toBe(100);
    const floats = allocate(Float32Array, 10);
    expect(floats.length).toBe(10);
    expect(floats.buffer.byteLength).toBe(40);
    deallocate(bytes);
    deallocate(floats);
    expect(bytes.length).toBe(0);
    expect(floats.length).toBe(0);
  });
});

describe("window views (the unsafe opt-in)", () => {
  test("windowBytes() sees the same bytes through the pool's window, and is not detached on free", () => {
    const p = pool("window");
    const a = p.allocate(64);
    const b = p.allocate(64);
    const window = a.windowBytes();
    expect(window.length).toBe(64);
    expect(window.buffer.byteLength).toBeGreaterThan(64); // the window: it reaches b as well
    window[0] = 42;
    expect(a.bytes[0]).toBe(42);
    const wide = new Uint8Array(window.buffer, window.byteOffset, b.ptr - a.ptr + 1);
    wide[b.ptr - a.ptr] = 17;
    expect(b.bytes[0]).toBe(17); // what it gives up: every allocation is in reach
    a.free();
    expect(window.length).toBe(64); // and it outlives the allocation
    expect(() => a.windowBytes()).toThrow();
    b.free();
  });

  test("a block's window view is handed out again while its allocation has the same size, and is never longer than the allocation", () => {
    const p = pool("window-reuse", PoolConfig.FixedSizeCPU(64));
    const a = p.allocate(64);
    const view = a.windowBytes();
    expect(a.windowBytes()).toBe(view);
    a.free();
    const b = p.allocate(64);
    expect(b.ptr).toBe(a.ptr); // the same block, the same size: the same view
    expect(b.windowBytes()).toBe(view);
    b.free();
    const c = p.allocate(16);
    expect(c.ptr).toBe(a.ptr);
    const short = c.windowBytes();
    expect(short).not.toBe(view);
    expect(short.length).toBe(16);
    expect(short.byteOffset).toBe(view.byteOffset);
    expect(c.windowBytes()).toBe(short);
    c.free();
    const d = p.allocate(64);
    expect(d.ptr).toBe(a.ptr);
    expect(d.windowBytes().length).toBe(64);
    // A view the caller cut short by transferring the window away is made again over a new window.
    d.windowBytes().buffer.transfer(0);
    expect(d.windowBytes().length).toBe(64);
    d.free();
  });

  test("a window spans what its views reach, not the pool's address space; destroy detaches the windows it outgrew too", () => {
    const name = "window-grows";
    const p = pool(name, { initialSize: 64 << 20 });
    const first = p.allocate(64);
    const early = first.windowBytes();
    expect(early.buffer.byteLength).toBeLessThanOrEqual(1 << 20); // a 4 GiB window made every JavaScript allocation dearer (bench/RESULTS.md)
    const big = p.allocate(8 << 20);
    const far = p.allocate(64);
    const late = far.windowBytes();
    expect(late.length).toBe(64);
    expect(late.buffer.byteLength).toBeGreaterThan(far.ptr - baseOf(p) + 64 - 1);
    expect(late.buffer.byteLength).toBeLessThanOrEqual(64 << 20);
    late[0] = 5;
    expect(far.bytes[0]).toBe(5);
    early[0] = 6;
    expect(first.bytes[0]).toBe(6); // a view of the window it outgrew still reaches its block
    big.free();
    manager.destroyPool(name);
    expect(early.length).toBe(0);
    expect(late.length).toBe(0);
  });
});

describe("allocateWindowBytes(): the window opt-in in one step, with no handle", () => {
  for (const [kind, fields] of configs) {
    test(`${kind}: the block's window view, handed out again for the block's next allocation of the size, freed by deallocate(view)`, () => {
      const p = pool(`window-step-${kind}`, fields);
      const view = p.allocateWindowBytes(64);
      const other = p.allocate(64);
      expect(view.length).toBe(64);
      expect(view.buffer.byteLength).toBeGreaterThan(64); // the window: what it gives up
      const address = baseOf(p) + view.byteOffset;
      view[0] = 42;
      expect(read.u8(address as never, 0)).toBe(42);
      expect(p.getStats().liveAllocations).toBe(2);
      p.deallocate(view);
      expect(p.getStats().liveAllocations).toBe(1);
      expect(view.length).toBe(64); // nothing detaches it
      expect(thrown(() => p.deallocate(view))).toBeInstanceOf(DoubleFreeError);
      const again = p.allocateWindowBytes(64);
      if (baseOf(p) + again.byteOffset === address) expect(again).toBe(view); // the same block and size: the same view
      const handle = p.fromPointer(baseOf(p) + again.byteOffset);
      expect(handle.windowBytes()).toBe(again); // one view per block, whichever way it was asked for
      p.deallocate(again);
      expect(thrown(() => handle.bytes)).toBeInstanceOf(UseAfterFreeError);
      // A window view that lost its allocation is freed by address: the block's next allocation, as a pointer would (the opt-in's risk).
      const short = p.allocateWindowBytes(16);
      expect(short.length).toBe(16);
      p.deallocate(short);
      other.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }

  test("a view the pool did not hand out is not taken for a window view: another pool's is an InvalidPointerError, and a lying byteOffset frees nothing else", () => {
    const p = pool("window-step-own");
    const q = pool("window-step-other");
    const theirs = q.allocateWindowBytes(64);
    const mine = p.allocateWindowBytes(64);
    expect(thrown(() => p.deallocate(theirs))).toBeInstanceOf(InvalidPointerError);
    // A copy of the window view (same buffer, same offset) is not the pool's view: freed by its address, the same block.
    const twin = new Uint8Array(mine.buffer, mine.byteOffset, 64);
    const liar = new Uint8Array(64);
    Object.defineProperty(liar, "byteOffset", { value: mine.byteOffset });
    expect(thrown(() => p.deallocate(liar))).toBeInstanceOf(InvalidPointerError);
    const thrower = new Uint8Array(64);
    Object.defineProperty(thrower, "byteOffset", {
      get() {
        throw new Error("a caller's getter");
      },
    });
    expect(thrown(() => p.deallocate(thrower))).toBeInstanceOf(InvalidPointerError);
    expect(p.getStats().liveAllocations).toBe(1);
    p.deallocate(twin);
    expect(p.getStats().liveAllocations).toBe(0);
    expect(thrown(() => p.deallocate(mine))).toBeInstanceOf(DoubleFreeError);
    q.deallocate(theirs);
    expect(q.getStats().liveAllocations).toBe(0);
  });

  test("a window view whose window the caller transferred away frees nothing: an InvalidPointerError (a detached view names no memory, and nothing was freed); its block is freed by pointer", () => {
    const p = pool("window-step-transferred", PoolConfig.FixedSizeCPU(64));
    const first = p.allocateWindowBytes(64);
    const view = p.allocateWindowBytes(64);
    const address = baseOf(p) + view.byteOffset;
    view.buffer.transfer(0);
    expect(view.length).toBe(0);
    expect(thrown(() => p.deallocate(view))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => p.deallocate(first))).toBeInstanceOf(InvalidPointerError);
    expect(p.getStats().liveAllocations).toBe(2);
    p.deallocate(address);
    const again = p.allocateWindowBytes(64); // a new window, a new view
    expect(again.length).toBe(64);
    expect(again).not.toBe(view);
    p.deallocate(again);
    expect(p.getStats().liveAllocations).toBe(1);
  });

  test("a size no window view can have takes no block; bad sizes are typed errors", () => {
    const p = pool("window-step-sizes", { initialSize: 1 << 20, maxSize: 1 << 30 });
    expect(thrown(() => p.allocateWindowBytes(2 ** 31 + 16))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => p.allocateWindowBytes(0))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => p.allocateWindowBytes("64" as never))).toBeInstanceOf(InvalidSizeError);
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("a pool with guard pages gives no window views, and takes no block for the call", () => {
    const p = pool("window-step-guarded", { guardPages: true });
    expect(thrown(() => p.allocateWindowBytes(48))).toBeInstanceOf(UnsupportedOperationError);
    expect(p.getStats()).toMatchObject({ liveAllocations: 0, allocationCount: 0 });
  });

  test("destroyPool detaches the views it handed out", () => {
    const name = "window-step-destroy";
    const p = pool(name);
    const view = p.allocateWindowBytes(64);
    manager.destroyPool(name);
    expect(view.length).toBe(0);
  });
});

describe("handles of a threadSafety \"none\" pool know when they end without asking the core", () => {
  for (const [kind, fields] of configs.slice(0, 2)) {
    test(`${kind}: an end by any route of this thread, through this handle or not, makes the handle throw`, () => {
      const p = pool(`ends-${kind}`, fields);
      const a = p.allocate(64);
      const twin = p.fromPointer(a.ptr);
      a.bytes.fill(1);
      twin.free(); // the same allocation through another handle
      expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => a.windowBytes())).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => a.as(Uint32Array))).toBeInstanceOf(UseAfterFreeError);
      const b = p.allocate(64);
      p.deallocate(b.ptr);
      expect(thrown(() => b.windowBytes())).toBeInstanceOf(UseAfterFreeError);
      const c = p.allocate(64);
      c.bytes[0] = 4;
      p.reset();
      expect(thrown(() => c.bytes)).toBeInstanceOf(UseAfterFreeError);
    });

    test(`${kind}: another allocation's end leaves a live handle usable (the core is asked once, then it is known alive again)`, () => {
      const p = pool(`ends-other-${kind}`, fields);
      const live = p.allocate(64);
      const other = p.allocate(64);
      p.deallocate(other.ptr);
      expect(live.bytes.length).toBe(64);
      expect(live.windowBytes().length).toBe(64);
      expect(live.alive).toBe(true);
      live.free();
      expect(live.alive).toBe(false);
    });
  }
});
