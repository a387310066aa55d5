/**
 * Runs every example in its own process, as a user would (`bun examples/<name>.ts`), so the examples
 * cannot silently rot: each must exit 0, print nothing on stderr, and print its key lines.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

/** PMEM examples get a pool file of their own (so runs never share one) and PMEM emulated. */
function runExample(name: string): { exitCode: number; stdout: string; stderr: string } {
  const pmem = name.startsWith("pmem_");
  const poolFile = join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `memory-pool-example-${process.pid}-${name}.pool`);
  const args = pmem ? [poolFile] : [];
  const env = pmem ? { ...process.env, PMEM_IS_PMEM_FORCE: "1" } : process.env;
  try {
    const result = Bun.spawnSync([process.execPath, join("examples", name), ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env });
    return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  } finally {
    if (pmem) rmSync(poolFile, { force: true });
  }
}

/** Lines (as patterns) each example must print. */
const expected: Record<string, RegExp[]> = {
  "quickstart.ts": [
    /^Created pool 'main_cpu_pool' \(FixedSize, 1024-byte blocks\)\.$/m,
    /^Allocated 1024 bytes at 0x[0-9a-f]+; first bytes 1, 2, 3, 4, 256 floats, the last one 3\.5\.$/m,
    /^Scratch allocation in use: 2 live allocations\.$/m,
    /^After the block: 1 live allocation\.$/m,
    /^allocateRaw gave the pointer 0x[0-9a-f]+; deallocate returned it\.$/m,
    /^allocate\(Int32Array, 100\) gave 100 ints \(ints\[99\] = 9801\); allocate\(1024\) gave a Uint8Array of 1024 bytes\.$/m,
    /^Preset pools: 'fast_pool' \(Variable, grows x2\) and 'small_blocks' \(FixedSize, 512-byte blocks\)\.$/m,
    /^Freeing twice is caught: DoubleFreeError \(code DOUBLE_FREE\)\.$/m,
    /^Memory pool 'main_cpu_pool'$/m,
    /^ {2}live allocations +1 \(peak 2\)$/m,
    /^Pools: .*main_cpu_pool \(cpu\).*fast_pool \(cpu\).*small_blocks \(cpu\)/m,
    /^Destroyed every pool; 0 left\.$/m,
  ],
  "basic_cpu_pool.ts": [
    /^Created CPU pool 'main_cpu_pool': 1024-byte blocks, 2 MiB reserved\.$/m,
    /^Allocated 1024 bytes: 128 doubles written, their sum is 4064\.$/m,
    /read back as 0xcafe\.$/m,
    /^A 100-byte allocation takes one 1024-byte block: 2048 bytes in blocks for 1124 bytes asked\.$/m,
    /^A 10240-byte allocation takes a run of 10 contiguous blocks: 12288 bytes in blocks now\.$/m,
    /^Asking for 0 bytes fails: INVALID_SIZE: .*0 bytes/m,
    /^Freed all three allocations; 0 live\.$/m,
    /^Writing after free is caught: USE_AFTER_FREE\.$/m,
    /^Freeing an interior pointer is caught: INVALID_POINTER: /m,
    /^A second pool named 'main_cpu_pool' is refused: POOL_EXISTS\.$/m,
    /^getPool\('main_cpu_pool'\) returns the same pool: true\.$/m,
    /^Memory pool 'main_cpu_pool'$/m,
    /^After destroyPool the name is gone: POOL_NOT_FOUND\.$/m,
  ],
  "helper_functions.ts": [
    /^allocate\(Int32Array, 100\) gave an Int32Array of 100 elements \(400 bytes\); their sum is 14850\.$/m,
    /^allocate\(Float64Array, 1000\) gave 1000 doubles; the largest is 1\.0000\.$/m,
    /^allocate\(64\) gave a Uint8Array of 64 bytes; it now holds "Hello from the pool!"\.$/m,
    /^The default pool 'default_cpu_pool' holds 3 allocations, \d+ bytes in use\.$/m,
    /^After deallocate: 0 live allocations in 'default_cpu_pool'\.$/m,
    /^Deallocating twice: DOUBLE_FREE\.$/m,
    /^Deallocating an array the pool never gave out: INVALID_POINTER\.$/m,
    /^Deallocating a subarray from the middle: INVALID_POINTER\.$/m,
    /^Asking for 0 elements: INVALID_SIZE: /m,
    /^Destroyed 'default_cpu_pool'; 0 pools left\.$/m,
  ],
  "advanced_configuration.ts": [
    /^Created 'tuned_pool': 64 KiB up front, at most 256 KiB, growth x2, 64-byte alignment, threadSafety "mutex"\.$/m,
    /^pool\.config\.maxSize is still 256 KiB after the config object changed\.$/m,
    /^Blocks of 1, 3, 100, 1000 bytes start at multiples of 64: true\.$/m,
    /^\d+ allocations of 16 KiB fit; the next one failed with OUT_OF_MEMORY: /m,
    /^The pool grew 2 times to 3 regions, 256 KiB reserved; 1 allocation failed\.$/m,
    /^Memory pool 'tuned_pool'$/m,
    /^Freed all but 2 allocations; trim\(\) released 192 KiB, 64 KiB still reserved\.$/m,
    /^reset\(\) freed everything: 0 live allocations\.$/m,
    /^A handle from before the reset is caught: USE_AFTER_FREE\.$/m,
    /^4 Workers made 400 allocations in 'tuned_pool'; each carries its Worker's tag: true\.$/m,
    /^The main thread freed them all: 0 live allocations\.$/m,
    /^alignment 24: ConfigError on field 'alignment': /m,
    /^maxSize below initialSize: ConfigError on field 'initialSize': /m,
    /^an unknown threadSafety: ConfigError on field 'threadSafety': /m,
    /^a misspelt field: ConfigError on field 'blokSize': /m,
    /^Destroyed 'tuned_pool'; 0 pools left\.$/m,
  ],
  "render_memory_map.ts": [
    /^Built pool 'render_demo': \d+ live allocations in [2-9] regions, fragmentation [1-9]\d?\.\d %\.$/m,
    /^Saved its snapshot \(\d+ regions, \d+ blocks\) to .+memory-map\.json\.$/m,
    /^Drew it to .+memory-map\.svg \([\d.]+ KiB\); open it in a browser and hover a block\.$/m,
    /^Memory pools: 1$/m,
    /^ {2}render_demo +cpu +Variable +/m,
    /^JSON\.stringify\(manager\) lists 1 pool\(s\)\.$/m,
  ],
  "memory_timeline.ts": [
    /^Ran 6 batches in pool 'timeline_demo': 56 events, peak \d+ KiB in use\.$/m,
    /^Drew its memory over time to .+memory-timeline\.html \([\d.]+ KiB, no network needed\); open it in a browser and hover a band\.$/m,
  ],
  "pmem_basic.ts": [
    /^Created PMEM pool 'persistent_pool': 2 MiB file\.$/m,
    /^Persistent memory \(real or PMEM_IS_PMEM_FORCE=1\): persist\(\) flushes CPU caches\.$/m,
    /^Wrote "This data persists!" and persisted its 20 bytes\.$/m,
    /^Published it as root 'greeting'\.$/m,
    /^Copied 512 doubles into root 'samples' with memcpyPersist; the last is 0\.7410\.$/m,
    /^Wrote 16 counters, flushed each and drained once\.$/m,
    /^Freeing a published block is refused: PMEM_ROOT\.$/m,
    /^Memory pool 'persistent_pool'$/m,
    /^ {2}live allocations +2 \(peak 3\)$/m,
    /^Roots: greeting, samples\.$/m,
    /^Closed the pool; .* keeps its data for the next process\.$/m,
  ],
  "pmem_reopen.ts": [
    /^\[parent\] created .* \(created: true\)$/m,
    /^\[child \d+\] reopened the pool \(created: false\) and found 1 line\(s\): "written by the first process"$/m,
    /^\[child \d+\] appended a line and exits without closing the pool$/m,
    /^\[parent\] reopened the pool: 2 lines, 1 live allocation \(the old versions were freed\)$/m,
    /^ {2}process \d+ was here$/m,
    /^\[parent\] removed the pool file$/m,
  ],
  "pmem_list.ts": [
    /^\[parent\] created .* and signed it 3 times$/m,
    /^\[child \d+\] reopened the book \(created: false\): 3 entries, the newest "third guest"$/m,
    /^\[parent\] reopened the book: 3 entries, newest first:\n {2}signed by process \d+\n {2}third guest\n {2}second guest$/m,
    /^\[parent\] 4 live allocations \(the book and its entries\); 0 that no root reaches: the child's draft was never published, so it was never kept$/m,
    /^\[parent\] removed the pool file$/m,
  ],
  // Without a GPU (CI) it explains and exits 0; on the GPU machine it does the round trip.
  "debugging.ts": [
    /^Caught BOUNDARY_VIOLATION: allocation #1 \(13 bytes\), damaged after it at offset 13\.$/m,
    /^It was allocated at .*examples\/debugging\.ts:\d+:\d+\.$/m,
    /^After free the old view has 0 bytes and reads undefined; the handle throws USE_AFTER_FREE\.$/m,
    /^getLeaks\(\): #3, 100 bytes, allocated at .*examples\/debugging\.ts:\d+:\d+\.$/m,
    /^getHistory\(\): allocate #1, violation #1, free #1, allocate #2, free #2, allocate #3\.$/m,
    /^SampledGuardsCPU\(\): one allocation in 5000 gets guard pages\.$/m,
    /^Destroyed both pools; 0 left\.$/m,
  ],
  "gpu_basic.ts": [/^(No GPU here: GPU pools are unavailable: .+|Copied 10240 bytes to the device and back; round trip intact: true)$/m],
};

describe("examples", () => {
  test("every example in examples/ is covered here", () => {
    const files = readdirSync(join(root, "examples")).filter((file) => file.endsWith(".ts")).sort();
    expect(files).toEqual(Object.keys(expected).sort());
  });

  // The examples that take arguments read them with parseArgs (examples/support/cli.ts: exampleArgs, or twoProcessArgs for those that run themselves again).
  const withArguments = Object.keys(expected).filter((name) => /\b(exampleArgs|twoProcessArgs)\(/.test(readFileSync(join(root, "examples", name), "utf8")));
  test("the examples that take arguments are the five expected", () => {
    expect(withArguments.sort()).toEqual(["memory_timeline.ts", "pmem_basic.ts", "pmem_list.ts", "pmem_reopen.ts", "render_memory_map.ts"]);
  });
  for (const name of withArguments) {
    test(`${name} --help prints its usage and exits 0; an unknown option exits 2 with the usage on stderr`, () => {
      const help = Bun.spawnSync([process.execPath, join("examples", name), "--help"], { cwd: root, stdout: "pipe", stderr: "pipe" });
      expect(help.exitCode).toBe(0);
      expect(help.stdout.toString()).toStartWith(`Usage: `);
      expect(help.stdout.toString()).toContain(`examples/${name}`);
      const bad = Bun.spawnSync([process.execPath, join("examples", name), "--no-such-option"], { cwd: root, stdout: "pipe", stderr: "pipe" });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr.toString()).toContain("Unknown option '--no-such-option'");
      expect(bad.stderr.toString()).toContain("Usage: ");
    });
  }

  for (const [name, patterns] of Object.entries(expected)) {
    test(`${name} runs, exits 0 and prints its key lines`, () => {
      const { exitCode, stdout, stderr } = runExample(name);
      if (exitCode !== 0) console.error(`${name} failed:\n${stdout}\n${stderr}`);
      expect(stderr).toBe("");
      expect(exitCode).toBe(0);
      for (const pattern of patterns) expect(stdout).toMatch(pattern);
    });
  }
});
