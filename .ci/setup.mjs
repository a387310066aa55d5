#!/usr/bin/env node
// Installs and builds whatever is missing, so `npm start` and `npm test` work on a fresh machine:
// npm packages (Bun among them), the pinned Zig from PyPI into .tools/ (never globally), libpmem and
// libpmemobj from Debian where apt-get can, then the Zig core, and where qemu-user is installed Bun's
// arm64 build for the install test. `node .ci/setup.mjs test` also runs the core's unit tests
// (`zig build test`). Each step says what it does, or that its result is already there.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ZIG_VERSION = "0.15.1";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const zigHome = join(root, ".tools", "zig");
const say = (message) => console.log(`[setup] ${message}`);
const STEPS = 5;
let step = 0;
/** Announces the next step; what it does, or that it has nothing to do, follows indented. */
const announce = (what) => say(`${++step}/${STEPS} ${what}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    console.error(`[setup] failed: ${command} ${args.join(" ")}`);
    process.exit(result.status ?? 1);
  }
}

/**
 * package.json's allowScripts approves Bun's postinstall (it puts the Bun binary in place), which
 * npm 11 otherwise lists as an unreviewed install script. The optionalDependencies (the published
 * cores) may land in node_modules too; in a checkout the loader uses the core built here instead.
 */
function installNpmPackages() {
  announce("npm packages (Bun, @types/bun, TypeScript, mitata)");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const missing = Object.keys(pkg.devDependencies ?? {}).filter((name) => !existsSync(join(root, "node_modules", name, "package.json")));
  if (missing.length === 0 && existsSync(join(root, "node_modules", ".bin", "bun"))) return say("    already installed in node_modules/");
  say(`    installing ${missing.join(", ") || "bun"} with npm install`);
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

function zigVersion() {
  const result = spawnSync("python3", ["-m", "ziglang", "version"], { env: zigEnv(), encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function zigEnv() {
  return { ...process.env, PYTHONPATH: zigHome };
}

/** Python runs the pinned Zig: where `check` fails, installs `debianPackage` as root, or says to and exits. */
function requirePython(check, what, debianPackage) {
  if (spawnSync("python3", check, { stdio: "ignore" }).status === 0) return;
  if (process.getuid?.() === 0 && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0) {
    say(`    ${what} is missing: installing ${debianPackage} from Debian (Zig comes from PyPI through it)`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-q"], { stdio: ["ignore", "ignore", "inherit"], env });
    run("apt-get", ["install", "-y", "-q", debianPackage], { stdio: ["ignore", "ignore", "inherit"], env });
    if (spawnSync("python3", check, { stdio: "ignore" }).status === 0) return;
  }
  console.error(`[setup] ${what} is missing: Zig ${ZIG_VERSION} comes from PyPI through it. Install it (Debian/Ubuntu: sudo apt-get install ${debianPackage}) and run this again.`);
  process.exit(1);
}

function installZig() {
  announce(`Zig ${ZIG_VERSION} (PyPI's ziglang, into .tools/zig)`);
  requirePython(["--version"], "python3", "python3");
  if (zigVersion() === ZIG_VERSION) return say("    already installed");
  requirePython(["-m", "pip", "--version"], "pip (python3 -m pip)", "python3-pip");
  say(`    downloading ziglang==${ZIG_VERSION} from PyPI (about 50 MB)`);
  // pip installs into .tools/zig only (--target), never into the system's Python, so its warning
  // about running as root does not apply (PIP_ROOT_USER_ACTION); and its output, which repeats the
  // machine's own pip configuration (such as find-links folders it skips), is shown only on failure.
  const args = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target", zigHome, `ziglang==${ZIG_VERSION}`];
  const result = spawnSync("python3", args, { cwd: root, encoding: "utf8", env: { ...process.env, PIP_ROOT_USER_ACTION: "ignore" } });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    console.error(`[setup] failed: python3 ${args.join(" ")}`);
    process.exit(result.status ?? 1);
  }
  if (zigVersion() !== ZIG_VERSION) {
    console.error(`[setup] pip installed ziglang, but \`python3 -m ziglang version\` does not say ${ZIG_VERSION}`);
    process.exit(1);
  }
}

/**
 * Whether the dynamic loader's cache lists `soname`. ldconfig lives in /sbin, which a non-root
 * user's PATH on Debian leaves out: found only by name, every library read as missing there.
 */
function hasLibrary(soname) {
  for (const ldconfig of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      return execFileSync(ldconfig, ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes(soname);
    } catch {
      // not there (or not runnable): the next place
    }
  }
  return false;
}

/**
 * libpmem serves PMEM pools (without it the rest works and createPMEMPool says what is missing);
 * libpmemobj is the anchor bench/pmem.ts measures them against. Both from Debian (PMDK 1.12).
 */
const PMDK_PACKAGES = [
  { soname: "libpmem.so.1", packages: ["libpmem1", "libpmem-dev"], purpose: "PMEM pools will be unavailable" },
  { soname: "libpmemobj.so.1", packages: ["libpmemobj1", "libpmemobj-dev"], purpose: "bench/pmem.ts cannot run its libpmemobj anchor" },
];

function installPmdk() {
  announce("libpmem and libpmemobj (PMDK, for PMEM pools)");
  const missing = PMDK_PACKAGES.filter(({ soname }) => !hasLibrary(soname));
  if (missing.length === 0) return say("    already installed");
  const packages = missing.flatMap((entry) => entry.packages);
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    for (const entry of missing) say(`    ${entry.soname} is missing and apt-get is not usable here: ${entry.purpose} (install ${entry.packages[0]})`);
    return;
  }
  say(`    installing ${packages.join(", ")} from Debian`);
  const quiet = { stdio: ["ignore", "ignore", "inherit"] };
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-q", ...packages], { ...quiet, env }).status === 0;
  if (!install()) {
    spawnSync("apt-get", ["update", "-q"], { ...quiet, env });
    if (!install()) for (const entry of missing) say(`    could not install ${entry.packages[0]}: ${entry.purpose}`);
  }
}

/** test/timeline.test.ts opens the timeline page in a headless Chromium; without one it skips, saying why. */
function installChromium() {
  if (["chromium", "chromium-browser", "google-chrome"].some((name) => spawnSync("which", [name], { stdio: "ignore" }).status === 0)) return;
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    say("chromium is missing and apt-get is not usable here: the timeline's browser test will skip (install chromium)");
    return;
  }
  say("installing chromium from Debian (for the timeline's browser test)");
  const options = { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } };
  if (spawnSync("apt-get", ["install", "-y", "-q", "chromium"], options).status === 0) return;
  spawnSync("apt-get", ["update", "-q"], options);
  if (spawnSync("apt-get", ["install", "-y", "-q", "chromium"], options).status !== 0) say("could not install chromium: the timeline's browser test will skip");
}

/**
 * Zig draws its progress on a terminal; `--summary new` lists afterwards what it compiled and how
 * long that took, wherever the output goes.
 */
function buildCore(withTests) {
  announce(withTests ? "the core (zig build; then its unit tests, zig build test)" : "the core (zig build)");
  say("    compiling what changed (a first build takes about a minute: Zig, and nvcc for the CUDA debug kernels where it exists)");
  run("python3", ["-m", "ziglang", "build", "--summary", "new"], { cwd: join(root, "zig"), env: zigEnv() });
  if (withTests) run("python3", ["-m", "ziglang", "build", "test", "--summary", "all"], { cwd: join(root, "zig"), env: zigEnv() });
}

/** Where Debian's qemu-user-static and libc6-arm64-cross put what runs an arm64 Linux program here. */
const QEMU_AARCH64 = { emulator: "qemu-aarch64-static", sysroot: "/usr/aarch64-linux-gnu" };
const arm64BunHome = join(root, ".tools", "bun-linux-aarch64");

/**
 * Optional: where qemu-user can run arm64 programs, Bun's own arm64 build (npm's
 * @oven/bun-linux-aarch64, the version package.json pins) into .tools/, so the install test runs
 * the arm64 core too. Without qemu the test checks only that core's ELF header.
 */
function installArm64Bun() {
  announce("Bun for arm64 (optional: the install test runs the arm64 core under qemu-user with it)");
  const emulates = spawnSync(QEMU_AARCH64.emulator, ["--version"], { stdio: "ignore" }).status === 0 && existsSync(join(QEMU_AARCH64.sysroot, "lib", "ld-linux-aarch64.so.1"));
  if (!emulates) return say("    skipped: no qemu-user here (Debian: apt-get install qemu-user-static libc6-arm64-cross)");
  if (existsSync(join(arm64BunHome, "bin", "bun"))) return say("    already in .tools/bun-linux-aarch64");
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies.bun;
  say(`    fetching @oven/bun-linux-aarch64@${version} from npm (about 40 MB) into .tools/bun-linux-aarch64`);
  mkdirSync(arm64BunHome, { recursive: true });
  const packed = spawnSync("npm", ["pack", "--json", "--pack-destination", arm64BunHome, `@oven/bun-linux-aarch64@${version}`], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (packed.status !== 0) return say("    could not fetch it: the install test will check the arm64 core's ELF header only");
  const tarball = join(arm64BunHome, JSON.parse(packed.stdout)[0].filename);
  run("tar", ["-xzf", tarball, "-C", arm64BunHome, "--strip-components=1"]);
  rmSync(tarball);
}

installNpmPackages();
installZig();
installPmdk();
if (process.argv[2] === "test") installChromium();
buildCore(process.argv[2] === "test");
installArm64Bun();
say("done. Bun is in node_modules/.bin: run a script with `npx bun examples/quickstart.ts`.");
