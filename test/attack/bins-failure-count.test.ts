/**
 * failedAllocations counts the allocations a caller saw fail, once each. Where a Variable pool's
 * JavaScript bins hold blocks, a request the core cannot place makes the bins give their blocks
 * back and the core is asked once more (src/size_bins.ts): that first "no memory" is not the
 * caller's, and was counted as a second failure (PyTorch's out-of-memory-and-retry test, ported in
 * test/attack/suite-pytorch-cuda.test.ts, saw it on GPU pools).
 */
import { expect, test } from "bun:test";
import { OutOfMemoryError, PoolConfig } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const MiB = 1 << 20;
const cpuPool = cpuPoolsPerTest();

test("a default Variable pool: a request that succeeds after the bins give their blocks back counts no failure; one that fails counts one", () => {
  const pool = cpuPool("bins failure count", Object.assign(new PoolConfig(), { allocatorType: "Variable", initialSize: 16 * MiB, maxSize: 16 * MiB, growth: 0 }));
  const held: number[] = [];
  let error: unknown;
  for (let i = 0; i < 64; i++) {
    try {
      held.push(pool.allocateRaw(MiB) as number);
    } catch (err) {
      error = err;
      break;
    }
  }
  expect(error).toBeInstanceOf(OutOfMemoryError);
  expect(pool.getStats().failedAllocations).toBe(1);
  // Four blocks freed go to the bins; a 4 MiB request finds no room until they go back.
  for (const address of held.splice(0, 4)) pool.deallocate(address);
  expect(pool.getStats().cachedBytes).toBeGreaterThan(0);
  const retried = pool.allocateRaw(4 * MiB);
  expect(pool.getStats().failedAllocations).toBe(1);
  // Full again, with a block in the bins: the request fails after the retry too, counted once.
  pool.deallocate(held.pop()!);
  expect(pool.getStats().cachedBytes).toBeGreaterThan(0);
  expect(thrown(() => pool.allocateRaw(8 * MiB))).toBeInstanceOf(OutOfMemoryError);
  expect(pool.getStats().failedAllocations).toBe(2);
  pool.deallocate(retried);
  for (const address of held) pool.deallocate(address);
  pool.trim(); // the bins give their blocks back
  expect(pool.getStats()).toMatchObject({ bytesInUse: 0, liveAllocations: 0, cachedBytes: 0, failedAllocations: 2 });
});
