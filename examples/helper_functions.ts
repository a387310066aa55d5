/**
 * Helper functions (the seed's allocate<int>(100) / deallocate): typed arrays from the manager's
 * default CPU pool, for code that wants memory without managing a pool of its own.
 *
 *   bun examples/helper_functions.ts
 */
import { allocate, deallocate, DoubleFreeError, InvalidPointerError, InvalidSizeError, MemoryPoolManager } from "bun-memory-pool";

// allocate(Int32Array, 100) is the seed's allocate<int>(100): 100 ints, as an Int32Array.
const array = allocate(Int32Array, 100);
for (let i = 0; i < array.length; i++) array[i] = i * 3;
const total = array.reduce((a, b) => a + b, 0);
console.log(`allocate(Int32Array, 100) gave an ${array.constructor.name} of ${array.length} elements (${array.byteLength} bytes); their sum is ${total}.`);

// Any typed array type works; the memory lives in the pool, not on the JavaScript heap.
const samples = allocate(Float64Array, 1000);
for (let i = 0; i < samples.length; i++) samples[i] = Math.sin(i / 100);
const peak = Math.max(...samples);
console.log(`allocate(Float64Array, 1000) gave ${samples.length} doubles; the largest is ${peak.toFixed(4)}.`);

// allocate(n) gives n raw bytes as a Uint8Array.
const text = allocate(64);
const { written } = new TextEncoder().encodeInto("Hello from the pool!", text);
console.log(`allocate(64) gave a ${text.constructor.name} of ${text.length} bytes; it now holds "${new TextDecoder().decode(text.subarray(0, written))}".`);

// They all come from one pool, the manager's default CPU pool, made on first use.
const pool = MemoryPoolManager.getInstance().defaultCPUPool;
const stats = pool.getStats();
console.log(`The default pool '${pool.name}' holds ${stats.liveAllocations} allocations, ${stats.bytesInUse} bytes in use.`);

// deallocate() gives each array back.
deallocate(array);
deallocate(samples);
deallocate(text);
console.log(`After deallocate: ${pool.getStats().liveAllocations} live allocations in '${pool.name}'.`);

// Misuse is a typed error.
const fresh = allocate(Uint32Array, 8);
deallocate(fresh);
try {
  deallocate(fresh);
} catch (err) {
  if (!(err instanceof DoubleFreeError)) throw err;
  console.log(`Deallocating twice: ${err.code}.`);
}
try {
  deallocate(new Uint8Array(16)); // an ordinary JavaScript array, not from the pool
} catch (err) {
  if (!(err instanceof InvalidPointerError)) throw err;
  console.log(`Deallocating an array the pool never gave out: ${err.code}.`);
}
const whole = allocate(Int32Array, 10);
try {
  deallocate(whole.subarray(2)); // starts inside the allocation
} catch (err) {
  if (!(err instanceof InvalidPointerError)) throw err;
  console.log(`Deallocating a subarray from the middle: ${err.code}.`);
}
deallocate(whole);
try {
  allocate(Int32Array, 0);
} catch (err) {
  if (!(err instanceof InvalidSizeError)) throw err;
  console.log(`Asking for 0 elements: ${err.code}: ${err.message}`);
}

// The default pool is an ordinary pool: destroy it when done (the next allocate() makes a new one).
MemoryPoolManager.getInstance().destroyPool(pool.name);
console.log(`Destroyed '${pool.name}'; ${MemoryPoolManager.getInstance().listPools().length} pools left.`);
