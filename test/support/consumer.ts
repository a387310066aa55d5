/**
 * A user's project as the TypeScript compiler sees it: files that import "bun-memory-pool" from the
 * package in their folder's node_modules, checked with a Bun project's options (this repository's
 * tsconfig.json) and this checkout's @types/bun. The package's declarations are checked too (no
 * skipLibCheck for them): a user's editor reads them.
 */
import { dirname, join } from "node:path";
import ts from "typescript";
import { formatted, repositoryOptions } from "../../.ci/declarations";
import { PACKAGE_NAME } from "../../src/platforms";

const root = join(import.meta.dir, "..", "..");

export interface ConsumerCheck {
  program: ts.Program;
  /** What the compiler says of the files and of the package's declarations; "" for nothing. */
  problems: string;
  /** The package's files the compiler read, relative to the package's folder. */
  packageFiles: string[];
}

/** Node's ESM resolution, as `tsc --init` sets a project up: relative imports need their extensions. */
export const NODE_NEXT: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };

/**
 * Type-checks `files`, which lie in one folder whose node_modules holds the package, with a Bun
 * project's options and `changed` over them (another resolution, stricter flags).
 */
export function checkConsumer(files: string[], changed: ts.CompilerOptions = {}): ConsumerCheck {
  const options: ts.CompilerOptions = { ...repositoryOptions(), ...changed, noEmit: true, skipLibCheck: false, typeRoots: [join(root, "node_modules", "@types")] };
  const program = ts.createProgram(files, options);
  const packageFolder = join(dirname(files[0]!), "node_modules", PACKAGE_NAME) + "/";
  const fromPackage = program.getSourceFiles().filter((file) => file.fileName.startsWith(packageFolder));
  const checked = [...files.map((file) => program.getSourceFile(file)!), ...fromPackage];
  const problems = formatted([
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
  ]);
  return { program, problems, packageFiles: fromPackage.map((file) => file.fileName.slice(packageFolder.length)).sort() };
}
