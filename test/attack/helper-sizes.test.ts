/**
 * The seed's helpers at sizes a view cannot have. Found by attacking main: allocate(Int32Array,
 * 2 ** 31) and allocate(2 ** 32 + 16) allocated their 8 GiB and 4 GiB in the default pool, then
 * failed to make the view (a view is at most 4 GiB) and threw, leaving the blocks allocated with
 * no handle anywhere to free them: 12 GiB of the default pool gone for good.
 */
import { expect, test } from "bun:test";
import { allocate, deallocate, InvalidSizeError, MemoryPoolManager } from "../../src/index";
import { thrown } from "../support/thrown";

test("a helper whose view cannot be made frees what it allocated before it throws", () => {
  const before = MemoryPoolManager.getInstance().defaultCPUPool.getStats();
  expect(thrown(() => allocate(Int32Array, 2 ** 31))).toBeInstanceOf(InvalidSizeError);
  expect(thrown(() => allocate(BigUint64Array, 2 ** 29 + 1))).toBeInstanceOf(InvalidSizeError);
  expect(thrown(() => allocate(2 ** 32 + 16))).toBeInstanceOf(InvalidSizeError);
  const after = MemoryPoolManager.getInstance().defaultCPUPool.getStats();
  expect(after.liveAllocations).toBe(before.liveAllocations);
  expect(after.bytesInUse).toBe(before.bytesInUse);
  // The largest view there is still works, and goes back.
  const largest = allocate(Uint32Array, 2 ** 30);
  expect(largest.byteLength).toBe(2 ** 32);
  largest[2 ** 30 - 1] = 7;
  deallocate(largest);
  expect(MemoryPoolManager.getInstance().defaultCPUPool.getStats().liveAllocations).toBe(before.liveAllocations);
});

// Found by attack10: the helpers still placed such a request before they refused it, so a refused
// allocate(Int32Array, 2 ** 31) committed 8 GiB to the default pool (its bytesReserved grew by that
// until a trim) and counted an allocation and a free that the caller never saw.
test("a helper refuses a request no view can span before the pool places it", () => {
  const pool = MemoryPoolManager.getInstance().defaultCPUPool;
  const before = pool.getStats();
  for (const request of [() => allocate(Int32Array, 2 ** 31), () => allocate(Float64Array, 2 ** 29 + 1), () => allocate(2 ** 32 + 1)]) {
    const error = thrown(request);
    expect(error).toBeInstanceOf(InvalidSizeError);
    expect(error.message).toContain("at most 4 GiB");
  }
  const after = pool.getStats();
  expect(after.allocationCount).toBe(before.allocationCount);
  expect(after.freeCount).toBe(before.freeCount);
  expect(after.bytesAllocatedTotal).toBe(before.bytesAllocatedTotal);
  expect(after.bytesReserved).toBe(before.bytesReserved);
});
