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
 * The cycles of a graph of plain names (each node and the nodes it points to; a target that is no
 * node is left out): each strongly connected component of more than one node, or a node that points
 * to itself, by Tarjan's algorithm, with the node the search closed it at. The one cycle finder of
 * the import tests of src/ (importCycles) and of the core (test/zig_imports.test.ts).
 */
export function stronglyConnectedCycles(graph: Map<string, string[]>): { members: string[]; closedAt: string }[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: { members: string[]; closedAt: string }[] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(member);
    } while (member !== node);
    if (members.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push({ members, closedAt: node });
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/**
 * The cycles of an import graph: each strongly connected component of more than one file (or a
 * file that imports itself), as a path that returns to its start.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const plain = new Map<string, string[]>();
  for (const [file, edges] of graph) plain.set(file, edges.map(({ to }) => to));
  // An edge to a file outside the graph joins no cycle; keep every target as a node.
  for (const targets of plain.values()) for (const to of targets) if (!plain.has(to)) plain.set(to, []);
  return stronglyConnectedCycles(plain).map(({ members, closedAt }) => cyclePath(graph, new Set(members), closedAt));
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
