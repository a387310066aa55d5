/**
 * Members tagged @internal were left out of the declarations but stayed on the classes: from
 * JavaScript, `pool.ended(offset)` detached a live allocation's views and made its handle fail,
 * `pool.destroyNative()` destroyed a pool behind its manager's back, and `pool.release(offset, id)`
 * freed a block by numbers. Every member a user can reach on an exported class (its prototypes, its
 * statics, the own properties of an instance) is now one the package's declarations list. The reads
 * of a pool's own state that stayed reachable (`pool.handle`, `pool.base`, `pool.destroyed`,
 * `pool.holds(offset, id)`, `allocation.offset`...) are private since leftovers5: the library's
 * files reach them through pool.ts's and allocation.ts's module functions (handleOf, baseOf,
 * destroyedHere, holdsIn, offsetOfAllocation...), which src/index.ts does not export.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type TypeScript from "typescript";
import * as library from "../../src/index";
import { MemoryPoolManager, PoolConfig } from "../../src/index";
import { missingTypeTools, runsHere } from "../support/tools";

const runs = runsHere("test/attack/leftovers4-public-members", missingTypeTools());
// Loaded where they are installed: a copy of the repository with only bun and mitata has no compiler.
let ts: typeof TypeScript;
let repositoryOptions: () => TypeScript.CompilerOptions;
if (runs) {
  ts = (await import("typescript")).default;
  ({ repositoryOptions } = await import("../../.ci/declarations"));
}

/** A member's name as both sides write it: a string key as it is, a symbol as `[Symbol.dispose]`. */
function keyName(key: string | symbol): string {
  if (typeof key === "string") return key;
  if (key === Bun.inspect.custom) return "[Bun.inspect.custom]";
  return `[${key.description}]`;
}

/**
 * Each class src/index.ts exports: the names of its instance members and of its statics, inherited
 * ones too, less those tagged @internal. They are the declarations' (.ci/declarations.ts strips the
 * @internal ones; test/types.test.ts checks that the emitted declarations list exactly these).
 */
function declaredMembers(): Map<string, { instance: Set<string>; statics: Set<string> }> {
  const entry = join(import.meta.dir, "..", "..", "src", "index.ts");
  const program = ts.createProgram([entry], repositoryOptions());
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const declared = (member: TypeScript.Symbol) => !(member.declarations ?? []).every((node) => ts.isInternalDeclaration(node, node.getSourceFile()));
  const names = (members: TypeScript.Symbol[]) => new Set(members.filter(declared).map((member) => (member.name.startsWith("__@") ? checker.symbolToString(member) : member.name)));
  const classes = new Map<string, { instance: Set<string>; statics: Set<string> }>();
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.find(ts.isClassDeclaration);
    if (declaration === undefined || exported.declarations?.some((node) => ts.isExportSpecifier(node) && node.isTypeOnly)) continue; // a type-only export (NativePool, HostPool) is no value a user reaches
    classes.set(exported.name, {
      instance: names(checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))),
      statics: names(checker.getPropertiesOfType(checker.getTypeOfSymbolAtLocation(symbol, declaration))),
    });
  }
  return classes;
}

/** What a user reaches on `cls` and on `instances` of it: prototype chain, statics, own properties. */
function reachableMembers(cls: Function, instances: object[]): { instance: Set<string>; statics: Set<string> } {
  const instance = new Set<string>();
  for (let level = cls.prototype; level !== null && level !== Object.prototype && level !== Error.prototype; level = Object.getPrototypeOf(level)) {
    for (const key of Reflect.ownKeys(level)) if (key !== "constructor") instance.add(keyName(key));
  }
  for (const made of instances) for (const key of Reflect.ownKeys(made)) instance.add(keyName(key));
  const statics = new Set<string>();
  for (let level: Function | null = cls; level !== null && level !== Function.prototype && level !== Error; level = Object.getPrototypeOf(level)) {
    for (const key of Reflect.ownKeys(level)) if (!["length", "name", "prototype"].includes(key as string)) statics.add(keyName(key));
  }
  return { instance, statics };
}

test.skipIf(!runs)("every member a user reaches on an exported class is one its declarations list", () => {
  const declared = declaredMembers();
  expect(declared.size).toBeGreaterThan(20); // pools, allocations, the manager, the errors, stats...
  const manager = MemoryPoolManager.getInstance();
  const pool = manager.createCPUPool("leftovers4-members", PoolConfig.FixedSizeCPU(64));
  // A debug pool too: its tracker and its switch were own fields (debug, tracking) of host pools.
  const debugPool = manager.createCPUPool("leftovers4-members-debug", PoolConfig.DebugCPU());
  const allocation = pool.allocate(16);
  const debugAllocation = debugPool.allocate(16);
  const instances = new Map<string, object[]>([
    ["CPUMemoryPool", [pool, debugPool]],
    ["Allocation", [allocation, debugAllocation]],
    ["MemoryPoolManager", [manager]],
    ["MemoryStats", [pool.getStats()]],
    ["PoolConfig", [new PoolConfig()]],
  ]);
  const undeclared: Record<string, string[]> = {};
  for (const [name, members] of declared) {
    const reached = reachableMembers((library as Record<string, unknown>)[name] as Function, instances.get(name) ?? []);
    const extra = [...[...reached.instance].filter((member) => !members.instance.has(member)), ...[...reached.statics].filter((member) => !members.statics.has(member)).map((member) => `static ${member}`)];
    if (extra.length > 0) undeclared[name] = extra.sort();
  }
  manager.destroyPool(pool.name);
  debugAllocation.free();
  manager.destroyPool(debugPool.name);
  // The manager's key is Symbol.for's on purpose: the manager of a later evaluation of the library
  // (a hot reload) reaches its earlier one through it (test/attack/re-evaluated-library.test.ts).
  // Nothing else: a member the declarations do not list, reachable again, fails here by name.
  expect(undeclared).toEqual({ MemoryPoolManager: ["[bun-memory-pool.giveUpMade]"] });
  // The members that changed a pool or a handle are gone from every class.
  const reached = reachableMembers(library.CPUMemoryPool, [pool]).instance;
  for (const member of ["release", "releaseAddress", "ended", "endedAll", "destroyNative", "lostWithHandle", "leaked", "reportLeaks"]) expect(reached.has(member)).toBe(false);
  // The reads of a pool's state, private since leftovers5, on every kind of pool.
  const poolReads = ["addressOf", "addressSpace", "assertOwnAllocation", "base", "debug", "describePointer", "destroyed", "detailsProvider", "epoch", "events", "exists", "expectOk", "failure", "handle", "holds", "lastTaggedId", "liveBlock", "liveIdAt", "offsetOf", "readableStats", "stackNote", "stillHolds", "strangePointer", "tracking"];
  for (const kind of [library.CPUMemoryPool, library.PinnedMemoryPool, library.PMEMMemoryPool, library.GPUMemoryPool]) {
    const members = reachableMembers(kind, kind === library.CPUMemoryPool ? [pool, debugPool] : []).instance;
    expect(poolReads.filter((member) => members.has(member))).toEqual([]);
  }
  const handle = reachableMembers(library.Allocation, [allocation]).instance;
  for (const member of ["onFreed", "describe", "released", "epoch", "cachedBytes", "offset"]) expect(handle.has(member)).toBe(false);
  for (const kind of [library.PoolAllocation, library.GPUAllocation]) expect(reachableMembers(kind, []).instance.has("offset")).toBe(false);
  expect(reachableMembers(library.GPUStream, []).statics.has("made")).toBe(false);
}, 60_000);
