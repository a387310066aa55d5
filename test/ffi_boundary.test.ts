/**
 * One file opens the core: src/native.ts binds its symbols (dlopen) and every other file of src/
 * calls the typed functions it exports, never a symbol of the core itself. The raw symbols leave
 * native.ts only as `rawCoreForTests`, for test/ and bench/: no file of src/ (nor an example, which
 * users copy) reaches for it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { importLines, named, readSources, SRC, sourceFiles } from "./support/source_imports";

const NATIVE = join(SRC, "native.ts");
const EXAMPLES = resolve(SRC, "..", "examples");

/** How a file reaches past the typed functions: each finding names the line. */
function rawCoreUses(text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    for (const match of line.matchAll(/\w\s*(?:\.\s*|\[\s*["'`])(mp_\w+)/g)) found.push(`line ${index + 1}: calls ${match[1]} raw`);
    if (/\brawCoreForTests\b/.test(line)) found.push(`line ${index + 1}: uses rawCoreForTests`);
  });
  for (const line of importLines(text)) {
    if (line.from === "bun:ffi" && /\bdlopen\b/.test(line.clause)) found.push("imports dlopen");
  }
  return found;
}

/** The names native.ts exports bound to the core's symbols themselves (`lib`). */
function rawExports(text: string): string[] {
  return [...text.matchAll(/^export\s+(?:const|let|var)\s+(\w+)(?:\s*:[^=]+)?\s*=\s*lib\s*;/gm)].map((match) => match[1]!);
}

describe("the FFI boundary", () => {
  test("no file of src/ but native.ts binds the core, calls its symbols or takes rawCoreForTests", () => {
    const sources = readSources();
    const offenders = [...sources].filter(([file]) => file !== NATIVE).flatMap(([file, text]) => rawCoreUses(text).map((use) => `${named(file)} ${use}`));
    expect(offenders).toEqual([]);
  });

  test("no example reaches the core raw either", () => {
    // An example may open a C library of its own (examples/debugging.ts: libc, as native code that writes memory).
    const offenders = sourceFiles(EXAMPLES).flatMap((file) =>
      rawCoreUses(readFileSync(file, "utf8"))
        .filter((use) => use !== "imports dlopen")
        .map((use) => `${named(file)} ${use}`),
    );
    expect(offenders).toEqual([]);
  });

  test("the core's offset errors are decoded in native.ts; only the pool's hot path (alloc, liveId in pool.ts) sees them raw", () => {
    // Decoding there costs the allocation path about 3-4 ns a pair (measured with mitata, dev machine, 2026-12-01).
    const users = [...readSources()].filter(([file, text]) => file !== NATIVE && /\b(OFFSET_ERROR_BASE|statusOfOffset)\b/.test(text)).map(([file]) => named(file));
    expect(users.filter((file) => file !== "src/pool.ts")).toEqual([]);
  });

  test("native.ts is the file that opens the core, and hands its raw symbols out only as rawCoreForTests", () => {
    const text = readSources().get(NATIVE)!;
    expect(importLines(text).some((line) => line.from === "bun:ffi" && /\bdlopen\b/.test(line.clause))).toBe(true);
    expect(rawExports(text)).toEqual(["rawCoreForTests"]);
  });

  test("finds each way of reaching the core raw", () => {
    expect(rawCoreUses(`const o = core.mp_alloc(h, 64);`)).toEqual(["line 1: calls mp_alloc raw"]);
    expect(rawCoreUses(`x = core["mp_free"](h, 0, 0);\n y = lib . mp_stats(h, r);`)).toEqual(["line 1: calls mp_free raw", "line 2: calls mp_stats raw"]);
    expect(rawCoreUses(`core.mp_pmem_persist(h, 0, 8); core.mp_alloc(h, 8);`)).toEqual(["line 1: calls mp_pmem_persist raw", "line 1: calls mp_alloc raw"]);
    expect(rawCoreUses(`import { dlopen, FFIType } from "bun:ffi";`)).toEqual(["imports dlopen"]);
    expect(rawCoreUses(`import {\n  ABI,\n  rawCoreForTests as symbols,\n} from "./native";`)).toEqual(["line 3: uses rawCoreForTests"]);
    expect(rawCoreUses(`const symbols = native.rawCoreForTests;`)).toEqual(["line 1: uses rawCoreForTests"]);
    expect(rawCoreUses(`import { ptr, toArrayBuffer } from "bun:ffi";\nimport * as native from "./native";\nnative.alloc(h, 64); const coreCount = 1; // mp_alloc's answer`)).toEqual([]);
    expect(rawExports(`export const core = lib;\nexport const rawCoreForTests = lib;\nexport const ABI: Abi = abi;`)).toEqual(["core", "rawCoreForTests"]);
  });
});
