/**
 * The errors a first-time user meets, as that user reads them: each names what was wrong and says
 * what to do, with the class and the fields a program branches on. Wrong options, a pool file at a
 * bad path, no core (a child process, with MEMORY_POOL_CORE_PATH naming no file), no CUDA driver
 * (where there is none), no libpmem (its message checked where it is missing: elsewhere, that
 * PMEM works).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gpuUnavailableReason, pmemUnavailableReason } from "../src/native";
import {
  ConfigError,
  GPUUnavailableError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolManager,
  PMEMFileError,
  PMEMFormatError,
  PMEMUnavailableError,
  PoolNotFoundError,
} from "../src/index";
import { thrown } from "./support/thrown";

const manager = MemoryPoolManager.getInstance();
const folder = mkdtempSync(join(tmpdir(), "memory-pool-newcomer-"));
afterAll(() => {
  for (const { name } of manager.listPools()) if (name.startsWith("newcomer-")) manager.destroyPool(name);
  rmSync(folder, { recursive: true, force: true });
});

describe("wrong options: a ConfigError naming the field, the value and what it must be", () => {
  test("a misspelt field lists the fields there are", () => {
    const error = thrown(() => manager.createCPUPool("newcomer-typo", { blokSize: 64 } as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe("blokSize");
    expect(error.message).toContain("is not a PoolConfig field");
    expect(error.message).toContain("blockSize");
  });

  test("a value out of its set says which values there are", () => {
    const error = thrown(() => manager.createCPUPool("newcomer-safety", { threadSafety: "lockfree" as never }));
    expect(error).toBeInstanceOf(ConfigError);
    expect([(error as ConfigError).field, (error as ConfigError).value]).toEqual(["threadSafety", "lockfree"]);
    expect(error.message).toContain(`"lockFree"`);
  });

  test("sizes that cannot be: the limits in the message", () => {
    const tooLarge = thrown(() => manager.createCPUPool("newcomer-sizes", { initialSize: 1 << 20, maxSize: 1 << 16 }));
    expect(tooLarge).toBeInstanceOf(ConfigError);
    expect(tooLarge.message).toContain("is larger than maxSize (65536)");
    const pool = manager.createCPUPool("newcomer-limit", { maxSize: 1 << 20 });
    const request = thrown(() => pool.allocate(2 << 20));
    expect(request).toBeInstanceOf(InvalidSizeError);
    expect(request.message).toContain("sizes run from 1 to 1048576");
    expect(thrown(() => pool.allocate("64" as never)).message).toContain("a size is a number");
  });

  test("an unknown pool name is a PoolNotFoundError that quotes it; an unknown kind names getPool's, not a PoolConfig field", () => {
    const error = thrown(() => manager.getPool("newcomer-never-made"));
    expect(error).toBeInstanceOf(PoolNotFoundError);
    expect(error.message).toContain("'newcomer-never-made'");
    const kind = thrown<ConfigError>(() => manager.getPool("newcomer-never-made", "disk" as never));
    expect(kind).toBeInstanceOf(ConfigError);
    expect([kind.field, kind.value]).toEqual(["kind", "disk"]);
    expect(kind.message).toBe(`kind = "disk": getPool's kind is one of "cpu", "pinned", "gpu", "pmem"`);
  });

  test("deallocate of something that is no allocation, pointer or view names what it was given", () => {
    const pool = manager.createCPUPool("newcomer-deallocate");
    for (const [given, named] of [
      [null, "null"],
      [undefined, "undefined"],
      [{}, "an object"],
      ["0x10", `"0x10"`],
    ] as const) {
      const error = thrown(() => pool.deallocate(given as never));
      expect(error).toBeInstanceOf(InvalidPointerError);
      expect(error.message).toBe(`deallocate takes an Allocation, a pointer or a typed array, not ${named}`);
    }
  });
});

describe.skipIf(pmemUnavailableReason() !== undefined)("a PMEM pool's file at a bad path: what is wrong with the path", () => {
  test("no path: where to put the file", () => {
    const error = thrown(() => manager.createPMEMPool("newcomer-pmem-none"));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe("pmemPoolPath");
    expect(error.message).toContain("/dev/shm");
  });

  test("a directory that does not exist, a directory, another program's file", () => {
    const missing = thrown(() => manager.createPMEMPool("newcomer-pmem-dir", { pmemPoolPath: join(folder, "no", "such", "x.pool") }));
    expect(missing).toBeInstanceOf(PMEMFileError);
    expect(missing.message).toContain(`the directory '${join(folder, "no", "such")}' does not exist`);
    const directory = thrown(() => manager.createPMEMPool("newcomer-pmem-folder", { pmemPoolPath: folder }));
    expect(directory).toBeInstanceOf(PMEMFileError);
    expect(directory.message).toContain("is a directory");
    const other = join(folder, "notes.txt");
    writeFileSync(other, "a file of another program, not a pool");
    const foreign = thrown(() => manager.createPMEMPool("newcomer-pmem-foreign", { pmemPoolPath: other }));
    expect(foreign).toBeInstanceOf(PMEMFormatError);
    expect((foreign as PMEMFormatError).reason).toBe("magic");
    expect(foreign.message).toContain("wrong path, or another program's file");
  });
});

describe("what is missing on this machine: the message says what and what to do", () => {
  const noGPU = gpuUnavailableReason();
  test.skipIf(noGPU === undefined)("no CUDA driver: a GPUUnavailableError naming libcuda.so.1, that the pool needs an NVIDIA GPU and its driver, and that CPU pools work", () => {
    for (const make of [() => manager.createGPUPool("newcomer-gpu"), () => manager.createPinnedPool("newcomer-pinned")]) {
      const error = thrown(make);
      expect(error).toBeInstanceOf(GPUUnavailableError);
      expect(error.message).toBe(noGPU!);
    }
    // What it says where the driver is not installed (elsewhere the reason is the driver's own).
    if (noGPU!.includes("libcuda.so.1")) {
      expect(noGPU).toContain("not installed");
      expect(noGPU).toContain("NVIDIA GPU with its driver");
      expect(noGPU).toContain("CPU and PMEM pools work without it");
    }
  });

  const noPMEM = pmemUnavailableReason();
  test(noPMEM === undefined ? "libpmem is here: a PMEM pool opens" : "no libpmem: a PMEMUnavailableError saying what to install", () => {
    const pmemPoolPath = join(folder, "here.pool");
    if (noPMEM === undefined) {
      using pool = manager.createPMEMPool("newcomer-pmem-here", { pmemPoolPath, initialSize: 1 << 20 });
      expect(pool.created).toBe(true);
      return;
    }
    const error = thrown(() => manager.createPMEMPool("newcomer-pmem-missing", { pmemPoolPath }));
    expect(error).toBeInstanceOf(PMEMUnavailableError);
    expect(error.message).toContain("libpmem");
    expect(error.message).toContain("install");
  });

  test("no core: importing works, isAvailable() is false, and every pool call is a NativeLibraryError saying how to get one", () => {
    const script = join(folder, "no-core.ts");
    writeFileSync(
      script,
      `import { MemoryPoolManager, NativeLibraryError, isAvailable, unavailableReason } from ${JSON.stringify(join(import.meta.dir, "..", "src", "index.ts"))};
console.log(JSON.stringify({ available: isAvailable(), reason: unavailableReason() }));
try { MemoryPoolManager.getInstance().createCPUPool("p"); } catch (error) { console.log(error instanceof NativeLibraryError, String(error)); }
`,
    );
    const missing = join(folder, "nowhere", "libmemory_pool.so");
    const result = Bun.spawnSync([process.execPath, script], { env: { ...process.env, MEMORY_POOL_CORE_PATH: missing }, stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    const [first, second] = result.stdout.toString().trim().split("\n");
    const reason = `MEMORY_POOL_CORE_PATH names ${missing}, which does not exist: point it at a built core (libmemory_pool.so), or unset it`;
    expect(JSON.parse(first!)).toEqual({ available: false, reason });
    expect(second).toBe(`true NativeLibraryError [NATIVE_LIBRARY]: ${reason}`);
  });
});
