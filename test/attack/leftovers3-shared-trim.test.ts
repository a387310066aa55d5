// lockFree and threadLocalCache FixedSize pools give their empty regions back: on trim(), and at
// maxSize for a request no region holds, as exclusive pools do. A region goes back only where every
// block of it is on the pool's shared list: one whose blocks another Worker's cache holds stays
// until that Worker gives them back. (zig/src/pool_limits_test.zig trims while threads allocate.)
import { expect, test } from "bun:test";
import { OutOfMemoryError } from "../../src/index";
import { allocateUntilRefused } from "../support/fill";
import { cpuPoolsPerTest } from "../support/pools";

const pool = cpuPoolsPerTest();
const KiB = 1024;
const modes = [
  { threadSafety: "lockFree", threadLocalCache: false },
  { threadSafety: "lockFree", threadLocalCache: true },
  { threadSafety: "mutex", threadLocalCache: true },
] as const;
const shape = { allocatorType: "FixedSize", blockSize: 4096, initialSize: 64 * KiB, maxSize: 256 * KiB, growth: 1 } as const;

for (const mode of modes) {
  const name = `${mode.threadSafety}${mode.threadLocalCache ? " + threadLocalCache" : ""}`;

  test(`${name}: all free at maxSize, a request no region holds is served; trim() gives back every empty region but the first`, () => {
    const p = pool(`leftovers3-shared-release-${name}`, { ...shape, ...mode });
    const { held, refused } = allocateUntilRefused(() => p.allocateRaw(4096));
    expect(refused).toBeInstanceOf(OutOfMemoryError);
    expect(held.length).toBe(64);
    for (const ptr of held) p.deallocate(ptr);
    const large = p.allocate(150 * KiB); // regions 1 .. 3 go back, a region of 192 KiB grows in their room
    expect(p.getStats().bytesTrimmed).toBe(192 * KiB);
    large.free();
    expect(p.trim()).toBe(192 * KiB);
    const s = p.getStats();
    expect([s.bytesReserved, s.regionCount, s.liveAllocations]).toEqual([64 * KiB, 1, 0]);
    p.deallocate(p.allocateRaw(4096)); // the first region serves as before
  });

  test(`${name}: a region whose blocks another Worker's cache holds stays until that Worker gives them back`, async () => {
    const p = pool(`leftovers3-shared-worker-${name}`, { ...shape, ...mode });
    const mine = Array.from({ length: 48 }, () => p.allocateRaw(4096)); // regions 0 .. 2, full
    const worker = new Worker(new URL("../fixtures/attack/leftovers3-cache-worker.ts", import.meta.url).href);
    try {
      const ask = (message: object) => new Promise<unknown>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.postMessage(message);
      });
      expect(await ask({ do: "hold", name: p.name, count: 16 })).toBe("done"); // region 3, in the Worker's cache
      for (const ptr of mine) p.deallocate(ptr);
      expect(p.trim()).toBe(128 * KiB); // regions 1 and 2; region 3 stays
      expect(p.getStats().regionCount).toBe(2);
      expect(await ask({ do: "flush" })).toBe("done");
      expect(p.trim()).toBe(64 * KiB);
      expect(p.getStats().regionCount).toBe(1);
    } finally {
      worker.terminate();
    }
  });
}
