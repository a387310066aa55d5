/**
 * Sizes and patterns of the kind other allocators' suites use, on CPU pools: sizes from 1 byte to
 * hundreds of MiB on every preset, strategy and thread-safety mode, growth on and off (the exact
 * error, and no memory committed by a failed try); random sizes freed in random order with every
 * pointer's alignment checked; many Workers, blocks allocated in one Worker and freed in another;
 * FixedSize requests over blockSize (runs of blocks); and how many pools a process may hold.
 *
 * Big blocks are touched at their first and last bytes only: memory is committed lazily, so the
 * test costs address space, not memory.
 */
import { describe, expect, test } from "bun:test";
import { DoubleFreeError, InvalidPointerError, InvalidSizeError, MemoryPoolError, MemoryPoolManager, OutOfMemoryError, PoolConfig, PoolNotFoundError, renderMemoryMap, TooManyPoolsError, type CPUMemoryPool } from "../src/index";
import { errorFor, Status } from "../src/native";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";
import type { Handed, SizesTask } from "./fixtures/sizes-worker";

const pool = cpuPoolsPerTest();
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [1, 15, 16, 17, 4095, 4097, 64 * KiB + 1, MiB - 1, 2 * MiB + 1, 3 * MiB + 1, 10_000_000, 32 * MiB + 16, 100_000_000, 300 * MiB];

/** Writes the first and last bytes of an allocation and reads them back. */
function touch(bytes: Uint8Array, value: number): void {
  bytes[0] = value;
  bytes[bytes.length - 1] = value ^ 0xff; // the same byte where the allocation has one
  expect(bytes[0]).toBe(bytes.length === 1 ? value ^ 0xff : value);
  expect(bytes[bytes.length - 1]).toBe(value ^ 0xff);
}

const presets: [string, () => PoolConfig][] = [
  ["new PoolConfig()", () => new PoolConfig()],
  ["HighPerformanceCPU()", () => PoolConfig.HighPerformanceCPU()],
  ["FixedSizeCPU(512)", () => PoolConfig.FixedSizeCPU(512)],
  ["SampledGuardsCPU()", () => PoolConfig.SampledGuardsCPU()],
  ["DebugCPU()", () => PoolConfig.DebugCPU()],
  ["DebugCPU() without fills or quarantine (guard pages and canaries up to 300 MiB)", () => Object.assign(PoolConfig.DebugCPU(), { fillOnAlloc: undefined, fillOnFree: undefined, quarantineBytes: 0 })],
  ["FixedSize 512 with DebugCPU()'s switches", () => Object.assign(PoolConfig.DebugCPU(), { allocatorType: "FixedSize", blockSize: 512 })],
  ["FixedSize 512, canaries and quarantine", () => Object.assign(PoolConfig.FixedSizeCPU(512), { canaries: true, quarantineBytes: 64 * KiB, fillOnFree: 0xdd })],
  ["Variable, alignment 4096", () => Object.assign(new PoolConfig(), { alignment: 4096 })],
  ["Variable, mutex", () => Object.assign(new PoolConfig(), { threadSafety: "mutex" })],
  ["Variable, lockFree", () => Object.assign(new PoolConfig(), { threadSafety: "lockFree" })],
  ["Variable, threadLocalCache", () => Object.assign(new PoolConfig(), { threadSafety: "mutex", threadLocalCache: true })],
  ["FixedSize 1024, lockFree", () => Object.assign(PoolConfig.FixedSizeCPU(1024), { threadSafety: "lockFree" })],
  ["FixedSize 1024, threadLocalCache", () => Object.assign(PoolConfig.FixedSizeCPU(1024), { threadSafety: "lockFree", threadLocalCache: true })],
];

describe("sizes from 1 byte to 300 MiB", () => {
  for (const [name, make] of presets) {
    test(`${name}: every size is served, aligned, and freed`, () => {
      const config = make();
      const p = pool(`sizes-${name}`, config);
      // Fill patterns and quarantine poison write every byte: those pools stop at 10 MB, to keep memory modest.
      const writesEveryByte = config.fillOnAlloc !== undefined || config.fillOnFree !== undefined || config.quarantineBytes > 0;
      for (const [index, size] of SIZES.entries()) {
        if (writesEveryByte && size > 10_000_000) continue;
        const allocation = p.allocate(size);
        expect(allocation.size).toBe(size);
        expect(Number(allocation.ptr) % config.alignment).toBe(0);
        touch(allocation.bytes, index + 1);
        allocation.free();
      }
      const stats = p.getStats();
      expect(stats.liveAllocations).toBe(0);
      expect(stats.failedAllocations).toBe(0);
      expect(stats.bytesAllocated).toBe(0);
    });
  }

  test("1 GiB + 16 from a default pool and from HighPerformanceCPU() (only its ends are touched)", () => {
    for (const [name, config] of [["default", new PoolConfig()], ["high-performance", PoolConfig.HighPerformanceCPU()]] as const) {
      const p = pool(`sizes-gib-${name}`, config);
      const allocation = p.allocate(1024 * MiB + 16);
      touch(allocation.bytes, 7);
      allocation.free();
      expect(p.getStats().failedAllocations).toBe(0);
    }
  });

  test("all sizes live at once in one default pool", () => {
    const p = pool("sizes-all-live");
    const live = SIZES.map((size, index) => {
      const allocation = p.allocate(size);
      touch(allocation.bytes, index + 1);
      return allocation;
    });
    const ranges = live.map((a) => [Number(a.ptr), Number(a.ptr) + a.size] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]); // no overlap
    for (const [index, allocation] of live.entries()) {
      expect(allocation.bytes[allocation.size - 1]).toBe((index + 1) ^ 0xff);
      allocation.free();
    }
  });

  const limited: [string, Partial<PoolConfig>][] = [
    ["Variable", { allocatorType: "Variable" }],
    ["FixedSize", { allocatorType: "FixedSize", blockSize: 4096 }],
    ["Variable, lockFree", { allocatorType: "Variable", threadSafety: "lockFree" }],
    ["FixedSize, lockFree + threadLocalCache", { allocatorType: "FixedSize", blockSize: 4096, threadSafety: "lockFree", threadLocalCache: true }],
  ];
  for (const [allocatorType, fields] of limited) {
    test(`${allocatorType}, growth off: past the first region is InvalidSizeError naming it, no room now OutOfMemoryError, and nothing is committed by the tries`, () => {
      const p = pool(`sizes-nogrowth-${allocatorType}`, { ...fields, initialSize: MiB, growth: 0 });
      const reserved = p.getStats().bytesReserved;
      for (const size of [MiB + 1, 2 * MiB + 1, 100_000_000]) {
        const refused = thrown(() => p.allocate(size));
        expect(refused).toBeInstanceOf(InvalidSizeError); // it never grows: no free could make room
        expect(refused.message).toContain(`sizes run from 1 to ${MiB}`);
      }
      const half = p.allocate(MiB / 2);
      touch(half.bytes, 9); // what fits is still served
      expect(thrown(() => p.allocate(MiB))).toBeInstanceOf(OutOfMemoryError); // fits the pool, not its free space now
      const stats = p.getStats();
      expect(stats.bytesReserved).toBe(reserved);
      expect(stats.failedAllocations).toBe(1);
      half.free();
      touch(p.allocate(MiB).bytes, 7); // the whole first region, once free
    });

    test(`${allocatorType}, at maxSize: OutOfMemoryError, and reserved stays at what was committed`, () => {
      const p = pool(`sizes-max-${allocatorType}`, { ...fields, initialSize: MiB, maxSize: 8 * MiB });
      const held = p.allocate(5 * MiB); // grows to 6 MiB or more
      const reserved = p.getStats().bytesReserved;
      for (let i = 0; i < 4; i++) expect(thrown(() => p.allocate(3 * MiB)).code).toBe("OUT_OF_MEMORY");
      expect(p.getStats().bytesReserved).toBe(reserved);
      expect(p.getStats().bytesReserved).toBeLessThanOrEqual(8 * MiB);
      expect(p.getStats().failedAllocations).toBe(4);
      held.free();
      touch(p.allocate(3 * MiB).bytes, 3); // freed room is used again
    });
  }
});

describe("random sizes, freed in random order", () => {
  for (const alignment of [16, 64, 4096]) {
    for (const allocatorType of ["Variable", "FixedSize"] as const) {
      test(`${allocatorType}, alignment ${alignment}: every pointer aligned, no block damaged by another`, () => {
        const p = pool(`random-${allocatorType}-${alignment}`, { allocatorType, blockSize: 200, alignment, initialSize: 256 * KiB });
        let state = 0x2545f491 ^ alignment;
        const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
        const live: { a: ReturnType<CPUMemoryPool["allocate"]>; stamp: number }[] = [];
        for (let op = 0; op < 3000; op++) {
          if (live.length > 0 && next() < 0.4) {
            const at = Math.floor(next() * live.length);
            const { a, stamp } = live[at]!;
            live[at] = live[live.length - 1]!;
            live.pop();
            expect(a.bytes[0]).toBe(a.size === 1 ? stamp ^ 0xff : stamp);
            expect(a.bytes[a.size - 1]).toBe(stamp ^ 0xff);
            a.free();
          } else {
            const size = 1 + Math.floor(next() ** 4 * 64 * KiB);
            const a = p.allocate(size);
            expect(Number(a.ptr) % alignment).toBe(0);
            const stamp = op & 0xff;
            a.bytes[0] = stamp;
            a.bytes[size - 1] = stamp ^ 0xff;
            live.push({ a, stamp });
          }
        }
        expect(p.getStats().liveAllocations).toBe(live.length);
        for (const { a } of live) a.free();
        expect(p.getStats().bytesAllocated).toBe(0);
      });
    }
  }
});

describe("FixedSize: a request of several blocks is a contiguous run", () => {
  const modes: [string, Partial<PoolConfig>][] = [
    ["none", {}],
    ["mutex", { threadSafety: "mutex" }],
    ["lockFree", { threadSafety: "lockFree" }],
    ["mutex + threadLocalCache", { threadSafety: "mutex", threadLocalCache: true }],
    ["lockFree + threadLocalCache", { threadSafety: "lockFree", threadLocalCache: true }],
    ["canaries", { threadSafety: "mutex", canaries: true }],
  ];
  for (const [name, fields] of modes) {
    test(`${name}: 1024 * 10 bytes from blockSize 1024, freed whole, bad frees typed, stats exact`, () => {
      const p = pool(`runs-${name}`, { allocatorType: "FixedSize", blockSize: 1024, initialSize: 2 * MiB, ...fields });
      const before = p.allocate(1024);
      const run = p.allocate(1024 * 10);
      const after = p.allocate(1000);
      expect(run.size).toBe(1024 * 10);
      expect(run.bytes.length).toBe(1024 * 10);
      run.bytes.fill(0x5a);
      before.bytes.fill(1);
      after.bytes.fill(2);
      expect(run.bytes.every((byte) => byte === 0x5a)).toBe(true); // nothing else lies inside it
      const stats = p.getStats();
      expect(stats.liveAllocations).toBe(3);
      expect(stats.bytesInUse).toBe(1024 + 1024 * 10 + 1000);
      if (!fields.canaries) expect(stats.bytesAllocated).toBe(12 * 1024);
      expect(thrown(() => p.deallocate((Number(run.ptr) + 1024) as never))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => p.deallocate((Number(run.ptr) + 8) as never))).toBeInstanceOf(InvalidPointerError);
      const ptr = run.ptr;
      run.free();
      expect(thrown(() => p.deallocate(ptr))).toBeInstanceOf(DoubleFreeError);
      expect(p.getStats().liveAllocations).toBe(2);
      if (!fields.canaries) expect(p.getStats().bytesAllocated).toBe(2 * 1024);
      const reserved = p.getStats().bytesReserved;
      const again = p.allocate(1024 * 10); // the freed run serves again without growing
      expect(p.getStats().bytesReserved).toBe(reserved);
      const big = p.allocate(5 * MiB + 1); // more than the first region: the pool grows for it
      touch(big.bytes, 4);
      for (const a of [again, big, before, after]) a.free();
      expect(p.getStats().bytesInUse).toBe(0);
    });
  }
});

test("FixedSize: a snapshot shows a run as one live block of its blocks, and the memory map draws it", () => {
  const p = pool("runs-snapshot", { allocatorType: "FixedSize", blockSize: 1024, initialSize: 64 * KiB });
  const single = p.allocate(100);
  const run = p.allocate(1024 * 10);
  const snapshot = p.snapshot();
  const offset = Number(run.ptr) - Number(single.ptr); // the first block is at the pool's start
  const block = snapshot.blocks.find((b) => b.offset === offset)!;
  expect(block).toMatchObject({ size: 10 * 1024, state: "live", requestedSize: 10 * 1024, id: run.id });
  expect(snapshot.blocks.filter((b) => b.offset > offset && b.offset < offset + 10 * 1024)).toEqual([]);
  expect(snapshot.blocks.reduce((sum, b) => sum + b.size, 0)).toBe(64 * KiB);
  expect(renderMemoryMap(snapshot)).toContain("1.00 KiB blocks");
});

test("a destroyed pool's object stays refused after thousands of pools took slots since", () => {
  const manager = MemoryPoolManager.getInstance();
  const old = manager.createCPUPool("stale-handle-old", new PoolConfig());
  manager.destroyPool("stale-handle-old");
  const config = Object.assign(new PoolConfig(), { initialSize: 64 * KiB, maxSize: 64 * KiB });
  for (let i = 0; i < 4200; i++) manager.destroyPool(manager.createCPUPool(`stale-handle-${i}`, config).name); // past every slot
  const live = pool("stale-handle-live");
  const kept = live.allocate(64);
  kept.bytes.fill(3);
  for (const call of [() => old.getStats(), () => old.allocate(8), () => old.reset()]) expect(thrown(call)).toBeInstanceOf(PoolNotFoundError);
  expect(kept.alive).toBe(true);
  expect(kept.bytes[63]).toBe(3);
  expect(live.getStats().liveAllocations).toBe(1);
});

function spawn(): Worker {
  return new Worker(new URL("./fixtures/sizes-worker.ts", import.meta.url).href);
}

function next<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data as T);
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
  });
}

type Done = { type: "done"; misaligned: number; damaged: number; handed: Handed } | { type: "error"; code: string; message: string };

describe("many Workers", () => {
  const shared: [string, Partial<PoolConfig>, number][] = [
    ["Variable, mutex", { threadSafety: "mutex", alignment: 64 }, 16 * KiB],
    ["Variable, lockFree", { threadSafety: "lockFree" }, 16 * KiB],
    ["FixedSize, lockFree + threadLocalCache (with runs)", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree", threadLocalCache: true }, 2048],
    ["FixedSize, mutex (with runs)", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "mutex" }, 2048],
  ];
  for (const [name, fields, sizeMax] of shared) {
    test(`${name}: 6 Workers allocate at random, each frees blocks another allocated`, async () => {
      const p = pool(`workers-${name}`, { initialSize: 512 * KiB, ...fields });
      const workers = Array.from({ length: 6 }, spawn);
      try {
        const done = await Promise.all(
          workers.map((worker, index) => {
            const reply = next<Done>(worker);
            const task: SizesTask = { poolName: p.name, seed: 0x9e3779b9 * (index + 1), ops: 3000, sizeMax, alignment: p.config.alignment };
            worker.postMessage({ task });
            return reply;
          }),
        );
        for (const report of done) {
          if (report.type === "error") throw new Error(`${report.code}: ${report.message}`);
          expect(report.misaligned).toBe(0);
          expect(report.damaged).toBe(0);
        }
        // Worker i frees what Worker i + 1 allocated.
        const freed = await Promise.all(
          workers.map((worker, index) => {
            const reply = next<{ type: string; damaged: number; message?: string }>(worker);
            worker.postMessage({ handed: (done[(index + 1) % workers.length] as { handed: Handed }).handed });
            return reply;
          }),
        );
        for (const report of freed) {
          expect(report.type).toBe("freed");
          expect(report.damaged).toBe(0);
        }
      } finally {
        for (const worker of workers) worker.terminate();
      }
      const stats = p.getStats();
      expect(stats.liveAllocations).toBe(0);
      expect(stats.bytesInUse).toBe(0);
    }, 60_000);
  }
});

/** Runs `script` in a fresh Bun process (so a crash is a failure, and its pools are its own). */
function child(script: string): { code: number | null; out: string } {
  const result = Bun.spawnSync([process.execPath, "-e", script], { cwd: import.meta.dir + "/..", stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString() + result.stderr.toString() };
}

describe("how many pools a process holds", () => {
  test("every failure status of the core has an error class of its own (no STATUS_ codes)", () => {
    // Boundary violations and use after free carry details and are made by the pool (src/pool.ts).
    const withDetails: number[] = [Status.boundaryViolation, Status.useAfterFree];
    for (const [name, status] of Object.entries(Status)) {
      if (status >= 0 || withDetails.includes(status)) continue;
      const error = errorFor(status, name);
      expect(error.code).not.toStartWith("STATUS_");
      expect(error.constructor).not.toBe(MemoryPoolError);
    }
    expect(errorFor(Status.tooManyPools, "full")).toBeInstanceOf(TooManyPoolsError);
  });

  test("4096 pools with a maxSize fit; the next is a TooManyPoolsError; a destroyed one makes room", () => {
    const { code, out } = child(`
      const { MemoryPoolManager, PoolConfig, TooManyPoolsError } = await import("./src/index");
      const m = MemoryPoolManager.getInstance();
      const config = Object.assign(new PoolConfig(), { initialSize: 64 * 1024, maxSize: 64 * 1024 });
      let made = 0, error;
      try { for (;;) { m.createCPUPool("p" + made, config); made++; } } catch (e) { error = e; }
      const typed = error instanceof TooManyPoolsError && error.code === "TOO_MANY_POOLS";
      m.destroyPool("p7");
      const again = m.createCPUPool("again", config).allocate(100).size;
      console.log(JSON.stringify({ made, typed, message: error.message, again, space: m.getPool("again").getStats().addressSpaceBytes }));
    `);
    expect(code).toBe(0);
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.made).toBe(4096);
    expect(result.typed).toBe(true);
    expect(result.message).toContain("4096");
    expect(result.again).toBe(100);
    expect(result.space).toBe(64 * 1024); // the reservation follows maxSize
  }, 60_000);

  test("unbounded pools until the address space budget: a typed OutOfMemoryError, and the process goes on", () => {
    const { code, out } = child(`
      const { MemoryPoolManager, PoolConfig, OutOfMemoryError } = await import("./src/index");
      const m = MemoryPoolManager.getInstance();
      let made = 0, error;
      const spaces = new Set();
      try { for (;;) { spaces.add(m.createCPUPool("u" + made, new PoolConfig()).getStats().addressSpaceBytes); made++; } } catch (e) { error = e; }
      const typed = error instanceof OutOfMemoryError;
      for (let i = 0; i < made; i += 2) m.destroyPool("u" + i);
      const later = m.createCPUPool("later", new PoolConfig());
      const a = later.allocate(3 * 1024 * 1024 + 1);
      a.bytes[a.size - 1] = 1;
      const garbage = Array.from({ length: 1e5 }, (_, i) => ({ i })); // the runtime still has room
      console.log(JSON.stringify({ made, typed, message: error.message, largest: Math.max(...spaces), smallest: Math.min(...spaces), garbage: garbage.length }));
    `);
    expect(code).toBe(0);
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.typed).toBe(true);
    expect(result.message).toContain("maxSize");
    expect(result.made).toBeGreaterThan(1000);
    expect(result.largest).toBe(64 * 1024 ** 3 - 2 * 1024 ** 2);
    expect(result.smallest).toBeLessThan(result.largest); // the last ones got less, not nothing
  }, 60_000);
});
