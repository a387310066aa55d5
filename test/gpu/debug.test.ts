// DebugGPU(): canaries around device allocations and fill patterns, written and checked by the
// debug kernels; history and leak reports. Skipped, saying why, where no GPU answers.
import { afterAll, describe, expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { BoundaryViolationError, ConfigError, MemoryPoolManager, PoolConfig, type GPUAllocation, type GPUMemoryPool } from "../../src/index";
import { copyDeviceToHost, fillDevice, gpuKernelsAvailable, gpuUnavailableReason, HostMemory } from "../../src/native";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const noGPU = gpuUnavailableReason();
const gpu = noGPU === undefined && gpuKernelsAvailable();
if (!gpu) console.log(`[test/gpu/debug] DebugGPU tests skipped: ${noGPU ?? "the core was built without nvcc"}`);

const made: string[] = [];
function debugPool(name: string, fields: Partial<PoolConfig> = {}): GPUMemoryPool {
  made.push(name);
  return manager.createGPUPool(name, Object.assign(PoolConfig.DebugGPU(), fields));
}
afterAll(() => {
  for (const name of made) {
    if (!manager.hasPool(name)) continue;
    try {
      manager.destroyPool(name);
    } catch {
      // a pool a test left damaged on purpose: destroyed all the same
    }
  }
});

/** A kernel writing `length` bytes of `value` at a device address, past whatever bounds there are. */
function strayKernelWrite(address: number, length: number, value = 0x42): void {
  fillDevice(0, address as Pointer, value, length, null); // throws the typed error where the core refuses
}

function deviceBytes(address: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  copyDeviceToHost(0, out, address as Pointer, length, HostMemory.pageable, null);
  return out;
}


describe.skipIf(!gpu)("DebugGPU", () => {
  test("a kernel that writes past its allocation is caught on free, naming the allocation, side, offset and stack", () => {
    const pool = debugPool("gpu-debug-overrun");
    const a = pool.allocate(1000);
    strayKernelWrite(a.ptr + 1000, 3);
    const err = thrown<BoundaryViolationError>(() => a.free());
    expect(err).toBeInstanceOf(BoundaryViolationError);
    expect(err.code).toBe("BOUNDARY_VIOLATION");
    expect(err.allocationId).toBe(a.id);
    expect(err.side).toBe("after");
    expect(err.offset).toBe(1000);
    expect(err.damagedBytes).toBe(3);
    expect(err.allocationStack).toContain("debug.test.ts");
    expect(a.alive).toBe(false); // released all the same
    expect(pool.getStats().liveAllocations).toBe(0);
  });

  test("an underflow is caught too, on either strategy", () => {
    for (const [name, fields] of [
      ["gpu-debug-under-var", {}],
      ["gpu-debug-under-fixed", { allocatorType: "FixedSize", blockSize: 512 }],
    ] as const) {
      const pool = debugPool(name, fields as Partial<PoolConfig>);
      const a = pool.allocate(512);
      strayKernelWrite(a.ptr - 2, 1);
      const err = thrown<BoundaryViolationError>(() => a.free());
      expect(err.side).toBe("before");
      expect(err.offset).toBe(-2);
      expect(err.damagedBytes).toBe(1);
    }
  });

  test("check() finds the damaged allocation among many in one launch; an intact pool passes", () => {
    const pool = debugPool("gpu-debug-check");
    const blocks: GPUAllocation[] = Array.from({ length: 500 }, (_, i) => pool.allocate(16 + i));
    pool.check();
    const victim = blocks[357]!;
    strayKernelWrite(victim.ptr + victim.size + 5, 1);
    const err = thrown<BoundaryViolationError>(() => pool.check());
    expect(err.allocationId).toBe(victim.id);
    expect(err.offset).toBe(victim.size + 5);
    expect(pool.getHistory().some((event) => event.kind === "violation" && event.id === victim.id)).toBe(true);
    expect(() => victim.free()).toThrow(BoundaryViolationError);
    for (const b of blocks) if (b !== victim) b.free();
    pool.check();
  });

  test("fill patterns: new memory reads fillOnAlloc, freed memory fillOnFree; canaries hold the canary byte", () => {
    const pool = debugPool("gpu-debug-fill");
    const a = pool.allocate(4096);
    expect(deviceBytes(a.ptr, 4096).every((b) => b === 0xcd)).toBe(true);
    const canary = deviceBytes(a.ptr + 4096, 64);
    expect(canary.every((b) => b === 0xca)).toBe(true);
    const address = a.ptr;
    a.free();
    expect(deviceBytes(address, 4096).every((b) => b === 0xdd)).toBe(true);
  });

  test("raw addresses, stream-ordered frees and fromPointer use the same layout", () => {
    const pool = debugPool("gpu-debug-raw");
    using stream = pool.createStream();
    const raw = pool.allocateRaw(100, { stream });
    expect(pool.fromPointer(raw).size).toBe(100);
    pool.deallocate(raw, { stream });
    const b = pool.allocate(100);
    strayKernelWrite(b.ptr + 100, 1);
    expect(() => pool.deallocate(b.ptr)).toThrow(BoundaryViolationError);
    stream.synchronize();
  });

  test("leaks: getLeaks names what is live with its stack; destroyPool reports them and checks canaries", () => {
    const pool = debugPool("gpu-debug-leaks");
    const kept = pool.allocate(77);
    const leaks = pool.getLeaks();
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ id: kept.id, size: 77, ptr: kept.ptr });
    expect(leaks[0]!.stack).toContain("debug.test.ts");
    strayKernelWrite(kept.ptr + 77, 1);
    const err = thrown<BoundaryViolationError>(() => manager.destroyPool("gpu-debug-leaks"));
    expect(err.allocationId).toBe(kept.id);
    expect(manager.hasPool("gpu-debug-leaks")).toBe(false); // destroyed all the same
  });

  test("guard pages and quarantine are refused on device memory with a ConfigError", () => {
    expect(() => debugPool("gpu-debug-guard", { guardPages: true })).toThrow(ConfigError);
    expect(() => debugPool("gpu-debug-quarantine", { quarantineBytes: 1 << 20 })).toThrow(ConfigError);
  });
});
