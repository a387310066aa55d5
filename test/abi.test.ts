/**
 * The ABI written once (zig/src/abi.zig, src/abi.ts): the core's own description against every
 * name the TypeScript side uses, both ways; the loader refusing a core whose description or
 * version does not match, with a NativeLibraryError that says so; and config errors that name
 * their field as data from the core, not as the first word of its message.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABI_VERSION, readAbi, TYPESCRIPT_NAMES, type Description } from "../src/abi";
import {
  BoundaryViolationError,
  ConfigError,
  CoreError,
  DoubleFreeError,
  GPUUnavailableError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolManager,
  NativeLibraryError,
  OutOfMemoryError,
  PMEMFileError,
  PMEMFormatError,
  PMEMRootError,
  PMEMUnavailableError,
  PoolConfig,
  PoolExistsError,
  PoolNotFoundError,
  ThreadSafetyError,
  TooManyPoolsError,
  UnsupportedOperationError,
  UseAfterFreeError,
} from "../src/index";
import { CORE_PATH_ENV, isAvailable } from "../src/loader";
import { PACKAGE_NAME } from "../src/platforms";
import { ABI, CONFIG_FIELDS, describeCore, errorFor, rawCoreForTests, Status, STATS_FIELDS } from "../src/native";

const root = join(import.meta.dir, "..");
const description = JSON.parse(describeCore(rawCoreForTests.mp_abi_describe)) as Description;
const manager = MemoryPoolManager.getInstance();

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const fieldNames = (record: string) => description.records[record]!.fields.map(([name]) => name);

describe("the core's description and the TypeScript side", () => {
  test("the core loaded, and its description is the one the tables were built from", () => {
    expect(isAvailable()).toBe(true);
    expect(description.version).toBe(ABI_VERSION);
    expect(rawCoreForTests.mp_abi_version()).toBe(ABI_VERSION);
    expect(readAbi(JSON.stringify(description), "the test")).toEqual(ABI);
  });

  test("a description longer than the first buffer is asked for again, with room, and read whole", () => {
    const long = JSON.stringify({ ...description, padding: "x".repeat(20_000) });
    const bytes = new TextEncoder().encode(long);
    const capacities: number[] = [];
    const read = describeCore((buffer, capacity) => {
      capacities.push(capacity);
      buffer.set(bytes.subarray(0, Math.min(capacity, bytes.length)));
      return bytes.length;
    });
    expect(read).toBe(long);
    expect(capacities).toEqual([8192, bytes.length]);
  });

  test("every status the core has is one the TypeScript side names, with the core's value, and turns into its own error", () => {
    expect(Object.keys(description.statuses).sort()).toEqual([...TYPESCRIPT_NAMES.statuses].sort());
    for (const [name, value] of Object.entries(description.statuses)) expect(Status[name as keyof typeof Status]).toBe(value);
    const classes: Record<string, new (...args: never[]) => Error> = {
      outOfMemory: OutOfMemoryError,
      invalidPointer: InvalidPointerError,
      doubleFree: DoubleFreeError,
      config: ConfigError,
      poolExists: PoolExistsError,
      poolNotFound: PoolNotFoundError,
      invalidSize: InvalidSizeError,
      unavailable: GPUUnavailableError,
      tooManyPools: TooManyPoolsError,
      threadMisuse: ThreadSafetyError,
      unsupported: UnsupportedOperationError,
      pmemUnavailable: PMEMUnavailableError,
      pmemFormat: PMEMFormatError,
      pmemFile: PMEMFileError,
      pmemRoot: PMEMRootError,
    };
    for (const [name, value] of Object.entries(description.statuses)) {
      if (value >= 0) continue; // ok and freedGuarded are results, not failures
      const error = errorFor(value, "from the ABI test");
      if (name === "boundaryViolation" || name === "useAfterFree") {
        // Built by the pool with the violation's details (src/pool.ts); bare, it is the core's status.
        expect(error).toBeInstanceOf(CoreError);
        expect((error as CoreError).status).toBe(value);
        continue;
      }
      expect(classes[name], `status ${name}`).toBeDefined();
      expect(error).toBeInstanceOf(classes[name]!);
    }
    expect(BoundaryViolationError).toBeDefined();
    expect(UseAfterFreeError).toBeDefined();
  });

  test("constants, enums and the config, violation and snapshot records: the same names on both sides", () => {
    expect(Object.keys(description.constants).sort()).toEqual([...TYPESCRIPT_NAMES.constants].sort());
    expect(Object.keys(description.enums).sort()).toEqual(Object.keys(TYPESCRIPT_NAMES.enums).sort());
    for (const [name, values] of Object.entries(TYPESCRIPT_NAMES.enums)) {
      expect(Object.keys(description.enums[name]!).sort(), `enum ${name}`).toEqual([...values].sort());
    }
    expect(Object.keys(description.records).sort()).toEqual(Object.keys(TYPESCRIPT_NAMES.records).sort());
    for (const record of ["config", "violation", "snapshotHeader", "snapshotRegion", "snapshotBlock"] as const) {
      expect(fieldNames(record).sort(), `record ${record}`).toEqual([...TYPESCRIPT_NAMES.records[record]].sort());
    }
    expect([...CONFIG_FIELDS] as string[]).toEqual(fieldNames("config"));
  });

  test("records are laid out as TypeScript reads them: f64 arrays for config, stats and violations, aligned fields for snapshots", () => {
    for (const record of ["config", "stats", "violation"]) {
      const { bytes, fields } = description.records[record]!;
      expect(bytes).toBe(fields.length * 8);
      fields.forEach(([, type, offset], index) => expect([type, offset]).toEqual(["f64", index * 8]));
    }
    for (const record of ["snapshotHeader", "snapshotRegion", "snapshotBlock"]) {
      const { bytes, fields } = description.records[record]!;
      for (const [name, type, offset] of fields) {
        const size = type === "f64" ? 8 : 4;
        expect(offset % size, `${record}.${name}`).toBe(0);
        expect(offset + size).toBeLessThanOrEqual(bytes);
      }
    }
    expect(ABI.records.snapshotBlock.fields.requestedBytes.type).toBe("f64");
  });

  test("every statistic the core keeps reaches MemoryStats, and every one TypeScript types is in the core", () => {
    expect([...STATS_FIELDS] as string[]).toEqual(fieldNames("stats"));
    for (const name of TYPESCRIPT_NAMES.records.stats) expect(fieldNames("stats")).toContain(name);
    const pool = manager.createCPUPool("abi-stats", PoolConfig.FixedSizeCPU(64));
    try {
      pool.allocate(10);
      const figures = pool.getStats().toJSON() as unknown as Record<string, number>;
      for (const name of fieldNames("stats")) expect(typeof figures[name], name).toBe("number");
      expect(figures.bytesInUse).toBe(10);
      expect(figures.liveAllocations).toBe(1);
    } finally {
      manager.destroyPool("abi-stats");
    }
  });

  test("the limits PoolConfig checks before the core are the core's", () => {
    const { alignmentMax, historySizeMax } = ABI.constants;
    expect(() => Object.assign(new PoolConfig(), { alignment: alignmentMax }).validate()).not.toThrow();
    expect(() => Object.assign(new PoolConfig(), { alignment: alignmentMax * 2 }).validate()).toThrow(ConfigError);
    expect(() => Object.assign(new PoolConfig(), { historySize: historySizeMax }).validate()).not.toThrow();
    expect(() => Object.assign(new PoolConfig(), { historySize: historySizeMax + 1 }).validate()).toThrow(ConfigError);
  });
});

describe("the loader refuses a description that does not match", () => {
  const described = (change: (copy: Description) => void) => {
    const copy = structuredClone(description);
    change(copy);
    return JSON.stringify(copy);
  };
  const refusal = (text: string) => {
    try {
      readAbi(text, "/cores/libmemory_pool.so");
    } catch (err) {
      expect(err).toBeInstanceOf(NativeLibraryError);
      return (err as Error).message;
    }
    throw new Error("readAbi accepted the description");
  };

  test("another version", () => {
    expect(refusal(described((d) => (d.version = ABI_VERSION + 1)))).toBe(
      `the core at /cores/libmemory_pool.so speaks ABI ${ABI_VERSION + 1}, this code expects ${ABI_VERSION}: use the core of the same version as this code`,
    );
  });

  test("a missing status, constant, enum value or field, each named", () => {
    const message = refusal(
      described((d) => {
        delete d.statuses.doubleFree;
        delete d.constants.granuleBytes;
        delete d.enums.poolKind!.pinned;
        d.records.stats!.fields = d.records.stats!.fields.filter(([name]) => name !== "bytesInUse");
      }),
    );
    expect(message).toContain("lacks what this code uses: ");
    for (const part of ["status doubleFree", "constant granuleBytes", "enum poolKind value pinned", "stats field bytesInUse"]) expect(message).toContain(part);
  });

  test("a config field TypeScript cannot set; a field at a place it cannot read; not JSON", () => {
    expect(
      refusal(
        described((d) => {
          const config = d.records.config!;
          config.fields.push(["pageSize", "f64", config.bytes]);
          config.bytes += 8;
        }),
      ),
    ).toContain("takes config fields this code cannot set: pageSize");
    expect(refusal(described((d) => (d.records.snapshotBlock!.fields[4]![2] = 13)))).toContain("describes its snapshotBlock record with field requestedBytes at byte 13");
    expect(refusal(described((d) => (d.records.snapshotRegion!.fields[0]![1] = "u64")))).toContain("of type u64, which this code cannot read");
    expect(refusal("{")).toContain("describes its ABI in a form this code cannot read");
  });

  test("a new statistic in the core is carried through, not refused", () => {
    const abi = readAbi(
      described((d) => {
        const stats = d.records.stats!;
        stats.fields.push(["figureOfTomorrow", "f64", stats.bytes]);
        stats.bytes += 8;
      }),
      "the test",
    );
    expect(abi.records.stats.order.at(-1)).toBe("figureOfTomorrow");
  });

  /** Runs the library from a copy of src/ whose abi.ts is changed by `edit`, with this checkout's core. */
  function loadWithEditedAbi(edit: (source: string) => string) {
    const dir = mkdtempSync(join(tmpdir(), "bun-memory-pool-abi-"));
    made.push(dir);
    cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
    const file = join(dir, "src", "abi.ts");
    const original = readFileSync(file, "utf8");
    const edited = edit(original);
    expect(edited).not.toBe(original);
    writeFileSync(file, edited);
    writeFileSync(
      join(dir, "probe.ts"),
      `const lib = await import("./src/index.ts");
let created = "created";
try { lib.MemoryPoolManager.getInstance().createCPUPool("p"); } catch (e) { created = e.name; }
console.log(JSON.stringify({ available: lib.isAvailable(), reason: lib.unavailableReason(), created }));`,
    );
    const core = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");
    const result = Bun.spawnSync([process.execPath, "probe.ts"], { cwd: dir, env: { PATH: process.env.PATH, MEMORY_POOL_CORE_PATH: core }, stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    return { core, ...(JSON.parse(result.stdout.toString()) as { available: boolean; reason?: string; created: string }) };
  }

  test("code that expects another ABI version does not bind the core: the library loads, says why, and every call throws it", () => {
    const found = loadWithEditedAbi((source) => source.replace(`export const ABI_VERSION = ${ABI_VERSION};`, "export const ABI_VERSION = 12;"));
    expect(found.available).toBe(false);
    expect(found.reason).toBe(`the core at ${found.core} speaks ABI ${ABI_VERSION}, this code expects 12: use the core of the same version as this code (${CORE_PATH_ENV} names it: point it at a core built from the sources of ${PACKAGE_NAME} for this platform, or unset it)`);
    expect(found.created).toBe("NativeLibraryError");
  });

  test("code that names a statistic the core does not keep is refused at load, naming it", () => {
    const found = loadWithEditedAbi((source) => source.replace("const STATS = [\n", `const STATS = [\n  "figureOfTomorrow",\n`));
    expect(found.available).toBe(false);
    expect(found.reason).toContain("lacks what this code uses: stats field figureOfTomorrow");
    expect(found.created).toBe("NativeLibraryError");
  });
});

describe("config errors name their field from the core", () => {
  const record = (changes: Partial<Record<(typeof CONFIG_FIELDS)[number], number>>) => {
    const base: Record<string, number> = Object.fromEntries(CONFIG_FIELDS.map((field) => [field, 0]));
    Object.assign(base, { kind: ABI.enums.poolKind.cpu, allocatorType: ABI.enums.allocatorType.variable, alignment: 16, initialSize: 65536, growth: 2, guardSampleRate: 1, fillOnAlloc: -1, fillOnFree: -1, historySize: 16 }, changes);
    return Float64Array.from(CONFIG_FIELDS, (field) => base[field]!);
  };
  const create = (name: string, config: Float64Array) => {
    const bytes = new TextEncoder().encode(name);
    return rawCoreForTests.mp_pool_create(bytes, bytes.length, config);
  };

  test("a pool's name: field 'name', though the message starts 'a pool's name'", () => {
    const status = create("", record({}));
    expect(status).toBe(Status.config);
    const error = errorFor(status) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe("name");
    expect(error.message).toStartWith("a pool's name must be 1 to 255 bytes long");
  });

  test("each field of the record, named as PoolConfig names it", () => {
    for (const [changes, field] of [
      [{ growth: 0.5 }, "growth"],
      [{ alignment: 3 }, "alignment"],
      [{ initialSize: 0 }, "initialSize"],
      [{ threadSafety: 9 }, "threadSafety"],
      [{ threadLocalCache: 1 }, "threadLocalCache"], // message: "threadLocalCache needs threadSafety ..."
      [{ canaries: 0.5 }, "canaries"],
    ] as const) {
      const status = create(`abi-config-${field}`, record(changes));
      expect(status).toBe(Status.config);
      expect((errorFor(status) as ConfigError).field).toBe(field);
    }
  });

  test("a failure that is not a config error names no setting", () => {
    expect(rawCoreForTests.mp_pool_destroy(0x7fff_fff0)).toBe(Status.poolNotFound);
    const buffer = new Uint8Array(64);
    expect(rawCoreForTests.mp_last_error_setting(buffer, buffer.length)).toBe(0);
  });
});
