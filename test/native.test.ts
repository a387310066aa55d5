/**
 * The typed functions of src/native.ts, called directly: they take and give JavaScript values and
 * throw the typed error where the core refuses (a dead handle, a bad address, no CUDA driver), and
 * they reach the core's symbols when called, not through a copy taken at load.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { ConfigError, GPUUnavailableError, InvalidPointerError, InvalidSizeError, MemoryPoolManager, PMEMUnavailableError, PoolConfig, PoolNotFoundError } from "../src/index";
import * as native from "../src/native";
import { pmemConfig, poolPath, removePoolFiles } from "./pmem/helpers";
import { thrown } from "./support/thrown";
import { handleOf } from "../src/pool";
import { offsetOfAllocation } from "../src/allocation";

const manager = MemoryPoolManager.getInstance();
const made: string[] = [];
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});
function cpuPool(name: string, fields: Partial<PoolConfig> = {}) {
  made.push(name);
  return manager.createCPUPool(name, Object.assign(new PoolConfig(), fields));
}

/** A handle no pool has: one a destroyed pool had. */
function deadHandle(): number {
  const pool = manager.createCPUPool("native-dead-handle", new PoolConfig());
  const handle = handleOf(pool);
  manager.destroyPool(pool.name);
  return handle;
}

describe("the registry's typed functions", () => {
  test("a pool is found, listed, named and described by its handle while it lives, and not after", () => {
    // The longest name the core takes, in multi-byte UTF-8: the name comes back whole.
    const name = `native-é${"x".repeat(native.ABI.constants.poolNameBytesMax - "native-é".length - 1)}`;
    expect(native.encodeName(name).length).toBe(native.ABI.constants.poolNameBytesMax);
    const pool = cpuPool(name, { allocatorType: "FixedSize", blockSize: 128 });
    const encoded = native.encodeName(name);
    expect(native.findPool(encoded)).toBe(handleOf(pool));
    expect([...native.listPools()]).toContain(handleOf(pool));
    expect(native.poolName(handleOf(pool))).toBe(name);
    expect(native.poolKind(handleOf(pool))).toBe(native.PoolKind.cpu);
    const config = native.poolConfig(handleOf(pool));
    expect(config).toBeInstanceOf(Float64Array);
    expect(config[native.CONFIG_FIELDS.indexOf("blockSize")]).toBe(128);

    manager.destroyPool(name);
    expect(native.findPool(encoded)).toBeUndefined();
    expect([...native.listPools()]).not.toContain(handleOf(pool));
    expect(native.poolName(handleOf(pool))).toBeUndefined();
    expect(thrown(() => native.poolKind(handleOf(pool)))).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => native.poolConfig(handleOf(pool)))).toBeInstanceOf(PoolNotFoundError);
  });

  test("a config the core refuses is a ConfigError naming the field, and nothing is made", () => {
    const record = new Float64Array(native.CONFIG_FIELDS.length); // every field 0: guardSampleRate 0 is refused
    const error = thrown(() => native.createPool(native.encodeName("native-bad-config"), record));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe("guardSampleRate");
    expect(native.findPool(native.encodeName("native-bad-config"))).toBeUndefined();
  });

  test("PMEM pools: a dead handle's path is a PoolNotFoundError (names, configs and lists are the ordinary pool's)", () => {
    expect(thrown(() => native.pmemPoolPath(123_456))).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => native.poolConfig(123_456))).toBeInstanceOf(PoolNotFoundError);
    expect(native.poolName(123_456)).toBeUndefined();
  });
});

describe("PMEM's typed functions give statuses, and offsets decoded from the core's offset errors", () => {
  const noPMEM = native.pmemUnavailableReason();
  if (noPMEM !== undefined) console.log(`[test/native] the PMEM calls on a live pool are not tested here: ${noPMEM}`);
  afterAll(removePoolFiles);

  test("whether PMEM is here: pmemUnavailableReason says why not exactly where requirePmem throws", () => {
    if (noPMEM === undefined) {
      expect(() => native.requirePmem()).not.toThrow();
    } else {
      const error = thrown(() => native.requirePmem());
      expect(error).toBeInstanceOf(PMEMUnavailableError);
      expect(error.message).toBe(noPMEM);
    }
  });

  test("on a dead handle: every call gives poolNotFound, those that give offsets too (never an offset error)", () => {
    const handle = deadHandle();
    const name = native.encodeName("root");
    const source = new Uint8Array(8);
    for (const status of [
      native.pmemRootOffset(handle, name),
      native.pmemRootOrNew(handle, name, 64),
      native.pmemLinked(handle, 1, 1, 0),
      native.pmemRootName(handle, 0),
      native.setPmemRoot(handle, name, 0, 0, false),
      native.linkPmem(handle, 1, 1, 0, 0, 0, false),
      native.commitUnpublishedPmem(handle, 1, 1),
      native.persistPmem(handle, 0, 8),
      native.flushPmem(handle, 0, 8),
      native.persistPmemAllocation(handle, 1, 1, 0, 8),
      native.flushPmemAllocation(handle, 1, 1, 0, 8),
      native.drainPmem(handle),
      native.memcpyPersistPmem(handle, 0, ptr(source), 8),
      native.memcpyPersistIntoPmem(handle, 1, 1, 0, ptr(source), 8),
      native.listUnreachableOffsets(handle, new Uint32Array(4), 4),
    ]) {
      expect(status).toBe(native.Status.poolNotFound);
    }
    expect(native.isOnPersistentMemory(handle)).toBe(false);
    expect(native.pmemFileCreated(handle)).toBe(false);
  });

  test.skipIf(noPMEM !== undefined)("on a live pool: roots, their names, links and the unreachable list, by offset", () => {
    const path = poolPath("native-typed");
    using pool = manager.createPMEMPool("native-pmem", pmemConfig(path)); // closed before removePoolFiles removes its file
    expect(native.pmemPoolPath(handleOf(pool))).toBe(path);
    expect(native.pmemFileCreated(handleOf(pool))).toBe(true);
    const name = native.encodeName("native-root");
    expect(native.pmemRootOffset(handleOf(pool), name)).toBe(0); // no such root
    const rootOffset = native.pmemRootOrNew(handleOf(pool), name, 64);
    expect(rootOffset).toBeGreaterThan(0);
    expect(native.pmemRootOffset(handleOf(pool), name)).toBe(rootOffset);
    expect(native.pmemRootName(handleOf(pool), 0)).toBe("native-root");
    expect(native.pmemRootName(handleOf(pool), 1)).toBe(""); // past the last root
    // A bad word offset is refused with a status, not an offset error.
    expect(native.pmemLinked(handleOf(pool), rootOffset, native.liveId(handleOf(pool), rootOffset), 3)).toBeLessThan(0);
    expect(native.pmemLinked(handleOf(pool), rootOffset, native.liveId(handleOf(pool), rootOffset), 0)).toBe(0); // a zero-filled word: no link
    const child = pool.allocate(16);
    expect(native.listUnreachableOffsets(handleOf(pool), new Uint32Array(4), 4)).toBe(1); // the child, not yet linked
    expect(native.linkPmem(handleOf(pool), rootOffset, native.liveId(handleOf(pool), rootOffset), 0, offsetOfAllocation(child), child.id, false)).toBe(0);
    expect(native.pmemLinked(handleOf(pool), rootOffset, native.liveId(handleOf(pool), rootOffset), 0)).toBe(offsetOfAllocation(child));
    expect(native.listUnreachableOffsets(handleOf(pool), new Uint32Array(4), 4)).toBe(0);
    expect(native.setPmemRoot(handleOf(pool), name, 0, 0, false)).toBe(0); // the root removed: both are unreachable now
    expect(native.pmemRootOffset(handleOf(pool), name)).toBe(0);
    expect(native.listUnreachableOffsets(handleOf(pool), new Uint32Array(4), 4)).toBe(2);
    expect(native.drainPmem(handleOf(pool))).toBe(0);
  });
});

describe("a pool's block calls give statuses for the pool to decode", () => {
  test("on a dead handle: an offset error that decodes to poolNotFound, and negative statuses", () => {
    const handle = deadHandle();
    const offset = native.alloc(handle, 64);
    expect(offset).toBeGreaterThanOrEqual(native.OFFSET_ERROR_BASE);
    expect(native.statusOfOffset(offset)).toBe(native.Status.poolNotFound);
    expect(native.errorFor(native.statusOfOffset(offset))).toBeInstanceOf(PoolNotFoundError);
    expect(native.statusOfOffset(native.liveId(handle, 0))).toBe(native.Status.poolNotFound);
    expect(native.free(handle, 0, 0)).toBe(native.Status.poolNotFound);
    expect(native.poolStats(handle, new Float64Array(native.STATS_FIELDS.length))).toBe(native.Status.poolNotFound);
    expect(native.poolAddressSpace(handle)).toBeLessThan(0);
  });

  test("on a live pool: an offset and the allocation's id, which allocationIdOf and hasGuardPages read", () => {
    const pool = cpuPool("native-blocks");
    const offset = native.alloc(handleOf(pool), 64);
    expect(offset).toBeLessThan(native.OFFSET_ERROR_BASE);
    const tagged = native.lastId();
    expect(native.hasGuardPages(tagged)).toBe(false);
    const id = native.allocationIdOf(tagged);
    expect(id).toBeGreaterThan(0);
    expect(native.liveId(handleOf(pool), offset)).toBe(id);
    expect(native.liveSize(handleOf(pool), offset)).toBe(64);
    expect(native.free(handleOf(pool), offset, id)).toBe(0);
    expect(native.liveId(handleOf(pool), offset)).toBe(0);
    expect(native.free(handleOf(pool), offset, id)).toBe(native.Status.doubleFree);
  });

  test("a guarded allocation's tagged id says so, and isGuarded agrees", () => {
    const pool = cpuPool("native-guarded", { guardPages: true });
    const offset = native.alloc(handleOf(pool), 64);
    const tagged = native.lastId();
    expect(native.hasGuardPages(tagged)).toBe(true);
    expect(native.isGuarded(handleOf(pool), offset)).toBe(true);
    expect(native.free(handleOf(pool), offset, native.allocationIdOf(tagged))).toBeGreaterThanOrEqual(0);
  });

  test("each reads the core's symbol when called (a test's wrapper of the symbol sees the call)", () => {
    const symbols = native.rawCoreForTests as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = symbols.mp_alloc!;
    const seen: unknown[][] = [];
    symbols.mp_alloc = (...args: unknown[]) => {
      seen.push(args);
      return original(...args);
    };
    try {
      const handle = deadHandle();
      native.alloc(handle, 48);
      expect(seen).toEqual([[handle, 48]]);
    } finally {
      symbols.mp_alloc = original;
    }
  });
});

describe("copies and the GPU's typed functions", () => {
  test("a host copy moves the bytes; a bad address or length is a typed error", () => {
    const from = new Uint8Array([1, 2, 3, 4]);
    const to = new Uint8Array(4);
    native.copyHost(to as never, from as never, 4);
    expect([...to]).toEqual([1, 2, 3, 4]);
    expect(thrown(() => native.copyHost(0 as never, from as never, 4))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => native.copyHost(to as never, from as never, -1))).toBeInstanceOf(InvalidSizeError);
  });

  const devices = native.gpuDeviceCount();
  if (devices === 0) console.log(`[test/native] the device calls' success is not tested here: ${native.gpuUnavailableReason()}`);

  test("gpuUnavailableReason says why exactly where no device answers", () => {
    const reason = native.gpuUnavailableReason();
    if (devices > 0) expect(reason).toBeUndefined();
    else expect(reason).toBeString();
  });

  test("a stream-ordered allocation on a dead handle gives poolNotFound (the offset error decoded)", () => {
    expect(native.allocOnStream(deadHandle(), 64, null as never)).toBe(native.Status.poolNotFound);
  });
  test.skipIf(devices > 0)("without a CUDA device: no devices, and every device call is a GPUUnavailableError (here: no driver or no device)", () => {
    expect(devices).toBe(0);
    for (const call of [
      () => native.createStream(0),
      () => native.gpuDeviceName(0),
      () => native.synchronizeStream(0, 4096 as never),
      () => native.fillDevice(0, 4096 as never, 1, 16, null),
      () => native.copyHostToDevice(0, 4096 as never, new Uint8Array(16), 16, native.HostMemory.pageable, null),
      () => native.copyDeviceToHost(0, new Uint8Array(16), 4096 as never, 16, native.HostMemory.pageable, null),
      () => native.checkDeviceCanaries(0, new BigUint64Array(2), 16, 0xab),
      () => native.openDeviceRegion(0, process.pid, 0, 1 << 21),
    ]) {
      expect(thrown(call)).toBeInstanceOf(GPUUnavailableError);
    }
    expect(thrown(() => native.closeDeviceRegion(4096))).toBeInstanceOf(InvalidPointerError);
  });

  test.skipIf(devices === 0)("with a CUDA device: a stream is made, synchronized and destroyed; devices are named", () => {
    const stream = native.createStream(0);
    native.synchronizeStream(0, stream);
    native.destroyStream(0, stream);
    expect(native.gpuDeviceName(0).length).toBeGreaterThan(0);
    expect(native.gpuDeviceMemory(0)).toBeGreaterThan(0);
  });

  test("a device region of a pool that is not a GPU pool's, or of a dead handle, is refused with a typed error", () => {
    const pool = cpuPool("native-not-gpu");
    const allocation = pool.allocate(64);
    const error = thrown(() => native.exportDeviceRegion(handleOf(pool), offsetOfAllocation(allocation)));
    expect(error).toBeInstanceOf(InvalidPointerError);
    expect((error as Error).message).toContain("is not a GPU pool");
    allocation.free();
    expect(thrown(() => native.exportDeviceRegion(deadHandle(), 0))).toBeInstanceOf(PoolNotFoundError);
  });
});
