/**
 * The library's modules form no import cycle: each file's imports (src/**\/*.ts, parsed from its
 * import and export lines) lead only to files that do not import it back, directly or through
 * others. Every file counts; an import TypeScript erases (`import type`) loads nothing and is
 * left out of the run-time graph (the type-level graph is reported below it).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { importCycles, importGraph, importLines, named, readSources, SRC } from "./support/source_imports";

const sources = readSources();

describe("the import graph of src/", () => {
  test("has no cycle among the modules loaded at run time", () => {
    const cycles = importCycles(importGraph(sources, false)).map((cycle) => cycle.map(named).join(" -> "));
    expect(cycles).toEqual([]);
  });

  test("is read from every file of src/, its subfolders included, and their relative imports", () => {
    expect(sources.has(join(SRC, "native.ts"))).toBe(true);
    expect(sources.has(join(SRC, "debug", "tracker.ts"))).toBe(true);
    const edges = importGraph(sources, false).get(join(SRC, "manager.ts"))!.map(({ to }) => named(to));
    expect(edges).toContain("src/native.ts");
    expect(edges).toContain("src/debug/tracker.ts");
  });
});

describe("the cycle finder", () => {
  const graphOf = (texts: Record<string, string>) => importGraph(new Map(Object.entries(texts).map(([file, text]) => [join(SRC, file), text])), false);

  test("finds a cycle of two files, of three through a subfolder, and a file that imports itself", () => {
    const cycles = importCycles(
      graphOf({
        "a.ts": `import { b } from "./b";`,
        "b.ts": `import {\n  a,\n  type A,\n} from "./a";`,
        "c.ts": `export { d } from "./sub/d";`,
        "sub/d.ts": `import "../e";`,
        "e.ts": `import * as c from "./c";`,
        "f.ts": `import { f } from "./f";`,
        "g.ts": `import { a } from "./a";`,
      }),
    ).map((cycle) => cycle.map(named).join(" -> "));
    expect(cycles).toHaveLength(3);
    expect(cycles).toContainEqual(expect.stringMatching(/^src\/(a|b)\.ts -> src\/(a|b)\.ts -> src\/(a|b)\.ts$/));
    expect(cycles.find((cycle) => cycle.includes("sub/d"))?.split(" -> ")).toHaveLength(4);
    expect(cycles).toContain("src/f.ts -> src/f.ts");
  });

  test("leaves out what TypeScript erases, and modules outside src/", () => {
    const cycles = importCycles(
      graphOf({
        "a.ts": `import type { B } from "./b";\nimport { dlopen } from "bun:ffi";`,
        "b.ts": `import { a } from "./a";\nexport type { A } from "./a";`,
      }),
    );
    expect(cycles).toEqual([]);
  });

  test("reads import lines as written: named, namespace, default, side-effect and re-export", () => {
    const lines = importLines(`import x from "./x";\nimport * as n from "./n";\nimport "./side";\nexport * from "./all";\nimport type { T } from "./t";\nconst s = "import { no } from './string'";`);
    expect(lines.map((line) => [line.from, line.typeOnly])).toEqual([
      ["./x", false],
      ["./n", false],
      ["./side", false],
      ["./all", false],
      ["./t", true],
    ]);
  });
});
