/**
 * Electric Fence's eftest and tstheap and AddressSanitizer's heap tests (heap-buffer-overflow and
 * -underflow by one byte, read and write; heap-use-after-free; double-free and bad-free; LeakSanitizer's
 * report at exit), read and retold for this library's debug switches on CPU pools:
 * - a one-byte overflow and a one-byte underflow at every size-class edge (1 B to 1 MiB + 1) and every
 *   alignment (1 to 4096), Variable and FixedSize pools, guard page after or before: the byte is either
 *   inaccessible (a native access would fault there: probed with write(2) to a pipe, which reads it in
 *   the kernel and answers EFAULT instead of faulting) or, written through native code, found by check()
 *   as a BoundaryViolationError naming the allocation, the side and the offset (size, or -1). That
 *   holds for overflows with guard pages alone, for underflows with the page before, and for both with
 *   canaries on too (PoolConfig.DebugCPU's pair). Electric Fence's default finds no underflow either:
 *   with the page after and no canaries, an underflow from a page-aligned start goes unseen (asserted
 *   as such, so a change shows);
 * - use after free: a freed guarded block's bytes are inaccessible (quarantined or not), where a
 *   quarantined block without guard pages is checked instead (check() throws UseAfterFreeError once
 *   a native write lands in it); a double free of a quarantined block and an interior (bad) free are
 *   typed errors that free nothing;
 * - in child processes (a fault ends the process): a write and a read past the end, a write before the
 *   start and a read after the free, each through native code: SIGSEGV, and before it the core's
 *   report on stderr names the kind (overflow, underflow, use after free), the distance, the
 *   allocation's id, size and address, and the stacks where it was allocated and freed; a child that
 *   exits with live allocations prints LeakSanitizer's report: each one by id, size, address and stack.
 * Left out: Electric Fence's EF_ALIGNMENT=0 (a block's end exactly at the page for odd sizes): blocks
 * here are 16 B granules, the slack between is canaries, found on check(), as asserted above; ASan's
 * stack and global buffers (not a heap's concern); overflows that jump past the guard page into another
 * block (no guard page finds those: canaries do where they land in one).
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { afterAll, describe, expect, test } from "bun:test";
import { BoundaryViolationError, type CPUMemoryPool, DoubleFreeError, InvalidPointerError, type PoolConfig, UseAfterFreeError } from "../../src/index";
import { accessible } from "../support/accessible";
import { attackFixture, runBun } from "../support/child";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();
const libc = dlopen("libc.so.6", { memset: { args: [FFIType.u64, FFIType.i32, FFIType.u64], returns: FFIType.ptr } });
afterAll(() => libc.close());

const sizes = [1, 2, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537, (1 << 20) + 1];
const alignments = [1, 16, 64, 4096];

type Found = "inaccessible" | "check" | "unseen";
/**
 * How a one-byte stray write at `address` (offset `offset` from the allocation's first byte) is found:
 * the page refuses it, or check() names it exactly; the byte is put back after.
 */
function strayByte(p: CPUMemoryPool, a: { id: number; ptr: number; size: number }, offset: number): Found | string {
  const address = a.ptr + offset;
  if (!accessible(address)) return "inaccessible";
  const old = read.u8(address as never);
  libc.symbols.memset(address, old ^ 0x5a, 1);
  let found: Found | string = "unseen";
  try {
    p.check();
  } catch (err) {
    found =
      err instanceof BoundaryViolationError && err.allocationId === a.id && err.offset === offset && err.side === (offset < 0 ? "before" : "after") && err.size === a.size
        ? "check"
        : `wrong error: ${String(err)}`;
  }
  libc.symbols.memset(address, old, 1);
  return found;
}

describe("one byte past either end, at every size-class edge and alignment", () => {
  const shapes: [string, Partial<PoolConfig>, { over: Found[]; under: Found[] | "page-aligned start unseen" }][] = [
    ["guard page after", { guardPages: true }, { over: ["inaccessible", "check"], under: "page-aligned start unseen" }],
    ["guard page before", { guardPages: true, guardPagePosition: "before" }, { over: ["check", "inaccessible"], under: ["inaccessible"] }],
    ["guard page after + canaries", { guardPages: true, canaries: true }, { over: ["inaccessible", "check"], under: ["inaccessible", "check"] }],
    ["guard page before + canaries", { guardPages: true, canaries: true, guardPagePosition: "before" }, { over: ["check", "inaccessible"], under: ["inaccessible"] }],
  ];
  for (const allocatorType of ["Variable", "FixedSize"] as const) {
    for (const [name, shape, expected] of shapes) {
      test(`${allocatorType}, ${name}`, () => {
        const wrong: string[] = [];
        for (const alignment of alignments) {
          const p = pool(`suite-efence-${allocatorType}-${name}-${alignment}`, { allocatorType, blockSize: 256, alignment, ...shape });
          for (const size of sizes) {
            const a = p.allocate(size);
            if (a.ptr % alignment !== 0) wrong.push(`${size} B not aligned to ${alignment}`);
            if (!accessible(a.ptr) || !accessible(a.ptr + size - 1)) wrong.push(`${size} B (alignment ${alignment}): its own bytes are inaccessible`);
            const over = strayByte(p, a, size);
            if (!(expected.over as string[]).includes(over)) wrong.push(`${size} B (alignment ${alignment}) overflow: ${over}`);
            const under = strayByte(p, a, -1);
            if (expected.under === "page-aligned start unseen") {
              const want = a.ptr % 4096 === 0 ? ["unseen", "inaccessible"] : ["check"];
              if (!want.includes(under)) wrong.push(`${size} B (alignment ${alignment}) underflow: ${under}`);
            } else if (!(expected.under as string[]).includes(under)) wrong.push(`${size} B (alignment ${alignment}) underflow: ${under}`);
            a.free();
          }
          p.check();
          expect(p.getStats().liveAllocations).toBe(0);
        }
        expect(wrong).toEqual([]);
      });
    }
  }
});

describe("use after free, double free and bad free", () => {
  for (const quarantineBytes of [0, 1 << 20]) {
    test(`guard pages, quarantine ${quarantineBytes}: a freed block's bytes are inaccessible`, () => {
      const p = pool(`suite-efence-uaf-guard-${quarantineBytes}`, { guardPages: true, quarantineBytes });
      const wrong: string[] = [];
      for (const size of sizes) {
        const a = p.allocate(size);
        const { ptr } = a;
        a.free();
        for (const at of [0, size >> 1, size - 1]) if (accessible(ptr + at)) wrong.push(`${size} B: byte ${at} readable after the free`);
        expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
      }
      expect(wrong).toEqual([]);
      // the pages come back for the next allocations, whole
      const again = sizes.map((size) => p.allocate(size));
      for (const a of again) a.bytes.fill(1);
      for (const a of again) a.free();
    });
  }

  test("quarantine without guard pages: a native write into a freed block is a UseAfterFreeError on check()", () => {
    const p = pool("suite-efence-uaf-quarantine", { quarantineBytes: 4 << 20, fillOnFree: 0xdd });
    for (const size of [16, 100, 4096, 65537]) {
      const a = p.allocate(size);
      const { ptr, id } = a;
      a.free();
      expect(read.u8(ptr as never, size - 1)).toBe(0xdd);
      libc.symbols.memset(ptr + (size >> 1), 0x11, 1);
      const err = thrown<UseAfterFreeError>(() => p.check());
      expect(err).toBeInstanceOf(UseAfterFreeError);
      expect(err.message).toContain(`#${id}`);
      libc.symbols.memset(ptr + (size >> 1), 0xdd, 1);
      p.check();
    }
  });

  for (const [name, shape] of [
    ["guard pages + quarantine", { guardPages: true, quarantineBytes: 1 << 20 }],
    ["canaries + quarantine", { canaries: true, quarantineBytes: 1 << 20 }],
    ["DebugCPU's switches", { guardPages: true, canaries: true, fillOnAlloc: 0xcd, fillOnFree: 0xdd, quarantineBytes: 1 << 20, trackHistory: true }],
  ] as [string, Partial<PoolConfig>][]) {
    test(`${name}: a double free of a quarantined block and a bad free are typed errors that free nothing`, () => {
      const p = pool(`suite-efence-frees-${name}`, shape);
      const kept = p.allocate(100);
      const a = p.allocate(100);
      a.free();
      expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => p.deallocate(a.ptr))).toBeInstanceOf(DoubleFreeError);
      expect(thrown(() => p.deallocate(kept.ptr + 8))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => p.deallocate(kept.ptr - 16))).toBeInstanceOf(InvalidPointerError);
      expect([p.getStats().liveAllocations, kept.alive]).toEqual([1, true]);
      kept.bytes.fill(3);
      p.check();
      kept.free();
      expect(p.getStats().liveAllocations).toBe(0);
    });
  }
});

describe("a fault in a child process: the core's report, then SIGSEGV", () => {
  const child = attackFixture("suite-efence-child.ts");
  const hex = (n: number) => `0x${n.toString(16)}`;
  const cases: [string, number, (a: { id: number; ptr: number; size: number }) => string[]][] = [
    ["overflow-write", 100, (a) => [`heap buffer overflow: 13 bytes past the end of allocation #${a.id} (100 bytes at ${hex(a.ptr)}, pool 'fenced')`]],
    ["overflow-write", 4096, (a) => [`heap buffer overflow: 1 byte past the end of allocation #${a.id} (4096 bytes at ${hex(a.ptr)}, pool 'fenced')`]],
    ["overflow-read", 33, (a) => [`heap buffer overflow: 16 bytes past the end of allocation #${a.id} (33 bytes at ${hex(a.ptr)}, pool 'fenced')`]],
    ["underflow-write", 100, (a) => [`heap buffer underflow: 1 byte before the start of allocation #${a.id} (100 bytes at ${hex(a.ptr)}, pool 'fenced')`]],
    ["use-after-free", 100, (a) => [`use after free: byte 10 of allocation #${a.id} (100 bytes at ${hex(a.ptr)}, pool 'fenced'), which was freed`, "freed at:"]],
  ];
  for (const [mode, size, lines] of cases) {
    test(`${mode}, ${size} B`, async () => {
      const run = await runBun(child, [mode, String(size)], { timeout: 30_000 });
      expect(run.signalCode ?? run.exitCode).not.toBe(0);
      expect(run.signalCode === "SIGSEGV" || run.exitCode === 139 || run.exitCode === 132 || run.exitCode === 134).toBe(true);
      const allocation = JSON.parse(run.stdout.split("\n")[0]!) as { id: number; ptr: number; size: number };
      expect(run.stderr).toContain("on a guard page of pool 'fenced'");
      for (const line of lines(allocation)) expect(run.stderr).toContain(line);
      expect(run.stderr).toContain("allocated at:\n    at ");
      expect(run.stderr).toContain("suite-efence-child.ts");
    }, 30_000);
  }

  test("leaks at exit: each live allocation by id, size, address and stack", async () => {
    const run = await runBun(child, ["leak", "100"], { timeout: 30_000 });
    expect([run.exitCode, run.signalCode]).toEqual([0, null]);
    const live = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: number; ptr: number; size: number });
    expect(run.stderr).toContain("leak report for pool 'fenced' (process exit): 2 allocations still live, 300 B");
    for (const a of live) expect(run.stderr).toMatch(new RegExp(`#${a.id}: ${a.size} bytes at ${hex(a.ptr)}, allocated [^\\n]+\\n\\s+at [^\\n]*suite-efence-child\\.ts`));
    expect(run.stderr).not.toContain("7 bytes");
  }, 30_000);
});
