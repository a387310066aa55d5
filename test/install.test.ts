/**
 * The library as a dependency: `npm run release`'s packages (this machine's platform and
 * linux-arm64-gnu, to keep the cross builds few) installed into a fresh Bun project that has no
 * checkout, no Zig and no registry; an app there, compiled with `bun build --compile` and run from
 * an empty folder, and bundled with `bun build`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CORE_PLATFORMS, PACKAGE_NAME, corePackageName } from "../src/platforms";
import { gpuUnavailableReason, pmemUnavailableReason } from "../src/native";
import type { checkConsumer as CheckConsumer, NODE_NEXT as NodeNext } from "./support/consumer";
import { blockNeeds, poolFileIn, readmeBlocks } from "./support/readme_blocks";
import { missingTypeTools, missingZig, runsHere } from "./support/tools";
import type { typescriptFloor as TypescriptFloor } from "./support/typescript_floor";

const root = join(import.meta.dir, "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const here = process.platform === "linux" && process.arch === "x64" ? CORE_PLATFORMS.find((platform) => platform.key === "linux-x64-gnu") : undefined;
const arm64 = CORE_PLATFORMS.find((platform) => platform.key === "linux-arm64-gnu")!;
/** Set-up fetches Bun's arm64 build where Debian's qemu-user-static and libc6-arm64-cross are installed. */
const qemu = { emulator: Bun.which("qemu-aarch64-static"), sysroot: "/usr/aarch64-linux-gnu", bun: join(root, ".tools", "bun-linux-aarch64", "bin", "bun") };
const emulates = qemu.emulator !== null && existsSync(join(qemu.sysroot, "lib", "ld-linux-aarch64.so.1")) && existsSync(qemu.bun);
if (here !== undefined && !emulates) console.log("the arm64 core is checked, not run: no qemu-user here (apt-get install qemu-user-static libc6-arm64-cross, then npm test again)");
if (here === undefined) console.log(`install tests skipped: they install the linux-x64-gnu package, and this is ${process.platform}-${process.arch}`);
// The release builds the cores with the pinned Zig and emits the declarations with the compiler;
// the app is type-checked against them with Bun's types. A copy with only bun and mitata has none.
const tools = here === undefined || runsHere("test/install", missingZig() ?? missingTypeTools());
let checkConsumer: typeof CheckConsumer;
let NODE_NEXT: typeof NodeNext;
let typescriptFloor: typeof TypescriptFloor;
if (here !== undefined && tools) {
  ({ checkConsumer, NODE_NEXT } = await import("./support/consumer"));
  ({ typescriptFloor } = await import("./support/typescript_floor"));
}

/** Nothing but Bun and the system's tools: no Zig, no PYTHONPATH, no registry, no core override. */
const isolated = {
  PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: process.env.HOME,
  TMPDIR: process.env.TMPDIR,
  BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/",
  NO_COLOR: "1",
};

/** The app a user writes: a CPU pool, an allocation, a typed view, a free, statistics. */
const app = `import { MemoryPoolManager, PoolConfig, isAvailable, unavailableReason } from "${PACKAGE_NAME}";

if (!isAvailable()) throw new Error("no core: " + unavailableReason());
const manager = MemoryPoolManager.getInstance();
const config = new PoolConfig();
config.initialSize = 1024 * 1024;
const pool = manager.createCPUPool("installed", config);
const block = pool.allocate(8 * 1000);
const values = block.as(Float64Array);
for (let i = 0; i < values.length; i++) values[i] = i;
console.log("sum " + values.reduce((sum, value) => sum + value, 0));
pool.deallocate(block);
const stats = pool.getStats();
console.log("allocations " + stats.allocationCount + ", frees " + stats.freeCount + ", live " + stats.liveAllocations);
console.log(stats.getStatsString());
manager.destroyPool("installed");
`;

/** What a user's editor sees of a pool and an allocation: the API, not the library's own members. */
const typedApp = `import { MemoryPoolManager, type CPUMemoryPool } from "${PACKAGE_NAME}";

const pool: CPUMemoryPool = MemoryPoolManager.getInstance().createCPUPool("typed", { blockSize: 64 });
const block = pool.allocate(64);
block.as(Float32Array)[0] = 1.5;
// @ts-expect-error: not API, so not in the declarations
pool.destroyNative();
// @ts-expect-error: not API
pool.holds(0, 1);
// @ts-expect-error: not API
block.offset;
pool.destroy();
`;

/** The user's own test of it, under `bun test`: a pool, a view, a use after free caught by its class. */
const userTest = `import { expect, test } from "bun:test";
import { MemoryPoolManager, UseAfterFreeError } from "${PACKAGE_NAME}";

test("a pool from the installed package", () => {
  using pool = MemoryPoolManager.getInstance().createCPUPool("under-bun-test");
  const block = pool.allocate(16);
  block.bytes[0] = 3;
  expect(block.bytes[0]).toBe(3);
  block.free();
  expect(() => block.bytes).toThrow(UseAfterFreeError);
});
`;

/** An app that records where its allocation was made, and prints that stack. */
const stackApp = `import { MemoryPoolManager, PoolConfig } from "${PACKAGE_NAME}";

const config = new PoolConfig();
config.trackHistory = true;
const pool = MemoryPoolManager.getInstance().createCPUPool("traced", config);
const block = pool.allocate(10);
console.log(JSON.stringify({ stack: pool.getLeaks()[0]!.stack }));
block.free();
`;

/** The stack stackApp printed. */
function printedStack(result: { exitCode: number; stdout: Buffer; stderr: Buffer }): string {
  if (result.exitCode !== 0) console.error(result.stdout.toString(), result.stderr.toString());
  expect(result.exitCode).toBe(0);
  return (JSON.parse(result.stdout.toString()) as { stack: string }).stack;
}

function expectAppRan(result: { exitCode: number; stdout: Buffer; stderr: Buffer }): void {
  const stdout = result.stdout.toString();
  if (result.exitCode !== 0) console.error(stdout, result.stderr.toString());
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
  expect(stdout).toContain("sum 499500\n");
  expect(stdout).toContain("allocations 1, frees 1, live 0\n");
  expect(stdout).toContain("Memory pool 'installed'");
}

function run(command: string[], cwd: string, env: Record<string, string | undefined> = isolated) {
  return Bun.spawnSync(command, { cwd, env, stdout: "pipe", stderr: "pipe" });
}

/** A file from inside a tarball. */
function fromTarball(tarball: string, path: string): Buffer {
  const result = Bun.spawnSync(["tar", "-xzOf", tarball, `package/${path}`]);
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

/** ELF's e_machine: 62 x86-64, 183 AArch64. */
function elfMachine(file: Buffer): number {
  expect(file.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  expect(file[4]).toBe(2); // 64-bit
  return file.readUInt16LE(18);
}

/** The names of an ELF64 file's sections, read from its section header table. */
function sectionNames(file: Buffer): string[] {
  const tableOffset = Number(file.readBigUInt64LE(0x28));
  const entrySize = file.readUInt16LE(0x3a);
  const count = file.readUInt16LE(0x3c);
  const header = (index: number) => tableOffset + index * entrySize;
  const names = Number(file.readBigUInt64LE(header(file.readUInt16LE(0x3e)) + 0x18));
  return Array.from({ length: count }, (_, index) => {
    const start = names + file.readUInt32LE(header(index));
    return file.subarray(start, file.indexOf(0, start)).toString("latin1");
  });
}

const nvccFound = [process.env.NVCC, "/usr/local/cuda/bin/nvcc", "/usr/bin/nvcc", Bun.which("nvcc")].some((path) => path && existsSync(path));
/** A CUDA fatbin starts with 0xBA55ED50 (little-endian). */
const FATBIN_MAGIC = Buffer.from([0x50, 0xed, 0x55, 0xba]);

/** Folders made here, removed at the end: a compiled binary alone is about 100 MB. */
const made: string[] = [];
function temporaryFolder(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bun-memory-pool-${tag}-`));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(here === undefined || !tools)("installed from its packages", () => {
  const out = temporaryFolder("release");
  const tarball = (name: string) => join(out, `${name}-${version}.tgz`);
  const project = temporaryFolder("app");

  const releaseCommand = [process.execPath, join(root, ".ci", "release.ts"), "--platforms", `${here!.key},${arm64.key}`];

  // The cores first, by themselves: after a change to the core Zig cross-builds both from cold,
  // which on a loaded machine takes minutes (a warm cache, seconds). The wait is this step's alone:
  // packing and installing, below, find the cores in Zig's cache, and keep a tight limit.
  beforeAll(() => {
    console.log(`install test: the cores for ${here!.key} and ${arm64.key} (Zig's cache makes it quick after the first time; from cold, minutes)`);
    const cores = Bun.spawnSync([...releaseCommand, "--cores-only"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (cores.exitCode !== 0) console.error(cores.stdout.toString(), cores.stderr.toString());
    expect(cores.exitCode).toBe(0);
  }, 900_000);

  beforeAll(() => {
    console.log("install test: npm run release's packages, installed into a fresh project");
    const release = Bun.spawnSync([...releaseCommand, "--out", out], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (release.exitCode !== 0) console.error(release.stdout.toString(), release.stderr.toString());
    expect(release.exitCode).toBe(0);
    // The platform package given explicitly, optional ones left out: bun asks no registry.
    const manifest = {
      name: "app",
      private: true,
      type: "module",
      dependencies: { [PACKAGE_NAME]: `file:${tarball(PACKAGE_NAME)}`, [corePackageName(here!)]: `file:${tarball(corePackageName(here!))}` },
    };
    writeFileSync(join(project, "package.json"), JSON.stringify(manifest));
    writeFileSync(join(project, "app.ts"), app);
    writeFileSync(join(project, "app.test.ts"), userTest);
    const install = run([process.execPath, "install", "--omit=optional", "--no-progress"], project);
    if (install.exitCode !== 0) console.error(install.stdout.toString(), install.stderr.toString());
    expect(install.exitCode).toBe(0);
  }, 120_000);

  test("npm run release packs every asked-for platform package and the main one, all of one version", () => {
    const main = JSON.parse(fromTarball(tarball(PACKAGE_NAME), "package.json").toString());
    expect(main.name).toBe(PACKAGE_NAME);
    expect(Object.keys(main.optionalDependencies).sort()).toEqual(CORE_PLATFORMS.map(corePackageName).sort());
    for (const wanted of Object.values(main.optionalDependencies)) expect(wanted).toBe(version);
    for (const platform of [here!, arm64]) {
      const manifest = JSON.parse(fromTarball(tarball(corePackageName(platform)), "package.json").toString());
      expect({ name: manifest.name, version: manifest.version, os: manifest.os, cpu: manifest.cpu, libc: manifest.libc }).toEqual({
        name: corePackageName(platform),
        version,
        os: [platform.os],
        cpu: [platform.cpu],
        libc: [platform.libc],
      });
    }
    // The main package carries the TypeScript side only: no Zig sources, no set-up script, no tests,
    // benchmarks, examples or tools; Bun runs src/, editors read the declarations in types/ that
    // packing it wrote.
    const listing = Bun.spawnSync(["tar", "-tzf", tarball(PACKAGE_NAME)]).stdout.toString();
    const files = listing.split("\n").filter((line) => line !== "");
    expect(files.filter((file) => !/^package\/(src\/.+\.ts|types\/.+\.d\.ts|package\.json|README\.md|LICENSE)$/.test(file))).toEqual([]);
    expect(listing).toContain("package/src/loader.ts");
    expect({ types: main.types, exports: main.exports["."] }).toEqual({ types: "types/index.d.ts", exports: { types: "./types/index.d.ts", default: "./src/index.ts" } });
    expect(listing).toContain("package/types/index.d.ts");
    expect(listing).toContain("package/types/pool.d.ts");
    expect(listing).not.toContain("package/zig/");
    expect(listing).not.toContain("package/.ci/");
  });

  test("the cores are ELF files for their CPUs, stripped, with the CUDA debug kernels where nvcc exists", () => {
    const x64Core = fromTarball(tarball(corePackageName(here!)), here!.library);
    const arm64Core = fromTarball(tarball(corePackageName(arm64)), arm64.library);
    expect(elfMachine(x64Core)).toBe(62);
    expect(elfMachine(arm64Core)).toBe(183);
    for (const core of [x64Core, arm64Core]) {
      const sections = sectionNames(core);
      expect(sections).toContain(".dynsym");
      expect(sections.filter((name) => name === ".symtab" || name.startsWith(".debug"))).toEqual([]);
      expect(core.includes(FATBIN_MAGIC)).toBe(nvccFound);
    }
  });

  test("an app in a fresh project runs against the installed packages, with no Zig or nvcc to be found", () => {
    expect(existsSync(join(project, "node_modules", corePackageName(here!), here!.library))).toBe(true);
    expectAppRan(run([process.execPath, "app.ts"], project));
    // With nothing on PATH but Bun's own folder: no compiler, no Zig, no nvcc, no Python.
    const bunAlone = { ...isolated, PATH: dirname(process.execPath) };
    for (const tool of ["zig", "nvcc", "cc", "python3"]) expect([tool, Bun.which(tool, { PATH: bunAlone.PATH })]).toEqual([tool, null]);
    expectAppRan(run([process.execPath, "run", "app.ts"], project, bunAlone));
  });

  test("every README block runs as written in the project, against the installed package and its README, with only Bun on PATH", () => {
    // test/readme.test.ts runs them against src/ of the checkout; a user pastes them where the
    // package is installed. Blocks that need a GPU or libpmem are left out where there is none.
    const readme = readFileSync(join(project, "node_modules", PACKAGE_NAME, "README.md"), "utf8");
    const folder = join(project, "readme");
    mkdirSync(folder);
    const blocks = readmeBlocks(readme);
    for (const block of blocks) if (block.file !== undefined) writeFileSync(join(folder, block.file), poolFileIn(block.code, folder));
    const missing = { gpu: gpuUnavailableReason(), pmem: pmemUnavailableReason(), none: undefined };
    const ran: number[] = [];
    for (const block of blocks.filter((candidate) => candidate.file === undefined)) {
      if (missing[blockNeeds(block) ?? "none"] !== undefined) continue;
      const file = join(folder, `block-${block.index}.ts`);
      writeFileSync(file, poolFileIn(block.code, folder));
      const result = run([process.execPath, file], folder, { ...isolated, PATH: dirname(process.execPath), PMEM_IS_PMEM_FORCE: "1" });
      expect([block.index, block.section, result.exitCode, result.stderr.toString()]).toEqual([block.index, block.section, 0, ""]);
      ran.push(block.index);
    }
    expect(ran.length).toBeGreaterThan(7);
  }, 60_000);

  test("the user's own tests run under bun test against the installed package", () => {
    const result = run([process.execPath, "test"], project);
    const output = result.stdout.toString() + result.stderr.toString();
    if (result.exitCode !== 0) console.error(output);
    expect(result.exitCode).toBe(0);
    expect(output).toContain("1 pass");
    expect(output).toContain("0 fail");
  });

  test("the app and a typed one type-check against the installed declarations, which hold the API only and need the TypeScript the README names", () => {
    writeFileSync(join(project, "typed.ts"), typedApp);
    const files = [join(project, "app.ts"), join(project, "typed.ts"), join(project, "app.test.ts")];
    const consumer = checkConsumer(files);
    expect(consumer.problems).toBe("");
    expect(consumer.packageFiles).toContain("types/index.d.ts");
    expect(consumer.packageFiles.filter((file) => !file.startsWith("types/"))).toEqual([]);
    // And as a project set up by tsc --init resolves modules: Node's ESM rules.
    expect(checkConsumer(files, NODE_NEXT).problems).toBe("");
    // The README names the least TypeScript that reads them: it named 5.7, where the declarations'
    // Float16ArrayConstructor (lib.esnext.float16, from 5.8) is no type.
    const floor = typescriptFloor(consumer.program, join(project, "node_modules", PACKAGE_NAME, "types"));
    expect(floor.libTypes).toBeGreaterThan(10);
    const stated = /TypeScript (\d+\.\d+) or newer/.exec(fromTarball(tarball(PACKAGE_NAME), "README.md").toString())?.[1];
    expect({ stated, needed: floor.needed, why: floor.why }).toEqual({ stated: floor.needed, needed: floor.needed, why: floor.why });
  }, 60_000);

  test("bun build --compile embeds the core: the binary runs alone in an empty folder", () => {
    const compile = run([process.execPath, "build", "--compile", "app.ts", "--outfile", "app-binary"], project);
    if (compile.exitCode !== 0) console.error(compile.stdout.toString(), compile.stderr.toString());
    expect(compile.exitCode).toBe(0);
    const alone = temporaryFolder("binary");
    renameSync(join(project, "app-binary"), join(alone, "app-binary"));
    expectAppRan(run([join(alone, "app-binary")], alone, { PATH: "/usr/bin:/bin", NO_COLOR: "1" }));
    // Bun writes the embedded core out to the temporary folder to load it: where it cannot, the
    // error says so (it said the core "cannot be read (ENOENT)" and to reinstall its package).
    const noTemporary = run([join(alone, "app-binary")], alone, { PATH: "/usr/bin:/bin", NO_COLOR: "1", TMPDIR: join(alone, "missing") });
    expect(noTemporary.exitCode).toBe(1);
    expect(noTemporary.stderr.toString()).toContain(`it is embedded in this executable, and Bun writes it out to the temporary folder (TMPDIR, ${join(alone, "missing")}) to load it`);
    expect(noTemporary.stderr.toString()).not.toContain("cannot be read");
    expect(noTemporary.stderr.toString()).not.toContain("a core built for this platform is needed");
  });

  test.skipIf(!emulates)("the arm64 core runs, under qemu-user with Bun's arm64 build", () => {
    const arm64Project = temporaryFolder("arm64-app");
    const manifest = {
      name: "arm64-app",
      private: true,
      type: "module",
      dependencies: { [PACKAGE_NAME]: `file:${tarball(PACKAGE_NAME)}`, [corePackageName(arm64)]: `file:${tarball(corePackageName(arm64))}` },
    };
    writeFileSync(join(arm64Project, "package.json"), JSON.stringify(manifest));
    writeFileSync(join(arm64Project, "app.ts"), app);
    expect(run([process.execPath, "install", "--omit=optional", "--no-progress"], arm64Project).exitCode).toBe(0);
    expectAppRan(run([qemu.emulator!, "-L", qemu.sysroot, qemu.bun, "app.ts"], arm64Project));
  }, 60_000);

  test("a bundle in a project with Zig code of its own (zig/build.zig) loads the core it carries, not a checkout's", () => {
    // The loader took the folder above the bundle's for a checkout of this library where it held
    // zig/build.zig, and asked for a build there: "the core is not built ... Run npm run build".
    const withZig = temporaryFolder("zig-app");
    cpSync(join(project, "node_modules"), join(withZig, "node_modules"), { recursive: true });
    writeFileSync(join(withZig, "app.ts"), app);
    mkdirSync(join(withZig, "zig"));
    writeFileSync(join(withZig, "zig", "build.zig"), "// the app's own native code\n");
    const bundle = run([process.execPath, "build", "app.ts", "--target", "bun", "--outdir", "out"], withZig);
    expect(bundle.exitCode).toBe(0);
    expectAppRan(run([process.execPath, join(withZig, "out", "app.js")], withZig));
  });

  test("allocation stacks name the app's own lines, run as installed, bundled and compiled", () => {
    // In a bundle every frame is in the bundle's file: the library took the folder above it for its
    // own, left out every frame under it, and each stack read "at <unknown>".
    writeFileSync(join(project, "traced.ts"), stackApp);
    const installed = printedStack(run([process.execPath, "traced.ts"], project));
    expect(installed).toBe(`    at ${join(project, "traced.ts")}:6:20`);
    expect(run([process.execPath, "build", "traced.ts", "--target", "bun", "--outdir", "traced-bundle"], project).exitCode).toBe(0);
    const bundled = printedStack(run([process.execPath, join(project, "traced-bundle", "traced.js")], project));
    expect(bundled).toMatch(new RegExp(`^    at ${join(project, "traced-bundle", "traced.js")}:\\d+:\\d+$`, "m"));
    expect(run([process.execPath, "build", "--compile", "traced.ts", "--outfile", "traced-binary"], project).exitCode).toBe(0);
    const compiled = printedStack(run([join(project, "traced-binary")], project));
    rmSync(join(project, "traced-binary"));
    expect(compiled).toMatch(/^ {4}at \/\$bunfs\/root\/traced-binary:\d+:\d+$/m);
    // With a source map the frames name the sources again: the app's alone, as installed.
    expect(run([process.execPath, "build", "traced.ts", "--target", "bun", "--sourcemap=linked", "--outdir", "traced-mapped"], project).exitCode).toBe(0);
    expect(printedStack(run([process.execPath, join(project, "traced-mapped", "traced.js")], project))).toBe(installed);
    expect(run([process.execPath, "build", "--compile", "--sourcemap", "traced.ts", "--outfile", "traced-binary"], project).exitCode).toBe(0);
    const mappedBinary = printedStack(run([join(project, "traced-binary")], project));
    rmSync(join(project, "traced-binary"));
    expect(mappedBinary).toBe("    at traced.ts:6:20");
  });

  test("a core package of another version than the library: the error says to install the one of the library's version", () => {
    // The library's code expects another ABI than the installed core speaks, as after `bun add
    // bun-memory-pool@next` beside an older core package. The advice was a checkout's, "npm run build".
    const skewed = temporaryFolder("skewed");
    cpSync(join(project, "node_modules"), join(skewed, "node_modules"), { recursive: true });
    writeFileSync(join(skewed, "app.ts"), app);
    const abiFile = join(skewed, "node_modules", PACKAGE_NAME, "src", "abi.ts");
    const source = readFileSync(abiFile, "utf8");
    const edited = source.replace(/export const ABI_VERSION = \d+;/, "export const ABI_VERSION = 9999;");
    expect(edited).not.toBe(source);
    rmSync(abiFile); // a new file: the installed one may be a hard link into Bun's cache
    writeFileSync(abiFile, edited);
    const result = run([process.execPath, "app.ts"], skewed);
    const stderr = result.stderr.toString();
    expect(result.exitCode).toBe(1);
    expect(stderr).toContain("this code expects 9999");
    expect(stderr).toContain(`it comes from the package ${corePackageName(here!)}, which must be of ${PACKAGE_NAME}'s version, ${version}`);
    expect(stderr).toContain(`bun add ${corePackageName(here!)}@${version}`);
    expect(stderr).not.toContain("npm run build");
  });

  test("a package without its core names the command that adds the core package of the library's version", () => {
    const bare = temporaryFolder("bare");
    cpSync(join(project, "node_modules", PACKAGE_NAME), join(bare, "node_modules", PACKAGE_NAME), { recursive: true });
    writeFileSync(join(bare, "app.ts"), app);
    const result = run([process.execPath, "app.ts"], bare);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.toString()).toContain(`its package ${corePackageName(here!)} is not installed`);
    expect(result.stderr.toString()).toContain(`\`bun add ${corePackageName(here!)}@${version}\``);
  });

  test("a core package whose core file is gone (pruned, left out of a copy) is named as damaged, with the command that reinstalls it", () => {
    const damaged = temporaryFolder("damaged");
    cpSync(join(project, "node_modules"), join(damaged, "node_modules"), { recursive: true });
    rmSync(join(damaged, "node_modules", corePackageName(here!), here!.library));
    writeFileSync(join(damaged, "app.ts"), app);
    const result = run([process.execPath, "app.ts"], damaged);
    const stderr = result.stderr.toString();
    expect(result.exitCode).toBe(1);
    expect(stderr).toContain(`core package ${corePackageName(here!)} is installed in ${join(damaged, "node_modules", corePackageName(here!))}, but damaged`);
    expect(stderr).toContain(`reinstall it: \`bun add ${corePackageName(here!)}@${version}\``);
  });

  test("node_modules holding another platform's core package (installed on another system) are named as such", () => {
    const copied = temporaryFolder("copied");
    cpSync(join(project, "node_modules", PACKAGE_NAME), join(copied, "node_modules", PACKAGE_NAME), { recursive: true });
    const foreign = join(copied, "node_modules", corePackageName(arm64));
    mkdirSync(foreign);
    expect(Bun.spawnSync(["tar", "-xzf", tarball(corePackageName(arm64)), "-C", foreign, "--strip-components=1"]).exitCode).toBe(0);
    writeFileSync(join(copied, "app.ts"), app);
    const result = run([process.execPath, "app.ts"], copied);
    const stderr = result.stderr.toString();
    expect(result.exitCode).toBe(1);
    expect(stderr).toContain(`its package ${corePackageName(here!)} is not installed. Installed instead: ${corePackageName(arm64)}, for another platform`);
    expect(stderr).toContain(`bun add ${corePackageName(here!)}@${version}`);
  });

  test("a workspace's package imports it by name, run from a folder nested inside it", () => {
    const workspace = temporaryFolder("workspace");
    const member = join(workspace, "packages", "app");
    mkdirSync(join(member, "src", "deep"), { recursive: true });
    writeFileSync(join(workspace, "package.json"), JSON.stringify({ name: "workspace", private: true, workspaces: ["packages/*"] }));
    const dependencies = { [PACKAGE_NAME]: `file:${tarball(PACKAGE_NAME)}`, [corePackageName(here!)]: `file:${tarball(corePackageName(here!))}` };
    writeFileSync(join(member, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies }));
    writeFileSync(join(member, "src", "deep", "app.ts"), app);
    const install = run([process.execPath, "install", "--omit=optional", "--no-progress"], workspace);
    if (install.exitCode !== 0) console.error(install.stdout.toString(), install.stderr.toString());
    expect(install.exitCode).toBe(0);
    expectAppRan(run([process.execPath, "app.ts"], join(member, "src", "deep")));
    expectAppRan(run([process.execPath, join("packages", "app", "src", "deep", "app.ts")], workspace));
  }, 60_000);

  test("bun build bundles the core beside the script, found from any working folder", () => {
    const bundle = run([process.execPath, "build", "app.ts", "--target", "bun", "--outdir", "bundle"], project);
    expect(bundle.exitCode).toBe(0);
    const elsewhere = temporaryFolder("cwd");
    mkdirSync(join(elsewhere, "sub"));
    expectAppRan(run([process.execPath, join(project, "bundle", "app.js")], join(elsewhere, "sub")));
    // CommonJS bundles write in the folder each module was bundled from where the code reads
    // import.meta.dir: the loader looked for the copied core in node_modules/bun-memory-pool/src.
    for (const format of [["--format", "cjs"], ["--bytecode"]]) {
      const outdir = `bundle${format.join("")}`;
      expect(run([process.execPath, "build", "app.ts", "--target", "bun", ...format, "--outdir", outdir], project).exitCode).toBe(0);
      expectAppRan(run([process.execPath, join(project, outdir, "app.js")], join(elsewhere, "sub")));
    }
  });
});
