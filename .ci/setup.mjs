#!/usr/bin/env node
// Installs and builds whatever is missing, so `npm start` and `npm test` work on a fresh machine:
// npm packages (Bun among them), the pinned Zig from PyPI into .tools/ (never globally), libpmem and
// libpmemobj from Debian where apt-get can, then the Zig core. `node .ci/setup.mjs test` also runs the core's
// unit tests (`zig build test`). Each step is skipped when its result is already there.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ZIG_VERSION = "0.15.1";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const zigHome = join(root, ".tools", "zig");
const say = (message) => console.log(`[setup] ${message}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    console.error(`[setup] failed: ${command} ${args.join(" ")}`);
    process.exit(result.status ?? 1);
  }
}

function installNpmPackages() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const missing = Object.keys(pkg.devDependencies ?? {}).filter((name) => !existsSync(join(root, "node_modules", name, "package.json")));
  if (missing.length === 0 && existsSync(join(root, "node_modules", ".bin", "bun"))) return;
  say(`installing npm packages (${missing.join(", ") || "bun"})`);
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

function zigVersion() {
  const result = spawnSync("python3", ["-m", "ziglang", "version"], { env: zigEnv(), encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function zigEnv() {
  return { ...process.env, PYTHONPATH: zigHome };
}

function installZig() {
  if (zigVersion() === ZIG_VERSION) return;
  say(`installing Zig ${ZIG_VERSION} into .tools/zig`);
  run("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target", zigHome, `ziglang==${ZIG_VERSION}`]);
}

function hasLibrary(soname) {
  try {
    return execFileSync("ldconfig", ["-p"], { encoding: "utf8" }).includes(soname);
  } catch {
    return false;
  }
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
  const missing = PMDK_PACKAGES.filter(({ soname }) => !hasLibrary(soname));
  if (missing.length === 0) return;
  const packages = missing.flatMap((entry) => entry.packages);
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    for (const entry of missing) say(`${entry.soname} is missing and apt-get is not usable here: ${entry.purpose} (install ${entry.packages[0]})`);
    return;
  }
  say(`installing ${packages.join(", ")} (PMDK) from Debian`);
  const quiet = { stdio: ["ignore", "ignore", "inherit"] };
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-q", ...packages], { ...quiet, env }).status === 0;
  if (!install()) {
    spawnSync("apt-get", ["update", "-q"], { ...quiet, env });
    if (!install()) for (const entry of missing) say(`could not install ${entry.packages[0]}: ${entry.purpose}`);
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

function buildCore(withTests) {
  say(withTests ? "building the core and running its unit tests" : "building the core");
  run("python3", ["-m", "ziglang", "build", "--summary", "none"], { cwd: join(root, "zig"), env: zigEnv() });
  if (withTests) run("python3", ["-m", "ziglang", "build", "test", "--summary", "all"], { cwd: join(root, "zig"), env: zigEnv() });
}

installNpmPackages();
installZig();
installPmdk();
if (process.argv[2] === "test") installChromium();
buildCore(process.argv[2] === "test");
