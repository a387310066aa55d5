// The seed's "Basic GPU Memory Pool", as the design document writes it: a FixedSize device pool of
// 1024-byte blocks, a 1024 * 10-byte allocation from it (a run of ten contiguous blocks), host
// memory from the default CPU pool, copies both ways, and the GPU helper functions. Needs an NVIDIA
// GPU and its driver; without one it says what is missing and exits 0.
import { allocate, allocateGPU, deallocate, deallocateGPU, GPUUnavailableError, MemoryPoolManager } from "bun-memory-pool";

const manager = MemoryPoolManager.getInstance();
let gpu;
try {
  gpu = manager.createGPUPool("main_gpu_pool", { allocatorType: "FixedSize", blockSize: 1024, deviceId: 0, initialSize: 2 * 1024 * 1024 });
} catch (err) {
  if (!(err instanceof GPUUnavailableError)) throw err;
  console.log(`No GPU here: ${err.message}`);
  process.exit(0);
}
const device = manager.listDevices()[0]!;
console.log(`GPU pool 'main_gpu_pool' on ${device.name} (${(device.totalMemory / 2 ** 30).toFixed(0)} GiB).`);

const bytes = 1024 * 10;
const d = gpu.allocate(bytes); // device memory: an address and a size, no host view
const h = allocate(bytes); // host memory from the default CPU pool: a Uint8Array
h.forEach((_, i) => (h[i] = i % 251));
gpu.copyHostToDevice(d, h, bytes);
const back = allocate(bytes);
gpu.copyDeviceToHost(back, d, bytes);
console.log(`Copied ${bytes} bytes to the device and back; round trip intact: ${back.every((v, i) => v === h[i])}`);
gpu.deallocate(d);
deallocate(h);
deallocate(back);

// The helpers: a device array of 1000 floats from the default GPU pool.
const deviceArray = allocateGPU(Float32Array, 1000);
console.log(`allocateGPU(Float32Array, 1000): ${deviceArray.length} floats, ${deviceArray.size} bytes at device address 0x${deviceArray.ptr.toString(16)}`);
deallocateGPU(deviceArray);

console.log(gpu.getStats().getStatsString());
manager.destroyPool("main_gpu_pool");
manager.destroyPool("default_gpu_pool");
