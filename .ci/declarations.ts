#!/usr/bin/env bun
/**
 * The package's declarations: what a TypeScript user's editor and compiler see of bun-memory-pool.
 * Bun runs src/*.ts as they are; the package's `types` point at declarations emitted from them with
 * stripInternal, so a member tagged `@internal` (the pools' and allocations' plumbing: release,
 * destroyNative, allocOffset, holds, view...) is not in the public type.
 *
 *   bun .ci/declarations.ts [--out DIR]     (default: types/; package.json's prepack, when packed)
 *
 * A class whose constructor is `@internal` (pools and allocations are made by the library) gets
 * `protected constructor();`: stripped without a trace, it would read as a public constructor taking
 * nothing. The declarations are then checked on their own (no skipLibCheck), so one that names
 * something stripped fails here rather than in a user's project.
 */
import { existsSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import ts from "typescript";

const root = join(import.meta.dir, "..");

/** The repository's compiler options (tsconfig.json): those of a Bun project, as `bun init` writes them. */
export function repositoryOptions(): ts.CompilerOptions {
  const configPath = join(root, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath).options;
}

/** The repository's options, set to emit declarations only, without internals. */
function emitOptions(outDir: string): ts.CompilerOptions {
  return { ...repositoryOptions(), noEmit: false, declaration: true, emitDeclarationOnly: true, stripInternal: true, rootDir: join(root, "src"), outDir };
}

function hasInternalConstructor(source: ts.ClassDeclaration): boolean {
  const file = source.getSourceFile();
  return source.members.some((member) => ts.isConstructorDeclaration(member) && ts.isInternalDeclaration(member, file));
}

/** `protected constructor();` in each emitted class whose constructor was stripped as internal. */
const closeInternalConstructors: ts.TransformerFactory<ts.SourceFile | ts.Bundle> = (context) => {
  const { factory } = context;
  const visit = (node: ts.Node): ts.Node => {
    if (!ts.isClassDeclaration(node)) return node;
    const source = ts.getOriginalNode(node);
    if (!ts.isClassDeclaration(source) || !hasInternalConstructor(source) || node.members.some(ts.isConstructorDeclaration)) return node;
    const closed = factory.createConstructorDeclaration([factory.createModifier(ts.SyntaxKind.ProtectedKeyword)], [], undefined);
    return factory.updateClassDeclaration(node, node.modifiers, node.name, node.typeParameters, node.heritageClauses, [closed, ...node.members]);
  };
  return (file) => (ts.isSourceFile(file) ? ts.visitEachChild(file, visit, context) : file);
};

/**
 * A relative import as Node's ESM resolution (a user's `moduleResolution: "nodenext"`, what
 * `tsc --init` writes) accepts it: with its extension, `./pool.js` for src/pool.ts (which is
 * types/pool.d.ts once emitted). src/ writes `./pool`, as Bun and `"bundler"` resolution take it;
 * left so, every import of the declarations fails under nodenext and the whole API reads as errors.
 */
function withExtension(specifier: string, fromFile: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  const target = resolve(dirname(fromFile), specifier);
  if (existsSync(`${target}.ts`)) return `${specifier}.js`;
  if (existsSync(join(target, "index.ts"))) return `${specifier}/index.js`;
  throw new Error(`${fromFile} imports ${specifier}, which is no module of src/`);
}

const extendRelativeImports: ts.TransformerFactory<ts.SourceFile | ts.Bundle> = (context) => {
  const { factory } = context;
  return (file) => {
    if (!ts.isSourceFile(file)) return file;
    const from = ts.getOriginalNode(file).getSourceFile().fileName;
    const literal = (node: ts.Expression | undefined) =>
      node !== undefined && ts.isStringLiteral(node) ? factory.createStringLiteral(withExtension(node.text, from)) : node;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node)) return factory.updateImportDeclaration(node, node.modifiers, node.importClause, literal(node.moduleSpecifier)!, node.attributes);
      if (ts.isExportDeclaration(node)) return factory.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, literal(node.moduleSpecifier), node.attributes);
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        const argument = factory.updateLiteralTypeNode(node.argument, literal(node.argument.literal) as ts.StringLiteral);
        return factory.updateImportTypeNode(node, argument, node.attributes, node.qualifier, node.typeArguments, node.isTypeOf);
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitEachChild(file, visit, context);
  };
};

const formatHost: ts.FormatDiagnosticsHost = { getCanonicalFileName: (name) => name, getCurrentDirectory: () => root, getNewLine: () => "\n" };

/** The compiler's complaints as tsc prints them; "" for none. */
export function formatted(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, formatHost);
}

/**
 * Writes the declarations of src/index.ts (and of the modules it reaches) into `outDir`, replacing
 * what was there. Returns the compiler's complaints, formatted, or "" where there are none.
 */
export function emitDeclarations(outDir: string): string {
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  const options = emitOptions(out);
  const program = ts.createProgram([join(root, "src", "index.ts")], options);
  const emitted = program.emit(undefined, undefined, undefined, true, { afterDeclarations: [closeInternalConstructors, extendRelativeImports] });
  const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (problems.length > 0) return formatted(problems);
  // The declarations alone, as a user's compiler reads them: each must stand without what was
  // stripped, under Bun's options ("bundler" resolution) and under Node's (nodenext: ESM rules where
  // a package.json above says "type": "module", as the package's does; test/types.test.ts checks so).
  const nodeNext = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
  return [{}, nodeNext]
    .map((resolution) => {
      const check = ts.createProgram([join(out, "index.d.ts")], { ...options, ...resolution, noEmit: true, skipLibCheck: false });
      const ours = check.getSourceFiles().filter((file) => resolve(file.fileName).startsWith(out + "/"));
      return formatted(ours.flatMap((file) => [...check.getSyntacticDiagnostics(file), ...check.getSemanticDiagnostics(file)]));
    })
    .join("");
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const out = resolve(values.out ?? join(root, "types"));
  const problems = emitDeclarations(out);
  if (problems !== "") {
    console.error(`[declarations] the declarations in ${out} are not sound:\n${problems}`);
    process.exit(1);
  }
}
