/**
 * Finds the native core and opens it, in this order:
 *   1. MEMORY_POOL_CORE_PATH, a file named in the environment (a core built elsewhere);
 *   2. the platform package (`bun-memory-pool-linux-x64-gnu`, ...: optionalDependencies), whose file
 *      a `bun build --compile` embeds, since each is required here by a literal name;
 *   3. a local build in a checkout (zig/zig-out/lib, made by `npm run build`). Where this file lies
 *      in a checkout, that build is the one it uses, before any package: it matches the checkout's
 *      sources, and a published core that npm put in the checkout's node_modules may not;
 * and otherwise records an error that names the platform and what to do. Nothing here throws at
 * import time: without a core, `isAvailable()` is false and every call into the core throws that error.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { NativeLibraryError } from "./errors";
import { CORE_PLATFORMS, PACKAGE_NAME, corePackageName, platformKey, type CoreLibc } from "./platforms";

export const CORE_PATH_ENV = "MEMORY_POOL_CORE_PATH";

/** What the loader looks at: the running process unless a test says otherwise. */
export interface Host {
  os: string;
  cpu: string;
  libc: CoreLibc | undefined;
  env: Record<string, string | undefined>;
}

export interface CoreLocation {
  path: string;
  source: "environment" | "package" | "checkout";
}

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
 * null for a key no package exists for. Each require names its package literally, inside the
 * try, so a bundler embeds the installed one and leaves the others to fail here at run time.
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
  } catch {
    return undefined;
  }
  // A `bun build` bundle (not --compile) names the copied file relative to the bundle.
  return isAbsolute(exported.default) ? exported.default : join(import.meta.dir, exported.default);
}

const checkoutRoot = join(import.meta.dir, "..");

function checkoutCore(os: string): string {
  return join(checkoutRoot, "zig", "zig-out", "lib", os === "darwin" ? "libmemory_pool.dylib" : "libmemory_pool.so");
}

/** Where the core for `host` is; a NativeLibraryError that says what to do where it is nowhere. */
export function locateCore(host: Host = currentHost()): CoreLocation {
  const override = host.env[CORE_PATH_ENV];
  if (override) {
    if (!existsSync(override)) throw new NativeLibraryError(`${CORE_PATH_ENV} names ${override}, which does not exist: point it at a built core (libmemory_pool.so), or unset it`);
    return { path: override, source: "environment" };
  }
  const key = platformKey(host.os, host.cpu, host.libc);
  const local = checkoutCore(host.os);
  if (existsSync(join(checkoutRoot, "zig", "build.zig"))) {
    if (existsSync(local)) return { path: local, source: "checkout" };
    throw new NativeLibraryError(`the ${PACKAGE_NAME} core is not built: ${local} is missing. Run \`npm run build\` (or \`npm test\`) in ${checkoutRoot} to build it.`);
  }
  const platform = CORE_PLATFORMS.find((candidate) => candidate.key === key);
  const packaged = platform === undefined ? undefined : packagedCore(key);
  if (packaged) return { path: packaged, source: "package" };

  const buildYourOwn = `build a core from the source (git clone the repository, \`npm run build\`) and set ${CORE_PATH_ENV} to its zig/zig-out/lib/libmemory_pool.so`;
  if (platform === undefined) {
    const prebuilt = CORE_PLATFORMS.map((candidate) => candidate.key).join(", ");
    throw new NativeLibraryError(`${PACKAGE_NAME} has no prebuilt core for ${key} (there are cores for ${prebuilt}): ${buildYourOwn}`);
  }
  const name = corePackageName(platform);
  throw new NativeLibraryError(
    `${PACKAGE_NAME} found no core for ${key}: its package ${name} is not installed. It is an optional dependency, so an install with --omit=optional (or --no-optional, or on another platform) leaves it out: add it (\`bun add ${name}\`), or ${buildYourOwn}`,
  );
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
  const header = new Uint8Array(ELF64_HEADER_BYTES);
  let read: number;
  let fileBytes: number;
  let programHeaders: Uint8Array | undefined;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return "it is a directory: name the library file in it";
    // Opening a FIFO or a device blocks or reads without end: only a regular file can be a library.
    if (!stat.isFile()) return "it is not a regular file (a FIFO, socket or device): name the library file";
    fileBytes = stat.size;
    const fd = openSync(path, "r");
    try {
      read = readSync(fd, header, 0, header.length, 0);
      const layout = read === header.length ? programHeaderLayout(header) : undefined;
      if (layout !== undefined && layout.offset + layout.bytes <= fileBytes) {
        programHeaders = new Uint8Array(layout.bytes);
        readSync(fd, programHeaders, 0, layout.bytes, layout.offset);
      }
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return unreadable === "say" ? `it cannot be read (${(err as { code?: string }).code ?? "unknown error"})` : undefined;
  }
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
  try {
    return open(locateCore().path);
  } catch (err) {
    failure = err instanceof NativeLibraryError ? err : new NativeLibraryError(`the ${PACKAGE_NAME} core cannot be loaded: ${(err as Error).message}`);
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
