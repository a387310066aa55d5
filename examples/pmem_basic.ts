/**
 * Basic PMEM memory pool (the C++ API's example): a pool whose memory is a file mapped with libpmem.
 * What you allocate and persist survives the process; named roots let the next process find it.
 *
 *   PMEM_IS_PMEM_FORCE=1 bun examples/pmem_basic.ts [pool file]
 *
 * Without persistent memory, PMEM_IS_PMEM_FORCE=1 and a file on /dev/shm (or any file system)
 * emulate it: persist() then flushes CPU caches as it would on PMEM. Without the variable it calls
 * msync, which is correct on any file system, only slower. Set it when the process starts: libpmem
 * reads it once, and assigning process.env in Bun does not reach it.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryPoolManager, PMEMRootError, PoolConfig } from "bun-memory-pool";
import { exampleArgs } from "./support/cli.ts";

const usage = `Usage: PMEM_IS_PMEM_FORCE=1 bun examples/pmem_basic.ts [pool file]

Creates (or reopens) a PMEM pool in the file, writes and persists data, publishes it as roots.
The pool file defaults to my_persistent_pool.pool in /dev/shm (or the temporary folder).

Options:
  -h, --help  show this help`;
const { positionals } = exampleArgs(usage, { options: { help: { type: "boolean", short: "h" } }, allowPositionals: true });
const path = positionals[0] ?? join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "my_persistent_pool.pool");
const manager = MemoryPoolManager.getInstance();

// A PMEM pool: its file is created with initialSize bytes, or opened if it exists.
const config = new PoolConfig();
config.pmemPoolPath = path;
config.initialSize = 2 * 1024 * 1024;
const pmemPool = manager.createPMEMPool("persistent_pool", config);
console.log(`${pmemPool.created ? "Created" : "Opened"} PMEM pool 'persistent_pool': ${config.initialSize / 1024 / 1024} MiB file.`);
console.log(pmemPool.isPmem ? "Persistent memory (real or PMEM_IS_PMEM_FORCE=1): persist() flushes CPU caches." : "Not persistent memory: persist() calls msync (set PMEM_IS_PMEM_FORCE=1 to emulate PMEM).");

// Allocate, write, persist: durable once persist returns.
const data = pmemPool.allocate(1024);
new TextEncoder().encodeInto("This data persists!", data.bytes);
pmemPool.persist(data, 20);
console.log(`Wrote "${new TextDecoder().decode(data.bytes.subarray(0, 19))}" and persisted its 20 bytes.`);

// Publish it under a name, so a new process finds it; the root's previous block is freed in the same step.
const previous = pmemPool.getRoot("greeting");
pmemPool.setRoot("greeting", data, { freePrevious: true });
console.log(`Published it as root 'greeting'${previous ? " (replacing the one a previous run left)" : ""}.`);

// root(): get the block published as 'samples', or make a zero-filled one and publish it, atomically.
const samples = pmemPool.root("samples", 8 * 512);
const values = Float64Array.from({ length: 512 }, (_, i) => Math.sin(i / 10));
pmemPool.memcpyPersist(samples, values); // bulk writes: copy and persist in one call
console.log(`Copied ${values.length} doubles into root 'samples' with memcpyPersist; the last is ${samples.as(Float64Array)[511]!.toFixed(4)}.`);

// Many small writes: flush each, then drain once.
const counters = pmemPool.allocate(64);
const words = counters.as(Uint32Array);
for (let i = 0; i < words.length; i++) {
  words[i] = i * i;
  pmemPool.flush(counters, 4, i * 4);
}
pmemPool.drain();
console.log(`Wrote ${words.length} counters, flushed each and drained once.`);
pmemPool.deallocate(counters);

// A published block cannot be freed out from under its root.
try {
  pmemPool.deallocate(data);
} catch (err) {
  if (!(err instanceof PMEMRootError)) throw err;
  console.log(`Freeing a published block is refused: ${err.code}.`);
}

console.log(pmemPool.getStats().getStatsString());
console.log(`Roots: ${pmemPool.roots().sort().join(", ")}.`);

// Closing keeps the file: run examples/pmem_reopen.ts to see a new process find the data.
manager.destroyPool("persistent_pool");
console.log(`Closed the pool; ${path} keeps its data for the next process.`);
