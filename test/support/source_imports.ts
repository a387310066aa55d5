/**
 * The import graph of the library's TypeScript (src/**\/*.ts), read from its import and export
 * lines, for the structural tests (test/import_cycles.test.ts, test/ffi_boundary.test.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export const SRC = resolve(import.meta.dir, "..", "..", "src");

/** One import or re-export line: what it names, where from, and whether TypeScript erases it. */
export interface ImportLine {
  /** The module as written: "./pool", "bun:ffi". */
  from: string;
  /** What is imported, as written between `import` and `from` ("" for `import "./x"`). */
  clause: string;
  /**
   * `import type ...` / `export type ... from`: erased, so no module is loaded at run time. With
   * verbatimModuleSyntax (tsconfig.json) `import { type A } from` is kept (as `import {} from`).
   */
  typeOnly: boolean;
}

const IMPORT_LINE = /^[ \t]*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*["']([^"']+)["']|^[ \t]*import\s*["']([^"']+)["']/gm;

/** The import and re-export lines of a module's text (comments are not parsed apart: a line that starts with `import` is one). */
export function importLines(text: string): ImportLine[] {
  return [...text.matchAll(IMPORT_LINE)].map((match) =>
    match[5] !== undefined ? { from: match[5], clause: "", typeOnly: false } : { from: match[4]!, clause: match[3]!, typeOnly: match[2] !== undefined },
  );
}

/** Every .ts file under `dir`, as absolute paths. */
export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A relative import's file: "./pool" from src/gpu.ts is src/pool.ts (or src/pool/index.ts). */
export function resolveImport(fromFile: string, specifier: string, exists: (path: string) => boolean): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  return [base, `${base}.ts`, join(base, "index.ts")].find((path) => path.endsWith(".ts") && exists(path));
}

/** Edges of the graph: for each file, the files of src/ it imports. */
export type ImportGraph = Map<string, { to: string; line: ImportLine }[]>;

/** The graph of the files given (path to text); `withTypeOnly` keeps the edges TypeScript erases. */
export function importGraph(files: Map<string, string>, withTypeOnly: boolean): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [file, text] of files) {
    const edges = importLines(text)
      .filter((line) => withTypeOnly || !line.typeOnly)
      .flatMap((line) => {
        const to = resolveImport(file, line.from, (path) => files.has(path));
        return to === undefined ? [] : [{ to, line }];
      });
    graph.set(file, edges);
  }
  return graph;
}

/** The files of src/ and their text. */
export function readSources(): Map<string, string> {
  return new Map(sourceFiles().map((file) => [file, readFileSync(file, "utf8")]));
}

/**
 * The cycles of a graph: each strongly connected component of more than one file (or a file that
 * imports itself), by Tarjan's algorithm, as a path that returns to its start.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const { to } of graph.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = graph.get(file)?.some(({ to }) => to === file) ?? false;
    if (component.length > 1 || selfImport) components.push(cyclePath(graph, new Set(component), file));
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return components;
}

/** A path through the component from `start` back to it (breadth-first: a shortest one), to name in a failure. */
function cyclePath(graph: ImportGraph, component: Set<string>, start: string): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const { to } of graph.get(file) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at = file; at !== start; at = cameFrom.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, file);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** A file as the failure messages name it: src/pool.ts. */
export function named(file: string): string {
  return relative(resolve(SRC, ".."), file);
}
