/**
 * Eight Workers churn one shared pool at once, for every shared kind (Variable and FixedSize x
 * threadSafety "mutex" and "lockFree" x threadLocalCache off and on x growth off (maxSize tight,
 * so OutOfMemoryError comes) and on): random allocate (raw, or a handle freed by handle, view or
 * pointer) and free, blocks handed to other Workers
 * through shared memory and freed there, trim(), getStats() and snapshot() in the Workers and in
 * the main thread while they run, each reading's figures checked against each other (peaks at
 * least the present, live allocations the allocations less the frees, bytes in use the bytes
 * allocated less those freed, within bytesReserved within maxSize, fragmentation a fraction). Every block is stamped over all its bytes and checked before its
 * free (two live blocks overlapping break a stamp). Checked exactly after the Workers end and the
 * caches are flushed: no stamp damaged, no error but OutOfMemoryError, bytesInUse, liveAllocations
 * and cachedBytes 0, the pool's allocation and free counts and byte totals equal to the Workers',
 * failedAllocations equal to the OutOfMemoryErrors they saw, no leak listed. Attacked in
 * session 6 and held. Each run in a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const child = join(import.meta.dir, "..", "fixtures", "attack", "attack15-chaos-child.ts");

for (const kind of ["Variable", "FixedSize"]) {
  for (const threadSafety of ["mutex", "lockFree"]) {
    for (const cache of [false, true]) {
      for (const growth of [0, 2]) {
        test(`${kind} ${threadSafety}${cache ? " + threadLocalCache" : ""}, growth ${growth}: 8 Workers leave the statistics exact`, async () => {
          const run = Bun.spawn([process.execPath, child, kind, threadSafety, String(cache), String(growth), "8"], { stdout: "pipe", stderr: "pipe" });
          const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
          await run.exited;
          expect({ exitCode: run.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
          const figures = JSON.parse(stdout);
          expect(figures.errors).toEqual([]);
          expect(figures.readings).toEqual([]);
          expect(figures.damaged).toBe(0);
          expect(figures.allocations).toBeGreaterThan(3_000);
          expect(figures.stats).toEqual({
            allocationCount: figures.allocations,
            freeCount: figures.frees,
            bytesInUse: 0,
            liveAllocations: 0,
            cachedBytes: 0,
            failedAllocations: figures.outOfMemory,
            bytesAllocatedTotal: figures.bytesAllocated,
            bytesFreedTotal: figures.bytesFreed,
            bytesReserved: figures.stats.bytesReserved,
          });
          expect(figures.stats.bytesReserved).toBeLessThanOrEqual(figures.maxSize);
          expect(figures.leaks).toBe(0);
        }, 30_000);
      }
    }
  }
}
