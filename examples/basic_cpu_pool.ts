/**
 * Basic CPU memory pool (the seed's first example): create a pool, allocate, use the memory, free it,
 * and see what the pool says when a handle is misused.
 *
 *   bun examples/basic_cpu_pool.ts
 */
import {
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  MemoryPoolManager,
  PoolConfig,
  PoolExistsError,
  PoolNotFoundError,
  UseAfterFreeError,
} from "bun-memory-pool";

const manager = MemoryPoolManager.getInstance();

// A fixed-size pool: every block has 1024 bytes, so allocating and freeing take constant time.
const config = new PoolConfig();
config.allocatorType = PoolConfig.AllocatorType.FixedSize;
config.blockSize = 1024;
config.initialSize = 2 * 1024 * 1024;
const cpuPool = manager.createCPUPool("main_cpu_pool", config);
console.log(`Created CPU pool '${cpuPool.name}': ${config.blockSize}-byte blocks, ${config.initialSize / 1024 / 1024} MiB reserved.`);

// Allocate a block and write to it through typed views of the same bytes.
const data = cpuPool.allocate(1024);
const values = data.as(Float64Array);
for (let i = 0; i < values.length; i++) values[i] = i / 2;
const sum = values.reduce((a, b) => a + b, 0);
console.log(`Allocated ${data.size} bytes: ${values.length} doubles written, their sum is ${sum}.`);

// A DataView over .bytes reads the same memory as a record of mixed fields.
const record = new DataView(data.bytes.buffer, data.bytes.byteOffset, data.size);
record.setUint32(0, 0xcafe, true);
console.log(`The first 4 bytes, written through a DataView, read back as 0x${record.getUint32(0, true).toString(16)}.`);

// Smaller requests also take one block; larger ones take a run of contiguous blocks.
const small = cpuPool.allocate(100);
console.log(`A 100-byte allocation takes one ${config.blockSize}-byte block: ${cpuPool.getStats().bytesAllocated} bytes in blocks for ${cpuPool.getStats().bytesInUse} bytes asked.`);
const large = cpuPool.allocate(1024 * 10);
large.bytes.fill(1);
console.log(`A ${large.size}-byte allocation takes a run of ${large.size / config.blockSize} contiguous blocks: ${cpuPool.getStats().bytesAllocated} bytes in blocks now.`);
try {
  cpuPool.allocate(0);
} catch (err) {
  if (!(err instanceof InvalidSizeError)) throw err;
  console.log(`Asking for 0 bytes fails: ${err.code}: ${err.message}`);
}

// Free with the handle or through the pool; both are the same thing.
large.free();
small.free();
cpuPool.deallocate(data);
console.log(`Freed all three allocations; ${cpuPool.getStats().liveAllocations} live.`);

// A freed handle refuses access instead of reaching memory that is someone else's now.
try {
  data.bytes[0] = 1;
} catch (err) {
  if (!(err instanceof UseAfterFreeError)) throw err;
  console.log(`Writing after free is caught: ${err.code}.`);
}

// A pointer into the middle of a block was never given out.
const block = cpuPool.allocate(1024);
try {
  cpuPool.deallocate(block.ptr + 16);
} catch (err) {
  if (!(err instanceof InvalidPointerError)) throw err;
  console.log(`Freeing an interior pointer is caught: ${err.code}: ${err.message}`);
}
block.free();

// Names are unique; getPool finds a pool by name (from any Worker too).
try {
  manager.createCPUPool("main_cpu_pool", config);
} catch (err) {
  if (!(err instanceof PoolExistsError)) throw err;
  console.log(`A second pool named 'main_cpu_pool' is refused: ${err.code}.`);
}
console.log(`getPool('main_cpu_pool') returns the same pool: ${manager.getPool("main_cpu_pool") === cpuPool}.`);

console.log(cpuPool.getStats().getStatsString());

manager.destroyPool("main_cpu_pool");
try {
  manager.getPool("main_cpu_pool");
} catch (err) {
  if (!(err instanceof PoolNotFoundError)) throw err;
  console.log(`After destroyPool the name is gone: ${err.code}.`);
}
// Every library error extends MemoryPoolError, so one catch can handle them all.
console.log(`PoolNotFoundError is a MemoryPoolError: ${new PoolNotFoundError("x") instanceof MemoryPoolError}.`);
