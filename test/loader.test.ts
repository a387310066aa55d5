/**
 * The loader (src/loader.ts): the environment override, the platform packages, a checkout's build,
 * and the errors that say what to do where there is no core. Imports that find no core run in child
 * processes on copies of src/ (outside any checkout), since a process loads its core once.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NativeLibraryError } from "../src/errors";
import { CORE_PATH_ENV, isAvailable, locateCore, packagedCore, unavailableReason } from "../src/loader";
import { CORE_PLATFORMS, PACKAGE_NAME, corePackageName, platformKey } from "../src/platforms";
import "../src/native";

const root = join(import.meta.dir, "..");
const builtCore = join(root, "zig", "zig-out", "lib", "libmemory_pool.so");

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** src/ copied where no checkout is around it; `withBuildFile` makes it look like an unbuilt checkout. */
function copyOfSources(withBuildFile = false): string {
  const dir = mkdtempSync(join(tmpdir(), "bun-memory-pool-loader-"));
  made.push(dir);
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  if (withBuildFile) {
    mkdirSync(join(dir, "zig"));
    writeFileSync(join(dir, "zig", "build.zig"), "");
  }
  return dir;
}

/** A stand-in platform package for this machine whose "core" is `corePath`. */
function fakePlatformPackage(dir: string, corePath: string): void {
  const name = `${PACKAGE_NAME}-${platformKey(process.platform, process.arch, "glibc")}`;
  mkdirSync(join(dir, "node_modules", name), { recursive: true });
  writeFileSync(join(dir, "node_modules", name, "package.json"), JSON.stringify({ name, version: "0.0.0", type: "module", main: "index.js" }));
  writeFileSync(join(dir, "node_modules", name, "index.js"), `export default ${JSON.stringify(corePath)};\n`);
}

/** Imports the library in `dir` as a platform (faked before the import) and reports what it found. */
function importIn(dir: string, env: Record<string, string | undefined>, platform?: string) {
  const fake = platform === undefined ? "" : `Object.defineProperty(process, "platform", { value: ${JSON.stringify(platform)} });`;
  const script = `${fake}
const lib = await import("./src/index.ts");
let created = "created";
try { lib.MemoryPoolManager.getInstance().createCPUPool("p"); } catch (e) { created = e.name + " " + e.code; }
console.log(JSON.stringify({ available: lib.isAvailable(), reason: lib.unavailableReason(), created }));`;
  writeFileSync(join(dir, "probe.ts"), script);
  const result = Bun.spawnSync([process.execPath, "probe.ts"], { cwd: dir, env: { PATH: process.env.PATH, ...env }, stdout: "pipe", stderr: "pipe" });
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout.toString()) as { available: boolean; reason?: string; created: string };
}

describe("the loader", () => {
  test("in this checkout it finds the local build, and the library is available", () => {
    expect(locateCore({ os: "linux", cpu: "x64", libc: "glibc", env: {} })).toEqual({ path: builtCore, source: "checkout" });
    expect(isAvailable()).toBe(true);
    expect(unavailableReason()).toBeUndefined();
  });

  test(`${CORE_PATH_ENV} comes before the local build`, () => {
    const folder = mkdtempSync(join(tmpdir(), "bun-memory-pool-override-"));
    made.push(folder);
    const elsewhere = join(folder, "core.so");
    cpSync(builtCore, elsewhere);
    expect(locateCore({ os: "linux", cpu: "x64", libc: "glibc", env: { [CORE_PATH_ENV]: elsewhere } })).toEqual({ path: elsewhere, source: "environment" });
  });

  test(`${CORE_PATH_ENV} naming a missing file is a NativeLibraryError that names the variable`, () => {
    const host = { os: "linux", cpu: "x64", libc: "glibc" as const, env: { [CORE_PATH_ENV]: "/nonexistent/libmemory_pool.so" } };
    expect(() => locateCore(host)).toThrow(NativeLibraryError);
    expect(() => locateCore(host)).toThrow(`${CORE_PATH_ENV} names /nonexistent/libmemory_pool.so, which does not exist`);
  });

  test("platform keys name the C library on Linux only", () => {
    expect(platformKey("linux", "x64", "glibc")).toBe("linux-x64-gnu");
    expect(platformKey("linux", "arm64", "musl")).toBe("linux-arm64-musl");
    expect(platformKey("darwin", "arm64", undefined)).toBe("darwin-arm64");
  });

  test("every platform has its package required by name, and package.json lists each at its own version", () => {
    for (const platform of CORE_PLATFORMS) expect(packagedCore(platform.key)).not.toBeNull();
    expect(packagedCore("freebsd-x64")).toBeNull();
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.name).toBe(PACKAGE_NAME);
    expect(pkg.optionalDependencies).toEqual(Object.fromEntries(CORE_PLATFORMS.map((platform) => [corePackageName(platform), pkg.version])));
    expect([...new Set(CORE_PLATFORMS.map((platform) => platform.os))].sort()).toEqual([...pkg.os].sort());
    expect([...new Set(CORE_PLATFORMS.map((platform) => platform.cpu))].sort()).toEqual([...pkg.cpu].sort());
  });
});

describe("importing without a core never throws; using it throws a NativeLibraryError that says what to do", () => {
  test("outside a checkout, with the override: the named core is used", () => {
    const found = importIn(copyOfSources(), { [CORE_PATH_ENV]: builtCore });
    expect(found).toEqual({ available: true, created: "created" });
  });

  test("an unsupported platform: the error names it, the platforms there are, and how to build a core", () => {
    const found = importIn(copyOfSources(), {}, "freebsd");
    expect(found.available).toBe(false);
    expect(found.created).toBe("NativeLibraryError NATIVE_LIBRARY");
    expect(found.reason).toContain(`${PACKAGE_NAME} has no prebuilt core for freebsd-${process.arch}`);
    expect(found.reason).toContain(CORE_PLATFORMS.map((platform) => platform.key).join(", "));
    expect(found.reason).toContain(`set ${CORE_PATH_ENV}`);
  });

  test("a supported platform without its package: the error names the package to add", () => {
    const found = importIn(copyOfSources(), {});
    const key = platformKey(process.platform, process.arch, "glibc");
    expect(found.available).toBe(false);
    expect(found.created).toBe("NativeLibraryError NATIVE_LIBRARY");
    expect(found.reason).toContain(`found no core for ${key}: its package ${PACKAGE_NAME}-${key} is not installed`);
    expect(found.reason).toContain(`bun add ${PACKAGE_NAME}-${key}`);
  });

  test("an installed copy uses its platform package; a checkout uses its own build before any package", () => {
    const installed = copyOfSources();
    fakePlatformPackage(installed, builtCore);
    expect(importIn(installed, {})).toEqual({ available: true, created: "created" });

    const junk = join(installed, "junk.so");
    writeFileSync(junk, "no core");
    const checkout = copyOfSources(true);
    fakePlatformPackage(checkout, junk);
    mkdirSync(join(checkout, "zig", "zig-out", "lib"), { recursive: true });
    cpSync(builtCore, join(checkout, "zig", "zig-out", "lib", "libmemory_pool.so"));
    expect(importIn(checkout, {})).toEqual({ available: true, created: "created" });
    fakePlatformPackage(installed, junk);
    expect(importIn(installed, {}).reason).toContain(`the core at ${junk} cannot be opened`);
  });

  test("an unbuilt checkout: the error says to run npm run build there", () => {
    const found = importIn(copyOfSources(true), {});
    expect(found.available).toBe(false);
    expect(found.reason).toContain(`the ${PACKAGE_NAME} core is not built`);
    expect(found.reason).toContain("npm run build");
  });

  test("a file that is no core: opening it fails with a NativeLibraryError, not a crash", () => {
    const dir = copyOfSources();
    writeFileSync(join(dir, "not-a-core.so"), "not an ELF file");
    const found = importIn(dir, { [CORE_PATH_ENV]: join(dir, "not-a-core.so") });
    expect(found.available).toBe(false);
    expect(found.created).toBe("NativeLibraryError NATIVE_LIBRARY");
    expect(found.reason).toContain("cannot be opened");
  });
});
