/**
 * The core's files import each other without a cycle (issue 13): each file is read for its
 * `@import("x.zig")` lines before its tests (see importsOf), and the graph they make must have no
 * cycle. A cycle is reported as the files on it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { stronglyConnectedCycles } from "./support/source_imports";
import { ZIG_SOURCE, zigFiles } from "./support/zig_sources";

const source = ZIG_SOURCE;

/**
 * The .zig files `text` imports before its tests, relative to `source`. A file's tests and the
 * helpers only they use come after its code (from its first top-level `test` on), and may import
 * anything: a test is not a dependency of the code.
 */
export function importsOf(text: string, file: string): string[] {
  const found: string[] = [];
  for (const line of text.split("\n")) {
    if (/^test\b/.test(line)) break;
    for (const match of line.matchAll(/@import\("([^"]+\.zig)"\)/g)) {
      found.push(relative(source, normalize(join(dirname(file), match[1]!))));
    }
  }
  return found;
}

/** The cycles of a graph (each as the files on it, a strongly connected component of two or more, or a file that imports itself). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  return stronglyConnectedCycles(graph).map(({ members }) => members.sort());
}

describe("the core's import graph", () => {
  test("the cycle finder finds a cycle, a self-import and none where there is none", () => {
    expect(cyclesOf(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
    expect(cyclesOf(new Map([["a", ["a"]]]))).toEqual([["a"]]);
    expect(cyclesOf(new Map([["a", ["b"]], ["b", []], ["c", ["a", "b"]]]))).toEqual([]);
    expect(importsOf('const a = @import("a.zig");\nconst c = @import("sub/c.zig");\ntest "t" {\n    _ = @import("b.zig");\n}\nconst d = @import("d.zig");\n', join(source, "x.zig"))).toEqual(["a.zig", "sub/c.zig"]);
  });

  test("no Zig file under zig/src imports itself through others", () => {
    const graph = new Map(zigFiles(source).map((file) => [relative(source, file), importsOf(readFileSync(file, "utf8"), file)]));
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("ffi.zig")).toContain("registry.zig");
    expect(cyclesOf(graph)).toEqual([]);
  });
});
