/**
 * GPU benchmarks, on the GPU machine: `bun bench/gpu.ts`. Every figure runs next to its anchor,
 * the CUDA driver called directly through bun:ffi in this same process:
 *   allocate+free          vs cuMemAllocAsync+cuMemFreeAsync on the device's default memory pool
 *   pinned copies          vs cuMemcpyHtoD/DtoH from cuMemHostAlloc memory
 *   pageable host->device  vs cuMemcpyHtoD from the same pageable typed array
 *   fill / check kernels   vs cuMemcpyDtoD bandwidth (bytes read + written)
 *   NVTX registration on   vs the same pool kind with it off (no tool attached: must be noise)
 * Driver results are checked, so a bad anchor call cannot pass for a fast one.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { bench, do_not_optimize, group, run } from "mitata";
import { configureNvtx, MemoryPoolManager, nvtxStatus, PoolConfig, type GPUAllocation } from "../src/index.ts";
import { gpuDeviceCount, rawCoreForTests as core } from "../src/native.ts";
import { formatRatio, MiB, table, timesByName, warmedBench, warmUp } from "./util.ts";
import { handleOf } from "../src/pool";

const manager = MemoryPoolManager.getInstance();
if (gpuDeviceCount() === 0) {
  console.log("bench/gpu.ts: no GPU here; run it on the GPU machine.");
  process.exit(0);
}
const device = manager.listDevices()[0]!;

const { u32, u64, i32, ptr: p } = FFIType;
const usize = FFIType.u64;
const cuda = dlopen("libcuda.so.1", {
  cuMemAllocAsync: { args: [p, usize, p], returns: i32 },
  cuMemFreeAsync: { args: [u64, p], returns: i32 },
  cuMemAlloc_v2: { args: [p, usize], returns: i32 },
  cuMemFree_v2: { args: [u64], returns: i32 },
  cuMemHostAlloc: { args: [p, usize, u32], returns: i32 },
  cuMemcpyHtoD_v2: { args: [u64, p, usize], returns: i32 },
  cuMemcpyDtoH_v2: { args: [p, u64, usize], returns: i32 },
  cuMemcpyDtoD_v2: { args: [u64, u64, usize], returns: i32 },
  cuCtxSynchronize: { args: [], returns: i32 },
  cuStreamSynchronize: { args: [p], returns: i32 },
}).symbols;

let driverFailures = 0;
const ok = (result: number) => {
  if (result !== 0) driverFailures++;
};
const out = new BigUint64Array(1);
const outAddress = ptr(out);

// Our pools. Creating the GPU pool makes the device's primary context current on this thread,
// which the anchors' driver calls then use too.
const gpu = manager.createGPUPool("bench_gpu", Object.assign(new PoolConfig(), { initialSize: 3 * 2 ** 30 }));
const pinned = manager.createPinnedPool("bench_pinned", Object.assign(new PoolConfig(), { initialSize: 600 * MiB }));
const stream = gpu.createStream();
const cpu = manager.createCPUPool("bench_cpu", new PoolConfig());
const libc = dlopen("libc.so.6", { malloc: { args: [u64], returns: p }, free: { args: [p], returns: FFIType.void } }).symbols;

interface Row {
  label: string;
  ours: string;
  anchor: string;
  kind: "time" | "bandwidth";
  goal: number;
  bytes?: number;
  /** "max": ours/anchor at most goal (times); "min": ours/anchor at least goal (bandwidths). */
  sense: "max" | "min";
}
const rows: Row[] = [];

// ---- allocate + free ----
// Every pair below runs untimed first, ours and the driver's alike (util.ts warmedBench).
const sizes = [256, 4096, 64 * 1024, 1 * MiB, 16 * MiB, 64 * MiB];
group("allocate + free", () => {
  for (const size of sizes) {
    const label = size >= MiB ? `${size / MiB} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    warmedBench(`ours allocateRaw+deallocate ${label}`, () => {
      const a = gpu.allocateRaw(size);
      gpu.deallocate(a);
      do_not_optimize(a);
    });
    warmedBench(`ours allocate+free (handle) ${label}`, () => {
      const a = gpu.allocate(size);
      a.free();
    });
    warmedBench(`cuMemAllocAsync+cuMemFreeAsync ${label}`, () => {
      ok(cuda.cuMemAllocAsync(outAddress, size, null));
      ok(cuda.cuMemFreeAsync(read.u64(outAddress, 0), null));
    });
    rows.push({ label: `allocateRaw+deallocate ${label}`, ours: `ours allocateRaw+deallocate ${label}`, anchor: `cuMemAllocAsync+cuMemFreeAsync ${label}`, kind: "time", goal: 0.05, sense: "max" });
    rows.push({ label: `allocate+free (handle) ${label}`, ours: `ours allocate+free (handle) ${label}`, anchor: `cuMemAllocAsync+cuMemFreeAsync ${label}`, kind: "time", goal: 0.05, sense: "max" });
  }
  // Random sizes, 256 B to 64 MiB, log-uniform (a fixed-seed sequence of 4096, the same for both):
  // each pair allocates and frees one size, the next pair the next size.
  let seed = 0x2545f491;
  const randomSizes = Array.from({ length: 4096 }, () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return Math.round(256 * 2 ** (((seed >>> 0) / 2 ** 32) * 18)); // 2^8 .. 2^26
  });
  let ourNext = 0;
  let driverNext = 0;
  warmedBench("ours allocateRaw+deallocate random 256 B..64 MiB", () => {
    const a = gpu.allocateRaw(randomSizes[ourNext++ & 4095]!);
    gpu.deallocate(a);
    do_not_optimize(a);
  });
  warmedBench("cuMemAllocAsync+cuMemFreeAsync random 256 B..64 MiB", () => {
    ok(cuda.cuMemAllocAsync(outAddress, randomSizes[driverNext++ & 4095]!, null));
    ok(cuda.cuMemFreeAsync(read.u64(outAddress, 0), null));
  });
  rows.push({ label: "allocateRaw+deallocate random 256 B..64 MiB", ours: "ours allocateRaw+deallocate random 256 B..64 MiB", anchor: "cuMemAllocAsync+cuMemFreeAsync random 256 B..64 MiB", kind: "time", goal: 0.1, sense: "max" });
  // For context: what one allocate+free through bun:ffi costs on this machine's CPU.
  warmedBench("CPU pool allocateRaw+deallocate 256 B", () => {
    const a = cpu.allocateRaw(256);
    cpu.deallocate(a);
    do_not_optimize(a);
  });
  warmedBench("core mp_alloc+mp_free 256 B, no TypeScript", () => {
    const g = core.mp_alloc(handleOf(cpu), 256);
    core.mp_free(handleOf(cpu), g, 0);
    do_not_optimize(g);
  });
  warmedBench("two empty core calls", () => {
    do_not_optimize(core.mp_abi_version() + core.mp_abi_version());
  });
  warmedBench("libc malloc+free 256 B", () => {
    const a = libc.malloc(256);
    libc.free(a);
    do_not_optimize(a);
  });
  warmedBench("cuMemAlloc+cuMemFree 1 MiB", () => {
    ok(cuda.cuMemAlloc_v2(outAddress, MiB));
    ok(cuda.cuMemFree_v2(read.u64(outAddress, 0)));
  });
});

// ---- NVTX registration, on against off, with no tool attached ----
// Pools keep the registration switch they were made with: one pair made with it on, one with it off.
const nvtxBefore = nvtxStatus();
configureNvtx({ registerMemory: true });
const gpuRegistered = manager.createGPUPool("bench_gpu_nvtx_on", new PoolConfig());
const pinnedRegistered = manager.createPinnedPool("bench_pinned_nvtx_on", new PoolConfig());
configureNvtx({ registerMemory: false });
const gpuUnregistered = manager.createGPUPool("bench_gpu_nvtx_off", new PoolConfig());
const pinnedUnregistered = manager.createPinnedPool("bench_pinned_nvtx_off", new PoolConfig());
configureNvtx({ registerMemory: nvtxBefore.registerMemory });
group("NVTX registration (no tool attached)", () => {
  for (const [kind, on, off] of [["GPU", gpuRegistered, gpuUnregistered], ["pinned", pinnedRegistered, pinnedUnregistered]] as const) {
    for (const [label, pool] of [["on", on], ["off", off]] as const) {
      warmedBench(`${kind} allocateRaw+deallocate 256 B, registration ${label}`, () => {
        const a = pool.allocateRaw(256);
        pool.deallocate(a);
        do_not_optimize(a);
      });
    }
    rows.push({ label: `${kind} 256 B, NVTX registration on vs off`, ours: `${kind} allocateRaw+deallocate 256 B, registration on`, anchor: `${kind} allocateRaw+deallocate 256 B, registration off`, kind: "time", goal: 1.1, sense: "max" });
  }
});

// ---- copies ----
const copyBytes = 256 * MiB;
const deviceBuffer: GPUAllocation = gpu.allocate(copyBytes);
const pinnedBuffer = pinned.allocate(copyBytes);
pinnedBuffer.bytes.fill(3);
const pageable = new Uint8Array(copyBytes).fill(5);
ok(cuda.cuMemHostAlloc(outAddress, copyBytes, 0));
const driverPinned = Number(read.u64(outAddress, 0)) as Pointer;
group("copies of 256 MiB", () => {
  bench("ours host->device from the pinned pool", () => gpu.copyHostToDevice(deviceBuffer, pinnedBuffer));
  bench("cuMemcpyHtoD from cuMemHostAlloc memory", () => ok(cuda.cuMemcpyHtoD_v2(deviceBuffer.ptr, driverPinned, copyBytes)));
  bench("ours device->host into the pinned pool", () => gpu.copyDeviceToHost(pinnedBuffer, deviceBuffer));
  bench("cuMemcpyDtoH into cuMemHostAlloc memory", () => ok(cuda.cuMemcpyDtoH_v2(driverPinned, deviceBuffer.ptr, copyBytes)));
  bench("ours host->device from a pageable Uint8Array", () => gpu.copyHostToDevice(deviceBuffer, pageable));
  bench("cuMemcpyHtoD from a pageable Uint8Array", () => ok(cuda.cuMemcpyHtoD_v2(deviceBuffer.ptr, ptr(pageable), copyBytes)));
  bench("ours device->host into a pageable Uint8Array", () => gpu.copyDeviceToHost(pageable, deviceBuffer));
  bench("cuMemcpyDtoH into a pageable Uint8Array", () => ok(cuda.cuMemcpyDtoH_v2(ptr(pageable), deviceBuffer.ptr, copyBytes)));
});
rows.push({ label: "host->device, pinned", ours: "ours host->device from the pinned pool", anchor: "cuMemcpyHtoD from cuMemHostAlloc memory", kind: "bandwidth", goal: 0.95, bytes: copyBytes, sense: "min" });
rows.push({ label: "device->host, pinned", ours: "ours device->host into the pinned pool", anchor: "cuMemcpyDtoH into cuMemHostAlloc memory", kind: "bandwidth", goal: 0.95, bytes: copyBytes, sense: "min" });
rows.push({ label: "host->device, pageable", ours: "ours host->device from a pageable Uint8Array", anchor: "cuMemcpyHtoD from a pageable Uint8Array", kind: "bandwidth", goal: 3, bytes: copyBytes, sense: "min" });
rows.push({ label: "device->host, pageable", ours: "ours device->host into a pageable Uint8Array", anchor: "cuMemcpyDtoH into a pageable Uint8Array", kind: "bandwidth", goal: 1, bytes: copyBytes, sense: "min" });

// ---- kernels ----
const kernelBytes = 1024 * MiB;
const kernelA = gpu.allocate(kernelBytes);
const kernelB = gpu.allocate(kernelBytes);
gpu.fill(kernelA, 0xab);
group("kernels over 1 GiB", () => {
  bench("ours fill kernel", () => {
    gpu.fill(kernelB, 0xab, undefined, { stream });
    stream.synchronize();
  });
  bench("ours check kernel (pattern)", () => {
    do_not_optimize(core.mp_gpu_check_pattern(0, kernelA.ptr, 0xab, kernelBytes));
  });
  bench("cuMemcpyDtoD", () => {
    ok(cuda.cuMemcpyDtoD_v2(kernelB.ptr, kernelA.ptr, kernelBytes));
    ok(cuda.cuCtxSynchronize());
  });
});
// The D2D copy moves 2 bytes (a read and a write) per byte copied; fill writes 1, check reads 1.
rows.push({ label: "fill kernel (writes) vs D2D (reads+writes)", ours: "ours fill kernel", anchor: "cuMemcpyDtoD", kind: "bandwidth", goal: 0.8, bytes: kernelBytes, sense: "min" });
rows.push({ label: "check kernel (reads) vs D2D (reads+writes)", ours: "ours check kernel (pattern)", anchor: "cuMemcpyDtoD", kind: "bandwidth", goal: 0.8, bytes: kernelBytes, sense: "min" });

warmUp();
const average = timesByName(await run());

const gbps = (bytes: number, ns: number) => bytes / ns; // bytes per ns = GB/s
const tableRows = rows.map((row) => {
  const ours = average.get(row.ours) ?? NaN;
  const anchor = average.get(row.anchor) ?? NaN;
  if (row.kind === "time") {
    const ratio = ours / anchor;
    return [row.label, `${ours.toFixed(1)} ns`, `${anchor.toFixed(0)} ns`, formatRatio(ratio), `<= ${row.goal}`, ratio <= row.goal ? "yes" : "no"];
  }
  const anchorTraffic = row.anchor === "cuMemcpyDtoD" ? 2 : 1;
  const oursRate = gbps(row.bytes!, ours);
  const anchorRate = gbps(row.bytes! * anchorTraffic, anchor);
  const ratio = oursRate / anchorRate;
  return [row.label, `${oursRate.toFixed(1)} GB/s`, `${anchorRate.toFixed(1)} GB/s`, formatRatio(ratio), `>= ${row.goal}`, ratio >= row.goal ? "yes" : "no"];
});

console.log(`\nGPU benchmarks: ${device.name}, ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}`);
console.log(table(["figure", "ours", "anchor", "ratio", "goal", "met"], tableRows));
console.log(`cuMemAlloc+cuMemFree 1 MiB (for reference): ${((average.get("cuMemAlloc+cuMemFree 1 MiB") ?? NaN) / 1000).toFixed(1)} µs a pair`);
const context = ["CPU pool allocateRaw+deallocate 256 B", "core mp_alloc+mp_free 256 B, no TypeScript", "two empty core calls", "libc malloc+free 256 B"];
console.log(`on this machine's CPU: ${context.map((name) => `${name} ${(average.get(name) ?? NaN).toFixed(1)} ns`).join("; ")}`);
console.log(`driver calls that failed in the anchors: ${driverFailures}`);
console.log(`NVTX: ${JSON.stringify(nvtxStatus())} (registration rows: a pool made with it on against one made with it off)`);

for (const a of [deviceBuffer, kernelA, kernelB]) a.free();
pinnedBuffer.free();
stream.destroy();
manager.destroyPool("bench_gpu");
manager.destroyPool("bench_pinned");
manager.destroyPool("bench_cpu");
for (const name of ["bench_gpu_nvtx_on", "bench_pinned_nvtx_on", "bench_gpu_nvtx_off", "bench_pinned_nvtx_off"]) manager.destroyPool(name);
