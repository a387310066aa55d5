/**
 * A FixedSize pool's limits, said where they are known. (1) A maxSize that cannot hold one block
 * (blockSize with its canaries past it) is a setting no pool can have: it was an OutOfMemoryError
 * ("could not commit the initial 65536 bytes") from createCPUPool, now a ConfigError naming maxSize
 * and its value, from the core, the one place that knows what a block takes. (2) A request that
 * no run of whole blocks in one region could ever hold, though not over maxSize, was an
 * OutOfMemoryError ("no run of 349 free blocks ... cannot grow") on an empty pool, which says that
 * freeing memory would help; it is an InvalidSizeError, and the largest request the pool can serve
 * is served by an empty pool.
 */
import { expect, test } from "bun:test";
import { ConfigError, InvalidSizeError, MemoryPoolManager, OutOfMemoryError, PoolConfig } from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const KiB = 1024;
const MiB = 1024 * KiB;

test("a maxSize that cannot hold one block with its canaries is a ConfigError naming maxSize and its value", () => {
  for (const config of [
    { blockSize: 64 * KiB, initialSize: 64 * KiB, maxSize: 64 * KiB, canaries: true },
    { blockSize: 64 * KiB, initialSize: 64 * KiB, maxSize: 64 * KiB, canaries: true, alignment: 4096 },
    { blockSize: 2 ** 32 - 1, initialSize: 2 ** 32 - 1, maxSize: 2 ** 32 - 1, canaries: true },
  ]) {
    const error = thrown(() => manager.createCPUPool("leftovers2-limits-refused", Object.assign(PoolConfig.FixedSizeCPU(64), config)));
    expect(error, JSON.stringify(config)).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe("maxSize");
    expect((error as ConfigError).value).toBe(config.maxSize);
    expect(error!.message).toContain(`PoolConfig.maxSize = ${config.maxSize}: a FixedSize pool's block of ${config.blockSize} bytes takes`);
    expect(manager.hasPool("leftovers2-limits-refused")).toBe(false);
  }
  // With room for the block and its canaries, the same pool is made and serves a block.
  using pool = manager.createCPUPool("leftovers2-limits-roomy", Object.assign(PoolConfig.FixedSizeCPU(64 * KiB), { initialSize: 64 * KiB, maxSize: 192 * KiB, canaries: true }));
  pool.allocate(64 * KiB).free();
});

/** The largest request an empty pool of `config` serves, found by bisection over what it answers. */
function largestServed(config: Partial<PoolConfig>, upTo: number): number {
  const answer = (size: number) => {
    using pool = manager.createCPUPool("leftovers2-limits-probe", Object.assign(PoolConfig.FixedSizeCPU(64), config));
    try {
      pool.deallocate(pool.allocateRaw(size));
      return "served";
    } catch (err) {
      return err;
    }
  };
  let low = 1;
  let high = upTo;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (answer(middle) === "served") low = middle;
    else high = middle - 1;
  }
  // Past it: an InvalidSizeError, never an OutOfMemoryError on an empty pool.
  const past = answer(low + 1);
  expect(past, `${JSON.stringify(config)}: ${low + 1} bytes`).toBeInstanceOf(InvalidSizeError);
  expect((past as Error).message).toContain(`sizes run from 1 to ${low}`);
  return low;
}

test("a request no run of whole blocks could hold is an InvalidSizeError; the largest one an empty pool serves", () => {
  const stride = 3008; // blockSize 3000 at 16-byte alignment
  // All of maxSize in its first region: 348 blocks.
  expect(largestServed({ blockSize: 3000, initialSize: MiB, maxSize: MiB }, MiB)).toBe(Math.floor(MiB / stride) * stride);
  // A 64 KiB first region, and room for one region of the rest beside it: 326 blocks, for every placement.
  for (const threadSafety of ["none", "mutex", "lockFree"] as const) {
    expect(largestServed({ blockSize: 3000, initialSize: 64 * KiB, maxSize: MiB, threadSafety }, MiB)).toBe(Math.floor((MiB - 64 * KiB) / stride) * stride);
  }
});

test("a request the pool could hold once blocks are free stays an OutOfMemoryError", () => {
  using pool = manager.createCPUPool("leftovers2-limits-full", Object.assign(PoolConfig.FixedSizeCPU(3000), { initialSize: MiB, maxSize: MiB }));
  const held = pool.allocateRaw(3000);
  expect(thrown(() => pool.allocateRaw(348 * 3008))).toBeInstanceOf(OutOfMemoryError);
  pool.deallocate(held);
  pool.deallocate(pool.allocateRaw(348 * 3008));
});
