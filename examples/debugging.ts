/**
 * Debugging with a pool: PoolConfig.DebugCPU() turns every check on (or set the switches one by
 * one; MEMORY_POOL_DEBUG=1 does it for every pool without a change to the code). Run it with
 * `bun examples/debugging.ts`.
 *
 * What this example cannot show without dying: with guard pages, a native write past the end of
 * an allocation (or into freed memory) faults at that very write, and before the process ends a
 * report on stderr names the allocation, its size and the JavaScript stack that allocated it.
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { BoundaryViolationError, MemoryPoolManager, PoolConfig, UseAfterFreeError } from "bun-memory-pool";

// Native code, as a C library handed a pointer would be: libc's memset.
const libc = dlopen("libc.so.6", { memset: { args: [FFIType.ptr, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
const manager = MemoryPoolManager.getInstance();
const pool = manager.createCPUPool("debug_pool", PoolConfig.DebugCPU());
const firstFrame = (stack: string | undefined) => stack?.split("\n")[0]?.trim() ?? "(no stack)";

// 1. An overrun too short to reach the guard page lands in the canaries: the free finds it.
const small = pool.allocate(13);
libc.symbols.memset(small.ptr as Pointer, 0, 14); // one byte too many
try {
  small.free();
} catch (err) {
  if (!(err instanceof BoundaryViolationError)) throw err;
  console.log(`Caught ${err.code}: allocation #${err.allocationId} (${err.size} bytes), damaged ${err.side} it at offset ${err.offset}.`);
  console.log(`It was allocated ${firstFrame(err.allocationStack)}.`);
}

// 2. Views cannot outlive their memory: freeing detaches them, and the handle refuses.
const block = pool.allocate(64);
const view = block.bytes;
block.free();
view[0] = 1; // goes nowhere
let refused = "";
try {
  block.bytes;
} catch (err) {
  if (!(err instanceof UseAfterFreeError)) throw err;
  refused = err.code;
}
console.log(`After free the old view has ${view.length} bytes and reads ${view[0]}; the handle throws ${refused}.`);

// 3. What is live, and what happened lately.
const kept = pool.allocate(100);
const [leak] = pool.getLeaks();
console.log(`getLeaks(): #${leak!.id}, ${leak!.size} bytes, allocated ${firstFrame(leak!.stack)}.`);
console.log(`getHistory(): ${pool.getHistory().map((event) => `${event.kind} #${event.id}`).join(", ")}.`);
kept.free();
pool.check(); // every canary intact now: no throw

// 4. Cheap enough for production: guard pages on a random sample of allocations.
const sampled = manager.createCPUPool("sampled_pool", PoolConfig.SampledGuardsCPU());
console.log(`SampledGuardsCPU(): one allocation in ${sampled.config.guardSampleRate} gets guard pages.`);

manager.destroyPool("debug_pool"); // with leakReport on, anything still live would be reported here
manager.destroyPool("sampled_pool");
console.log(`Destroyed both pools; ${manager.listPools().length} left.`);
