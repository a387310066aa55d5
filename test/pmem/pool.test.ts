/**
 * PMEM pools through the public API: files, reopening in new processes, roots, durability calls,
 * statistics, limits and misuse. Pools opened in this process use msync (PMEM is not forced here);
 * the child processes run with PMEM_IS_PMEM_FORCE=1 and so flush CPU caches instead.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import {
  ConfigError,
  DoubleFreeError,
  InvalidArgumentError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolManager,
  OutOfMemoryError,
  PMEMFileError,
  PMEMFormatError,
  PMEMMemoryPool,
  PMEMRootError,
  PoolConfig,
  PoolExistsError,
  PoolNotFoundError,
  UseAfterFreeError,
} from "../../src/index";
import { ptr } from "bun:ffi";
import { flushPmemAllocation, memcpyPersistIntoPmem, persistPmemAllocation, Status } from "../../src/native";
import { pmemConfig, poolDirectory, poolPath, removePoolFiles, runChild } from "./helpers";
import { thrown } from "../support/thrown";
import { markedFreed, offsetOfAllocation } from "../../src/allocation";
import { handleOf } from "../../src/pool";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);


describe("pool files", () => {
  test("createPMEMPool creates the file with initialSize, then opens the same file again", () => {
    const path = poolPath("create");
    const pool = manager.createPMEMPool("pm-create", pmemConfig(path, { initialSize: 300 * 1024 }));
    expect(pool).toBeInstanceOf(PMEMMemoryPool);
    expect(pool.kind).toBe("pmem");
    expect(pool.created).toBe(true);
    expect(pool.isPmem).toBe(false); // not forced in this process: msync makes stores durable
    expect(pool.path).toBe(path);
    expect(statSync(path).size).toBe(300 * 1024);
    expect(manager.listPools()).toContainEqual({ name: "pm-create", kind: "pmem" });
    expect(manager.getPool("pm-create")).toBe(pool);
    const stats = pool.getStats();
    expect(stats.bytesReserved).toBeGreaterThan(250 * 1024); // the heap: the file less its metadata
    expect(stats.addressSpaceBytes).toBe(300 * 1024);
    expect(stats.freeBytes).toBe(stats.bytesReserved);
    manager.destroyPool("pm-create");
    expect(existsSync(path)).toBe(true); // closing a PMEM pool keeps its file
    const again = manager.createPMEMPool("pm-create", pmemConfig(path, { initialSize: 64 * 1024 }));
    expect(again.created).toBe(false);
    expect(statSync(path).size).toBe(300 * 1024); // opening never resizes
    again.close();
    expect(manager.hasPool("pm-create")).toBe(false);
  });

  test("reopening in new processes finds allocations, data and roots", async () => {
    const path = poolPath("reopen");
    const written = await runChild("session.ts", ["write", path]);
    expect(written.stderr).toBe("");
    expect(JSON.parse(written.stdout)).toEqual({ created: true, isPmem: true, live: 4 }); // the draft is live until the process ends
    const first = JSON.parse((await runChild("session.ts", ["read", path])).stdout);
    expect(first).toEqual({
      created: false,
      isPmem: true,
      roots: ["greeting", "numbers"],
      greeting: "This data persists!\u0000",
      greetingSize: 1024,
      sum: 1.5 * ((99 * 100) / 2),
      sizes: [64, 800, 1024], // not the draft: never published, it was never in the file
      unreachable: [64], // committed without a root: only its writer's own records could find it
      live: 3,
    });
    const updated = await runChild("session.ts", ["update", path]);
    expect(updated.stderr).toBe("");
    expect(JSON.parse(updated.stdout)).toEqual({ created: false, text: "This data persists!\u0000", live: 3 });
    const second = JSON.parse((await runChild("session.ts", ["read", path])).stdout);
    expect(second.greeting).toBe("Updated in process 2");
    expect(second.greetingSize).toBe(32);
    expect(second.sizes).toEqual([32, 64, 800]); // the old greeting was freed with the root's update
    expect(second.unreachable).toEqual([64]);
    // And this process (msync mode) reads the same file.
    const pool = manager.createPMEMPool("pm-reopen", pmemConfig(path));
    expect(new TextDecoder().decode(pool.getRoot("greeting")!.bytes)).toBe("Updated in process 2\0\0\0\0\0\0\0\0\0\0\0\0");
    expect(pool.getStats().liveAllocations).toBe(3);
    pool.close();
  });

  test("unusable paths are PMEMFileErrors that say what is wrong", () => {
    const missingDirectory = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(`${poolDirectory}/no-such-directory-${process.pid}/x.pool`)));
    expect(missingDirectory).toBeInstanceOf(PMEMFileError);
    expect((missingDirectory as PMEMFileError).code).toBe("PMEM_FILE");
    expect(missingDirectory.message).toContain("does not exist");
    const directory = `${poolDirectory}/memory-pool-test-dir-${process.pid}`;
    mkdirSync(directory, { recursive: true });
    try {
      const isDirectory = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(directory)));
      expect(isDirectory).toBeInstanceOf(PMEMFileError);
      expect(isDirectory.message).toContain("is a directory");
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
    const empty = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig("")));
    expect(empty).toBeInstanceOf(ConfigError);
    expect((empty as ConfigError).field).toBe("pmemPoolPath");
    const tooSmall = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(poolPath("small"), { initialSize: 8000, allocatorType: "FixedSize", blockSize: 8000 })));
    expect(tooSmall).toBeInstanceOf(ConfigError);
    expect(tooSmall.message).toContain("initialSize is too small");
    const link = poolPath("dangling-link");
    const missingTarget = `${poolDirectory}/memory-pool-test-${process.pid}-no-such-target.pool`;
    symlinkSync(missingTarget, link);
    const dangling = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(link)));
    expect(dangling).toBeInstanceOf(PMEMFileError);
    expect(dangling.message).toBe(`'${link}' is a symbolic link to '${missingTarget}', which does not exist: point pmemPoolPath at the pool's file, or remove the link`);
    expect(existsSync(missingTarget)).toBe(false); // nothing was created through the link
    expect(manager.hasPool("pm-bad")).toBe(false);
  });

  test("a file of the kernel's interfaces (/proc, /sys), a device or a named pipe is a PMEMFileError that says what it is, and never suggests deleting it", () => {
    // /proc's files say they are regular files of 0 bytes: they were refused as "empty ...: delete it to create a pool there".
    const kernelFiles = ["/proc/self/status", "/proc/self/oom_score_adj", "/proc/sys/vm/swappiness", "/sys/kernel/mm/transparent_hugepage/enabled"].filter((path) => existsSync(path));
    for (const path of [...kernelFiles, "/dev/null"]) {
      const refused = thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(path)));
      expect(refused).toBeInstanceOf(PMEMFileError);
      expect(refused.message).not.toContain("delete");
      if (path.startsWith("/proc") || path.startsWith("/sys")) {
        // Opening may be refused before the file is looked at (no permission to write it): that is said instead.
        if (!refused.message.includes("permission denied")) {
          expect(refused.message).toContain(`'${path}' is a file of the kernel's ${path.startsWith("/proc") ? "proc" : "sysfs"} file system`);
        }
      } else {
        expect(refused.message).toBe(`'${path}' is not a regular file (a character device): pmemPoolPath names the pool's file`);
      }
    }
    // A named pipe (made with mkfifo where the tool is there): opened read-write without blocking, then refused.
    const fifo = poolPath("fifo");
    if (Bun.spawnSync(["mkfifo", fifo]).exitCode === 0) {
      expect(thrown(() => manager.createPMEMPool("pm-bad", pmemConfig(fifo))).message).toBe(`'${fifo}' is not a regular file (a named pipe): pmemPoolPath names the pool's file`);
    }
    expect(manager.hasPool("pm-bad")).toBe(false);
  });

  test("a pool file is used by one pool at a time; a name by one pool", () => {
    const path = poolPath("locked");
    const pool = manager.createPMEMPool("pm-locked", pmemConfig(path));
    const inUse = thrown(() => manager.createPMEMPool("pm-locked-2", pmemConfig(path)));
    expect(inUse).toBeInstanceOf(PMEMFileError);
    expect(inUse.message).toContain("is in use");
    expect(thrown(() => manager.createPMEMPool("pm-locked", pmemConfig(poolPath("other"))))).toBeInstanceOf(PoolExistsError);
    expect(thrown(() => manager.createCPUPool("pm-locked"))).toBeInstanceOf(PoolExistsError);
    pool.close();
    manager.createPMEMPool("pm-locked-2", pmemConfig(path)).close();
  });

  test("a file is opened only with the layout it was made with", () => {
    const path = poolPath("layout");
    manager.createPMEMPool("pm-layout", pmemConfig(path, { allocatorType: "FixedSize", blockSize: 512 })).close();
    const before = readFileSync(path);
    const error = thrown(() => manager.createPMEMPool("pm-layout", pmemConfig(path)));
    expect(error).toBeInstanceOf(PMEMFormatError);
    expect((error as PMEMFormatError).reason).toBe("layout");
    expect(error.message).toBe(`'${path}' was made for a FixedSize, alignment 16, blocks of 512 bytes pool; this config asks for a Variable, alignment 16 pool: open it with the layout it was made with`);
    expect(readFileSync(path).equals(before)).toBe(true);
    const aligned = thrown(() => manager.createPMEMPool("pm-layout", pmemConfig(path, { allocatorType: "FixedSize", blockSize: 512, alignment: 64 })));
    expect(aligned.message).toContain("this config asks for a FixedSize, alignment 64, blocks of 512 bytes pool");
    const variable = poolPath("layout-variable");
    manager.createPMEMPool("pm-layout", pmemConfig(variable)).close();
    const variableError = thrown(() => manager.createPMEMPool("pm-layout", pmemConfig(variable, { alignment: 256 })));
    expect(variableError.message).toContain("made for a Variable, alignment 16 pool; this config asks for a Variable, alignment 256 pool");
    const fixed = manager.createPMEMPool("pm-layout", pmemConfig(path, { allocatorType: "FixedSize", blockSize: 512 }));
    expect(fixed.created).toBe(false);
    fixed.close();
  });
});

describe("allocations and durability", () => {
  test("allocate, write, persist, free: host views over the mapping, with their lifetimes", () => {
    const pool = manager.createPMEMPool("pm-alloc", pmemConfig(poolPath("alloc")));
    const data = pool.allocate(1024);
    new TextEncoder().encodeInto("This data persists!", data.bytes);
    pool.persist(data, 20);
    pool.persist(data); // the whole allocation
    pool.persist(data.bytes.subarray(100, 200)); // a view persists its own bytes
    pool.flush(data, 64, 128);
    pool.drain();
    const source = new Uint8Array(512).fill(7);
    pool.memcpyPersist(data, source, 512);
    expect(data.bytes[1023]).toBe(7);
    expect(data.bytes[511]).toBe(0);
    expect(data.as(Float64Array).length).toBe(128);
    expect(thrown(() => pool.persist(data, 1025))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.persist(data, 10, 1020))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.memcpyPersist(data, new Uint8Array(1025)))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.persist(new Uint8Array(16)))).toBeInstanceOf(InvalidPointerError); // not the pool's memory
    const raw = pool.allocateRaw(64);
    expect(pool.fromPointer(raw).size).toBe(64);
    expect(thrown(() => pool.deallocate(raw + 16))).toBeInstanceOf(InvalidPointerError); // inside it
    pool.deallocate(raw);
    data.free();
    expect(thrown(() => data.bytes)).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => pool.persist(data))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => data.free())).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => pool.deallocate(raw))).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => pool.allocate(0))).toBeInstanceOf(InvalidSizeError);
    const stats = pool.getStats();
    expect([stats.allocationCount, stats.freeCount, stats.liveAllocations]).toEqual([2, 2, 0]);
    pool.close();
    expect(thrown(() => pool.allocate(8))).toBeInstanceOf(Error);
  });

  test("memcpyPersist copies into its target only: a source larger than the allocation or view is refused, the neighbour untouched", () => {
    const pool = manager.createPMEMPool("pm-memcpy", pmemConfig(poolPath("memcpy")));
    const target = pool.allocate(100);
    const neighbour = pool.allocate(100);
    neighbour.bytes.fill(5);
    pool.persist(neighbour);
    const tooLarge = thrown(() => pool.memcpyPersist(target, new Uint8Array(101).fill(9)));
    expect(tooLarge).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.memcpyPersist(target, new Uint8Array(60), 50))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.memcpyPersist(target.bytes, new Uint8Array(200).fill(9)))).toBeInstanceOf(InvalidSizeError); // a view: bounded by it
    expect(thrown(() => pool.memcpyPersist(target.bytes.subarray(0, 10), new Uint8Array(11)))).toBeInstanceOf(InvalidSizeError);
    expect(thrown(() => pool.memcpyPersist(target, null as unknown as Uint8Array))).toBeInstanceOf(InvalidArgumentError);
    // The core bounds the copy by the allocation it holds, whatever TypeScript passes.
    const big = new Uint8Array(200).fill(9);
    expect(memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(target), target.id, 0, ptr(big), 101)).toBe(Status.invalidSize);
    expect(memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(target), target.id, 99, ptr(big), 2)).toBe(Status.invalidSize);
    expect(memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(target), target.id, -1, ptr(big), 1)).toBe(Status.invalidSize);
    expect(memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(target) + 1, 0, 0, ptr(big), 1)).toBe(Status.invalidPointer);
    expect(memcpyPersistIntoPmem(handleOf(pool), offsetOfAllocation(target), target.id + 1000, 0, ptr(big), 1)).toBe(Status.useAfterFree); // another allocation's id
    // persist and flush of an allocation: the same checks, in the call that writes the range back.
    for (const call of [persistPmemAllocation, flushPmemAllocation]) {
      expect(call(handleOf(pool), offsetOfAllocation(target), target.id, 0, 101)).toBe(Status.invalidSize);
      expect(call(handleOf(pool), offsetOfAllocation(target), target.id, 99, 2)).toBe(Status.invalidSize);
      expect(call(handleOf(pool), offsetOfAllocation(target), target.id, 0.5, 1)).toBe(Status.invalidSize);
      expect(call(handleOf(pool), offsetOfAllocation(target) + 1, 0, 0, 1)).toBe(Status.invalidPointer);
      expect(call(handleOf(pool), offsetOfAllocation(target), target.id + 1000, 0, 1)).toBe(Status.useAfterFree);
      expect(call(handleOf(pool), offsetOfAllocation(target), target.id, 0, 100)).toBe(0);
    }
    expect(neighbour.bytes.every((byte) => byte === 5)).toBe(true);
    expect(target.bytes.every((byte) => byte === 0)).toBe(true); // nothing moved
    pool.memcpyPersist(target.bytes.subarray(10, 20), new Uint8Array(4).fill(1), 6); // a view, at an offset inside it
    expect([...target.bytes.subarray(14, 22)]).toEqual([0, 0, 1, 1, 1, 1, 0, 0]);
    pool.memcpyPersist(target, new Uint8Array(100).fill(2).buffer); // exactly fits
    expect(target.bytes.every((byte) => byte === 2)).toBe(true);
    expect(neighbour.bytes.every((byte) => byte === 5)).toBe(true);
    pool.close();
  });

  test("roots() and allocations() on a closed pool throw PoolNotFoundError, as every other call does", () => {
    const pool = manager.createPMEMPool("pm-closed", pmemConfig(poolPath("closed")));
    const kept = pool.allocate(16);
    pool.setRoot("kept", kept);
    expect(pool.roots()).toEqual(["kept"]);
    expect(pool.allocations()).toHaveLength(1);
    pool.close();
    expect(thrown(() => pool.roots())).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => pool.allocations())).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => pool.getRoot("kept"))).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => pool.drain())).toBeInstanceOf(PoolNotFoundError);
    expect(thrown(() => pool.fromPointer(kept.ptr))).toBeInstanceOf(PoolNotFoundError); // not "no live allocation"
  });

  test("a full pool says so; its table and heap limits are precise", () => {
    const variable = manager.createPMEMPool("pm-full", pmemConfig(poolPath("full"), { initialSize: 64 * 1024 }));
    const big: number[] = [];
    const error = thrown(() => {
      for (;;) big.push(variable.allocateRaw(4096));
    });
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toContain("initialSize");
    expect(variable.getStats().failedAllocations).toBe(1);
    for (const pointer of big) variable.deallocate(pointer);
    const small: number[] = [];
    const tableFull = thrown(() => {
      for (;;) small.push(variable.allocateRaw(16));
    });
    expect(tableFull).toBeInstanceOf(OutOfMemoryError);
    expect(tableFull.message).toContain("FixedSize");
    expect(small.length * 128).toBeGreaterThanOrEqual(variable.getStats().bytesReserved - 4096);
    variable.close();

    const fixed = manager.createPMEMPool("pm-full-fixed", pmemConfig(poolPath("full-fixed"), { initialSize: 64 * 1024, allocatorType: "FixedSize", blockSize: 1000 }));
    let blocks = 0;
    expect(
      thrown(() => {
        for (;;) {
          fixed.allocateRaw(1000);
          blocks++;
        }
      }),
    ).toBeInstanceOf(OutOfMemoryError);
    expect(blocks).toBe(fixed.getStats().bytesAllocated / 1008);
    expect(thrown(() => fixed.allocate(1001))).toBeInstanceOf(InvalidSizeError);
    fixed.close();
  });

  test("reset frees every allocation and root, durably", () => {
    const path = poolPath("reset");
    const pool = manager.createPMEMPool("pm-reset", pmemConfig(path));
    const kept = pool.allocate(100);
    pool.setRoot("kept", kept);
    pool.allocate(200);
    pool.reset();
    expect(pool.getStats().liveAllocations).toBe(0);
    expect(pool.roots()).toEqual([]);
    expect(thrown(() => kept.bytes)).toBeInstanceOf(UseAfterFreeError);
    pool.close();
    const reopened = manager.createPMEMPool("pm-reset", pmemConfig(path));
    expect(reopened.allocations()).toEqual([]);
    expect(reopened.getRoot("kept")).toBeUndefined();
    reopened.close();
  });
});

describe("roots", () => {
  test("setRoot, getRoot, roots(), removal, and the rules that keep roots sound", () => {
    const path = poolPath("roots");
    const pool = manager.createPMEMPool("pm-roots", pmemConfig(path));
    const a = pool.allocate(40);
    const b = pool.allocate(50);
    expect(pool.getRoot("a")).toBeUndefined();
    pool.setRoot("a", a);
    pool.setRoot("a", a); // already so
    expect(offsetOfAllocation(pool.getRoot("a")!)).toBe(offsetOfAllocation(a));
    expect(pool.getRoot("a")!.size).toBe(40);
    expect(thrown(() => pool.setRoot("b", a))).toBeInstanceOf(PMEMRootError); // one root a block
    const published = thrown(() => a.free());
    expect(published).toBeInstanceOf(PMEMRootError);
    expect(published.message).toContain("root 'a'");
    pool.setRoot("a", b); // re-pointed: a is unpublished, still allocated
    a.free();
    expect(thrown(() => pool.setRoot("c", a))).toBeInstanceOf(UseAfterFreeError);
    expect(thrown(() => pool.setRoot("x".repeat(56), b))).toBeInstanceOf(PMEMRootError);
    expect(thrown(() => pool.setRoot("", b))).toBeInstanceOf(PMEMRootError);
    pool.setRoot("ünïcode ✓", pool.allocate(8));
    expect(pool.roots().sort()).toEqual(["a", "ünïcode ✓"]);
    pool.setRoot("a", null);
    pool.setRoot("never-set", null); // nothing to remove
    expect(pool.roots()).toEqual(["ünïcode ✓"]);
    b.free(); // no longer published
    pool.close();
  });

  test("64 roots at most; setRoot with freePrevious frees the old block in the same step", () => {
    const path = poolPath("roots-limit");
    const pool = manager.createPMEMPool("pm-roots-limit", pmemConfig(path));
    for (let i = 0; i < 64; i++) pool.setRoot(`r${i}`, pool.allocate(16));
    const full = thrown(() => pool.setRoot("one-more", pool.allocate(16)));
    expect(full).toBeInstanceOf(PMEMRootError);
    expect(full.message).toContain("64 roots");
    const before = pool.getStats().liveAllocations;
    const old = pool.getRoot("r0")!;
    const next = pool.allocate(32);
    pool.setRoot("r0", next, { freePrevious: true });
    // The old version's handle is dead though it was never freed through itself; the new one lives.
    expect(thrown(() => pool.persist(old))).toBeInstanceOf(UseAfterFreeError);
    expect(markedFreed(old)).toBe(true);
    pool.persist(next);
    expect(markedFreed(next)).toBe(false);
    expect(pool.getStats().liveAllocations).toBe(before); // one more, one less
    pool.setRoot("r1", null, { freePrevious: true });
    expect(pool.getStats().liveAllocations).toBe(before - 1);
    pool.close();
    const reopened = manager.createPMEMPool("pm-roots-limit", pmemConfig(path));
    expect(reopened.roots().length).toBe(63);
    expect(reopened.getRoot("r0")!.size).toBe(32);
    reopened.close();
  });

  test("root(name, size) gets or makes a zero-filled root in one step", () => {
    const path = poolPath("root-make");
    const pool = manager.createPMEMPool("pm-root-make", pmemConfig(path));
    const noise = pool.allocate(4096);
    noise.bytes.fill(0xee);
    pool.persist(noise);
    noise.free(); // the next block placed there holds stale bytes unless it is zeroed
    const counter = pool.root("counter", 4096);
    expect(counter.bytes.every((byte) => byte === 0)).toBe(true);
    counter.as(BigUint64Array)[0] = 41n;
    pool.persist(counter, 8);
    expect(offsetOfAllocation(pool.root("counter", 1))).toBe(offsetOfAllocation(counter)); // exists: the size is not used
    pool.close();
    const reopened = manager.createPMEMPool("pm-root-make", pmemConfig(path));
    expect(reopened.root("counter", 4096).as(BigUint64Array)[0]).toBe(41n);
    reopened.close();
  });
});

describe("PMEM pools in Workers", () => {
  test("getPool finds a PMEM pool by name from a Worker, which allocates and publishes", async () => {
    const path = poolPath("worker");
    const pool = manager.createPMEMPool("pm-worker", Object.assign(pmemConfig(path), { threadSafety: "mutex" }));
    const source = `
      import { MemoryPoolManager } from ${JSON.stringify(`${import.meta.dir}/../../src/index.ts`)};
      const pool = MemoryPoolManager.getInstance().getPool("pm-worker");
      const a = pool.allocate(16);
      a.bytes.set([1, 2, 3]);
      pool.persist(a);
      pool.setRoot("from-worker", a);
      postMessage({ kind: pool.kind, path: pool.path });
    `;
    const file = `${poolDirectory}/memory-pool-test-worker-${process.pid}.ts`;
    await Bun.write(file, source);
    try {
      const worker = new Worker(file);
      const reply = await new Promise<{ kind: string; path: string }>((resolve, reject) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => reject(event);
      });
      worker.terminate();
      expect(reply).toEqual({ kind: "pmem", path });
      expect([...pool.getRoot("from-worker")!.bytes.subarray(0, 3)]).toEqual([1, 2, 3]);
    } finally {
      rmSync(file, { force: true });
      pool.close();
    }
  });
});

describe("without libpmem", () => {
  test("the library loads, createPMEMPool throws PMEMUnavailableError saying so, CPU pools work", async () => {
    const run = await runChild("session.ts", ["unavailable"], { MEMORY_POOL_LIBPMEM: "/nonexistent/libpmem.so.1" });
    expect(run.stderr).toBe("");
    const [error, cpu] = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(error.name).toBe("PMEMUnavailableError");
    expect(error.code).toBe("PMEM_UNAVAILABLE");
    expect(error.message).toContain("libpmem");
    expect(error.message).toContain("/nonexistent/libpmem.so.1");
    expect(cpu).toEqual({ cpu: 42 });
  });
});

test("PoolConfig.DebugPMEM makes a shared, counted PMEM pool", () => {
  const config = PoolConfig.DebugPMEM(poolPath("debug"));
  const pool = manager.createPMEMPool("pm-debug", Object.assign(config, { initialSize: 128 * 1024 }));
  expect(pool.config.threadSafety).toBe("mutex");
  pool.allocate(10);
  expect(pool.getStats().peakLiveAllocations).toBe(1);
  pool.close();
});
