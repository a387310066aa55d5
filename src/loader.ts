/**
 * Finds the native core and opens it, in this order:
 *   1. MEMORY_POOL_CORE_PATH, a file named in the environment (a core built elsewhere);
 *   2. the platform package (`bun-memory-pool-linux-x64-gnu`, ...: optionalDependencies), whose file
 *      a `bun build --compile` embeds, since each is required here by a literal name;
 *   3. a local build in a checkout (zig/zig-out/lib, made by `npm run build`). Where this file lies
 *      in a checkout, that build is the one it uses, before any package: it matches the checkout's
 *      sources, and a published core that npm put in the checkout's node_modules may not (never
 *      in a bundle, whose folder is the app's);
 * and otherwise records an error that names the platform and what to do. A core found but refused
 * (another ABI version, another CPU, a damaged file) is named with what to do about it where it
 * came from. Nothing here throws at import time: without a core, `isAvailable()` is false and every
 * call into the core throws that error.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { NativeLibraryError } from "./errors";
import { libraryRoot } from "./library_files";
import { CORE_PLATFORMS, PACKAGE_NAME, corePackageName, platformKey, type CoreLibc } from "./platforms";

export const CORE_PATH_ENV = "MEMORY_POOL_CORE_PATH";

/** What the loader looks at: the running process unless a test says otherwise. */
export interface Host {
  os: string;
  cpu: string;
  libc: CoreLibc | undefined;
  env: Record<string, string | undefined>;
}

/** Where the core was found: the file named in the environment, a checkout's build, or a platform package (named). */
export type CoreLocation = { path: string; source: "environment" | "checkout" } | { path: string; source: "package"; packageName: string };

export function currentHost(): Host {
  return { os: process.platform, cpu: process.arch, libc: process.platform === "linux" ? runningLibc() : undefined, env: process.env };
}

/** glibc reports its version through process.report (as detect-libc reads it); musl has none. */
function runningLibc(): CoreLibc {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? "glibc" : "musl";
}

/**
 * The core's path inside its platform package; undefined where that package is not installed,
 * null for a key no package exists for; a NativeLibraryError where it is installed but damaged.
 * Each require names its package literally, inside the try, so a bundler embeds the installed one
 * and leaves the others to fail here at run time.
 */
export function packagedCore(key: string): string | undefined | null {
  let exported: { default: string };
  try {
    switch (key) {
      case "linux-x64-gnu":
        exported = require("bun-memory-pool-linux-x64-gnu");
        break;
      case "linux-arm64-gnu":
        exported = require("bun-memory-pool-linux-arm64-gnu");
        break;
      case "linux-x64-musl":
        exported = require("bun-memory-pool-linux-x64-musl");
        break;
      case "linux-arm64-musl":
        exported = require("bun-memory-pool-linux-arm64-musl");
        break;
      default:
        return null;
    }
  } catch (err) {
    // Installed, but its entry would not load: a file of it is gone (pruned, left out of a copy).
    const name = `${PACKAGE_NAME}-${key}`;
    if (!isInstalled(name)) return undefined;
    throw new NativeLibraryError(`${PACKAGE_NAME}'s core package ${name} is installed in ${dirname(require.resolve(name))}, but damaged (${(err as Error).message}): reinstall it: \`${addCommand(name)}\``);
  }
  if (isAbsolute(exported.default)) return exported.default;
  // A `bun build` bundle (not --compile) names the copied file relative to the bundle's file, which
  // the bundle's require resolves from. import.meta.dir is that folder in an ES module bundle only:
  // a CommonJS one (--format=cjs, --bytecode) has the folder the library was bundled from written in.
  try {
    return require.resolve(exported.default);
  } catch {
    return join(import.meta.dir, exported.default); // gone: opening it says so, with this path
  }
}

/**
 * The checkout this file lies in, if any: the folder above src/ where zig/build.zig is beside it.
 * Never in a bundle (src/library_files.ts): there the folder above is the app's, which may have a
 * zig/ of its own, and the core is the one the bundle carries.
 */
const libraryFolder = libraryRoot(import.meta.path, "loader.ts");

function checkoutRoot(): string | undefined {
  return libraryFolder !== undefined && existsSync(join(libraryFolder, "zig", "build.zig")) ? libraryFolder : undefined;
}

function checkoutCore(checkout: string, os: string): string {
  return join(checkout, "zig", "zig-out", "lib", os === "darwin" ? "libmemory_pool.dylib" : "libmemory_pool.so");
}

/**
 * This package's version, read from its package.json (a bundle carries it inline); undefined where
 * there is none to read (src/ copied alone). A core package must be of exactly this version.
 */
function packageVersion(): string | undefined {
  try {
    const manifest = require("../package.json") as { name?: unknown; version?: unknown };
    return manifest.name === PACKAGE_NAME && typeof manifest.version === "string" ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/** `bun add` of a core package, at this package's version where it is known (the latest may speak another ABI). */
function addCommand(name: string): string {
  const version = packageVersion();
  return `bun add ${version === undefined ? name : `${name}@${version}`}`;
}

/** Where the core for `host` is; a NativeLibraryError that says what to do where it is nowhere. */
export function locateCore(host: Host = currentHost()): CoreLocation {
  const override = host.env[CORE_PATH_ENV];
  if (override) {
    if (!existsSync(override)) throw new NativeLibraryError(`${CORE_PATH_ENV} names ${override}, which does not exist: point it at a built core (libmemory_pool.so), or unset it`);
    return { path: override, source: "environment" };
  }
  const key = platformKey(host.os, host.cpu, host.libc);
  const checkout = checkoutRoot();
  if (checkout !== undefined) {
    const local = checkoutCore(checkout, host.os);
    if (existsSync(local)) return { path: local, source: "checkout" };
    throw new NativeLibraryError(`the ${PACKAGE_NAME} core is not built: ${local} is missing. Run \`npm run build\` (or \`npm test\`) in ${checkout} to build it.`);
  }
  const platform = CORE_PLATFORMS.find((candidate) => candidate.key === key);
  const packaged = platform === undefined ? undefined : packagedCore(key);
  if (packaged && platform !== undefined) return { path: packaged, source: "package", packageName: corePackageName(platform) };

  const buildYourOwn = `build a core from the source (git clone the repository, \`npm run build\`) and set ${CORE_PATH_ENV} to its zig/zig-out/lib/libmemory_pool.so`;
  if (platform === undefined) {
    const prebuilt = CORE_PLATFORMS.map((candidate) => candidate.key).join(", ");
    throw new NativeLibraryError(`${PACKAGE_NAME} has no prebuilt core for ${key} (there are cores for ${prebuilt}): ${buildYourOwn}`);
  }
  const name = corePackageName(platform);
  // node_modules installed on another system (an Alpine build stage, a Mac) hold that system's core instead.
  const foreign = CORE_PLATFORMS.filter((candidate) => candidate !== platform && isInstalled(corePackageName(candidate))).map(corePackageName);
  const elsewhere =
    foreign.length === 0
      ? ""
      : ` Installed instead: ${foreign.join(", ")}, for another platform: node_modules installed on another system (an Alpine build stage, say) and copied here hold that system's core; install them on this one.`;
  throw new NativeLibraryError(
    `${PACKAGE_NAME} found no core for ${key}: its package ${name} is not installed.${elsewhere} It is an optional dependency, so an install with --omit=optional (or --no-optional, or on another platform) leaves it out: add it (\`${addCommand(name)}\`), or ${buildYourOwn}`,
  );
}

/** Whether the package `name` resolves from here (without loading it). */
function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Where `bun build --compile` puts the files it embeds, as a running executable names them. */
const EMBEDDED_FOLDER = "/$bunfs/";

function isEmbedded(path: string): boolean {
  return path.startsWith(EMBEDDED_FOLDER);
}

/** What to do about a core that was found where `location` says but cannot be used. */
function remedy(location: CoreLocation): string {
  const version = packageVersion();
  if (isEmbedded(location.path)) {
    const temporary = process.env.TMPDIR ? `TMPDIR, ${process.env.TMPDIR}` : "/tmp";
    return `it is embedded in this executable, and Bun writes it out to the temporary folder (${temporary}) to load it: let the executable write there, or point TMPDIR at a folder it can write to`;
  }
  switch (location.source) {
    case "package":
      return `it comes from the package ${location.packageName}, which must be of ${PACKAGE_NAME}'s version${version === undefined ? "" : `, ${version}`}: reinstall it: \`${addCommand(location.packageName)}\``;
    case "checkout":
      return `it is this checkout's build: rebuild it from the checkout's sources (\`npm run build\` in ${libraryFolder})`;
    case "environment":
      return `${CORE_PATH_ENV} names it: point it at a core built from the sources of ${PACKAGE_NAME}${version === undefined ? "" : ` ${version}`} for this platform, or unset it`;
  }
}

/** ELF machine numbers of the CPUs cores are built for (e_machine). */
const ELF_MACHINES: Record<string, number> = { x64: 62, arm64: 183 };

/**
 * Why the file at `path` cannot be this process's core, read from its headers, or undefined where
 * they look right. Asked before the dynamic loader opens it: the loader's own words mislead (a core
 * for another CPU is "No such file or directory", a directory "cannot read file data"), it waits
 * forever on a FIFO, and it maps a truncated library's segments past the file's end, so its first
 * read there kills the process with SIGBUS. Never throws.
 */
export function coreFileProblem(path: string, cpu: string = process.arch, unreadable: "say" | "leave to dlopen" = "say"): string | undefined {
  let header: Uint8Array;
  let fileBytes: number;
  let programHeaders: Uint8Array | undefined;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return "it is a directory: name the library file in it";
    // The bytes at an offset, as many as the file holds there.
    let bytesAt: (offset: number, bytes: number) => Uint8Array;
    let done = () => {};
    if (isEmbedded(path)) {
      // A compiled executable's files can be read whole, not opened (openSync: ENOENT); they are small.
      const whole = readFileSync(path);
      fileBytes = whole.length;
      bytesAt = (offset, bytes) => whole.subarray(offset, offset + bytes);
    } else {
      // Opening a FIFO or a device blocks or reads without end: only a regular file can be a library.
      if (!stat.isFile()) return "it is not a regular file (a FIFO, socket or device): name the library file";
      fileBytes = stat.size;
      const fd = openSync(path, "r");
      done = () => closeSync(fd);
      bytesAt = (offset, bytes) => {
        const read = new Uint8Array(bytes);
        return read.subarray(0, readSync(fd, read, 0, bytes, offset));
      };
    }
    try {
      header = bytesAt(0, ELF64_HEADER_BYTES);
      const layout = header.length === ELF64_HEADER_BYTES ? programHeaderLayout(header) : undefined;
      // Headers past the file's end (or past where it ends now, shrunk since its size was read) are left unread.
      if (layout !== undefined && layout.offset + layout.bytes <= fileBytes) {
        const named = bytesAt(layout.offset, layout.bytes);
        if (named.length === layout.bytes) programHeaders = named;
      }
    } finally {
      done();
    }
  } catch (err) {
    return unreadable === "say" ? `it cannot be read (${(err as { code?: string }).code ?? "unknown error"})` : undefined;
  }
  const read = header.length;
  if (read < 20 || header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) {
    return read === 0 ? "it is empty" : "it is not a shared library (no ELF header)";
  }
  if (header[4] !== 2) return "it is a 32-bit library; cores are 64-bit";
  const machine = header[5] === 1 ? header[18]! | (header[19]! << 8) : (header[18]! << 8) | header[19]!;
  const expected = ELF_MACHINES[cpu];
  if (expected !== undefined && machine !== expected) {
    const built = Object.keys(ELF_MACHINES).find((name) => ELF_MACHINES[name] === machine) ?? `ELF machine ${machine}`;
    return `it is built for ${built}, and this process runs on ${cpu}`;
  }
  if (programHeaders === undefined) return `it is truncated or damaged: its ${fileBytes} bytes do not hold the ELF headers it names`;
  const missing = segmentPastEnd(programHeaders, header[5] === 1, fileBytes);
  if (missing !== undefined) return `it is truncated or damaged: it has ${fileBytes} bytes, and a segment it loads reaches byte ${missing}`;
  return undefined;
}

/**
 * What coreFileProblem finds in a file before dlopen is asked, which waits forever on a FIFO and
 * dies of SIGBUS on a truncated library; undefined where node:fs cannot read the file: a core that
 * `bun build --compile` embedded (under /$bunfs/) only Bun's dlopen reads.
 */
export function coreFileHazard(path: string): string | undefined {
  return coreFileProblem(path, process.arch, "leave to dlopen");
}

/** An ELF64 file header's bytes; a program header's are 56. */
const ELF64_HEADER_BYTES = 64;
const ELF64_PROGRAM_HEADER_BYTES = 56;
const PT_LOAD = 1;

/** Where an ELF64 header says its program headers are, or undefined where it names none or a size no ELF64 file has. */
function programHeaderLayout(header: Uint8Array): { offset: number; bytes: number } | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const little = header[5] === 1;
  const offset = Number(view.getBigUint64(32, little));
  const entryBytes = view.getUint16(54, little);
  const count = view.getUint16(56, little);
  if (entryBytes !== ELF64_PROGRAM_HEADER_BYTES || count === 0 || !Number.isSafeInteger(offset)) return undefined;
  return { offset, bytes: count * entryBytes };
}

/** The end of the first loaded segment whose bytes the file does not hold, or undefined where it holds them all. */
function segmentPastEnd(programHeaders: Uint8Array, little: boolean, fileBytes: number): number | undefined {
  const view = new DataView(programHeaders.buffer, programHeaders.byteOffset, programHeaders.byteLength);
  for (let at = 0; at < programHeaders.length; at += ELF64_PROGRAM_HEADER_BYTES) {
    if (view.getUint32(at, little) !== PT_LOAD) continue;
    const end = Number(view.getBigUint64(at + 8, little)) + Number(view.getBigUint64(at + 32, little));
    if (!(end <= fileBytes)) return end;
  }
  return undefined;
}

let loaded = false;
let failure: NativeLibraryError | undefined;

/**
 * Locates the core and opens it with `open` (which checks what it opened). Where either fails,
 * returns a stand-in whose every function throws the NativeLibraryError, so importing the library
 * never throws and `isAvailable()` can say why.
 */
export function loadCore<Core extends object>(open: (path: string) => Core): Core {
  loaded = true;
  let location: CoreLocation | undefined;
  try {
    location = locateCore();
    return open(location.path);
  } catch (err) {
    const reason = err instanceof NativeLibraryError ? err.message : `the ${PACKAGE_NAME} core cannot be loaded: ${(err as Error).message}`;
    // A core found but refused (another ABI, another CPU, a damaged file): what to do depends on where it came from.
    failure = location === undefined ? (err instanceof NativeLibraryError ? err : new NativeLibraryError(reason)) : new NativeLibraryError(`${reason} (${remedy(location)})`);
    const error = failure;
    const unavailable = () => {
      throw error;
    };
    // Every export reads as a function that throws: modules that keep a reference at import still load.
    return new Proxy({} as Core, { get: () => unavailable });
  }
}

/** Whether the native core was found and opened: false means every pool call would throw `unavailableReason()`. */
export function isAvailable(): boolean {
  return loaded && failure === undefined;
}

/** Why the core could not be loaded (the NativeLibraryError's message), or undefined where it was. */
export function unavailableReason(): string | undefined {
  return failure?.message;
}
