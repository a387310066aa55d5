/**
 * What a person sees of the library's objects: one line each for console.log, Bun.inspect and
 * String(), pointers in hex; pools destroyed by destroy(), `using` or the manager's disposal.
 */
import { describe, expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import { DoubleFreeError, GPUStream, MemoryPoolManager, PoolNotFoundError, UseAfterFreeError } from "../src/index";
import { MADE_BY_POOL } from "../src/allocation";
import { cpuPoolsPerTest } from "./support/pools";
import { baseOf, destroyedHere } from "../src/pool";

const pool = cpuPoolsPerTest();
const manager = MemoryPoolManager.getInstance();

describe("one line each, pointers in hex", () => {
  test("an allocation: its id, pool, size and address; '(freed)' once freed", () => {
    const p = pool("inspect-main");
    p.allocate(16);
    const a = p.allocate(1024);
    const line = `Allocation #2 of 'inspect-main' 1.00 KiB at 0x${a.ptr.toString(16)}`;
    expect(Bun.inspect(a)).toBe(line);
    expect(String(a)).toBe(line);
    expect(Bun.inspect({ held: a })).toBe(`{\n  held: ${line},\n}`);
    a.free();
    expect(Bun.inspect(a)).toBe(`${line} (freed)`);
  });

  test("a pool: kind, allocator, live allocations, bytes, base address; 'destroyed' after", () => {
    const p = pool("inspect-pool", { allocatorType: "FixedSize", blockSize: 256 });
    p.allocate(100);
    const line = Bun.inspect(p);
    expect(line).toBe(`CPUMemoryPool 'inspect-pool' (cpu, FixedSize 256 B): 1 live allocation, 100 B in use, 1.00 MiB reserved at 0x${baseOf(p).toString(16)}`);
    expect(String(p)).toBe(line);
    p.destroy();
    expect(Bun.inspect(p)).toBe("CPUMemoryPool 'inspect-pool' (cpu, FixedSize 256 B): destroyed");
    pool("inspect-pool"); // made again so the per-test cleanup finds it
  });

  test("an error: class, code and message on one line; inspect adds the stack's frames", () => {
    const a = pool("inspect-error").allocate(8);
    a.free();
    let caught: unknown;
    try {
      a.free();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DoubleFreeError);
    const error = caught as DoubleFreeError;
    expect(String(error)).toBe(`DoubleFreeError [DOUBLE_FREE]: ${error.message}`);
    expect(error.message).toContain(`at 0x${a.ptr.toString(16)}`);
    const inspected = Bun.inspect(error).split("\n");
    expect(inspected[0]).toBe(String(error));
    expect(inspected.slice(1).some((frame) => frame.includes("inspect.test.ts"))).toBe(true);
  });

  test("a stream: its handle in hex and its device", () => {
    const stream = new GPUStream(0, 0x55d0c0a1b2c0 as Pointer, MADE_BY_POOL); // never used: no driver is called
    expect(Bun.inspect(stream)).toBe("GPUStream 0x55d0c0a1b2c0 on device 0");
  });
});

describe("pools end with destroy() or `using`", () => {
  test("destroy() frees the name; a second destroy() is a UseAfterFreeError", () => {
    const p = pool("inspect-destroy");
    const a = p.allocate(10);
    p.destroy();
    expect(destroyedHere(p)).toBe(true);
    expect(manager.hasPool("inspect-destroy")).toBe(false);
    expect(() => manager.getPool("inspect-destroy")).toThrow(PoolNotFoundError);
    expect(() => a.bytes).toThrow(UseAfterFreeError);
    expect(() => p.destroy()).toThrow(UseAfterFreeError);
    pool("inspect-destroy");
  });

  test("`using` destroys the pool at the end of the block, and not twice", () => {
    let kept;
    {
      using p = manager.createCPUPool("inspect-using");
      kept = p;
      p.allocate(10);
    }
    expect(destroyedHere(kept)).toBe(true);
    expect(manager.hasPool("inspect-using")).toBe(false);
    expect(() => kept[Symbol.dispose]()).not.toThrow();
  });

  test("`using` the manager destroys every pool this thread holds, even when one throws", () => {
    const script = `
      import { MemoryPoolManager, PoolConfig } from ${JSON.stringify(`${import.meta.dir}/../src/index`)};
      let error;
      try {
        using manager = MemoryPoolManager.getInstance();
        manager.createCPUPool("a");
        const damaged = manager.createCPUPool("b", Object.assign(new PoolConfig(), { canaries: true }));
        const view = damaged.allocate(16).windowBytes(); // the unsafe window view: the byte before it is its front canary
        new Uint8Array(view.buffer, view.byteOffset - 1, 1)[0] = 0;
        manager.createCPUPool("c");
      } catch (err) { error = err; }
      console.log(JSON.stringify({ left: MemoryPoolManager.getInstance().listPools().length, error: error?.code ?? null }));
    `;
    const result = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    const out = JSON.parse(result.stdout.toString()) as { left: number; error: string | null };
    expect(out.left).toBe(0);
    expect(out.error).toBe("BOUNDARY_VIOLATION");
  });
});
