/**
 * A request past 2^52 bytes names the pool's limit, as every other request over it does. Found
 * while porting AddressSanitizer's allocator_returns_null / allocation-size-too-big cases (ASan:
 * "requested allocation size 0x... exceeds maximum supported size of 0x..."): allocate(2 ** 53),
 * allocate(2 ** 64) and allocate(1e300) were InvalidSizeErrors saying "a size is a whole number
 * above 0", which each of them is, and named no limit (README: sizes over the pool's limit are
 * InvalidSizeErrors "that name the limit"); allocate(2 ** 40) on the same pool named it. ffi.zig
 * refused everything past 2^52 with the message for malformed sizes, in three copies of the check
 * (mp_alloc, mp_alloc_on_stream, mp_pmem_root); one function, requestSize, now tells a malformed
 * size (NaN, Infinity, a fraction, 0 or less: "a whole number above 0") from a whole one past every
 * pool's limit (refused by the pool's own Pool.refuseSize, which checkSize uses too: the pool's
 * name and "sizes run from 1 to <limit>"). On CPU and PMEM pools by every route that takes a size
 * (allocate, allocateRaw, allocateWindowBytes, the helpers' allocate, a PMEM root), GPU where CUDA is
 * (skipped here, reason printed).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { allocate, InvalidSizeError, MemoryPoolManager, PoolConfig } from "../../src/index";
import { gpuUnavailableReason, pmemUnavailableReason } from "../../src/native";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const made: string[] = [];
afterAll(() => {
  for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
  removePoolFiles();
});
const huge = [2 ** 52 + 4096, 2 ** 53, 2 ** 64, 1e300, Number.MAX_VALUE];
const malformed = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
/**
 * A refusal's message with the size it names replaced: the same refusal for two sizes reads the same
 * (from 1e21 the core writes the size as 1e300, where JavaScript writes 1e+300).
 */
const template = (message: string, size: number) => message.split(String(size)).join("<size>").split(String(size).replace("e+", "e")).join("<size>");

type SizedPool = { name: string };
/**
 * Each huge size is refused by `call` with the refusal a size just past 2^40 gets (a size no route
 * here may hold, refused before the check this file is about: the pool's limit, or a view's), its
 * size in the message; each malformed one with an InvalidSizeError too.
 */
function expectLimitNamed(pool: SizedPool, route: string, call: (size: number) => unknown): void {
  const past = thrown<InvalidSizeError>(() => call(2 ** 40));
  expect(past).toBeInstanceOf(InvalidSizeError);
  const refusal = template(past.message, 2 ** 40);
  expect(refusal).toMatch(/sizes run from 1 to \d+$|at most \d+ GiB/);
  for (const size of huge) {
    const err = thrown<InvalidSizeError>(() => call(size));
    expect({ pool: pool.name, route, size, error: err.constructor.name, refusal: template(err.message, size) }).toEqual({ pool: pool.name, route, size, error: "InvalidSizeError", refusal });
  }
  for (const size of malformed) expect({ route, size, error: thrown(() => call(size)).constructor.name }).toEqual({ route, size, error: "InvalidSizeError" });
}

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, none (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree", { threadSafety: "lockFree" }],
  ["FixedSize 64, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 64 }],
  ["FixedSize 64, lockFree", { allocatorType: "FixedSize", blockSize: 64, threadSafety: "lockFree" }],
];

describe("CPU pools: a request past 2^52 names the pool's limit", () => {
  for (const [shapeName, shape] of shapes) {
    test(shapeName, () => {
      const name = `suites5-huge-${shapeName}`;
      made.push(name);
      const p = manager.createCPUPool(name, Object.assign(new PoolConfig(), shape));
      expectLimitNamed(p, "allocate", (size) => p.allocate(size));
      expectLimitNamed(p, "allocateRaw", (size) => p.allocateRaw(size));
      expectLimitNamed(p, "allocateWindowBytes", (size) => p.allocateWindowBytes(size));
      expect([p.getStats().liveAllocations, p.getStats().bytesInUse]).toEqual([0, 0]);
    });
  }

  test("the helpers' allocate(n) from the default pool (refused at a view's limit)", () => {
    expectLimitNamed(manager.defaultCPUPool, "allocate(n)", (size) => allocate(size));
  });
});

test("allocateWindowBytes(Infinity) says a size is a whole number, not that a block has Infinity bytes", () => {
  const name = "suites5-huge-window-infinity";
  made.push(name);
  const p = manager.createCPUPool(name, new PoolConfig());
  for (const size of [Number.POSITIVE_INFINITY, Number.NaN, Number.NEGATIVE_INFINITY]) {
    const err = thrown<InvalidSizeError>(() => p.allocateWindowBytes(size));
    expect(err).toBeInstanceOf(InvalidSizeError);
    expect({ size, message: err.message }).toEqual({ size, message: `cannot allocate ${size} bytes: a size is a number, a whole number of bytes above 0` });
  }
  expect(p.getStats().allocationCount).toBe(0);
});

const whyNoPmem = pmemUnavailableReason();
if (whyNoPmem !== undefined) console.log(`[test/attack/suites5-huge-sizes] PMEM cases skipped: ${whyNoPmem}`);
describe.skipIf(whyNoPmem !== undefined)("PMEM pools", () => {
  test("allocate and a root of a size past 2^52 name the limit", () => {
    const name = "suites5-huge-pmem";
    made.push(name);
    const p = manager.createPMEMPool(name, Object.assign(new PoolConfig(), { pmemPoolPath: poolPath("huge"), initialSize: 256 << 10 }));
    expectLimitNamed(p, "allocate", (size) => p.allocate(size));
    expectLimitNamed(p, "root", (size) => p.root("r", size));
  });
});

const whyNoGpu = gpuUnavailableReason();
if (whyNoGpu !== undefined) console.log(`[test/attack/suites5-huge-sizes] GPU cases skipped: ${whyNoGpu}`);
describe.skipIf(whyNoGpu !== undefined)("GPU pools", () => {
  test("allocate, on a stream and off it, of a size past 2^52 names the limit", () => {
    const name = "suites5-huge-gpu";
    made.push(name);
    const p = manager.createGPUPool(name, new PoolConfig());
    const stream = p.createStream();
    try {
      expectLimitNamed(p, "allocate", (size) => p.allocate(size));
      expectLimitNamed(p, "allocate on a stream", (size) => p.allocate(size, { stream }));
    } finally {
      stream.destroy();
    }
  });
});
