/**
 * LLVM scudo's standalone tests (tests/combined_test.cpp: BasicCombined, BlockReuse, ZeroContents,
 * ReleaseToOS, the death tests for double free, misaligned and invalid-state frees; tests/chunk_test.cpp's
 * corrupted header; tests/quarantine_test.cpp), read and retold for this library's CPU pools:
 * - BasicCombined: sizes 2^k - 1, 2^k, 2^k + 1 (k = 0..20) at every alignment 16..4096, on every
 *   shape: aligned, written whole at both ends, no two overlapping, the statistics exact;
 * - BlockReuse: a freed block of a size is found again by the next request of that size (the JavaScript
 *   bins' and caches' promise: a repeated size never grows the pool);
 * - ZeroContents: with fillOnAlloc 0 every new block reads zero, also where a freed dirty one is reused;
 * - ReleaseToOS: once everything is freed, trim() leaves only the first region and says what it gave;
 * - DeathCombined and chunk_test's bad headers, as typed errors (the process never dies here): a free of a
 *   pointer off its block by 1..15 bytes (misaligned), inside a block, just before one, of no block at all
 *   (0, negative, fractional, NaN, past 2^53), of another pool's block, a double free of a block reused
 *   since; each refused with nothing freed: the live blocks and their bytes stay as they were;
 *   a canary damaged in front of a block (chunk_test's corrupted header) is a BoundaryViolationError on
 *   its free, naming the side, and the block's neighbour is untouched;
 * - quarantine_test: freed blocks leave quarantine oldest first: no block is handed out again while the
 *   quarantine holds less than quarantineBytes, quarantinedBytes never passes it, and every quarantined
 *   block still holds the fillOnFree byte when it leaves (no one wrote to it meanwhile).
 * Left out: memory tagging (no MTE here), the secondary cache's options and the ring buffer of
 * stack depots (scudo's internals), disabling the allocator around fork (no fork in Bun).
 */
import { read } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { BoundaryViolationError, type CPUMemoryPool, DoubleFreeError, InvalidPointerError, MemoryPoolError, type PoolConfig } from "../../src/index";
import { stamp, stampHolds } from "../fixtures/attack/suite-stamps";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const KiB = 1024;

const shapes: [string, Partial<PoolConfig>][] = [
  ["Variable, none (JavaScript bins)", {}],
  ["Variable, mutex", { threadSafety: "mutex" }],
  ["Variable, lockFree (shards)", { threadSafety: "lockFree" }],
  ["FixedSize 256, none (JavaScript cache)", { allocatorType: "FixedSize", blockSize: 256 }],
  ["FixedSize 256, lockFree + threadLocalCache", { allocatorType: "FixedSize", blockSize: 256, threadSafety: "lockFree", threadLocalCache: true }],
  ["Variable, canaries", { canaries: true }],
];

const boundarySizes = Array.from({ length: 21 }, (_, k) => [2 ** k - 1, 2 ** k, 2 ** k + 1]).flat().filter((n) => n > 0);

describe("BasicCombined: sizes around every power of two, at every alignment", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      for (const alignment of [16, 64, 4096]) {
        const p = pool(`suite-scudo-basic-${name}-${alignment}`, { ...shape, alignment });
        const blocks = boundarySizes.map((size) => p.allocate(size));
        const wrong: string[] = [];
        for (const b of blocks) {
          if (b.ptr % alignment !== 0) wrong.push(`${b.size} B not aligned to ${alignment}`);
          stamp(b.bytes, b.ptr);
        }
        const sorted = [...blocks].sort((a, b) => a.ptr - b.ptr);
        for (let i = 1; i < sorted.length; i++) if (sorted[i - 1]!.ptr + sorted[i - 1]!.size > sorted[i]!.ptr) wrong.push(`${sorted[i - 1]!.size} B overlaps ${sorted[i]!.size} B`);
        for (const b of blocks) if (!stampHolds(b.bytes, b.ptr)) wrong.push(`${b.size} B stamp damaged`);
        expect(wrong).toEqual([]);
        const s = p.getStats();
        expect([s.liveAllocations, s.bytesInUse]).toEqual([blocks.length, boundarySizes.reduce((sum, n) => sum + n, 0)]);
        p.check();
        for (const b of blocks) b.free();
        expect(p.getStats().bytesInUse).toBe(0);
      }
    });
  }
});

describe("BlockReuse, ZeroContents, ReleaseToOS", () => {
  for (const [name, shape] of shapes) {
    test(`BlockReuse: ${name}`, () => {
      const p = pool(`suite-scudo-reuse-${name}`, shape);
      for (const size of [16, 100, 256, 4000, 70_000]) {
        const first = p.allocate(size);
        const { ptr } = first;
        first.free();
        const reserved = p.getStats().bytesReserved;
        const seen = new Set<number>();
        for (let i = 0; i < 8; i++) {
          const again = p.allocate(size);
          seen.add(again.ptr);
          again.free();
        }
        expect(seen.has(ptr)).toBe(true);
        expect(p.getStats().bytesReserved).toBe(reserved);
      }
    });
  }

  for (const [name, shape] of [
    ["Variable", {}],
    ["Variable, mutex", { threadSafety: "mutex" }],
    ["FixedSize 256", { allocatorType: "FixedSize", blockSize: 256 }],
    ["Variable, canaries", { canaries: true }],
  ] as [string, Partial<PoolConfig>][]) {
    test(`ZeroContents: ${name}`, () => {
      const p = pool(`suite-scudo-zero-${name}`, { ...shape, fillOnAlloc: 0 });
      const kept = [];
      let dirty = 0;
      for (let i = 0; i < 300; i++) {
        const a = p.allocate(1 + ((i * 977) % 5000));
        if (a.bytes.some((x) => x !== 0)) dirty++;
        a.bytes.fill(0xff);
        if (i % 3 === 0) kept.push(a);
        else a.free();
      }
      expect(dirty).toBe(0);
      for (const a of kept) a.free();
    });
  }

  for (const [name, shape] of shapes) {
    test(`ReleaseToOS: ${name}`, () => {
      const p = pool(`suite-scudo-release-${name}`, { ...shape, initialSize: 256 * KiB, growth: 1 });
      const blocks = Array.from({ length: 64 }, (_, i) => p.allocate(shape.allocatorType === "FixedSize" ? 256 * (1 + (i % 40)) : 1 + ((i * 7919) % 40_000)));
      const grown = p.getStats();
      expect(grown.regionCount).toBeGreaterThan(1);
      for (const b of blocks) b.free();
      const released = p.trim();
      const s = p.getStats();
      expect([s.regionCount, s.bytesReserved, s.liveAllocations]).toEqual([1, 256 * KiB, 0]);
      expect(released).toBe(grown.bytesReserved - 256 * KiB);
    });
  }
});

describe("DeathCombined as typed errors: bad frees free nothing", () => {
  for (const [name, shape] of shapes) {
    test(name, () => {
      const p = pool(`suite-scudo-death-${name}`, shape);
      const other = pool(`suite-scudo-death-other-${name}`, shape);
      const live = [p.allocate(64), p.allocate(300), p.allocate(5000)];
      for (const a of live) stamp(a.bytes, a.ptr);
      const foreign = other.allocate(64);
      const reused = p.allocate(64);
      const stalePtr = reused.ptr;
      reused.free();
      const successor = p.allocate(64); // may take the freed block: a stale handle must not free it
      stamp(successor.bytes, successor.ptr);
      const bad: [string, () => unknown][] = [];
      for (const a of live) {
        for (const off of [1, 7, 8, 15]) bad.push([`misaligned ${a.size} B + ${off}`, () => p.deallocate(a.ptr + off)]);
        bad.push([`inside ${a.size} B`, () => p.deallocate(a.ptr + 32)]);
        bad.push([`before ${a.size} B`, () => p.deallocate(a.ptr - 16)]);
      }
      for (const value of [0, -16, 1.5, NaN, Infinity, 2 ** 53, 2 ** 60]) bad.push([`pointer ${value}`, () => p.deallocate(value as never)]);
      bad.push(["another pool's block", () => p.deallocate(foreign.ptr)]);
      bad.push(["a stale handle whose block was reused", () => reused.free()]);
      const wrong: string[] = [];
      for (const [what, act] of bad) {
        const before = p.getStats().liveAllocations;
        try {
          act();
          wrong.push(`${what}: freed`);
        } catch (err) {
          if (!(err instanceof InvalidPointerError || err instanceof DoubleFreeError)) wrong.push(`${what}: ${err instanceof MemoryPoolError ? err.code : String(err)}`);
        }
        if (p.getStats().liveAllocations !== before) wrong.push(`${what}: live count changed`);
      }
      expect(wrong).toEqual([]);
      expect(thrown(() => reused.free())).toBeInstanceOf(DoubleFreeError);
      expect(successor.alive).toBe(true);
      expect(stampHolds(successor.bytes, successor.ptr)).toBe(true);
      expect(thrown(() => p.deallocate(stalePtr === successor.ptr ? successor.ptr + 1 : stalePtr))).toBeInstanceOf(MemoryPoolError);
      for (const a of live) expect(stampHolds(a.bytes, a.ptr)).toBe(true);
      expect(foreign.alive).toBe(true);
      p.check();
    });
  }

  test("chunk_test's corrupted header: a canary damaged in front of a block, found on its free", () => {
    const p = pool("suite-scudo-header", { canaries: true });
    const before = p.allocate(48);
    const a = p.allocate(48);
    stamp(before.bytes, before.ptr);
    // the byte just in front of the block, in its front canary, through a view that reaches it
    const { toArrayBuffer } = require("bun:ffi") as typeof import("bun:ffi");
    const front = new Uint8Array(toArrayBuffer(a.ptr - 1 as never, 0, 1));
    front[0] = read.u8(a.ptr - 1 as never) ^ 0xff;
    const err = thrown<BoundaryViolationError>(() => a.free());
    expect(err).toBeInstanceOf(BoundaryViolationError);
    expect([err.side, err.offset, err.allocationId]).toEqual(["before", -1, a.id]);
    expect(stampHolds(before.bytes, before.ptr)).toBe(true);
  });
});

describe("quarantine_test: oldest first, within its bound, untouched while held", () => {
  for (const [name, shape] of [
    ["Variable", {}],
    ["Variable, mutex", { threadSafety: "mutex" }],
    ["FixedSize 1024", { allocatorType: "FixedSize", blockSize: 1024 }],
    ["Variable, canaries", { canaries: true }],
  ] as [string, Partial<PoolConfig>][]) {
    test(name, () => {
      const quarantineBytes = 64 * KiB;
      const p: CPUMemoryPool = pool(`suite-scudo-quarantine-${name}`, { ...shape, quarantineBytes, fillOnFree: 0xdd });
      const size = 1000;
      const freedAt = new Map<number, number>();
      let heldBytes = 0;
      const wrong: string[] = [];
      for (let i = 0; i < 300; i++) {
        const a = p.allocate(size);
        const since = freedAt.get(a.ptr);
        // handed out again only once at least quarantineBytes of other blocks were freed after it
        if (since !== undefined && (i - since - 1) * size < quarantineBytes - 2 * 1040) wrong.push(`#${i} reuses the block freed at #${since}`);
        a.bytes.fill(i & 0xff);
        const { ptr } = a;
        a.free();
        expect(read.u8(ptr as never, size - 1)).toBe(0xdd);
        freedAt.set(ptr, i);
        heldBytes = Math.max(heldBytes, p.getStats().quarantinedBytes);
      }
      expect(wrong).toEqual([]);
      expect(heldBytes).toBeLessThanOrEqual(quarantineBytes);
      expect(heldBytes).toBeGreaterThan(quarantineBytes / 2);
      p.check(); // every quarantined block still holds the fill byte
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});
