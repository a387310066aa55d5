/**
 * The debug switches one by one, then together: what each catches, what it reports, that it
 * finds every overrun of its kind, and that a pool without it pays nothing (keeps no records,
 * captures no stacks). Faults that kill the process are in debug-catalogue.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { dlopen, FFIType, ptr as addressOf, read, type Pointer } from "bun:ffi";
import { readFileSync } from "node:fs";
import {
  BoundaryViolationError,
  ConfigError,
  DoubleFreeError,
  InvalidPointerError,
  MemoryPoolError,
  MemoryPoolManager,
  PoolConfig,
  UseAfterFreeError,
  type Allocation,
} from "../src/index";
import { debugFromEnvironment } from "../src/debug/env";
import * as native from "../src/native";
import { poolPath, removePoolFiles } from "./pmem/helpers";
import { thrown } from "./support/thrown";
import { handleOf } from "../src/pool";
import { offsetOfAllocation } from "../src/allocation";

const manager = MemoryPoolManager.getInstance();
const libc = dlopen("libc.so.6", { memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
/** A native write, as C code handed the pointer would make it. */
const nativeWrite = (address: number, length = 1, byte = 0x41) => libc.symbols.memset(address as Pointer, byte, length);
const PAGE = 4096;
let created: string[] = [];

function pool(name: string, fields: Partial<PoolConfig> = {}, base = new PoolConfig()) {
  created.push(name);
  return manager.createCPUPool(name, Object.assign(base, fields));
}

afterEach(() => {
  for (const name of created) {
    if (!manager.hasPool(name)) continue;
    try {
      manager.destroyPool(name);
    } catch (err) {
      if (!(err instanceof MemoryPoolError)) throw err; // damage left on purpose by a test
    }
  }
  created = [];
});


/** The protection of the page holding `address`, from /proc/self/maps ("rw-p", "---p"). */
function protectionsOf(addresses: number[]): string[] {
  const maps = readFileSync("/proc/self/maps", "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [range = "", perms = ""] = line.split(" ");
      const [start = "0", end = "0"] = range.split("-");
      return { start: parseInt(start, 16), end: parseInt(end, 16), perms };
    });
  return addresses.map((address) => maps.find((m) => address >= m.start && address < m.end)?.perms ?? "unmapped");
}

const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;

describe("configuration", () => {
  test("the debug switches are off by default and a plain pool keeps no debug records", () => {
    const config = new PoolConfig();
    expect(config.debugging).toBe(false);
    const p = pool("cfg-plain");
    const a = p.allocate(64);
    expect(p.getHistory()).toEqual([]);
    expect(p.getLeaks()).toEqual([{ id: a.id, ptr: a.ptr, size: 64, age: undefined, stack: undefined, collected: false }]);
    a.free();
  });

  test("DebugCPU turns every switch on; DebugPMEM and DebugGPU the ones that suit them", () => {
    const cpu = PoolConfig.DebugCPU();
    expect(cpu).toMatchObject({ guardPages: true, guardSampleRate: 1, canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd, safeViews: true, trackHistory: true, leakReport: true });
    expect(cpu.quarantineBytes).toBeGreaterThan(0);
    const pmem = PoolConfig.DebugPMEM("/tmp/x.pool");
    expect(pmem).toMatchObject({ pmemPoolPath: "/tmp/x.pool", guardPages: false, canaries: false, fillOnAlloc: undefined, safeViews: true, trackHistory: true, leakReport: true, quarantineBytes: 0 });
    expect(PoolConfig.SampledGuardsCPU()).toMatchObject({ guardPages: true, guardSampleRate: 5000, canaries: false, trackHistory: false });
    expect(PoolConfig.SampledGuardsCPU(10).guardSampleRate).toBe(10);
    const gpu = PoolConfig.DebugGPU(1);
    expect(gpu).toMatchObject({ deviceId: 1, guardPages: false, canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd, trackHistory: true, leakReport: true, quarantineBytes: 0 });
    const p = pool("cfg-debugcpu", {}, PoolConfig.DebugCPU());
    expect(p.config.guardPages).toBe(true);
    expect(p.config.fillOnFree).toBe(0xdd);
  });

  const bad: [keyof PoolConfig, unknown][] = [
    ["guardPages", 1],
    ["guardPagePosition", "middle"],
    ["guardSampleRate", 0],
    ["guardSampleRate", 2.5],
    ["canaries", "yes"],
    ["fillOnAlloc", 256],
    ["fillOnFree", -1],
    ["fillOnFree", 0.5],
    ["quarantineBytes", -4096],
    ["safeViews", null],
    ["trackHistory", 0],
    ["historySize", 0],
    ["leakReport", undefined],
  ];
  for (const [field, value] of bad) {
    test(`${field} = ${String(value)} is a ConfigError naming the field`, () => {
      const err = thrown<ConfigError>(() => pool(`cfg-bad-${field}`, { [field]: value } as Partial<PoolConfig>));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.field).toBe(field);
      expect(manager.hasPool(`cfg-bad-${field}`)).toBe(false);
    });
  }

  test("a Worker attaching to a debug pool reads the same switches", () => {
    pool("cfg-attach", { canaries: true, guardPages: true, guardPagePosition: "before", guardSampleRate: 7, fillOnAlloc: 1, quarantineBytes: 8192, trackHistory: true, historySize: 9 });
    const attached = (() => {
      // A second manager view of the same core pool: what getPool gives a Worker.
      const handle = native.findPool(native.encodeName("cfg-attach"));
      expect(handle).toBeDefined();
      const record = native.poolConfig(handle!);
      return Array.from(record.subarray(native.CONFIG_FIELDS.indexOf("canaries")));
    })();
    expect(attached).toEqual([1, 2, 7, 1, -1, 8192, 1, 0, 0, 9]);
  });
});

describe("MEMORY_POOL_DEBUG", () => {
  test("values: 1 turns everything on, a list turns those on, 0 or nothing turns nothing on", () => {
    expect(debugFromEnvironment(undefined)).toBeUndefined();
    expect(debugFromEnvironment("0")).toBeUndefined();
    expect(debugFromEnvironment("")).toBeUndefined();
    expect(debugFromEnvironment("1")).toMatchObject({ guardPages: true, canaries: true, trackHistory: true, leakReport: true, safeViews: true });
    expect(debugFromEnvironment("canaries, leakReport")).toEqual({ canaries: true, leakReport: true });
    expect(debugFromEnvironment("sampled")).toEqual({ guardPages: true, guardSampleRate: 5000 });
    expect(debugFromEnvironment("sampled=50,quarantine=4096")).toEqual({ guardPages: true, guardSampleRate: 50, quarantineBytes: 4096 });
    expect(debugFromEnvironment("underflow,fillOnFree=0")).toEqual({ guardPages: true, guardPagePosition: "before", fillOnFree: 0 });
    const err = thrown<ConfigError>(() => debugFromEnvironment("canaries,guardpages"));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("'guardpages' is not a debug switch");
  });

  test("set before the process starts, it turns debugging on for pools made without it", () => {
    const script = `
      const { MemoryPoolManager, PoolConfig } = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)});
      const pool = MemoryPoolManager.getInstance().createCPUPool("env", new PoolConfig());
      const { guardPages, canaries, trackHistory } = pool.config;
      const a = pool.allocate(16);
      const unlocked = MemoryPoolManager.getInstance().createCPUPool("env-lockfree", Object.assign(PoolConfig.FixedSizeCPU(64), { threadSafety: "lockFree" }));
      const lockFree = { canaries: unlocked.config.canaries, trackHistory: unlocked.config.trackHistory };
      console.log(JSON.stringify({ guardPages, canaries, trackHistory, events: pool.getHistory().length, aligned: (a.ptr + 16) % 4096 === 0, lockFree }));
      a.free();
    `;
    const run = (value: string) => {
      const result = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, MEMORY_POOL_DEBUG: value }, stderr: "pipe" });
      expect(result.stderr.toString()).toBe("");
      return JSON.parse(result.stdout.toString());
    };
    // A lockFree pool takes only the switches that act in TypeScript, so its creation never fails for the variable.
    expect(run("1")).toEqual({ guardPages: true, canaries: true, trackHistory: true, events: 1, aligned: true, lockFree: { canaries: false, trackHistory: true } });
    expect(run("canaries")).toEqual({ guardPages: false, canaries: true, trackHistory: false, events: 0, aligned: false, lockFree: { canaries: false, trackHistory: false } });
    expect(run("0")).toEqual({ guardPages: false, canaries: false, trackHistory: false, events: 0, aligned: false, lockFree: { canaries: false, trackHistory: false } });
  });
});

describe("canaries", () => {
  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    test(`${allocatorType}: every overrun of 1 to 16 bytes past any size from 1 to 96 is found, side and offset exact`, () => {
      const p = pool(`canary-sweep-${allocatorType}`, { canaries: true, allocatorType, blockSize: 96 });
      let found = 0;
      let cases = 0;
      for (let size = 1; size <= 96; size++) {
        for (let distance = 1; distance <= 16; distance++) {
          const a = p.allocate(size);
          nativeWrite(a.ptr + size + distance - 1, 1, 0); // the distance-th byte past the end
          cases++;
          const err = thrown<BoundaryViolationError>(() => p.check());
          if (err instanceof BoundaryViolationError && err.allocationId === a.id && err.side === "after" && err.offset === size + distance - 1) found++;
          expect(() => a.free()).toThrow(BoundaryViolationError); // the free finds it too, and goes through
          expect(a.alive).toBe(false);
        }
      }
      expect(found).toBe(cases);
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }

  test("underruns of 1 to 16 bytes are found on the side before, the nearest damaged byte named", () => {
    const p = pool("canary-under", { canaries: true });
    for (let distance = 1; distance <= 16; distance++) {
      const a = p.allocate(40);
      nativeWrite(a.ptr - distance, distance, 0); // everything from `distance` bytes before up to the start
      const err = thrown<BoundaryViolationError>(() => a.free());
      expect(err).toBeInstanceOf(BoundaryViolationError);
      expect(err.code).toBe("BOUNDARY_VIOLATION");
      expect(err.side).toBe("before");
      expect(err.offset).toBe(-1);
      expect(err.damagedBytes).toBe(distance);
      expect(err.size).toBe(40);
      expect(err.ptr).toBe(a.ptr);
      expect(err.poolName).toBe("canary-under");
      expect(err.message).toContain(`allocation #${a.id} (40 bytes`);
    }
  });

  test("check() finds the first damaged allocation, with its stack where trackHistory keeps it", () => {
    const p = pool("canary-check", { canaries: true, trackHistory: true });
    const healthy = p.allocate(100);
    const victim = p.allocate(100);
    p.check();
    nativeWrite(victim.ptr + 100, 3);
    const err = thrown<BoundaryViolationError>(() => p.check());
    expect(err.allocationId).toBe(victim.id);
    expect(err.allocationStack).toContain("debug.test.ts");
    expect(err.message).toMatch(/allocated at:\n {4}at .*debug\.test\.ts:\d+/);
    expect(p.getHistory().at(-1)).toMatchObject({ kind: "violation", id: victim.id, size: 100 });
    healthy.free();
    expect(() => victim.free()).toThrow(BoundaryViolationError);
    p.check();
  });

  test("destroyPool reports the damage after releasing the pool", () => {
    const p = pool("canary-destroy", { canaries: true });
    const a = p.allocate(10);
    nativeWrite(a.ptr + 10);
    const err = thrown(() => manager.destroyPool("canary-destroy"));
    expect(err).toBeInstanceOf(BoundaryViolationError);
    expect(manager.hasPool("canary-destroy")).toBe(false);
  });

  test("without canaries there is nothing to check and the layout is the plain one", () => {
    const plain = pool("canary-off");
    const a = plain.allocate(16);
    const b = plain.allocate(16);
    expect(b.ptr - a.ptr).toBe(16); // no room set aside between blocks
    nativeWrite(a.ptr + 16 - 1); // (inside a, to leave b intact)
    plain.check();
    const guarded = pool("canary-on", { canaries: true });
    const c = guarded.allocate(16);
    const d = guarded.allocate(16);
    expect(d.ptr - c.ptr).toBe(16 + 16 + 16); // front canary, the bytes, back canary
  });
});

describe("guard pages", () => {
  test("every size: the user bytes end on the guard page (to the granule), the slack is canaried", () => {
    const p = pool("guard-sweep", { guardPages: true });
    const sizes = [...Array.from({ length: 64 }, (_, i) => i + 1), 100, 255, 4095, 4096, 4097, 10_000, 65_536, 1 << 20];
    const live = sizes.map((size) => p.allocate(size));
    const guards = live.map((a) => a.ptr + alignUp(a.size, 16));
    expect(guards.every((address) => address % PAGE === 0)).toBe(true);
    expect(protectionsOf(guards)).toEqual(guards.map(() => "---p"));
    expect(protectionsOf(live.map((a) => a.ptr))).toEqual(live.map(() => "rw-p"));
    for (const a of live) expect(native.isGuarded(handleOf(p), offsetOfAllocation(a))).toBe(true);
    // An overrun too small to reach the page lands in the slack, where canaries catch it.
    const odd = live.filter((a) => a.size % 16 !== 0);
    for (const a of odd) {
      nativeWrite(a.ptr + a.size);
      const err = thrown<BoundaryViolationError>(() => a.free());
      expect(err).toBeInstanceOf(BoundaryViolationError);
      expect(err.offset).toBe(a.size);
    }
    for (const a of live.filter((a) => a.size % 16 === 0)) a.free();
  });

  test("underflow mode: the user bytes start right after the guard page", () => {
    const p = pool("guard-before", { guardPages: true, guardPagePosition: "before" });
    const live = [1, 16, 100, 4096, 5000].map((size) => p.allocate(size));
    expect(live.every((a) => a.ptr % PAGE === 0)).toBe(true);
    expect(protectionsOf(live.map((a) => a.ptr - 1))).toEqual(live.map(() => "---p"));
    for (const a of live) a.free();
  });

  test("freed guarded memory is inaccessible, and its views are detached (they cannot reach it)", () => {
    const p = pool("guard-free", { guardPages: true });
    const a = p.allocate(64);
    const view = a.bytes;
    const floats = a.as(Float32Array);
    view[0] = 1;
    expect(view.buffer.byteLength).toBe(64); // a buffer of its own, not the pool's window
    a.free();
    expect(protectionsOf([a.ptr])).toEqual(["---p"]);
    expect(view.length).toBe(0);
    expect(floats.length).toBe(0);
    expect(view[0]).toBeUndefined();
    view[0] = 5; // ignored: a detached view reaches nothing
  });

  test("sampled: about one allocation in N is guarded, the rest are plain and cost no record", () => {
    const p = pool("guard-sampled", { guardPages: true, guardSampleRate: 20 });
    const live = Array.from({ length: 4000 }, () => p.allocate(48));
    const guarded = live.filter((a) => native.isGuarded(handleOf(p), offsetOfAllocation(a)));
    expect(guarded.length).toBeGreaterThan(100);
    expect(guarded.length).toBeLessThan(400);
    const guards = guarded.map((a) => a.ptr + 48);
    expect(protectionsOf(guards)).toEqual(guards.map(() => "---p"));
    // Every view has a buffer of its own, guarded or not, windowBytes() too: a window would span guard pages.
    expect(guarded[0]!.bytes.buffer.byteLength).toBe(48);
    expect(guarded[0]!.windowBytes().buffer.byteLength).toBe(48);
    const plain = live.find((a) => !native.isGuarded(handleOf(p), offsetOfAllocation(a)))!;
    expect(plain.bytes.buffer.byteLength).toBe(48);
    expect(plain.windowBytes().buffer.byteLength).toBe(48);
    for (const a of live) a.free();
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test("reset and trim give guarded memory back; new allocations are guarded again", () => {
    const p = pool("guard-reset", { guardPages: true, quarantineBytes: 1 << 20 });
    const handles = Array.from({ length: 50 }, (_, i) => p.allocate(100 + i));
    const view = handles[0]!.bytes;
    p.reset();
    expect(view.length).toBe(0);
    expect(protectionsOf([handles[0]!.ptr])).toEqual(["---p"]);
    for (const h of handles) expect(() => h.bytes).toThrow(UseAfterFreeError);
    p.trim();
    const again = p.allocate(32);
    expect(protectionsOf([again.ptr + 32])).toEqual(["---p"]);
    again.bytes.fill(1);
    again.free();
  });
});

describe("fills and quarantine", () => {
  test("fillOnAlloc sets new memory, fillOnFree sets freed memory", () => {
    const p = pool("fill", { fillOnAlloc: 0xcd, fillOnFree: 0xdd, allocatorType: "FixedSize", blockSize: 64 });
    const a = p.allocate(64);
    expect(a.bytes.every((byte) => byte === 0xcd)).toBe(true);
    a.bytes.fill(7);
    const address = a.ptr;
    a.free();
    for (let i = 0; i < 64; i++) expect(read.u8(address as Pointer, i)).toBe(0xdd);
    const onlyFree = pool("fill-free-only", { fillOnFree: 0, allocatorType: "FixedSize", blockSize: 64 });
    const b = onlyFree.allocate(64);
    b.bytes.fill(9);
    b.free();
    expect(onlyFree.allocate(64).bytes.every((byte) => byte === 0)).toBe(true); // the same block, as the free left it
  });

  test("quarantine keeps freed blocks from reuse until its bytes are spent", () => {
    const p = pool("quarantine", { quarantineBytes: 4 * 64, allocatorType: "FixedSize", blockSize: 64 });
    const first = p.allocate(64);
    const address = first.ptr;
    first.free();
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const next = p.allocate(64);
      seen.add(next.ptr);
      next.free();
    }
    expect(seen.has(address)).toBe(false); // held back while younger frees pushed it along
    const reuse = Array.from({ length: 8 }, () => p.allocate(64));
    expect(reuse.some((a) => a.ptr === address)).toBe(true);
    expect(p.getStats().liveAllocations).toBe(8);
    for (const a of reuse) a.free();
  });

  test("a block in quarantine: not live, a second free names it, a write to it is found", () => {
    const p = pool("quarantine-uaf", { quarantineBytes: 1 << 20, trackHistory: true });
    const a = p.allocate(48);
    const address = a.ptr;
    expect(p.fromPointer(address).size).toBe(48);
    p.deallocate(address);
    expect(() => p.fromPointer(address)).toThrow(InvalidPointerError);
    const second = thrown(() => p.deallocate(address));
    expect(second).toBeInstanceOf(DoubleFreeError);
    expect(second.message).toContain(`allocation #${a.id}`);
    expect(second.message).toContain("quarantine");
    expect(read.u8(address as Pointer, 0)).toBe(0xdd); // poisoned
    nativeWrite(address + 47);
    const err = thrown<UseAfterFreeError>(() => p.check());
    expect(err).toBeInstanceOf(UseAfterFreeError);
    expect(err.details).toMatchObject({ allocationId: a.id, offset: 47, damagedBytes: 1, size: 48 });
    expect(err.details?.allocationStack).toContain("debug.test.ts");
    expect(err.details?.freeStack).toContain("debug.test.ts");
  });
});

describe("safe views", () => {
  test("freeing detaches every view handed out, by handle, pointer or view", () => {
    const p = pool("safe", { safeViews: true });
    for (const free of [(a: Allocation) => a.free(), (a: Allocation) => p.deallocate(a.ptr), (a: Allocation) => p.deallocate(a.bytes)]) {
      const a = p.allocate(32);
      const bytes = a.bytes;
      const words = a.as(Uint32Array);
      const other = p.fromPointer(a.ptr).bytes; // another handle on the same block
      bytes[0] = 1;
      expect(words[0]).toBe(1);
      expect(other[0]).toBe(1);
      free(a);
      for (const view of [bytes, words, other]) {
        expect(view.length).toBe(0);
        expect(view[0]).toBeUndefined();
      }
    }
  });

  test("a stale view handed back to deallocate is a double free naming the allocation", () => {
    const p = pool("safe-double", { safeViews: true });
    const a = p.allocate(32);
    const view = a.bytes;
    p.deallocate(view);
    const err = thrown(() => p.deallocate(view));
    expect(err).toBeInstanceOf(DoubleFreeError);
    expect(err.message).toContain(`allocation #${a.id} (32 bytes`);
  });

  test("a view's buffer holds exactly the allocation: no path to its neighbours", () => {
    const plain = pool("safe-off");
    expect(plain.allocate(32).bytes.buffer.byteLength).toBe(32); // the default since issue 12
    const safe = pool("safe-on", { safeViews: true });
    const a = safe.allocate(32);
    expect(a.bytes.buffer.byteLength).toBe(32);
    expect(addressOf(a.bytes)).toBe(a.ptr);
  });

  test("destroyPool and reset detach them too", () => {
    const p = pool("safe-reset", { safeViews: true });
    const view = p.allocate(8).bytes;
    p.reset();
    expect(view.length).toBe(0);
    const kept = p.allocate(8).bytes;
    manager.destroyPool("safe-reset");
    expect(kept.length).toBe(0);
  });
});

describe("history and leaks", () => {
  test("trackHistory keeps the last historySize events, each with its stack", () => {
    const p = pool("history", { trackHistory: true, historySize: 5 });
    const a = p.allocate(10);
    const b = p.allocateRaw(20);
    a.free();
    p.deallocate(b);
    const c = p.allocate(30);
    const d = p.allocate(40);
    const events = p.getHistory();
    expect(a.id).toBe(1);
    expect(events.map((e) => `${e.kind} #${e.id} ${e.size}`)).toEqual(["allocate #2 20", "free #1 10", "free #2 20", "allocate #3 30", "allocate #4 40"]);
    for (const event of events) {
      expect(event.stack).toMatch(/^ {4}at .*debug\.test\.ts:\d+:\d+/);
      expect(event.time).toBeGreaterThan(Date.now() - 60_000);
      expect(event.time).toBeLessThanOrEqual(Date.now() + 1);
    }
    expect(events[3]!.ptr).toBe(c.ptr);
    c.free();
    d.free();
  });

  test("without trackHistory no stack is captured: history holds only violations, leaks have no stack", () => {
    const p = pool("history-off", { canaries: true, leakReport: true });
    const a = p.allocate(10);
    expect(p.getHistory()).toEqual([]);
    const [leak] = p.getLeaks();
    expect(leak!.stack).toBeUndefined();
    expect(leak!.age).toBeGreaterThanOrEqual(0);
    nativeWrite(a.ptr + 10);
    expect(() => p.check()).toThrow(BoundaryViolationError);
    const events = p.getHistory();
    expect(events.length).toBe(1);
    expect(events[0]).toMatchObject({ kind: "violation", id: a.id, size: 10 });
    expect(events[0]!.stack).toBeUndefined();
    expect(events[0]!.detail).toContain("buffer overflow");
    expect(() => a.free()).toThrow(BoundaryViolationError);
  });

  test("getLeaks lists what is live: id, pointer, size, age, stack, raw pointers included", () => {
    const p = pool("leaks", { leakReport: true, trackHistory: true, guardPages: true, guardSampleRate: 2 });
    const kept = p.allocate(100);
    const raw = p.allocateRaw(200);
    p.allocate(300).free();
    const leaks = p.getLeaks();
    expect(leaks.map(({ id, ptr, size }) => ({ id, ptr, size }))).toEqual([
      { id: kept.id, ptr: kept.ptr, size: 100 },
      { id: kept.id + 1, ptr: raw, size: 200 },
    ]);
    for (const leak of leaks) {
      expect(leak.stack).toContain("debug.test.ts");
      expect(leak.age).toBeGreaterThanOrEqual(0);
      expect(leak.collected).toBe(false);
    }
    kept.free();
    p.deallocate(raw);
    expect(p.getLeaks()).toEqual([]);
  });
});

describe("snapshots", () => {
  test("a snapshot of a debug pool shows guard pages, quarantined blocks, ages and allocation stacks", () => {
    const p = pool("snap-debug", {}, PoolConfig.DebugCPU());
    const kept = p.allocate(100);
    const freed = p.allocate(200);
    freed.free();
    const snapshot = p.snapshot();
    expect(snapshot.history).toBe(true);
    const states = snapshot.blocks.map((block) => block.state);
    expect(states.filter((state) => state === "guard").length).toBe(2); // one per guarded allocation, live or quarantined
    const live = snapshot.blocks.find((block) => block.id === kept.id)!;
    expect(live).toMatchObject({ state: "live", requestedSize: 100 });
    expect(live.stack).toContain("debug.test.ts");
    expect(live.ageMs).toBeGreaterThanOrEqual(0);
    expect(snapshot.blocks.find((block) => block.id === freed.id)).toMatchObject({ state: "quarantined", requestedSize: 200 });
    kept.free();
  });

  test("a canary pool's snapshot counts each block with its canaries; quarantined strategy blocks are marked", () => {
    const p = pool("snap-canaries", { canaries: true, quarantineBytes: 1 << 16 });
    const a = p.allocate(10);
    const b = p.allocate(10);
    a.free();
    const blocks = p.snapshot().blocks;
    expect(blocks.find((block) => block.id === a.id)).toMatchObject({ state: "quarantined", size: 48 }); // 16 + 16 + 16
    expect(blocks.find((block) => block.id === b.id)).toMatchObject({ state: "live", size: 48 });
    b.free();
  });
});

describe("bad frees are typed errors in every mode", () => {
  const modes: [string, Partial<PoolConfig>][] = [
    ["plain", {}],
    ["canaries", { canaries: true }],
    ["guard pages", { guardPages: true }],
    ["sampled guard pages", { guardPages: true, guardSampleRate: 3 }],
    ["underflow guard pages", { guardPages: true, guardPagePosition: "before" }],
    ["quarantine", { quarantineBytes: 1 << 16 }],
    ["safe views", { safeViews: true }],
    ["everything", { ...PoolConfig.DebugCPU() }],
  ];
  for (const [mode, fields] of modes) {
    for (const allocatorType of ["Variable", "FixedSize"] as const) {
      test(`${mode}, ${allocatorType}`, () => {
        const p = pool(`bad-${mode}-${allocatorType}`, { ...fields, allocatorType, blockSize: 128 });
        const other = pool(`bad-other-${mode}-${allocatorType}`, { ...fields, allocatorType, blockSize: 128 });
        const live = Array.from({ length: 12 }, () => p.allocate(100));
        for (const a of live) {
          for (const interior of [1, 8, 16, 64, 99]) expect(thrown(() => p.deallocate(a.ptr + interior)).code).toBe("INVALID_POINTER");
          expect(() => other.deallocate(a.ptr)).toThrow(InvalidPointerError);
          expect(() => other.deallocate(a)).toThrow(InvalidPointerError);
          expect(a.alive).toBe(true);
        }
        expect(() => p.deallocate(addressOf(new Uint8Array(64)))).toThrow(InvalidPointerError);
        expect(() => p.deallocate(12345)).toThrow(InvalidPointerError);
        for (const [i, a] of live.entries()) {
          if (i % 2 === 0) a.free();
          else p.deallocate(a.ptr);
          expect(thrown(() => a.free()).code).toBe("DOUBLE_FREE");
          expect(thrown(() => p.deallocate(a.ptr)).code).toMatch(/^(DOUBLE_FREE|INVALID_POINTER)$/);
        }
        expect(p.getStats().liveAllocations).toBe(0);
        p.check();
      });
    }
  }
});

describe("other kinds of pool", () => {
  // Without libpmem, createPMEMPool says what is missing (test/pmem covers that).
  test.skipIf(native.pmemUnavailableReason() !== undefined)("a PMEM pool takes the switches that act in TypeScript and refuses the rest, by name", () => {
    const path = poolPath("debug");
    try {
      const refused = thrown<ConfigError>(() => manager.createPMEMPool("pmem-debug-refused", Object.assign(PoolConfig.DebugPMEM(path), { canaries: true, initialSize: 256 * 1024 })));
      expect(refused).toBeInstanceOf(ConfigError);
      expect(refused.field).toBe("canaries");
      expect(manager.hasPool("pmem-debug-refused")).toBe(false);
      const p = manager.createPMEMPool("pmem-debug", Object.assign(PoolConfig.DebugPMEM(path), { initialSize: 256 * 1024 }));
      created.push("pmem-debug");
      const a = p.allocate(64);
      const view = a.bytes;
      expect(view.buffer.byteLength).toBe(64); // safe views
      expect(p.getLeaks().map((leak) => [leak.id, leak.size, leak.stack?.includes("debug.test.ts")])).toEqual([[a.id, 64, true]]);
      a.free();
      expect(view.length).toBe(0);
      expect(p.getHistory().map((event) => event.kind)).toEqual(["allocate", "free"]);
      p.check(); // nothing to check: no canaries in a PMEM pool
    } finally {
      if (manager.hasPool("pmem-debug")) manager.destroyPool("pmem-debug");
      removePoolFiles();
    }
  });

  test("a pool that allocates without its lock (lockFree, threadLocalCache) refuses the core's checks, by name", () => {
    for (const [fields, field] of [
      [{ threadSafety: "lockFree", canaries: true }, "canaries"],
      [{ threadSafety: "mutex", threadLocalCache: true, quarantineBytes: 4096 }, "quarantineBytes"],
    ] as const) {
      const err = thrown<ConfigError>(() => pool("unlocked-debug", { ...PoolConfig.FixedSizeCPU(64), ...fields }));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.field).toBe(field);
      expect(manager.hasPool("unlocked-debug")).toBe(false);
    }
    const tracked = pool("unlocked-tracked", { ...PoolConfig.FixedSizeCPU(64), threadSafety: "lockFree", trackHistory: true, safeViews: true });
    const a = tracked.allocate(64);
    const view = a.bytes;
    a.free();
    expect(view.length).toBe(0);
    expect(tracked.getHistory().map((event) => event.kind)).toEqual(["allocate", "free"]);
  });

  // Pinned pools need a CUDA driver and device (test/gpu runs on the GPU machine).
  test.skipIf(manager.listDevices().length === 0)("a pinned pool refuses guard pages, takes canaries, and a GPU pool refuses guard pages", () => {
    const refused = thrown<ConfigError>(() => manager.createPinnedPool("pinned-guard", Object.assign(new PoolConfig(), { guardPages: true })));
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused.message).toContain("guardPages");
    const pinned = manager.createPinnedPool("pinned-canaries", Object.assign(new PoolConfig(), { canaries: true }));
    created.push("pinned-canaries");
    const a = pinned.allocate(10);
    nativeWrite(a.ptr + 10);
    expect(() => a.free()).toThrow(BoundaryViolationError);
    // A GPU pool's canaries are the debug kernels' (test/gpu); guard pages need host pages.
    const gpu = thrown<ConfigError>(() => manager.createGPUPool("gpu-guard", Object.assign(new PoolConfig(), { guardPages: true })));
    expect(gpu).toBeInstanceOf(ConfigError);
    expect(gpu.message).toContain("guardPages");
  });
});

describe("Workers", () => {
  test("a Worker opening a debug pool by name gets its switches; an allocation made there is checked here", async () => {
    const p = pool("worker-debug", { threadSafety: "mutex" }, PoolConfig.DebugCPU());
    const worker = new Worker(new URL("./fixtures/debug-pool-worker.ts", import.meta.url).href);
    const reply = new Promise<{ address: number; config: Partial<PoolConfig>; history: string[] }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(event);
    });
    worker.postMessage({ name: "worker-debug" });
    const { address, config, history } = await reply;
    worker.terminate();
    expect(config).toEqual({ guardPages: true, guardPagePosition: "after", canaries: true, fillOnAlloc: 0xcd, quarantineBytes: p.config.quarantineBytes, trackHistory: true, leakReport: true, safeViews: true });
    expect(history).toEqual(["allocate"]);
    const adopted = p.fromPointer(address);
    expect(adopted.size).toBe(100);
    const view = adopted.bytes;
    expect(view.buffer.byteLength).toBe(100); // a buffer of its own: guarded memory is never reached through the window
    expect(view.every((byte) => byte === 42)).toBe(true);
    expect(protectionsOf([address + 112])).toEqual(["---p"]);
    p.check();
    adopted.free();
    expect(view.length).toBe(0);
    expect(protectionsOf([address])).toEqual(["---p"]);
  });
});

describe("everything on", () => {
  test("a random workload under DebugCPU: no false alarm, the counts agree, every block intact", () => {
    const p = pool("all-model", { initialSize: 1 << 20 }, PoolConfig.DebugCPU());
    let state = 0x2545f491;
    const random = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const live: Allocation[] = [];
    for (let step = 0; step < 3000; step++) {
      if (live.length === 0 || random(3) !== 0) {
        const a = p.allocate(1 + random(3000));
        expect(a.bytes.every((byte) => byte === 0xcd)).toBe(true);
        a.bytes.fill(step & 0xff);
        live.push(a);
      } else {
        const [victim] = live.splice(random(live.length), 1);
        victim!.free();
      }
    }
    p.check();
    expect(p.getStats().liveAllocations).toBe(live.length);
    expect(p.getLeaks().length).toBe(live.length);
    for (const a of live) a.free();
    expect(p.getLeaks()).toEqual([]);
  });
});
