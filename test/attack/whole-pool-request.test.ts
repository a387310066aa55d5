/**
 * "Allocations that exactly fill a pool": a Variable pool made at its maxSize (growth off) asked for
 * all of it in one request. Found by attack10: the core refused any request over maxSize less the
 * alignment as an InvalidSizeError ("sizes run from 1 to 1048560" for a 1 MiB pool), though the
 * empty pool holds it (the same pool without a maxSize served it in the same 1 MiB region). The
 * whole reservation is now a valid size: served when the pool is empty, OutOfMemoryError when
 * another allocation is live, InvalidSizeError one byte past it.
 */
import { expect, test } from "bun:test";
import { InvalidSizeError, MemoryPoolManager, OutOfMemoryError, type PoolOptions } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const WHOLE = 1 << 20;

const modes: [string, PoolOptions][] = [
  ["none (the JavaScript bins)", {}],
  ["mutex", { threadSafety: "mutex" }],
  ["lockFree (shards)", { threadSafety: "lockFree" }],
  ["alignment 4096", { alignment: 4096 }],
];

for (const [mode, options] of modes) {
  test(`${mode}: a Variable pool of maxSize 1 MiB serves one allocation of 1 MiB`, () => {
    const p = pool(`attack-whole-${mode}`, { allocatorType: "Variable", initialSize: WHOLE, maxSize: WHOLE, growth: 0, ...options });
    expect(thrown(() => p.allocate(WHOLE + 1))).toBeInstanceOf(InvalidSizeError);
    const whole = p.allocate(WHOLE);
    whole.bytes.fill(1);
    expect(whole.bytes[WHOLE - 1]).toBe(1);
    expect(thrown(() => p.allocate(16))).toBeInstanceOf(OutOfMemoryError);
    whole.free();
    const small = p.allocate(16);
    expect(thrown(() => p.allocate(WHOLE))).toBeInstanceOf(OutOfMemoryError);
    small.free();
    MemoryPoolManager.getInstance().flushThreadCaches();
    p.allocate(WHOLE).free();
    expect(p.getStats()).toMatchObject({ liveAllocations: 0, bytesInUse: 0, bytesReserved: WHOLE });
  });
}
