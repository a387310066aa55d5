/**
 * PMDK's pool and integration tests, read and retold for this library's PMEM pools:
 * - obj_pool: a pool file reopened by a new process; reopened with another layout (allocator type,
 *   block size, alignment): a PMEMFormatError "layout" and the file's bytes untouched; files too small
 *   or of zeros (0 B to 64 KiB): "magic", untouched; a directory, a FIFO, a device, a missing
 *   directory: PMEMFileError; the same file opened twice in one process (by its path, a symbolic link
 *   or a hard link) and while another process holds it: PMEMFileError; a read-only file and a file in a
 *   read-only directory for a user who may not write them (run as nobody where this test is root); a path
 *   through a symbolic link and '..' opens the file the kernel names (it opened the one beside the link:
 *   the path was folded with node:path resolve), and a path ending in '/' is a ConfigError;
 * - tst-malloc-too-large (glibc) on PMEM pools: InvalidSizeErrors, nothing counted;
 * - obj_recovery: a process killed with the pool open leaves it openable, its unpublished block free;
 * - obj_basic_integration: a linked list built from a root, sizes 8 B to 64 KiB, read back whole by a new
 *   process; the statistics count exactly the published blocks; freeing through the links leaves none;
 * - obj_pmalloc_mt: four Workers on one "mutex" pool push, pop (unlink and free in one step) and churn
 *   unpublished blocks at once; a new process finds every list as its Worker left it, stamps intact,
 *   nothing unreachable, the statistics exactly the lists' nodes and roots.
 * Each opening that could crash runs in a child process. SUITE_SCALE=n multiplies obj_pmalloc_mt's operations.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { attackFixture, runCommand } from "../support/child";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, InvalidSizeError, MemoryPoolManager, PMEMFileError, PMEMFormatError, PoolConfig } from "../../src/index";
import { pmemUnavailableReason } from "../../src/native";
import { poolDirectory, poolPath, removePoolFiles, runChild } from "../pmem/helpers";
import { random } from "../support/random";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const scale = Number(process.env.SUITE_SCALE ?? 1) || 1;
const whyNot = pmemUnavailableReason();
if (whyNot !== undefined) console.log(`[test/attack/suite-pmdk] PMEM tests skipped: ${whyNot}`);
const scratch = join(poolDirectory, `suite-pmdk-${process.pid}`);
afterAll(() => {
  removePoolFiles();
  rmSync(scratch, { recursive: true, force: true });
});

const fixed = { allocatorType: "FixedSize", blockSize: 256, initialSize: 256 * 1024 } as const;
const child = (mode: string, path: string, config: object) => runChild("../../fixtures/attack/suite-pmdk-child.ts", [mode, path, JSON.stringify(config)]);
const open = (name: string, path: string, config: object) => manager.createPMEMPool(name, Object.assign(new PoolConfig(), { initialSize: 256 * 1024 }, config, { pmemPoolPath: path }));

function makeList(path: string, config: object, sizes: number[]): number {
  const pm = open("suite-pmdk-make", path, config);
  const head = pm.root("list", 8);
  let bytes = 8;
  sizes.forEach((size, i) => {
    const node = pm.allocate(size);
    pm.link(node, 0, pm.linked(head, 0) ?? null);
    node.bytes.fill(i + 1, 8);
    pm.persist(node);
    pm.link(head, 0, node);
    bytes += size;
  });
  pm.close();
  return bytes;
}

describe.skipIf(whyNot !== undefined)("PMDK obj_pool, obj_recovery and obj_basic_integration on PMEM pools", () => {
  for (const [name, config] of [["Variable", { initialSize: 1 << 20 }], ["FixedSize 256", { ...fixed, initialSize: 1 << 20 }]] as const) {
    test(`obj_basic_integration: a list from a root, read back whole by a new process, freed through its links (${name})`, async () => {
      const path = poolPath("suite-basic");
      const next = random(0x9d);
      const sizes = Array.from({ length: 40 }, () => (name === "Variable" ? 16 + Math.floor(next() ** 2 * 16_000) : 16 + Math.floor(next() * 240)));
      const bytes = makeList(path, config, sizes);
      const run = await child("walk", path, config);
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(0);
      const walked = JSON.parse(run.stdout);
      expect(walked.created).toBe(false);
      expect(walked.nodes.map((n: { size: number }) => n.size)).toEqual([...sizes].reverse());
      expect(walked.nodes.every((n: { ok: boolean; payload: number }, i: number) => n.ok && n.payload === sizes.length - i)).toBe(true);
      expect([walked.live, walked.bytesInUse, walked.unreachable]).toEqual([sizes.length + 1, bytes, 0]);
      // free node by node through the head's link, then the root
      const pm = open("suite-pmdk-free", path, config);
      const head = pm.getRoot("list")!;
      while (pm.linked(head, 0) !== undefined) pm.link(head, 0, pm.linked(pm.linked(head, 0)!, 0) ?? null, { freePrevious: true });
      pm.setRoot("list", null, { freePrevious: true });
      const s = pm.getStats();
      expect([s.liveAllocations, s.bytesInUse]).toEqual([0, 0]);
      pm.close();
    });
  }

  test("obj_pmalloc_mt: Workers build persistent lists on one pool at once; a new process finds each whole", async () => {
    const path = poolPath("suite-mt");
    const workers = 4;
    const run = await runChild("../../fixtures/attack/suite-pmalloc-mt-child.ts", ["run", path, String(workers), String(400 * scale)]);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const built = JSON.parse(run.stdout) as { reports: { sizes: number[]; wrong: string[] }[]; live: number; bytesInUse: number };
    for (const report of built.reports) expect(report.wrong).toEqual([]);
    const nodes = built.reports.reduce((sum, r) => sum + r.sizes.length, 0);
    const bytes = built.reports.reduce((sum, r) => sum + r.sizes.reduce((a, b) => a + b, 0), 0);
    expect([built.live, built.bytesInUse]).toEqual([nodes + workers, bytes + 8 * workers]); // unpublished churn all freed
    const walk = await runChild("../../fixtures/attack/suite-pmalloc-mt-child.ts", ["walk", path, String(workers)]);
    expect(walk.stderr).toBe("");
    expect(walk.exitCode).toBe(0);
    const found = JSON.parse(walk.stdout) as { lists: { sizes: number[]; stampsHold: boolean }[]; live: number; bytesInUse: number; unreachable: number };
    expect(found.lists).toEqual(built.reports.map((r) => ({ sizes: r.sizes, stampsHold: true })));
    expect([found.live, found.bytesInUse, found.unreachable]).toEqual([built.live, built.bytesInUse, 0]);
  });

  test("tst-malloc-too-large on PMEM pools: sizes past the file and up to 2^64 are InvalidSizeErrors, nothing counted, and the pool still serves", () => {
    for (const config of [{}, fixed, { threadSafety: "mutex" }]) {
      const pm = open("suite-pmdk-large", poolPath("suite-large"), { ...config, initialSize: 1 << 20 });
      for (const size of [0, -1, 0.5, NaN, 1 << 20, 2 ** 31, 2 ** 31 + 1, 2 ** 32, 2 ** 53, 2 ** 64, Infinity]) {
        expect(thrown(() => pm.allocate(size))).toBeInstanceOf(InvalidSizeError);
        expect(thrown(() => pm.allocateRaw(size))).toBeInstanceOf(InvalidSizeError);
      }
      const s = pm.getStats();
      expect([s.allocationCount, s.failedAllocations, s.bytesInUse]).toEqual([0, 0, 0]);
      pm.allocate(100).free();
      expect(pm.getStats().freeCount).toBe(1);
      pm.close();
    }
  });

  test("obj_pool: another layout is a PMEMFormatError 'layout' and the file is untouched; the right one opens", async () => {
    const path = poolPath("suite-layout");
    makeList(path, fixed, [64, 128]);
    const before = readFileSync(path);
    for (const wrong of [{ ...fixed, allocatorType: "Variable" }, { ...fixed, blockSize: 512 }, { ...fixed, alignment: 64 }]) {
      const error = thrown<PMEMFormatError>(() => open("suite-pmdk-layout", path, wrong));
      expect(error).toBeInstanceOf(PMEMFormatError);
      expect(error.reason).toBe("layout");
      expect(manager.hasPool("suite-pmdk-layout")).toBe(false);
    }
    expect(readFileSync(path).equals(before)).toBe(true);
    const pm = open("suite-pmdk-layout", path, { ...fixed, initialSize: 4 << 20 }); // a file keeps its size
    expect(pm.created).toBe(false);
    expect(pm.linked(pm.getRoot("list")!, 0)!.size).toBe(128);
    pm.close();
  });

  test("obj_pool: empty, too small and zero-filled files are PMEMFormatError 'magic', left as they were", () => {
    mkdirSync(scratch, { recursive: true });
    for (const size of [0, 1, 7, 4095, 4096, 8192, 65536]) {
      const path = join(scratch, `zeros-${size}.pool`);
      writeFileSync(path, new Uint8Array(size));
      const error = thrown<PMEMFormatError>(() => open("suite-pmdk-small", path, {}));
      expect(error).toBeInstanceOf(PMEMFormatError);
      expect(error.reason).toBe("magic");
      expect(readFileSync(path).length).toBe(size);
      expect(readFileSync(path).every((b) => b === 0)).toBe(true);
    }
  });

  test("obj_pool: a directory, a FIFO, a device and a path in a missing directory are PMEMFileErrors", () => {
    mkdirSync(scratch, { recursive: true });
    const fifo = join(scratch, "fifo");
    Bun.spawnSync(["mkfifo", fifo]);
    const paths = [scratch, join(scratch, "missing", "x.pool"), "/dev/null", ...(existsSync(fifo) ? [fifo] : [])];
    for (const path of paths) expect(thrown(() => open("suite-pmdk-file", path, {}))).toBeInstanceOf(PMEMFileError);
    expect(existsSync(join(scratch, "missing"))).toBe(false);
  });

  test("obj_pool: a file in use, by path, symbolic link or hard link in this process, or by another process, is a PMEMFileError", async () => {
    mkdirSync(scratch, { recursive: true });
    const path = poolPath("suite-in-use");
    const pm = open("suite-pmdk-use", path, {});
    const symbolic = join(scratch, "symbolic.pool");
    const hard = join(scratch, "hard.pool");
    symlinkSync(path, symbolic);
    linkSync(path, hard);
    for (const other of [path, symbolic, hard, path.replace(/\/([^/]+)$/, "//$1")]) {
      expect(thrown(() => open("suite-pmdk-use-2", other, {}))).toBeInstanceOf(PMEMFileError);
    }
    const run = await child("open", hard, {});
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ opened: false, name: "PMEMFileError", code: "PMEM_FILE" });
    pm.close();
    const again = await child("open", symbolic, {});
    expect(JSON.parse(again.stdout)).toEqual({ opened: true });
  });

  test("obj_pool: the path is the kernel's: 'link/../x.pool' is the file beside the link's target, and a trailing '/' is a ConfigError, nothing created", () => {
    mkdirSync(join(scratch, "real", "inner"), { recursive: true });
    mkdirSync(join(scratch, "links"), { recursive: true });
    symlinkSync(join(scratch, "real", "inner"), join(scratch, "links", "link"));
    const through = `${join(scratch, "links", "link")}/../x.pool`; // the kernel: real/x.pool (path.join would fold it)
    writeFileSync(join(scratch, "real", "x.pool"), "not a pool"); // what `cat` and fs read at that path
    const error = thrown<PMEMFormatError>(() => open("suite-pmdk-dotdot", through, {}));
    expect(error).toBeInstanceOf(PMEMFormatError); // the file at that path, not a new pool beside the link
    expect(error.reason).toBe("magic");
    expect(existsSync(join(scratch, "links", "x.pool"))).toBe(false);
    rmSync(join(scratch, "real", "x.pool"));
    const pm = open("suite-pmdk-dotdot", through, {});
    expect(pm.created).toBe(true);
    expect(existsSync(join(scratch, "real", "x.pool"))).toBe(true);
    expect(thrown(() => open("suite-pmdk-dotdot-2", join(scratch, "real", "x.pool"), {}))).toBeInstanceOf(PMEMFileError); // in use: the same file
    pm.close();
    for (const trailing of [join(scratch, "new.pool") + "/", join(scratch, "real", "x.pool") + "/"]) {
      const refused = thrown<ConfigError>(() => open("suite-pmdk-slash", trailing, {}));
      expect(refused).toBeInstanceOf(ConfigError);
      expect(refused.field).toBe("pmemPoolPath");
    }
    expect(existsSync(join(scratch, "new.pool"))).toBe(false);
  });

  test("obj_recovery: a process killed with the pool open leaves it openable, its unpublished block free", async () => {
    const path = poolPath("suite-kill");
    makeList(path, {}, [100, 200, 300]);
    const holder = Bun.spawn([process.execPath, join(import.meta.dir, "../fixtures/attack/suite-pmdk-child.ts"), "hold", path, "{}"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" } });
    const reader = holder.stdout.getReader();
    let seen = "";
    while (!seen.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toContain("ready");
    const busy = await child("open", path, {});
    expect(JSON.parse(busy.stdout)).toMatchObject({ opened: false, name: "PMEMFileError" });
    holder.kill("SIGKILL");
    await holder.exited;
    const run = await child("walk", path, {});
    expect(run.exitCode).toBe(0);
    const walked = JSON.parse(run.stdout);
    expect(walked.nodes.map((n: { size: number }) => n.size)).toEqual([300, 200, 100]);
    expect([walked.live, walked.bytesInUse, walked.unreachable]).toEqual([4, 608, 0]);
  });

  const asNobody = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");
  test.skipIf(!asNobody)("obj_pool: for a user who may not write them, a read-only file and a file in a read-only directory are PMEMFileErrors (as nobody)", async () => {
    mkdirSync(scratch, { recursive: true });
    chmodSync(scratch, 0o755); // nobody may read and traverse, not write
    const path = join(scratch, "readonly.pool");
    makeList(path, {}, [64]);
    chmodSync(path, 0o644);
    const run = async (target: string) => {
      const { stdout, stderr, exitCode } = await runCommand(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, attackFixture("suite-pmdk-child.ts"), "open", target, "{}"], {
        env: { ...process.env, HOME: "/tmp", PMEM_IS_PMEM_FORCE: "1" }, cwd: "/tmp",
      });
      return { stdout, stderr, exitCode };
    };
    const readOnly = await run(path);
    expect(readOnly.stderr).toBe("");
    expect(JSON.parse(readOnly.stdout)).toMatchObject({ opened: false, name: "PMEMFileError" });
    const inReadOnlyDirectory = await run(join(scratch, "new.pool"));
    expect(JSON.parse(inReadOnlyDirectory.stdout)).toMatchObject({ opened: false, name: "PMEMFileError" });
    expect(existsSync(join(scratch, "new.pool"))).toBe(false);
  });
});
