/**
 * The public types as a TypeScript user meets them: the package's declarations (.ci/declarations.ts,
 * what `npm pack` ships), installed in a project's node_modules and checked by the compiler. Codes as
 * literal unions, exported result types, .bytes typed as .as() is, getPool by kind, and no member
 * the library keeps to itself (test/fixtures/types/usage.ts); every class has exactly its source's
 * members less those tagged @internal.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type TypeScript from "typescript";
import type { emitDeclarations as EmitDeclarations, repositoryOptions as RepositoryOptions } from "../.ci/declarations";
import { PACKAGE_NAME } from "../src/platforms";
import type { checkConsumer as CheckConsumer, ConsumerCheck, NODE_NEXT as NodeNext } from "./support/consumer";
import { readmeBlocks } from "./support/readme_blocks";
import { missingTypeTools, runsHere } from "./support/tools";

const runs = runsHere("test/types", missingTypeTools());
const typeTest = test.skipIf(!runs);
// Loaded where they are installed: a copy of the repository with only bun and mitata has no compiler.
let ts: typeof TypeScript;
let emitDeclarations: typeof EmitDeclarations;
let repositoryOptions: typeof RepositoryOptions;
let checkConsumer: typeof CheckConsumer;
let NODE_NEXT: typeof NodeNext;
if (runs) {
  ts = (await import("typescript")).default;
  ({ emitDeclarations, repositoryOptions } = await import("../.ci/declarations"));
  ({ checkConsumer, NODE_NEXT } = await import("./support/consumer"));
}

const root = join(import.meta.dir, "..");
const project = mkdtempSync(join(tmpdir(), "bun-memory-pool-types-"));
const installed = join(project, "node_modules", PACKAGE_NAME);
const usage = join(project, "usage.ts");
let consumer: ConsumerCheck;

/** The project: usage.ts, and the package as npm would install it, declarations but no src/. */
beforeAll(() => {
  if (!runs) return;
  mkdirSync(installed, { recursive: true });
  // An ES module project, as `bun init` makes one: under Node's resolution its files import the package as ESM.
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "types-user", private: true, type: "module" }));
  copyFileSync(join(root, "package.json"), join(installed, "package.json"));
  expect(emitDeclarations(join(installed, "types"))).toBe("");
  copyFileSync(join(root, "test", "fixtures", "types", "usage.ts"), usage);
  consumer = checkConsumer([usage]);
}, 120_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

typeTest("usage.ts compiles against the declarations, and each line marked as an error is one", () => {
  expect(consumer.problems).toBe("");
  // The import reached the declarations the package's manifest names, not a source file.
  expect(consumer.packageFiles).toContain("types/index.d.ts");
  expect(consumer.packageFiles.filter((file) => !file.endsWith(".d.ts"))).toEqual([]);
});

typeTest("usage.ts compiles under Node's ESM resolution too (moduleResolution nodenext, as tsc --init sets up), and under the strictest flags", () => {
  // The declarations' relative imports carry their extension (./pool.js): without, every import
  // of types/index.d.ts failed under nodenext, and the whole API read as errors.
  const nodeNext = checkConsumer([usage], NODE_NEXT);
  expect(nodeNext.problems).toBe("");
  expect(nodeNext.packageFiles).toContain("types/pool.d.ts");
  const strictest = checkConsumer([usage], { exactOptionalPropertyTypes: true, noPropertyAccessFromIndexSignature: true, noImplicitReturns: true, isolatedModules: true });
  expect(strictest.problems).toBe("");
}, 60_000);

typeTest("no `any` in the declarations: every type a user reaches says what it is", () => {
  const anys: string[] = [];
  for (const file of consumer.program.getSourceFiles().filter((source) => source.fileName.startsWith(installed + "/"))) {
    const visit = (node: TypeScript.Node): void => {
      if (node.kind === ts.SyntaxKind.AnyKeyword) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
        anys.push(`${file.fileName.slice(installed.length + 1)}:${line + 1}: ${node.parent.getText(file)}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  expect(anys).toEqual([]);
  expect(consumer.packageFiles.length).toBeGreaterThan(10); // the scan read the declarations
});

typeTest("the README's blocks and every example type-check against the declarations, as a user's copies of them would", () => {
  // Bun runs them without a look at their types (test/readme.test.ts, test/examples.test.ts run
  // them); a TypeScript user who pastes one into a project meets the compiler too.
  const files: string[] = [];
  for (const block of readmeBlocks()) {
    const file = join(project, block.file ?? `readme-block-${block.index}.ts`);
    writeFileSync(file, block.code);
    files.push(file);
  }
  cpSync(join(root, "examples"), join(project, "examples"), { recursive: true });
  const examples = readdirSync(join(project, "examples")).filter((name) => name.endsWith(".ts"));
  expect(examples.length).toBeGreaterThan(5);
  files.push(...examples.map((name) => join(project, "examples", name)));
  const checked = checkConsumer(files);
  expect(checked.problems).toBe("");
  expect(checked.packageFiles).toContain("types/index.d.ts");
  expect(checked.packageFiles.filter((file) => !file.endsWith(".d.ts"))).toEqual([]);
}, 60_000);

/** Each class index.ts exports, by name: its members (instance and static), by how they are written. */
function classMembers(program: TypeScript.Program, entry: string): Map<string, { name: string; internal: boolean }[]> {
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const classes = new Map<string, { name: string; internal: boolean }[]>();
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.find(ts.isClassDeclaration);
    if (declaration === undefined) continue;
    const instance = checker.getDeclaredTypeOfSymbol(symbol);
    const statics = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    const members = [
      ...checker.getPropertiesOfType(instance).map((member) => ({ member, side: "" })),
      ...checker.getPropertiesOfType(statics).filter((member) => member.name !== "prototype").map((member) => ({ member, side: "static " })),
    ];
    classes.set(
      exported.name,
      members
        .filter(({ member }) => !member.name.startsWith("#") && !member.name.startsWith("__#")) // #private names: in no type a user can reach
        .map(({ member, side }) => ({
          name: side + (member.name.startsWith("__@") ? checker.symbolToString(member) : member.name),
          internal: (member.declarations ?? []).length > 0 && member.declarations!.every((node) => ts.isInternalDeclaration(node, node.getSourceFile())),
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
  }
  return classes;
}

typeTest("every exported class has its source's members less the @internal ones, inherited ones too", () => {
  const source = classMembers(ts.createProgram([join(root, "src", "index.ts")], repositoryOptions()), join(root, "src", "index.ts"));
  const declared = classMembers(consumer.program, join(installed, "types", "index.d.ts"));
  const names = (classes: typeof source, keep: (member: { internal: boolean }) => boolean) =>
    Object.fromEntries([...classes].map(([name, members]) => [name, members.filter(keep).map((member) => member.name)]));
  expect(names(declared, () => true)).toEqual(names(source, (member) => !member.internal));
  // The classes a user holds most: each is declared, and the members the library keeps to itself
  // (the issue counted about 25 of them in a CPU pool's completion) are private since leftovers5,
  // in no type at all: none is left to tag @internal (test/attack/leftovers4-public-members.test.ts).
  const internal = names(source, (member) => member.internal);
  for (const name of ["CPUMemoryPool", "PinnedMemoryPool", "PMEMMemoryPool", "GPUMemoryPool", "Allocation", "GPUAllocation", "MemoryPoolManager"]) {
    expect(declared.has(name)).toBe(true);
  }
  for (const name of ["CPUMemoryPool", "PinnedMemoryPool", "PMEMMemoryPool", "GPUMemoryPool", "Allocation", "GPUAllocation"]) expect([name, internal[name]]).toEqual([name, []]);
  expect(names(declared, () => true).CPUMemoryPool).toEqual(expect.arrayContaining(["allocate", "deallocate", "getStats", "destroy", "name", "config", "kind"]));
}, 60_000);
