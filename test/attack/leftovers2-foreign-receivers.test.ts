/**
 * Public methods called on what is not an object of their class: an object that only inherits the
 * class's prototype (Object.create), a Proxy of a real one, an object of another class, a plain
 * object, a primitive (a method taken off the prototype and called with another `this`). Each
 * threw the engine's untyped TypeError ("Cannot access invalid private field") from inside the
 * method; each is now a typed error naming the member: InvalidPointerError for an allocation's
 * (as a forged handle given to deallocate() is), InvalidArgumentError (argument "this") for the
 * rest. The real objects are untouched and work through the same prototype methods.
 */
import { afterAll, expect, test } from "bun:test";
import {
  Allocation,
  CPUMemoryPool,
  GPUAllocation,
  GPUMemoryPool,
  GPUStream,
  InvalidArgumentError,
  InvalidPointerError,
  MemoryPoolManager,
  MemoryStats,
  PinnedMemoryPool,
  PMEMMemoryPool,
  PoolAllocation,
  PoolConfig,
  SharedGPUMemory,
} from "../../src/index";
import { thrown } from "../support/thrown";

const manager = MemoryPoolManager.getInstance();
const fixed = manager.createCPUPool("leftovers2-receivers-fixed", PoolConfig.FixedSizeCPU(64));
const variable = manager.createCPUPool("leftovers2-receivers-variable");
afterAll(() => {
  manager.destroyPool("leftovers2-receivers-fixed");
  manager.destroyPool("leftovers2-receivers-variable");
});

/** Every public member of each class, as the package declares it (methods, accessors, symbols). */
const POOL = ["name", "config", "getStats", "resetPeaks", "check", "getLeaks", "getHistory", "snapshot", "toJSON", "toString", "destroy", "reset", "trim", Symbol.dispose, Bun.inspect.custom];
const HOST_POOL = [...POOL, "allocate", "allocateRaw", "allocateWindowBytes", "deallocate", "fromPointer"];
const HANDLE = ["pool", "ptr", "size", "id", "toJSON", "alive", "free", "toString", Symbol.dispose, Bun.inspect.custom];
const PUBLIC: [string, { prototype: object }, PropertyKey[], typeof InvalidArgumentError | typeof InvalidPointerError][] = [
  ["CPUMemoryPool", CPUMemoryPool, HOST_POOL, InvalidArgumentError],
  ["PinnedMemoryPool", PinnedMemoryPool, HOST_POOL, InvalidArgumentError],
  [
    "PMEMMemoryPool",
    PMEMMemoryPool,
    [...HOST_POOL, "persist", "flush", "drain", "memcpyPersist", "setRoot", "link", "linked", "commitUnpublished", "getRoot", "root", "roots", "allocations", "close"],
    InvalidArgumentError,
  ],
  [
    "GPUMemoryPool",
    GPUMemoryPool,
    [...POOL, "allocate", "allocateRaw", "deallocate", "fromPointer", "exportAllocation", "createStream", "copyHostToDevice", "copyDeviceToHost", "copyDeviceToDevice", "fill"],
    InvalidArgumentError,
  ],
  [
    "MemoryPoolManager",
    MemoryPoolManager,
    ["createCPUPool", "createGPUPool", "createPinnedPool", "createPMEMPool", "getPool", "hasPool", "destroyPool", "flushThreadCaches", "listPools", "toJSON", "getStatsString", "defaultCPUPool", "defaultGPUPool", "listDevices", Symbol.dispose],
    InvalidArgumentError,
  ],
  ["GPUStream", GPUStream, ["deviceId", "handle", "synchronize", "destroy", "toString", Symbol.dispose, Bun.inspect.custom], InvalidArgumentError],
  ["SharedGPUMemory", SharedGPUMemory, ["ptr", "size", "read", "write", "close", Symbol.dispose], InvalidArgumentError],
  ["MemoryStats", MemoryStats, ["utilization", "getStatsString", "toJSON"], InvalidArgumentError],
  ["Allocation", Allocation, [...HANDLE, "bytes", "as", "windowBytes"], InvalidPointerError],
  ["GPUAllocation", GPUAllocation, [...HANDLE, "deviceId", "length"], InvalidPointerError],
  ["PoolAllocation", PoolAllocation, HANDLE, InvalidPointerError],
];

/** The member's function as the prototype chain holds it: a method, or an accessor's getter. */
function memberOf(prototype: object, name: PropertyKey): (this: unknown, ...args: unknown[]) => unknown {
  for (let at: object | null = prototype; at !== null; at = Object.getPrototypeOf(at)) {
    const descriptor = Object.getOwnPropertyDescriptor(at, name);
    if (descriptor !== undefined) return (descriptor.get ?? descriptor.value) as (this: unknown, ...args: unknown[]) => unknown;
  }
  throw new Error(`no member ${String(name)}`);
}

/** Arguments a real object of the class would take (so that only the receiver is wrong). */
function argumentsFor(name: PropertyKey): unknown[] {
  switch (name) {
    case "allocate":
    case "allocateRaw":
    case "allocateWindowBytes":
      return [64];
    case "createCPUPool":
    case "createPinnedPool":
    case "createGPUPool":
    case "getPool":
    case "hasPool":
    case "destroyPool":
      return ["leftovers2-receivers-fixed"];
    case "getRoot":
      return ["root"];
    case "root":
      return ["root", 64];
    default:
      return [];
  }
}

test("every public member of every public class, called on what is not one of its objects, is a typed error naming the member", () => {
  const aHandle = fixed.allocate(64);
  const receivers: [string, (prototype: object) => unknown][] = [
    ["an object made from the prototype", (prototype) => Object.create(prototype)],
    ["a Proxy of a real pool", () => new Proxy(fixed, {})],
    ["a Proxy of a real handle", () => new Proxy(aHandle, {})],
    ["a plain object", () => ({})],
    ["undefined", () => undefined],
    ["a number", () => 42],
  ];
  let checked = 0;
  for (const [className, Class, members, ErrorClass] of PUBLIC) {
    for (const name of members) {
      const member = memberOf(Class.prototype, name);
      for (const [what, receiverFor] of receivers) {
        const label = `${className}.${String(name)} on ${what}`;
        if (name === Bun.inspect.custom) {
          // Printing never throws (console.log(CPUMemoryPool.prototype)): it says what the object is.
          expect(String(member.apply(receiverFor(Class.prototype), [])), label).toContain("the library did not make");
          checked++;
          continue;
        }
        const error = thrown(() => member.apply(receiverFor(Class.prototype), argumentsFor(name)));
        expect(error, label).toBeInstanceOf(ErrorClass);
        if (error instanceof InvalidArgumentError) expect(error.argument, label).toBe("this");
        expect(error!.message, label).toContain(typeof name === "symbol" ? `[${name.description}]` : `.${name}`);
        checked++;
      }
    }
  }
  expect(checked).toBeGreaterThan(700);
  // A pool's method on an object of another class: a handle is no pool, a pool no handle.
  expect(thrown(() => CPUMemoryPool.prototype.allocate.call(aHandle as never, 64))).toBeInstanceOf(InvalidArgumentError);
  expect(thrown(() => memberOf(Allocation.prototype, "free").call(fixed))).toBeInstanceOf(InvalidPointerError);
  expect(thrown(() => memberOf(PMEMMemoryPool.prototype, "persist").call(fixed, aHandle))).toBeInstanceOf(InvalidArgumentError);
  expect(thrown(() => memberOf(GPUMemoryPool.prototype, "allocate").call(fixed, 64))).toBeInstanceOf(InvalidArgumentError);
  // Nothing was taken from or given to the real pool by the refused calls.
  expect(aHandle.alive).toBe(true);
  expect(fixed.getStats()).toMatchObject({ liveAllocations: 1, allocationCount: 1, freeCount: 0 });
  aHandle.free();
});

test("the message says what was called, on what, and what it must be called on", () => {
  const error = thrown(() => Object.create(CPUMemoryPool.prototype).allocate(64)) as InvalidArgumentError;
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error.message).toBe(
    "pool.allocate was called on a CPUMemoryPool the library did not make (an object given the class's prototype, a Proxy, or another object as this): call it on a pool that MemoryPoolManager made",
  );
  const handleError = thrown(() => Object.create(Allocation.prototype).free()) as InvalidPointerError;
  expect(handleError).toBeInstanceOf(InvalidPointerError);
  expect(handleError.message).toContain("allocation.free was called on an Allocation the library did not make");
  expect((thrown(() => memberOf(MemoryStats.prototype, "getStatsString").call(undefined)) as Error).message).toBe(
    "stats.getStatsString was called on undefined, not on MemoryStats that pool.getStats() made (or one rebuilt from its JSON)",
  );
});

test("the real objects work through the same prototype members, with their arguments as given", () => {
  const raw = CPUMemoryPool.prototype.allocateRaw.call(fixed, 64);
  CPUMemoryPool.prototype.deallocate.call(fixed, raw);
  const handle = memberOf(CPUMemoryPool.prototype, "allocate").call(variable, 100) as Allocation;
  expect(memberOf(Allocation.prototype, "size").call(handle)).toBe(100);
  expect((memberOf(Allocation.prototype, "bytes").call(handle) as Uint8Array).length).toBe(100);
  // A member with optional and defaulted parameters gets them as a direct call would.
  const view = handle.as(Float64Array);
  expect(view.length).toBe(12);
  expect((memberOf(CPUMemoryPool.prototype, "snapshot").call(variable) as { blocks: unknown[] }).blocks.length).toBeGreaterThan(0);
  expect(memberOf(MemoryPoolManager.prototype, "hasPool").call(manager, "leftovers2-receivers-variable")).toBe(true);
  memberOf(Allocation.prototype, "free").call(handle);
  expect(handle.alive).toBe(false);
  // Statistics rebuilt from their JSON over the prototype hold every figure: their members work.
  const { utilization, ...figures } = variable.getStats().toJSON();
  const rebuilt = Object.assign(Object.create(MemoryStats.prototype), figures) as MemoryStats;
  expect(rebuilt.utilization).toBe(utilization);
  expect(rebuilt.getStatsString()).toContain("leftovers2-receivers-variable");
  expect(fixed.allocate.length).toBe(1);
  expect(fixed.allocate.name).toBe("allocate");
  expect(variable.getStats.name).toBe("getStats");
});
