/**
 * How the library's objects read when a person looks at them (console.log, Bun.inspect, String()):
 * one line each, pointers in hex. The classes call these from toString() and Bun.inspect.custom,
 * so what console.log prints is what String() gives. (Errors format themselves in errors.ts, which
 * imports nothing.)
 */
import { bytes } from "./stats";

/** An address as a person reads it: 0x7f3a12340000. */
export function hex(address: number): string {
  return `0x${address.toString(16)}`;
}

interface AllocationLike {
  readonly id: number;
  readonly size: number;
  readonly ptr: number;
  readonly alive: boolean;
  readonly pool: { readonly name: string };
}

/** `Allocation #12 of 'main' 1.00 KiB at 0x7f3a12340000`, and "(freed)" once it is not alive. */
export function allocationLine(kind: string, allocation: AllocationLike): string {
  const line = `${kind} #${allocation.id} of '${allocation.pool.name}' ${bytes(allocation.size)} at ${hex(allocation.ptr)}`;
  return allocation.alive ? line : `${line} (freed)`;
}

interface PoolLike {
  readonly name: string;
  readonly kind: string;
  readonly config: { readonly allocatorType: string; readonly blockSize: number };
}

/** `CPUMemoryPool 'main' (cpu, Variable): 3 live allocations, 2.93 KiB in use, 1.00 MiB reserved at 0x7f3a12340000`. */
export function poolLine(className: string, pool: PoolLike, base: number, stats: { bytesInUse: number; liveAllocations: number; bytesReserved: number } | "destroyed" | "ownedByAnotherThread"): string {
  const allocator = pool.config.allocatorType === "FixedSize" ? `FixedSize ${bytes(pool.config.blockSize)}` : pool.config.allocatorType;
  const head = `${className} '${pool.name}' (${pool.kind}, ${allocator})`;
  if (stats === "destroyed") return `${head}: destroyed`;
  if (stats === "ownedByAnotherThread") return `${head}: another thread's (threadSafety "none") at ${hex(base)}`;
  const live = `${stats.liveAllocations} live allocation${stats.liveAllocations === 1 ? "" : "s"}`;
  return `${head}: ${live}, ${bytes(stats.bytesInUse)} in use, ${bytes(stats.bytesReserved)} reserved at ${hex(base)}`;
}

/** `GPUStream 0x55d0c0a1b2c0 on device 0`, and "(destroyed)". */
export function streamLine(handle: number, deviceId: number, destroyed: boolean): string {
  return `GPUStream ${hex(handle)} on device ${deviceId}${destroyed ? " (destroyed)" : ""}`;
}
