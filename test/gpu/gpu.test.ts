// GPU pools, on a machine with a CUDA device. Where no driver or device answers, every test but
// the one that checks the refusal is skipped, and the reason is printed.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  allocate,
  allocateGPU,
  ConfigError,
  deallocate,
  deallocateGPU,
  DoubleFreeError,
  GPUAllocation,
  GPUMemoryPool,
  GPUUnavailableError,
  InvalidPointerError,
  MemoryPoolManager,
  OutOfBoundsError,
  OutOfMemoryError,
  PoolConfig,
  UseAfterFreeError,
} from "../../src/index";
import { gpuDeviceCount, gpuUnavailableReason } from "../../src/native";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const deviceCount = gpuDeviceCount();
const whyNot = gpuUnavailableReason();
const gpu = whyNot === undefined;
if (!gpu) console.log(`[test/gpu] GPU tests skipped: ${whyNot}`);
else console.log(`[test/gpu] running on ${manager.listDevices().map((d) => `${d.deviceId}: ${d.name}`).join(", ")}`);

const MiB = 1 << 20;
const made: string[] = [];
function gpuPool(name: string, fields: Partial<PoolConfig> = {}): GPUMemoryPool {
  made.push(name);
  return manager.createGPUPool(name, Object.assign(new PoolConfig(), fields));
}
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
});

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed) & 0xff;
  return bytes;
}

describe("without a GPU", () => {
  test.if(!gpu)("createGPUPool throws GPUUnavailableError saying what is missing", () => {
    let caught: unknown;
    try {
      manager.createGPUPool("gpu-none", new PoolConfig());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GPUUnavailableError);
    expect((caught as GPUUnavailableError).code).toBe("GPU_UNAVAILABLE");
    expect((caught as Error).message).toMatch(/CUDA|libcuda|device/);
    expect(manager.hasPool("gpu-none")).toBe(false);
    expect(() => manager.createPinnedPool("pinned-none", new PoolConfig())).toThrow(GPUUnavailableError);
    expect(manager.listDevices()).toEqual([]);
    // CPU pools are untouched by the missing driver.
    const cpu = manager.createCPUPool("gpu-none-cpu", new PoolConfig());
    cpu.allocate(16).free();
    manager.destroyPool("gpu-none-cpu");
  });
});

describe.skipIf(!gpu)("device pools", () => {
  test("a deviceId that names no device is a ConfigError", () => {
    const err = (() => {
      try {
        manager.createGPUPool("gpu-bad-device", Object.assign(new PoolConfig(), { deviceId: deviceCount }));
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toContain("deviceId");
  });

  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    test(`${allocatorType}: allocate, free, lifetimes and stats without a driver call per block`, () => {
      const pool = gpuPool(`gpu-basic-${allocatorType}`, { allocatorType, blockSize: 4096, initialSize: 4 * MiB });
      const blocks = Array.from({ length: 100 }, (_, i) => pool.allocate(1 + ((i * 97) % 4096)));
      for (const b of blocks) expect(b).toBeInstanceOf(GPUAllocation);
      expect(new Set(blocks.map((b) => b.ptr)).size).toBe(100);
      for (const b of blocks) expect(b.ptr % 16).toBe(0);
      const stats = pool.getStats();
      expect(stats.liveAllocations).toBe(100);
      expect(stats.bytesReserved).toBe(4 * MiB);
      const first = blocks[0]!;
      first.free();
      expect(first.alive).toBe(false);
      expect(() => first.free()).toThrow(DoubleFreeError);
      expect(() => pool.copyHostToDevice(first, new Uint8Array(1))).toThrow(UseAfterFreeError);
      expect(() => pool.deallocate(blocks[50]!.ptr + 16)).toThrow(InvalidPointerError); // inside a 755-byte block
      expect(() => pool.deallocate(first.ptr + 8)).toThrow(InvalidPointerError);
      const raw = pool.allocateRaw(64);
      pool.deallocate(raw);
      expect(() => pool.deallocate(raw)).toThrow(DoubleFreeError);
      for (const b of blocks.slice(1)) pool.deallocate(b);
      expect(pool.getStats().liveAllocations).toBe(0);
    });
  }

  test("growth to maxSize, OutOfMemoryError, trim gives device memory back", () => {
    const pool = gpuPool("gpu-growth", { initialSize: 2 * MiB, maxSize: 8 * MiB, growth: 1 });
    const blocks = Array.from({ length: 4 }, () => pool.allocate(2 * MiB - 64));
    expect(pool.getStats().bytesReserved).toBe(8 * MiB);
    expect(() => pool.allocate(2 * MiB)).toThrow(OutOfMemoryError);
    expect(pool.getStats().failedAllocations).toBe(1);
    for (const b of blocks) b.free();
    expect(pool.trim()).toBe(6 * MiB);
    expect(pool.getStats().bytesReserved).toBe(2 * MiB);
    const again = pool.allocate(6 * MiB); // grows again into the trimmed address space
    pool.fill(again, 7);
    const back = new Uint8Array(6 * MiB);
    pool.copyDeviceToHost(back, again);
    expect(back[6 * MiB - 1]).toBe(7);
    again.free();
  });
});

describe.skipIf(!gpu)("copies", () => {
  test("host to device to host, pageable, small and staged", () => {
    const pool = gpuPool("gpu-copy-pageable", { initialSize: 64 * MiB });
    for (const length of [1, 4096, 1 * MiB + 3, 40 * MiB + 7]) {
      const source = pattern(length, length);
      const device = pool.allocate(length);
      pool.copyHostToDevice(device, source);
      const back = new Uint8Array(length);
      pool.copyDeviceToHost(back, device);
      expect(Buffer.compare(back, source)).toBe(0);
      device.free();
    }
  });

  test("from and to a pinned pool and a CPU pool allocation, with offsets, and device to device", () => {
    const pinned = manager.createPinnedPool("gpu-copy-pinned", Object.assign(new PoolConfig(), { initialSize: 32 * MiB }));
    made.push("gpu-copy-pinned");
    const pool = gpuPool("gpu-copy-kinds", { initialSize: 32 * MiB });
    const length = 8 * MiB;
    const host = pinned.allocate(length);
    host.bytes.set(pattern(length, 5));
    const a = pool.allocate(length);
    const b = pool.allocate(length);
    pool.copyHostToDevice(a, host, length);
    pool.copyDeviceToDevice(b, a);
    const out = pinned.allocate(length);
    pool.copyDeviceToHost(out, b, length);
    expect(Buffer.compare(out.bytes, host.bytes)).toBe(0);
    // offsets: the middle 1000 bytes of a into the start of a CPU pool allocation
    const cpu = allocate(1000);
    pool.copyDeviceToHost(cpu, a, 1000, { srcOffset: 5000 });
    expect(Buffer.compare(cpu, host.bytes.subarray(5000, 6000))).toBe(0);
    pool.copyHostToDevice(b, cpu, 1000, { dstOffset: 100 });
    const check = new Uint8Array(1100);
    pool.copyDeviceToHost(check, b, 1100);
    expect(Buffer.compare(check.subarray(100), cpu)).toBe(0);
    deallocate(cpu);
    for (const x of [host, out]) x.free();
    for (const x of [a, b]) x.free();
  });

  test("a copy larger than its allocation is refused before any DMA", () => {
    const pool = gpuPool("gpu-copy-bounds");
    const device = pool.allocate(1000);
    const big = new Uint8Array(2000);
    expect(() => pool.copyHostToDevice(device, big)).toThrow(OutOfBoundsError);
    expect(() => pool.copyHostToDevice(device, big, 1001)).toThrow(OutOfBoundsError);
    expect(() => pool.copyHostToDevice(device, big, 1000, { dstOffset: 1 })).toThrow(OutOfBoundsError);
    expect(() => pool.copyDeviceToHost(new Uint8Array(10), device, 11)).toThrow(OutOfBoundsError);
    expect(() => pool.copyDeviceToHost(big, device, 1001)).toThrow(OutOfBoundsError);
    expect(() => pool.copyDeviceToHost(big, device, 500, { srcOffset: 501 })).toThrow(OutOfBoundsError);
    expect(() => pool.copyHostToDevice(device, big, -1)).toThrow(OutOfBoundsError);
    expect(() => pool.copyHostToDevice(device, big, 1.5)).toThrow(OutOfBoundsError);
    expect(() => pool.copyHostToDevice(device, big, 10, { srcOffset: NaN })).toThrow(OutOfBoundsError);
    expect(() => pool.fill(device, 1, 1001)).toThrow(OutOfBoundsError);
    expect(() => pool.fill(device, 256)).toThrow(OutOfBoundsError);
    device.free();
  });

  test("asynchronous copies on a stream", () => {
    const pinned = manager.createPinnedPool("gpu-stream-pinned", new PoolConfig());
    made.push("gpu-stream-pinned");
    const pool = gpuPool("gpu-stream-copy");
    using stream = pool.createStream();
    const src = pinned.allocate(256 * 1024);
    src.bytes.set(pattern(256 * 1024, 9));
    const dst = pinned.allocate(256 * 1024);
    const device = pool.allocate(256 * 1024, { stream });
    pool.copyHostToDevice(device, src, undefined, { stream });
    pool.copyDeviceToHost(dst, device, undefined, { stream });
    stream.synchronize();
    expect(Buffer.compare(dst.bytes, src.bytes)).toBe(0);
    pool.deallocate(device, { stream });
    src.free();
    dst.free();
  });
});

describe.skipIf(!gpu)("stream-ordered frees", () => {
  test("a block freed on a busy stream is not handed to another stream, but is to its own", () => {
    const pool = gpuPool("gpu-stream-reuse", { initialSize: 1200 * MiB });
    const streamA = pool.createStream();
    const streamB = pool.createStream();
    const x = pool.allocate(4096);
    const busy = pool.allocate(1024 * MiB);
    // Queue ~50 GiB of writes on A (tens of milliseconds), then free x on A behind them.
    for (let i = 0; i < 50; i++) pool.fill(busy, i & 0xff, undefined, { stream: streamA });
    pool.deallocate(x, { stream: streamA });
    expect(x.alive).toBe(false);
    expect(() => x.free()).toThrow(DoubleFreeError);
    const onB = pool.allocate(4096, { stream: streamB });
    expect(onB.ptr).not.toBe(x.ptr); // A's work may still touch x
    const onA = pool.allocate(4096, { stream: streamA });
    expect(onA.ptr).toBe(x.ptr); // stream order makes reuse on A safe
    streamA.synchronize();
    onA.free();
    const afterSync = pool.allocate(4096, { stream: streamB });
    expect(afterSync.ptr).toBe(x.ptr); // once A is done, anyone may have it
    for (const a of [onB, afterSync, busy]) a.free();
    streamA.destroy();
    streamB.destroy();
  });

  test("a raw address can be freed on a stream; a second free is a DoubleFreeError", () => {
    const pool = gpuPool("gpu-stream-raw");
    using stream = pool.createStream();
    const address = pool.allocateRaw(256, { stream });
    pool.deallocate(address, { stream });
    expect(() => pool.deallocate(address, { stream })).toThrow(DoubleFreeError);
    expect(() => pool.deallocate(address)).toThrow(DoubleFreeError);
    stream.synchronize();
  });

  test("a stream option that is not a GPUStream, or an unknown option, is a ConfigError naming it; nothing is allocated or freed", () => {
    const pool = gpuPool("gpu-stream-options");
    const a = pool.allocate(256);
    const host = new Uint8Array(256);
    for (const stream of [{}, 5, null, { handle: 0, synchronize() {} }]) {
      const calls = [
        () => pool.allocate(64, { stream } as never),
        () => pool.allocateRaw(64, { stream } as never),
        () => pool.deallocate(a, { stream } as never),
        () => a.free({ stream } as never),
        () => pool.copyHostToDevice(a, host, 256, { stream } as never),
        () => pool.fill(a, 1, 256, { stream } as never),
      ];
      for (const call of calls) {
        const err = thrown<ConfigError>(call);
        expect(err).toBeInstanceOf(ConfigError);
        expect(err.field).toBe("stream");
      }
    }
    expect(thrown<ConfigError>(() => pool.allocate(64, { steam: 1 } as never)).field).toBe("steam");
    expect(thrown<ConfigError>(() => pool.allocate(64, null as never)).field).toBe("StreamOptions");
    expect(a.alive).toBe(true);
    expect(pool.getStats().liveAllocations).toBe(1);
  });
});

describe.skipIf(!gpu)("kernels and helpers", () => {
  test("fill writes exactly the range asked for", () => {
    const pool = gpuPool("gpu-fill");
    const device = pool.allocate(10_000);
    pool.fill(device, 0x11);
    pool.fill(device, 0xee, 777, { dstOffset: 13 });
    const back = new Uint8Array(10_000);
    pool.copyDeviceToHost(back, device);
    expect(back[12]).toBe(0x11);
    expect(back[13]).toBe(0xee);
    expect(back[13 + 776]).toBe(0xee);
    expect(back[13 + 777]).toBe(0x11);
    expect(back.filter((b) => b === 0xee).length).toBe(777);
    device.free();
  });

  test("allocateGPU and deallocateGPU use the default device pool", () => {
    const floats = allocateGPU(Float32Array, 1000);
    expect(floats).toBeInstanceOf(GPUAllocation);
    expect(floats.size).toBe(4000);
    expect(floats.length).toBe(1000);
    const host = new Float32Array(1000).map((_, i) => i / 2);
    manager.defaultGPUPool.copyHostToDevice(floats, host);
    const back = new Float32Array(1000);
    manager.defaultGPUPool.copyDeviceToHost(back, floats);
    expect(back[999]).toBe(499.5);
    deallocateGPU(floats);
    expect(() => deallocateGPU(floats)).toThrow(DoubleFreeError);
  });

  test("the README's GPU example runs as written", () => {
    const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
    const block = /## GPU\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const script = block!.replace(`from "bun-memory-pool"`, `from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "index.ts"))}`);
    const file = join(mkdtempSync(join(tmpdir(), "memory-pool-readme-gpu-")), "gpu.ts");
    writeFileSync(file, script);
    const result = Bun.spawnSync([process.execPath, file]);
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("the seed's GPU example runs", () => {
    const result = Bun.spawnSync([process.execPath, `${import.meta.dir}/../../examples/gpu_basic.ts`]);
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toContain("round trip intact: true");
  });
});
