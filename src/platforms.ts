/**
 * The platforms with a prebuilt core, one npm package each (`bun-memory-pool-<key>`), listed in
 * package.json's optionalDependencies. The loader (src/loader.ts) picks one by the running
 * process; the release script (.ci/release.ts) builds and packs every one.
 */

export const PACKAGE_NAME = "bun-memory-pool";

export type CoreOS = "linux" | "darwin";
export type CoreCPU = "x64" | "arm64";
export type CoreLibc = "glibc" | "musl";

export interface CorePlatform {
  /** `<os>-<cpu>[-gnu|-musl]`: the platform package is `bun-memory-pool-<key>`. */
  key: string;
  os: CoreOS;
  cpu: CoreCPU;
  /** Linux only: which C library the core (and the Bun that loads it) is built against. */
  libc?: CoreLibc;
  /** Zig's -Dtarget: glibc 2.28 (Debian 10, RHEL 8) and newer; macOS 11 and newer. */
  zigTarget: string;
  /** The core's file name inside the package, as Zig names it for the target. */
  library: string;
  /** Which kinds of memory pools work there (README's platform table). */
  memory: string;
}

const gpu = "CPU, GPU and pinned (with an NVIDIA driver), PMEM (with libpmem)";
const cpuOnly = "CPU; PMEM where a libpmem.so.1 built for musl is installed (no CUDA driver exists for musl)";

export const CORE_PLATFORMS: readonly CorePlatform[] = [
  { key: "linux-x64-gnu", os: "linux", cpu: "x64", libc: "glibc", zigTarget: "x86_64-linux-gnu.2.28", library: "libmemory_pool.so", memory: gpu },
  { key: "linux-arm64-gnu", os: "linux", cpu: "arm64", libc: "glibc", zigTarget: "aarch64-linux-gnu.2.28", library: "libmemory_pool.so", memory: gpu },
  { key: "linux-x64-musl", os: "linux", cpu: "x64", libc: "musl", zigTarget: "x86_64-linux-musl", library: "libmemory_pool.so", memory: cpuOnly },
  { key: "linux-arm64-musl", os: "linux", cpu: "arm64", libc: "musl", zigTarget: "aarch64-linux-musl", library: "libmemory_pool.so", memory: cpuOnly },
];

/** The package that holds the core for `platform`. */
export function corePackageName(platform: CorePlatform): string {
  return `${PACKAGE_NAME}-${platform.key}`;
}

/** The key of a running process's platform, as the packages name it: linux-x64-gnu, darwin-arm64, ... */
export function platformKey(os: string, cpu: string, libc: CoreLibc | undefined): string {
  if (os !== "linux") return `${os}-${cpu}`;
  return `${os}-${cpu}-${libc === "musl" ? "musl" : "gnu"}`;
}
