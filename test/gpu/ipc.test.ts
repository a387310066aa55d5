// GPU memory shared between two Bun processes on device 0. Skipped, saying why, without a GPU.
import { describe, expect, test } from "bun:test";
import { InvalidPointerError, MemoryPoolManager, PoolConfig, SharedGPUMemory, UseAfterFreeError } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";

const manager = MemoryPoolManager.getInstance();
const noGPU = gpuUnavailableReason();
const gpu = noGPU === undefined;
if (!gpu) console.log(`[test/gpu/ipc] IPC tests skipped: ${noGPU}`);

const child = `${import.meta.dir}/../fixtures/ipc-child.ts`;
function runChild(handle: unknown): { sum?: number; size?: number; error?: string; code?: string; message?: string } {
  const result = Bun.spawnSync([process.execPath, child, JSON.stringify(handle)]);
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout.toString().trim().split("\n").at(-1)!);
}

describe.skipIf(!gpu)("GPU memory shared between processes", () => {
  test("a second process sees the same device bytes, and its writes are seen here", () => {
    const pool = manager.createGPUPool("ipc-share", new PoolConfig());
    const size = 1 << 20;
    const a = pool.allocate(size);
    const pattern = new Uint8Array(size).map((_, i) => (i * 7 + 3) & 0xff);
    pool.copyHostToDevice(a, pattern);
    const handle = pool.exportAllocation(a);
    expect(JSON.parse(JSON.stringify(handle))).toEqual(handle);
    const report = runChild(handle);
    expect(report.error).toBeUndefined();
    expect(report.size).toBe(size);
    expect(report.sum).toBe(pattern.reduce((sum, byte) => (sum + byte) % 1_000_000_007, 0));
    const back = new Uint8Array(size);
    pool.copyDeviceToHost(back, a);
    expect(back.every((byte, i) => byte === (pattern[i]! ^ 0xff))).toBe(true);
    // A second export of the same range hands out the same descriptor.
    expect(pool.exportAllocation(a).fd).toBe(handle.fd);
    a.free();
    expect(() => pool.exportAllocation(a)).toThrow(UseAfterFreeError);
    manager.destroyPool("ipc-share");
  });

  test("errors on both sides: a destroyed exporter, a process that is gone, a bad handle, a double close", () => {
    const pool = manager.createGPUPool("ipc-errors", new PoolConfig());
    const a = pool.allocate(4096);
    const handle = pool.exportAllocation(a);
    manager.destroyPool("ipc-errors"); // its ranges and their descriptors go with it
    const gone = runChild(handle);
    expect(gone.error).toBe("InvalidPointerError");
    expect(gone.message).toContain("descriptor");
    expect(() => SharedGPUMemory.open({ ...handle, pid: 0x3fffffff })).toThrow(InvalidPointerError);
    expect(() => SharedGPUMemory.open({ ...handle, size: handle.rangeBytes + 1 })).toThrow(InvalidPointerError);
    expect(() => SharedGPUMemory.open({ ...handle, fd: -1 })).toThrow(InvalidPointerError);
    const pool2 = manager.createGPUPool("ipc-self", new PoolConfig());
    const b = pool2.allocate(64);
    const own = SharedGPUMemory.open(pool2.exportAllocation(b)); // this process's own export maps too
    own.write(new Uint8Array(64).fill(9));
    const check = new Uint8Array(64);
    pool2.copyDeviceToHost(check, b);
    expect(check[63]).toBe(9);
    own.close();
    expect(() => own.close()).toThrow(UseAfterFreeError);
    expect(() => own.read(new Uint8Array(1))).toThrow(UseAfterFreeError);
    manager.destroyPool("ipc-self");
  });
});
