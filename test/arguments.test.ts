// Bad arguments at the public entry points are typed errors with clear messages (issue 11 items
// 4, 7-10, 12; issue 15 item 2: plain options objects).
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  allocate,
  ConfigError,
  copy,
  InvalidArgumentError,
  InvalidPointerError,
  InvalidSizeError,
  InvalidSnapshotError,
  MemoryPoolError,
  MemoryPoolManager,
  PoolConfig,
  renderMemoryMap,
  type PoolSnapshot,
} from "../src/index";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
let made: string[] = [];
afterEach(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
  made = [];
});
function cpuPool(name: string, config?: Parameters<typeof manager.createCPUPool>[1]) {
  const pool = manager.createCPUPool(name, config);
  made.push(name);
  return pool;
}

function expectTyped<T extends MemoryPoolError>(fn: () => unknown, type: new (...args: never[]) => T): T {
  const err = thrown<T>(fn);
  expect(err).toBeInstanceOf(type);
  expect(typeof err.code).toBe("string");
  return err;
}

describe("pool configuration: a PoolConfig or a plain object, checked the same way", () => {
  test("a plain object makes the pool its fields describe; left-out fields keep their defaults", () => {
    const pool = cpuPool("args-plain", { allocatorType: "FixedSize", blockSize: 64, initialSize: 64 * 1024 });
    expect(pool.config.allocatorType).toBe("FixedSize");
    expect(pool.config.blockSize).toBe(64);
    expect(pool.config.alignment).toBe(new PoolConfig().alignment);
    expect(pool.allocate(64).size).toBe(64);
  });

  test("presets work both ways: spread into a plain object, or changed in place", () => {
    const spread = cpuPool("args-spread", { ...PoolConfig.HighPerformanceCPU(), initialSize: 1 << 20 });
    expect(spread.config.growth).toBe(2);
    expect(spread.config.initialSize).toBe(1 << 20);
    const assigned = cpuPool("args-assigned", Object.assign(PoolConfig.FixedSizeCPU(128), { threadSafety: "mutex" } as const));
    expect(assigned.config.blockSize).toBe(128);
    expect(assigned.config.threadSafety).toBe("mutex");
  });

  test("the given object is copied: changing it later changes nothing", () => {
    const options = { initialSize: 1 << 20 };
    const pool = cpuPool("args-copied", options);
    options.initialSize = 7;
    expect(pool.config.initialSize).toBe(1 << 20);
  });

  test("an unknown key is a ConfigError naming it, from a plain object and from a PoolConfig", () => {
    const plain = expectTyped(() => cpuPool("args-unknown", { blokSize: 64 } as never), ConfigError);
    expect(plain.field).toBe("blokSize");
    expect(plain.message).toContain("blokSize");
    const instance = expectTyped(() => cpuPool("args-unknown", Object.assign(new PoolConfig(), { blokSize: 64 })), ConfigError);
    expect(instance.field).toBe("blokSize");
    expect(manager.hasPool("args-unknown")).toBe(false);
  });

  for (const [field, value] of [
    ["blockSize", "64"],
    ["initialSize", null],
    ["growth", "2"],
    ["collectStats", 1],
    ["pmemPoolPath", 5],
    ["leakReport", undefined],
  ] as const) {
    test(`a wrong type (${field} = ${String(value)}) is a ConfigError naming the field, both ways`, () => {
      for (const config of [{ [field]: value }, Object.assign(new PoolConfig(), { [field]: value })]) {
        const err = expectTyped(() => cpuPool("args-type", config as never), ConfigError);
        expect(err.field).toBe(field);
        expect(err.message).toContain(`PoolConfig.${field} = `);
      }
    });
  }

  test("undefined fill bytes mean no fill, as in PoolConfig", () => {
    expect(cpuPool("args-fill", { fillOnAlloc: undefined }).config.fillOnAlloc).toBeUndefined();
  });

  for (const config of [null, 5, "big", [], new Map(), () => 1, new Date()]) {
    test(`${Object.prototype.toString.call(config)} as a configuration is a ConfigError`, () => {
      const creates: ((name: string, config: never) => unknown)[] = [
        (name, c) => manager.createCPUPool(name, c),
        (name, c) => manager.createPinnedPool(name, c),
        (name, c) => manager.createGPUPool(name, c),
        (name, c) => manager.createPMEMPool(name, c),
      ];
      for (const create of creates) {
        const err = expectTyped(() => create("args-config", config as never), MemoryPoolError);
        // Without libpmem, createPMEMPool says so first; everything else names the configuration.
        if (err.code === "PMEM_UNAVAILABLE") continue;
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as unknown as ConfigError).field).toBe("config");
      }
    });
  }
});

describe("pointers and typed array types", () => {
  test("fromPointer takes a whole-number pointer: strings, bigints, null, views are InvalidPointerErrors", () => {
    const pool = cpuPool("args-pointer");
    const a = pool.allocate(32);
    expect(pool.fromPointer(a.ptr).id).toBe(a.id);
    for (const bad of [String(a.ptr), BigInt(a.ptr), 10n, null, undefined, a.ptr + 0.5, -16, NaN, {}]) {
      const err = expectTyped(() => pool.fromPointer(bad as never), InvalidPointerError);
      expect(err.message).toContain("fromPointer");
    }
    expect(thrown(() => pool.fromPointer(10n as never)).message).toContain("Number(p)");
  });

  test("a view passed as a pointer is named by its type, not its contents", () => {
    const pool = cpuPool("args-view-pointer");
    const view = new Uint8Array([101, 102, 103, 104]);
    const err = expectTyped(() => pool.fromPointer(view as never), InvalidPointerError);
    expect(err.message).toContain("a Uint8Array");
    expect(err.message).not.toContain("101,102");
    const marker = { toString: () => "CONTENTS-MARKER" };
    expect(thrown(() => pool.fromPointer(marker as never)).message).not.toContain("CONTENTS-MARKER");
  });

  test("as() and allocate() take only typed array types", () => {
    const pool = cpuPool("args-types");
    const a = pool.allocate(64);
    for (const bad of [null, undefined, DataView, Array, Object, "Float32Array", 4]) {
      expect(expectTyped(() => a.as(bad as never), InvalidArgumentError).argument).toBe("type");
      expectTyped(() => allocate(bad as never, 4), InvalidArgumentError);
    }
    expect(a.as(Float64Array).length).toBe(8);
    expectTyped(() => allocate(Int32Array, null as never), InvalidSizeError);
    expectTyped(() => allocate(null as never), InvalidSizeError);
    expectTyped(() => allocate("16" as never), InvalidSizeError);
  });
});

describe("pool names", () => {
  test("a lone surrogate is refused, so two different strings never name one pool", () => {
    const err = expectTyped(() => cpuPool("\uD800"), ConfigError);
    expect(err.field).toBe("name");
    expect(err.message).toContain("well-formed");
    cpuPool("\uFFFD");
    expectTyped(() => manager.getPool("\uD800"), ConfigError);
    expectTyped(() => manager.hasPool("a\uDC00b"), ConfigError);
    expect(manager.getPool("\uFFFD").name).toBe("\uFFFD");
  });
});

describe("snapshots and memory maps", () => {
  function snapshot(): PoolSnapshot {
    const pool = cpuPool("args-map", { initialSize: 64 * 1024 });
    pool.allocate(100);
    return pool.snapshot();
  }

  test("rows, rowBytes and width out of range are ConfigErrors naming the option; rows: -1 returns", () => {
    const snap = snapshot();
    for (const [option, value] of [
      ["rows", -1],
      ["rows", 0],
      ["rows", 1.5],
      ["rows", Infinity],
      ["rows", "32"],
      ["width", 100],
      ["width", NaN],
      ["rowBytes", 8],
      ["rowBytes", -16],
      ["rowBytes", 2 ** 60],
    ] as const) {
      const err = expectTyped(() => renderMemoryMap(snap, { [option]: value }), ConfigError);
      expect(err.field).toBe(option);
      expect(err.message).toContain(`MemoryMapOptions.${option} = `);
    }
    expect(expectTyped(() => renderMemoryMap(snap, { colour: "red" } as never), ConfigError).field).toBe("colour");
    expectTyped(() => renderMemoryMap(snap, null as never), ConfigError);
    expect(renderMemoryMap(snap, { rows: 1 })).toContain("<svg");
  });

  test("a picture that would have too many rows is refused instead of drawn", () => {
    const pool = cpuPool("args-map-big", { initialSize: 16 << 20 });
    const err = expectTyped(() => renderMemoryMap(pool.snapshot(), { rowBytes: 16 }), ConfigError);
    expect(err.field).toBe("rowBytes");
    expect(err.message).toContain("rows");
  });

  test("a damaged snapshot is an InvalidSnapshotError saying what is off", () => {
    const snap = snapshot();
    const damaged: [string, unknown][] = [
      ["config", { ...snap, config: undefined }],
      ["takenAt", { ...snap, takenAt: undefined }],
      ["pool", { ...snap, pool: Symbol("p") }],
      ["block 0", { ...snap, blocks: [null, ...snap.blocks.slice(1)] }],
      ["region 0", { ...snap, regions: [null] }],
      ["block 0", { ...snap, blocks: snap.blocks.map((b, i) => (i === 0 ? { ...b, ageMs: "old" } : b)) }],
      ["region 0", { ...snap, regions: [{ ...snap.regions[0], index: {} }] }],
      ["blocks", { ...snap, blocks: "none" }],
    ];
    for (const [what, bad] of damaged) {
      expect(expectTyped(() => renderMemoryMap(bad as PoolSnapshot), InvalidSnapshotError).message).toContain(what);
    }
    expectTyped(() => renderMemoryMap(null as never), InvalidSnapshotError);
  });

  test("snapshot options: null, a details that is not a function, unknown keys, bad answers are ConfigErrors", () => {
    const pool = cpuPool("args-snapshot");
    pool.allocate(16);
    expect(expectTyped(() => pool.snapshot(null as never), ConfigError).field).toBe("SnapshotOptions");
    expect(expectTyped(() => pool.snapshot({ details: 5 } as never), ConfigError).field).toBe("details");
    expect(expectTyped(() => pool.snapshot({ detail: () => undefined } as never), ConfigError).field).toBe("detail");
    expect(expectTyped(() => pool.snapshot({ details: () => ({ ageMs: "1" }) } as never), ConfigError).message).toContain("ageMs");
    expect(pool.snapshot({ details: () => ({ ageMs: 2, stack: "at f" }) }).blocks.find((b) => b.state === "live")?.ageMs).toBe(2);
  });
});

describe("copy options", () => {
  test("a stream that is not a GPUStream, or an unknown option, is a ConfigError before anything moves", () => {
    const dst = new Uint8Array(8);
    const src = new Uint8Array(8).fill(3);
    for (const stream of [{}, 5, "s", { synchronize() {} }, null]) {
      expect(expectTyped(() => copy(dst, src, 8, { stream } as never), ConfigError).field).toBe("stream");
    }
    expect(expectTyped(() => copy(dst, src, 8, { offset: 1 } as never), ConfigError).field).toBe("offset");
    expectTyped(() => copy(dst, src, 8, 7 as never), ConfigError);
    expect(dst[0]).toBe(0);
    expect(copy(dst, src, 8, { dstOffset: 0 })).toBe(8);
  });
});

describe("MEMORY_POOL_DEBUG", () => {
  const createWith = (value: string) => {
    const script = `import { MemoryPoolManager } from "./src/index.ts";
      try { MemoryPoolManager.getInstance().createCPUPool("p"); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ name: e.name, field: e.field, message: e.message })); }`;
    const result = Bun.spawnSync([process.execPath, "-e", script], { cwd: join(import.meta.dir, ".."), env: { ...process.env, MEMORY_POOL_DEBUG: value } });
    expect(result.exitCode).toBe(0);
    return JSON.parse(result.stdout.toString().trim().split("\n").at(-1)!);
  };

  test("a bad value names the variable and its item, not a PoolConfig field", () => {
    for (const [value, item] of [
      ["sampled=0", "sampled=0"],
      ["canaries,fillOnFree=300", "fillOnFree=300"],
      ["quarantine=-1", "quarantine=-1"],
      ["fillOnAlloc=", "fillOnAlloc="],
      ["guardPages=0", "guardPages=0"],
    ]) {
      const result = createWith(value!);
      expect(result.name).toBe("ConfigError");
      expect(result.field).toBe("MEMORY_POOL_DEBUG");
      expect(result.message).toContain(`MEMORY_POOL_DEBUG = ${JSON.stringify(value)}`);
      expect(result.message).toContain(`'${item}'`);
      expect(result.message).not.toContain("PoolConfig.");
    }
    expect(createWith("sampled=100")).toEqual({ ok: true });
  });
});

describe("views of blocks over 2 GiB", () => {
  // Such a view has a buffer of its own; reading it once the memory is gone must not fault. The
  // pool's 3 GiB are committed lazily, so the block costs only the pages written.
  test("are detached on free, reset and destroyPool (in a child process: a fault is a failure)", () => {
    const fixture = join(import.meta.dir, "fixtures", "large-view.ts");
    const result = Bun.spawnSync([process.execPath, fixture], { stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).not.toContain("Segmentation");
    expect(result.signalCode).toBeFalsy();
    expect(result.exitCode).toBe(0);
    const outcome = JSON.parse(result.stdout.toString().trim());
    for (const end of ["free", "freeByPointer", "reset", "destroy"]) {
      expect(outcome[end]).toEqual({ before: 7, bytes: 0, typed: 0, read: null });
    }
  });
});
