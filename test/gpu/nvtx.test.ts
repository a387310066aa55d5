// NVTX annotations of GPU pools (src/nvtx.ts, zig/src/gpu/nvtx.zig). The switches are tested
// everywhere; GPU pools without a tool on a machine with a CUDA device; and, where
// compute-sanitizer is installed too, what it reports of test/fixtures/nvtx-scenario.ts run under
// it: an overrun into a neighbouring block, a write to a freed block and a read of a block nothing
// wrote, each reported at its address; nothing for in-bounds work; and the overrun unreported with
// registration off (MEMORY_POOL_NVTX=0), which shows that the registration is what finds it; the
// same for a pinned pool. Under a tool GPU pools take one cuMemAlloc instead of VMM mappings (the
// sanitizer refuses NVTX heaps over those): the "backing" scenario shows which memory a pool took,
// with a tool, with a stand-in injection path (no sanitizer needed) and without.
// Every sanitizer run's whole output is printed, so one run on the GPU machine is enough to debug.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, configureNvtx, MemoryPoolManager, nvtxStatus, PoolConfig } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";
import { findSanitizer, runUnderSanitizer, type SanitizerRun, type SanitizerTool } from "../support/sanitizer";

const manager = MemoryPoolManager.getInstance();
const noGPU = gpuUnavailableReason();
const gpu = noGPU === undefined;
const sanitizer = findSanitizer();
const builtIn = nvtxStatus().builtIn;
const sanitizerReady = gpu && sanitizer !== null && builtIn;
if (!gpu) console.log(`[test/gpu/nvtx] GPU and sanitizer tests skipped: ${noGPU}`);
else if (!builtIn) console.log("[test/gpu/nvtx] sanitizer tests skipped: this core was built without the CUDA headers (NVTX compiled out)");
else if (!sanitizerReady) console.log("[test/gpu/nvtx] sanitizer tests skipped: compute-sanitizer not found (/usr/local/cuda/bin, PATH, or $COMPUTE_SANITIZER)");

const initial = nvtxStatus();
/** An injection path no library is at: NVTX finds no tool there and stays a no-op, but the core sees one named. */
const missingInjection = "/nonexistent/memory-pool-test/libno-nvtx-tool.so";
const MiB = 1024 * 1024;
/** What an arena reserves where nothing limits it (zig/src/arena.zig reserve_bytes_max). */
const reserveBytesMax = 64 * 1024 * MiB - 2 * MiB;
afterAll(() => {
  configureNvtx({ registerMemory: initial.registerMemory, ranges: initial.ranges });
});

describe("the NVTX switches", () => {
  test("configureNvtx sets each switch given and leaves the other", () => {
    const off = configureNvtx({ registerMemory: false });
    expect(off.registerMemory).toBe(false);
    expect(off.ranges).toBe(initial.ranges);
    const on = configureNvtx({ ranges: true, registerMemory: true });
    expect(on).toMatchObject({ registerMemory: true, ranges: true, builtIn: initial.builtIn });
    expect(nvtxStatus()).toEqual(on);
    expect(configureNvtx({}).ranges).toBe(true);
    configureNvtx({ ranges: false });
    expect(nvtxStatus().ranges).toBe(false);
  });

  test("bad options are ConfigErrors and change nothing", () => {
    const before = nvtxStatus();
    expect(() => configureNvtx({ ranges: 1 as unknown as boolean })).toThrow(ConfigError);
    expect(() => configureNvtx({ registerMemory: "no" as unknown as boolean })).toThrow(/NvtxOptions.registerMemory = "no": must be true or false/);
    expect(() => configureNvtx({ colour: true } as unknown as { ranges: boolean })).toThrow(/NvtxOptions has no option 'colour'/);
    expect(() => configureNvtx(null as unknown as { ranges: boolean })).toThrow(ConfigError);
    expect(nvtxStatus()).toEqual(before);
  });

  test("the environment sets the switches a process starts with", () => {
    const script = `import { nvtxStatus } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "index.ts"))}; console.log(JSON.stringify(nvtxStatus()));`;
    const run = (env: Record<string, string>) => {
      const result = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, MEMORY_POOL_NVTX: "", MEMORY_POOL_NVTX_RANGES: "", NVTX_INJECTION64_PATH: "", ...env } });
      expect(result.stderr.toString()).toBe("");
      return JSON.parse(result.stdout.toString()) as ReturnType<typeof nvtxStatus>;
    };
    expect(run({})).toMatchObject({ registerMemory: true, ranges: false, toolAttached: false, toolInjected: false });
    // An injection path is what a tool sets; none answers here (no NVTX call is made), so none is attached.
    expect(run({ NVTX_INJECTION64_PATH: missingInjection })).toMatchObject({ toolInjected: true, toolAttached: false });
    expect(run({ MEMORY_POOL_NVTX: "0", MEMORY_POOL_NVTX_RANGES: "1" })).toMatchObject({ registerMemory: false, ranges: true });
    expect(run({ MEMORY_POOL_NVTX: "off", MEMORY_POOL_NVTX_RANGES: "yes" })).toMatchObject({ registerMemory: false, ranges: true });
  });

  test("CPU pools work the same with every switch on", () => {
    configureNvtx({ registerMemory: true, ranges: true });
    const pool = manager.createCPUPool("nvtx-cpu", Object.assign(new PoolConfig(), { allocatorType: "Variable" }));
    try {
      const a = pool.allocate(100);
      a.bytes.fill(7);
      a.free();
      pool.reset();
      expect(pool.getStats().liveAllocations).toBe(0);
    } finally {
      manager.destroyPool("nvtx-cpu");
      configureNvtx({ ranges: initial.ranges });
    }
    expect(nvtxStatus().toolAttached).toBe(false);
  });
});

describe.if(gpu)("GPU and pinned pools without a tool attached", () => {
  test("allocate, free on a stream, copy, fill, reset and trim work with registration and ranges on", () => {
    configureNvtx({ registerMemory: true, ranges: true });
    const pool = manager.createGPUPool("nvtx-gpu", Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 2 * 1024 * 1024, growth: 2 }));
    const pinned = manager.createPinnedPool("nvtx-pinned", Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 2 * 1024 * 1024 }));
    try {
      const stream = pool.createStream();
      const a = pool.allocate(100);
      const big = pool.allocate(3 * 1024 * 1024); // a second region
      const host = pinned.allocate(100);
      host.bytes.fill(9);
      pool.copyHostToDevice(a, host);
      pool.fill(big, 1);
      const back = new Uint8Array(100);
      pool.copyDeviceToHost(back, a);
      expect(back.every((byte) => byte === 9)).toBe(true);
      big.free({ stream });
      stream.synchronize();
      pool.trim();
      a.free();
      pool.allocate(64);
      pool.reset();
      expect(pool.getStats().liveAllocations).toBe(0);
      stream.destroy();
      host.free();
      expect(nvtxStatus()).toMatchObject({ toolAttached: false, toolInjected: false });
    } finally {
      manager.destroyPool("nvtx-gpu");
      manager.destroyPool("nvtx-pinned");
      configureNvtx({ ranges: initial.ranges });
    }
  });
});

/** What the "backing" scenario of test/fixtures/nvtx-scenario.ts printed. */
interface Backing {
  growingAddressSpace: number;
  fixedAddressSpace: number;
  limitedAddressSpace: number;
  growths: number;
  trimmed: number;
  roundTrips: boolean;
  exported: string;
}

function backingOf(output: string): Backing {
  const line = /^backing (\{.*\})$/m.exec(output);
  expect(line).not.toBeNull();
  return JSON.parse(line![1]!) as Backing;
}

/** A tool-checkable pool: one cuMemAlloc, sized to what the pool can use, kept whole until the pool goes. */
function expectOneAllocation(backing: Backing): void {
  expect(backing.growingAddressSpace).toBeGreaterThanOrEqual(2 * MiB); // min(1 GiB, half the free memory), at least the first region
  expect(backing.growingAddressSpace).toBeLessThanOrEqual(1024 * MiB);
  expect(backing.growingAddressSpace % (2 * MiB)).toBe(0);
  expect(backing.fixedAddressSpace).toBe(4 * MiB); // growth 0: its first region
  expect(backing.limitedAddressSpace).toBe(8 * MiB); // its maxSize
  expect(backing.growths).toBeGreaterThanOrEqual(1);
  expect(backing.roundTrips).toBe(true);
  expect(backing.trimmed).toBe(0);
  expect(backing.exported).toMatch(/^UnsupportedOperationError: .*cuMemAlloc.*MEMORY_POOL_NVTX=0/);
}

describe.if(gpu)("where GPU pools take their memory from", () => {
  const fixture = join(import.meta.dir, "..", "fixtures", "nvtx-scenario.ts");
  /** Runs the scenario with `env` over this process's, less any injection path unless `env` names one. */
  const run = (env: Record<string, string>): string => {
    const { NVTX_INJECTION64_PATH: _ignored, ...inherited } = process.env;
    const result = Bun.spawnSync([process.execPath, fixture, "backing"], { env: { ...inherited, MEMORY_POOL_NVTX_RANGES: "", ...env } });
    const output = `${result.stdout.toString()}${result.stderr.toString()}`;
    console.log(`---- backing ${JSON.stringify(env)}: exit ${result.exitCode} ----\n${output}---- end ----`);
    expect(result.exitCode).toBe(0);
    expect(output).toMatch(/^done; nvtx /m);
    return output;
  };

  test("without a tool: VMM mappings, address space reserved up to the arena's most, trim gives a region back", () => {
    const output = run({ MEMORY_POOL_NVTX: "1" });
    expect(output).toContain('"toolInjected":false');
    const backing = backingOf(output);
    expect(backing.growingAddressSpace).toBe(reserveBytesMax);
    expect(backing.fixedAddressSpace).toBe(reserveBytesMax);
    expect(backing.limitedAddressSpace).toBe(8 * MiB);
    expect(backing.roundTrips).toBe(true);
    expect(backing.trimmed).toBe(4 * MiB);
    expect(backing.exported).not.toMatch(/^UnsupportedOperationError/);
  });

  // Without NVTX compiled in no pool registers, so none needs checkable memory.
  test.if(builtIn)("with a tool injected and registration on: one cuMemAlloc per pool, export refused", () => {
    const output = run({ NVTX_INJECTION64_PATH: missingInjection, MEMORY_POOL_NVTX: "1" });
    expect(output).toContain('"toolAttached":false,"toolInjected":true');
    expectOneAllocation(backingOf(output));
  });

  test("with a tool injected and registration off: VMM mappings as without a tool", () => {
    const output = run({ NVTX_INJECTION64_PATH: missingInjection, MEMORY_POOL_NVTX: "0" });
    expect(output).toContain('"toolInjected":true');
    const backing = backingOf(output);
    expect(backing.growingAddressSpace).toBe(reserveBytesMax);
    expect(backing.trimmed).toBe(4 * MiB);
    expect(backing.exported).not.toMatch(/^UnsupportedOperationError/);
  });
});

/**
 * Every sanitizer run the tests below read, started together when the file loads (each takes
 * seconds under the sanitizer); a test awaits its own and prints everything it said.
 */
const runs = new Map<string, Promise<SanitizerRun>>();
function runKey(tool: SanitizerTool, scenario: string, registerMemory: boolean): string {
  return `${tool} ${scenario} ${registerMemory ? "on" : "off"}`;
}
if (sanitizerReady) {
  const planned: [SanitizerTool, string, boolean][] = [
    ["memcheck", "overrun", true],
    ["memcheck", "in-bounds", true],
    ["memcheck", "overrun", false],
    ["memcheck", "use-after-free", true],
    ["initcheck", "uninitialized-read", true],
    ["memcheck", "pinned-overrun", true],
    ["memcheck", "pinned-overrun", false],
    ["memcheck", "backing", true],
  ];
  for (const [tool, scenario, registerMemory] of planned) runs.set(runKey(tool, scenario, registerMemory), runUnderSanitizer(sanitizer!, tool, scenario, registerMemory));
}

async function underSanitizer(tool: SanitizerTool, scenario: string, registerMemory: boolean): Promise<SanitizerRun> {
  const run = await runs.get(runKey(tool, scenario, registerMemory))!;
  console.log(`---- ${run.command}: exit ${run.exitCode} ----\n${run.output}---- end ----`);
  return run;
}

function expectRanToTheEnd(run: SanitizerRun, registerMemory: boolean): void {
  expect(run.output).toMatch(/^done; nvtx /m);
  // Under the sanitizer a registering pool must have found the tool: else nothing was checked.
  expect(run.output).toContain(registerMemory ? '"registerMemory":true,"ranges":true,"toolAttached":true,"toolInjected":true' : '"registerMemory":false');
  // Every heap a pool offered was taken (a GPU pool over VMM mappings was refused, CUDA 13).
  expect(run.output).not.toContain("nvtxMemHeapRegister failed");
}

const sanitizerTimeout = 180_000;

describe.if(sanitizerReady)("under compute-sanitizer", () => {
  test(
    "memcheck reports a kernel writing one byte past a pool block, into the gap before its neighbour",
    async () => {
      const run = await underSanitizer("memcheck", "overrun", true);
      expectRanToTheEnd(run, true);
      expect(run.output).toContain("Invalid __global__ write of size 1 bytes");
      expect(run.expected).toBeDefined();
      expect(run.reported).toContain(run.expected!);
      expect(run.errors).toBeGreaterThanOrEqual(1);
    },
    sanitizerTimeout,
  );

  test(
    "memcheck reports nothing for the same blocks written and read in bounds",
    async () => {
      const run = await underSanitizer("memcheck", "in-bounds", true);
      expectRanToTheEnd(run, true);
      expect(run.output).not.toContain("Invalid __global__");
      expect(run.errors).toBe(0);
    },
    sanitizerTimeout,
  );

  test(
    "with registration off the same overrun goes unreported: the registration is what finds it",
    async () => {
      const run = await underSanitizer("memcheck", "overrun", false);
      expectRanToTheEnd(run, false);
      expect(run.expected).toBeDefined();
      expect(run.reported).not.toContain(run.expected!);
      expect(run.errors).toBe(0);
    },
    sanitizerTimeout,
  );

  test(
    "memcheck reports a kernel writing to a freed pool block",
    async () => {
      const run = await underSanitizer("memcheck", "use-after-free", true);
      expectRanToTheEnd(run, true);
      expect(run.output).toContain("Invalid __global__ write");
      expect(run.reported).toContain(run.expected!);
      expect(run.errors).toBeGreaterThanOrEqual(1);
    },
    sanitizerTimeout,
  );

  test(
    "memcheck reports a kernel writing one byte past a pinned pool block; with registration off it goes unreported",
    async () => {
      const on = await underSanitizer("memcheck", "pinned-overrun", true);
      expectRanToTheEnd(on, true);
      expect(on.output).toContain("Invalid __global__ write of size 1 bytes");
      expect(on.expected).toBeDefined();
      expect(on.reported).toContain(on.expected!);
      expect(on.errors).toBeGreaterThanOrEqual(1);
      const off = await underSanitizer("memcheck", "pinned-overrun", false);
      expectRanToTheEnd(off, false);
      expect(off.expected).toBeDefined();
      expect(off.reported).not.toContain(off.expected!);
      expect(off.errors).toBe(0);
    },
    sanitizerTimeout,
  );

  test(
    "under the sanitizer GPU pools are one cuMemAlloc each, registered whole, used and grown without a report",
    async () => {
      const run = await underSanitizer("memcheck", "backing", true);
      expectRanToTheEnd(run, true);
      expectOneAllocation(backingOf(run.output));
      expect(run.errors).toBe(0);
    },
    sanitizerTimeout,
  );

  test(
    "initcheck reports a kernel reading a pool block nothing wrote",
    async () => {
      const run = await underSanitizer("initcheck", "uninitialized-read", true);
      expectRanToTheEnd(run, true);
      expect(run.output).toContain("Uninitialized __global__ memory read");
      expect(run.expected).toBeDefined();
      // Every thread's read is reported at its own address: all inside the 256-byte block.
      expect(run.reported.length).toBeGreaterThan(0);
      for (const address of run.reported) expect(address - run.expected!).toBeWithin(0, 256);
      expect(run.errors).toBeGreaterThanOrEqual(1);
    },
    sanitizerTimeout,
  );
});
