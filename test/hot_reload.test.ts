// `bun --hot` evaluates a reloaded module, and the library, again in the same process, while the
// pools the first evaluation made live on in the core's registry: the module's create call must
// make its pool again, not fail with PoolExistsError. Driven for real: the fixture runs under
// --hot in a child process and edits itself to make Bun reload it.
import { expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("under bun --hot a reloaded module makes its pool again: the earlier evaluation's pool of that name is destroyed first, a pool kept on globalThis stays", () => {
  const dir = mkdtempSync(join(tmpdir(), "memory-pool-hot-"));
  try {
    const fixture = join(dir, "app.ts");
    copyFileSync(join(import.meta.dir, "fixtures", "hot-reload.ts"), fixture);
    const result = Bun.spawnSync([process.execPath, "--hot", "--no-clear-screen", fixture], {
      cwd: dir,
      env: { ...process.env, MEMORY_POOL_SRC: join(import.meta.dir, "..", "src", "index.ts") },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout.toString().trim())).toEqual({
      runs: 2,
      blockSize: 128, // the config the reloaded module asked for
      value: 2,
      earlierDestroyed: true,
      earlierView: 0, // detached, not left over memory given back
      earlierAllocation: expect.stringContaining("UseAfterFreeError"),
      keptAlive: true,
      // Within one evaluation a second pool of a name is still refused, and the message says what to do.
      again: "PoolExistsError: a pool named 'hot-app' already exists: manager.getPool('hot-app') gives it, manager.destroyPool('hot-app') ends it",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a second copy of the library loaded beside the first (from another path) is no reload: its create of a name the first made is a PoolExistsError, and the first's pool lives on", () => {
  const dir = mkdtempSync(join(tmpdir(), "memory-pool-two-managers-"));
  try {
    const root = join(import.meta.dir, "..");
    cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
    writeFileSync(
      join(dir, "probe.ts"),
      `const first = await import(${JSON.stringify(join(root, "src", "index.ts"))});
const second = await import(${JSON.stringify(join(dir, "src", "index.ts"))});
const pool = first.MemoryPoolManager.getInstance().createCPUPool("dual");
let error = "none";
try { second.MemoryPoolManager.getInstance().createCPUPool("dual"); } catch (err) { error = err.code; }
const block = pool.allocate(8);
console.log(JSON.stringify({ error, alive: !("destroyed" in pool.toJSON()) && block.size === 8 }));`,
    );
    const result = Bun.spawnSync([process.execPath, join(dir, "probe.ts")], {
      cwd: dir,
      env: { ...process.env, MEMORY_POOL_CORE_PATH: join(root, "zig", "zig-out", "lib", "libmemory_pool.so") },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(result.stderr.toString()).toBe("");
    expect(JSON.parse(result.stdout.toString())).toEqual({ error: "POOL_EXISTS", alive: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
