// copy() between every pair of memory kinds that needs a GPU: pinned host memory and device
// memory, with CPU pool allocations and JavaScript arrays. Skipped, saying why, without a GPU.
import { afterAll, describe, expect, test } from "bun:test";
import {
  copy,
  InvalidPointerError,
  MemoryPoolManager,
  OutOfBoundsError,
  PoolConfig,
  UseAfterFreeError,
  type Allocation,
  type CopySide,
  type GPUAllocation,
  type GPUMemoryPool,
  type PinnedMemoryPool,
  type PMEMMemoryPool,
  type PoolAllocation,
} from "../../src/index";
import { gpuDeviceCount, gpuUnavailableReason, pmemUnavailableReason } from "../../src/native";
import { pmemConfig, poolPath, removePoolFiles } from "../pmem/helpers";

const manager = MemoryPoolManager.getInstance();
const deviceCount = gpuDeviceCount();
const noGPU = gpuUnavailableReason();
const gpu = noGPU === undefined;
if (!gpu) console.log(`[test/gpu/copy] GPU copy tests skipped: ${noGPU}`);
const noPMEM = pmemUnavailableReason();
const pmem = noPMEM === undefined;
if (gpu && !pmem) console.log(`[test/gpu/copy] pairs with PMEM skipped: ${noPMEM}`);

const MiB = 1 << 20;
const made: string[] = [];
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
  removePoolFiles();
});

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed) & 0xff;
  return bytes;
}

/** The bytes of any side, read back through a plain array. */
function readBack(side: CopySide, length: number): Uint8Array {
  const out = new Uint8Array(length);
  copy(out, side, length);
  return out;
}

describe.skipIf(!gpu)("copy between every pair of kinds", () => {
  let cpu: ReturnType<typeof manager.createCPUPool>;
  let pinned: PinnedMemoryPool;
  let device: GPUMemoryPool;
  let device2: GPUMemoryPool;
  let persistent: PMEMMemoryPool | undefined;
  const setUp = () => {
    if (device !== undefined) return;
    made.push("copy-cpu", "copy-pinned", "copy-device", "copy-device-2");
    cpu = manager.createCPUPool("copy-cpu", Object.assign(new PoolConfig(), { initialSize: 64 * MiB }));
    pinned = manager.createPinnedPool("copy-pinned", Object.assign(new PoolConfig(), { initialSize: 64 * MiB }));
    device = manager.createGPUPool("copy-device", Object.assign(new PoolConfig(), { initialSize: 256 * MiB }));
    device2 = manager.createGPUPool("copy-device-2", Object.assign(new PoolConfig(), { initialSize: 64 * MiB }));
    if (pmem) {
      made.push("copy-pmem");
      persistent = manager.createPMEMPool("copy-pmem", pmemConfig(poolPath("gpu-copy"), { initialSize: 32 * MiB }));
    }
  };

  /** A side of `length` bytes of each kind, and how to give it back. Sizes straddle the 1 MiB staging threshold. */
  type Maker = (length: number) => [side: CopySide, release: () => void];
  const own = (allocation: PoolAllocation): ReturnType<Maker> => [allocation, () => allocation.free()];
  const viewOf = (allocation: Allocation): ReturnType<Maker> => [allocation.bytes.subarray(64), () => allocation.free()];
  const kinds: Record<string, Maker> = {
    "typed array": (length) => [new Uint8Array(length), () => {}],
    "CPU pool allocation": (length) => own(cpu.allocate(length)),
    "pinned allocation": (length) => own(pinned.allocate(length)),
    "typed view of pinned memory": (length) => viewOf(pinned.allocate(length + 64)),
    "device allocation": (length) => own(device.allocate(length)),
    "device allocation of another pool": (length) => own(device2.allocate(length)),
  };
  if (pmem) {
    kinds["PMEM allocation"] = (length) => own(persistent!.allocate(length));
    kinds["typed view of PMEM"] = (length) => viewOf(persistent!.allocate(length + 64));
  }

  for (const [dstKind, makeDst] of Object.entries(kinds)) {
    for (const [srcKind, makeSrc] of Object.entries(kinds)) {
      test(`${srcKind} -> ${dstKind}`, () => {
        setUp();
        for (const length of [4096, 3 * MiB + 5]) {
          const [src, releaseSrc] = makeSrc(length);
          const [dst, releaseDst] = makeDst(length);
          const expected = pattern(length, length & 0xff);
          copy(src, expected);
          expect(copy(dst, src)).toBe(length);
          expect(Buffer.compare(readBack(dst, length), expected)).toBe(0);
          // A range with offsets on both sides leaves the bytes around it alone.
          copy(dst, new Uint8Array(length));
          copy(dst, src, 1000, { srcOffset: 2000, dstOffset: 48 });
          const back = readBack(dst, length);
          expect(Buffer.compare(back.subarray(48, 1048), expected.subarray(2000, 3000))).toBe(0);
          expect(back[47]).toBe(0);
          expect(back[1048]).toBe(0);
          releaseSrc();
          releaseDst();
        }
      });
    }
  }

  test("overlapping ranges of one device allocation copy as if through a buffer, in steps, both ways", () => {
    setUp();
    const length = 150 * MiB; // more than one 64 MiB step through host memory
    const d = device.allocate(length);
    const original = pattern(length, 11);
    for (const [srcOffset, dstOffset] of [
      [0, 30 * MiB + 3],
      [30 * MiB + 3, 0],
    ] as const) {
      copy(d, original);
      copy(d, d, 100 * MiB, { srcOffset, dstOffset });
      const back = readBack(d, length);
      expect(Buffer.compare(back.subarray(dstOffset, dstOffset + 100 * MiB), original.subarray(srcOffset, srcOffset + 100 * MiB))).toBe(0);
    }
    d.free();
  });

  test("with a stream: pinned and device copies queue on it; a host copy waits for it first", () => {
    setUp();
    using stream = device.createStream();
    const length = 64 * MiB;
    const source = pinned.allocate(length);
    source.bytes.set(pattern(length, 5));
    const d = device.allocate(length);
    const target = pinned.allocate(length);
    copy(d, source, undefined, { stream });
    for (let i = 0; i < 20; i++) device.fill(d, i, undefined, { stream }); // keep the stream busy
    copy(d, source, undefined, { stream });
    copy(target, d, undefined, { stream });
    const seen = new Uint8Array(length);
    copy(seen, target, undefined, { stream }); // host to host: must wait for the queued copy into target
    expect(Buffer.compare(seen, source.bytes)).toBe(0);
    for (const a of [source, target]) a.free();
    d.free();
  });

  test.if(deviceCount >= 2)("between devices, through host memory", () => {
    setUp();
    made.push("copy-device-1");
    const other = manager.createGPUPool("copy-device-1", Object.assign(new PoolConfig(), { deviceId: 1, initialSize: 128 * MiB }));
    const length = 100 * MiB + 7;
    const a = device.allocate(length);
    const b = other.allocate(length);
    const expected = pattern(length, 2);
    copy(a, expected);
    copy(b, a);
    expect(Buffer.compare(readBack(b, length), expected)).toBe(0);
    a.free();
    b.free();
  });

  test("bounds, freed allocations and foreign objects are refused before any DMA", () => {
    setUp();
    const d = device.allocate(1000);
    const p = pinned.allocate(2000);
    expect(() => copy(d, p)).toThrow(OutOfBoundsError);
    expect(() => copy(p, d, 1001)).toThrow(OutOfBoundsError);
    expect(() => copy(d, p, 1000, { dstOffset: 1 })).toThrow(OutOfBoundsError);
    expect(() => copy(d, d, 600, { srcOffset: 500 })).toThrow(OutOfBoundsError);
    expect(() => copy(d, {} as CopySide)).toThrow(InvalidPointerError);
    const freed = device.allocate(100);
    freed.free();
    expect(() => copy(freed, p, 100)).toThrow(UseAfterFreeError);
    expect(() => copy(p, freed, 100)).toThrow(UseAfterFreeError);
    // The pool methods share the checks: the wrong side's kind is refused too.
    expect(() => device.copyHostToDevice(d, d as unknown as Allocation, 10)).toThrow(InvalidPointerError);
    expect(() => device.copyDeviceToDevice(d, p as unknown as GPUAllocation, 10)).toThrow(InvalidPointerError);
    d.free();
    p.free();
  });
});
