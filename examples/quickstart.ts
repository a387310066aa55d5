/**
 * Quick start: a CPU memory pool in a few lines. Run it with `npm start` (or `bun examples/quickstart.ts`).
 */
import { allocate, deallocate, DoubleFreeError, MemoryPoolManager, PoolConfig } from "bun-memory-pool";

const manager = MemoryPoolManager.getInstance();

// 1. A pool of 1 KiB blocks, with 2 MiB reserved up front.
const config = new PoolConfig();
config.allocatorType = PoolConfig.AllocatorType.FixedSize;
config.blockSize = 1024;
config.initialSize = 2 * 1024 * 1024;
const pool = manager.createCPUPool("main_cpu_pool", config);
console.log(`Created pool '${pool.name}' (${config.allocatorType}, ${config.blockSize}-byte blocks).`);

// 2. An allocation is a handle: .ptr for native code, .bytes and .as() for JavaScript.
const data = pool.allocate(1024);
data.bytes.set([1, 2, 3, 4]);
const floats = data.as(Float32Array);
floats[255] = 3.5;
console.log(`Allocated ${data.size} bytes at 0x${data.ptr.toString(16)}; first bytes ${data.bytes.subarray(0, 4).join(", ")}, ${floats.length} floats, the last one ${floats[255]}.`);

// 3. `using` frees a scratch allocation at the end of its block.
{
  using scratch = pool.allocate(512);
  scratch.bytes.fill(0xff);
  console.log(`Scratch allocation in use: ${pool.getStats().liveAllocations} live allocations.`);
}
console.log(`After the block: ${pool.getStats().liveAllocations} live allocation.`);

// 4. Hot paths: a bare pointer, no handle object.
const raw = pool.allocateRaw(64);
pool.deallocate(raw);
console.log(`allocateRaw gave the pointer 0x${raw.toString(16)}; deallocate returned it.`);

// 5. The helper functions use a default CPU pool and hand out typed arrays.
const ints = allocate(Int32Array, 100);
ints.forEach((_, i) => (ints[i] = i * i));
const buffer = allocate(1024);
console.log(`allocate(Int32Array, 100) gave ${ints.length} ints (ints[99] = ${ints[99]}); allocate(1024) gave a ${buffer.constructor.name} of ${buffer.length} bytes.`);
deallocate(ints);
deallocate(buffer);

// 6. Presets for common set-ups.
const fast = manager.createCPUPool("fast_pool", PoolConfig.HighPerformanceCPU());
const small = manager.createCPUPool("small_blocks", PoolConfig.FixedSizeCPU(512));
const fastBlock = fast.allocate(100_000);
const smallBlock = small.allocate(512);
console.log(`Preset pools: '${fast.name}' (${fast.config.allocatorType}, grows x${fast.config.growth}) and '${small.name}' (${small.config.allocatorType}, ${small.config.blockSize}-byte blocks).`);
fastBlock.free();
smallBlock.free();

// 7. Mistakes are typed errors with a stable code, never a crash.
const oops = pool.allocate(16);
oops.free();
try {
  oops.free();
} catch (err) {
  if (!(err instanceof DoubleFreeError)) throw err;
  console.log(`Freeing twice is caught: ${err.name} (code ${err.code}).`);
}

// 8. Statistics (`data` is still live) and the list of pools.
console.log(pool.getStats().getStatsString());
console.log(`Pools: ${manager.listPools().map((p) => `${p.name} (${p.kind})`).join(", ")}.`);

// 9. Destroying a pool releases its memory, and frees what is still allocated in it.
for (const { name } of manager.listPools()) manager.destroyPool(name);
console.log(`Destroyed every pool; ${manager.listPools().length} left.`);
