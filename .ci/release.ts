#!/usr/bin/env bun
/**
 * `npm run release`: builds the core for every platform in src/platforms.ts (Zig cross-compiles:
 * ReleaseSafe, a baseline CPU of each architecture, stripped, the CUDA debug kernels embedded where
 * nvcc exists), makes one package per platform around it, and packs those and the main package,
 * all of one version, as tarballs into one folder (dist/ unless --out says), ready for `npm publish`.
 * Packing the main package writes its declarations first (package.json's prepack: .ci/declarations.ts).
 *
 *   bun .ci/release.ts [--out DIR] [--platforms linux-x64-gnu,linux-arm64-gnu] [--cores-only]
 *
 * The tests pack a subset of platforms with --platforms (test/install.test.ts), building the cores
 * first with --cores-only (no packages): a cold cross-build takes minutes, the packing seconds.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CORE_PLATFORMS, PACKAGE_NAME, corePackageName, type CorePlatform } from "../src/platforms";

const root = join(import.meta.dir, "..");
const say = (message: string) => console.log(`[release] ${message}`);

function fail(message: string): never {
  console.error(`[release] ${message}`);
  process.exit(1);
}

function run(command: string, args: string[], cwd: string, env: Record<string, string | undefined> = process.env): string {
  const result = spawnSync(command, args, { cwd, env, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) fail(`failed: ${command} ${args.join(" ")}`);
  return result.stdout;
}

interface MainPackage {
  name: string;
  version: string;
  license: string;
  optionalDependencies?: Record<string, string>;
}

/** The main package must list exactly the platform packages, each at its own version. */
function checkMainPackage(pkg: MainPackage): void {
  if (pkg.name !== PACKAGE_NAME) fail(`package.json names ${pkg.name}, src/platforms.ts ${PACKAGE_NAME}`);
  const expected = Object.fromEntries(CORE_PLATFORMS.map((platform) => [corePackageName(platform), pkg.version]));
  const listed = pkg.optionalDependencies ?? {};
  if (JSON.stringify(listed) !== JSON.stringify(expected)) {
    fail(`package.json's optionalDependencies must be ${JSON.stringify(expected)} (every platform package at version ${pkg.version}), not ${JSON.stringify(listed)}`);
  }
}

/** Builds the core for `platform` into `prefix`; Zig's cache makes a repeated build quick. */
function buildCore(platform: CorePlatform, prefix: string): string {
  say(`building the core for ${platform.key} (zig build -Dtarget=${platform.zigTarget} -Dcpu=baseline -Dstrip=true)`);
  const env = { ...process.env, PYTHONPATH: join(root, ".tools", "zig") };
  const args = ["-m", "ziglang", "build", `-Dtarget=${platform.zigTarget}`, "-Dcpu=baseline", "-Doptimize=ReleaseSafe", "-Dstrip=true", "--prefix", prefix, "--summary", "none"];
  const result = spawnSync("python3", args, { cwd: join(root, "zig"), env, stdio: "inherit" });
  if (result.status !== 0) fail(`the core for ${platform.key} did not build`);
  const library = join(prefix, "lib", platform.library);
  if (!existsSync(library)) fail(`the build for ${platform.key} made no ${library}`);
  return library;
}

/** The platform package's files: the core, an entry that hands its path to the loader, a manifest. */
function stagePlatformPackage(platform: CorePlatform, main: MainPackage, library: string, directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  copyFileSync(library, join(directory, platform.library));
  copyFileSync(join(root, "LICENSE"), join(directory, "LICENSE"));
  // `with { type: "file" }`: Bun gives the file's path, and `bun build --compile` embeds the file.
  writeFileSync(join(directory, "index.js"), `import corePath from "./${platform.library}" with { type: "file" };\n\nexport default corePath;\n`);
  writeFileSync(join(directory, "index.d.ts"), `/** The path of the ${PACKAGE_NAME} core for ${platform.key}. */\ndeclare const corePath: string;\nexport default corePath;\n`);
  writeFileSync(
    join(directory, "README.md"),
    `# ${corePackageName(platform)}\n\nThe native core of [${PACKAGE_NAME}](https://www.npmjs.com/package/${PACKAGE_NAME}) for ${platform.key}: ${platform.memory}.\nInstall ${PACKAGE_NAME}; it depends on this package where it runs.\n`,
  );
  const manifest = {
    name: corePackageName(platform),
    version: main.version,
    description: `The ${PACKAGE_NAME} core for ${platform.key}`,
    license: main.license,
    type: "module",
    main: "index.js",
    types: "index.d.ts",
    exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
    files: ["index.js", "index.d.ts", platform.library, "README.md", "LICENSE"],
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.libc === undefined ? {} : { libc: [platform.libc] }),
    preferUnplugged: true,
  };
  writeFileSync(join(directory, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** `npm pack` into `out`; returns the tarball's path. */
function pack(directory: string, out: string): string {
  const listing = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", out], directory, { ...process.env, npm_config_loglevel: "error" })) as { filename: string }[];
  const tarball = join(out, listing[0]!.filename);
  say(`packed ${tarball}`);
  return tarball;
}

const { values } = parseArgs({ options: { out: { type: "string" }, platforms: { type: "string" }, "cores-only": { type: "boolean" } } });
const out = resolve(values.out ?? join(root, "dist"));
const wanted = values.platforms?.split(",") ?? CORE_PLATFORMS.map((platform) => platform.key);
const unknown = wanted.filter((key) => !CORE_PLATFORMS.some((platform) => platform.key === key));
if (unknown.length > 0) fail(`no platform ${unknown.join(", ")} (there are ${CORE_PLATFORMS.map((platform) => platform.key).join(", ")})`);

const main = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as MainPackage;
checkMainPackage(main);
const work = join(root, "zig", "zig-out", "release");
const platforms = CORE_PLATFORMS.filter((candidate) => wanted.includes(candidate.key));
const coreOf = (platform: CorePlatform) => buildCore(platform, join(work, "cores", platform.key));
if (values["cores-only"]) {
  for (const platform of platforms) say(`built ${coreOf(platform)}`);
  process.exit(0);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const tarballs: string[] = [];
for (const platform of platforms) {
  const library = coreOf(platform);
  const directory = join(work, "packages", corePackageName(platform));
  stagePlatformPackage(platform, main, library, directory);
  tarballs.push(pack(directory, out));
}
tarballs.push(pack(root, out));
say(`${tarballs.length} packages of version ${main.version} in ${out}. Publish the platform packages first, then ${PACKAGE_NAME}:`);
say(`  for f in ${out}/${PACKAGE_NAME}-*-${main.version}.tgz; do npm publish "$f"; done && npm publish ${out}/${PACKAGE_NAME}-${main.version}.tgz`);
