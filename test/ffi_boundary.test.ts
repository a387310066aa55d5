/**
 * One file opens the core: src/native.ts binds its symbols (dlopen) and every other file of src/
 * calls the typed functions it exports, never a symbol of the core itself. src/pmem.ts still calls
 * `core.mp_pmem_*` raw until PMEM pools are ordinary pools (issue 13): it is the one file let off,
 * and only for the PMEM symbols.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { importLines, named, readSources, SRC } from "./support/source_imports";

const NATIVE = join(SRC, "native.ts");
const PMEM = join(SRC, "pmem.ts");

/** How a file reaches past the typed functions: each finding names the line. */
function rawCoreUses(text: string, isPmem: boolean): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    for (const match of line.matchAll(/\bcore\s*(?:\.\s*|\[\s*["'`])(mp_\w+)/g)) {
      if (!(isPmem && match[1]!.startsWith("mp_pmem_"))) found.push(`line ${index + 1}: calls ${match[1]} raw`);
    }
  });
  for (const line of importLines(text)) {
    if (line.from === "bun:ffi" && /\bdlopen\b/.test(line.clause)) found.push("imports dlopen");
    if (/(^|\/)native$/.test(line.from) && /(^|[{,\s])core([,}\s]|$)/.test(line.clause) && !isPmem) found.push("imports the core's raw symbols (core) from native.ts");
  }
  return found;
}

describe("the FFI boundary", () => {
  test("no file of src/ but native.ts binds the core or calls its symbols (pmem.ts: its mp_pmem_* only, for now)", () => {
    const sources = readSources();
    const offenders = [...sources].filter(([file]) => file !== NATIVE).flatMap(([file, text]) => rawCoreUses(text, file === PMEM).map((use) => `${named(file)} ${use}`));
    expect(offenders).toEqual([]);
  });

  test("native.ts is the file that opens the core", () => {
    const text = readSources().get(NATIVE)!;
    expect(importLines(text).some((line) => line.from === "bun:ffi" && /\bdlopen\b/.test(line.clause))).toBe(true);
  });

  test("finds each way of reaching the core raw", () => {
    expect(rawCoreUses(`const o = core.mp_alloc(h, 64);`, false)).toEqual(["line 1: calls mp_alloc raw"]);
    expect(rawCoreUses(`x = core["mp_free"](h, 0, 0);\n y = core . mp_stats(h, r);`, false)).toEqual(["line 1: calls mp_free raw", "line 2: calls mp_stats raw"]);
    expect(rawCoreUses(`import { dlopen, FFIType } from "bun:ffi";`, false)).toEqual(["imports dlopen"]);
    expect(rawCoreUses(`import {\n  ABI,\n  core,\n} from "./native";`, false)).toEqual(["imports the core's raw symbols (core) from native.ts"]);
    expect(rawCoreUses(`import { core } from "../native";`, false)).toHaveLength(1);
    expect(rawCoreUses(`core.mp_pmem_persist(h, 0, 8); core.mp_alloc(h, 8);`, true)).toEqual(["line 1: calls mp_alloc raw"]);
    expect(rawCoreUses(`import { ptr, toArrayBuffer } from "bun:ffi";\nimport * as native from "./native";\nnative.alloc(h, 64); const coreCount = 1;`, false)).toEqual([]);
  });
});
