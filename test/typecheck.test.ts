/**
 * The whole repository type-checks (what `npm run typecheck` runs): the library, its tests, benchmarks,
 * examples and tools, under the project's own tsconfig. bun runs TypeScript without checking it, so
 * without this a type error in a test or a benchmark (a field read as possibly undefined, a changed
 * signature) would only show in an editor.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type TypeScript from "typescript";
import { missingTypeTools, runsHere } from "./support/tools";

const root = join(import.meta.dir, "..");
const runs = runsHere("test/typecheck", missingTypeTools());
// Loaded where it is installed: a copy of the repository with only bun and mitata has no compiler.
let ts: typeof TypeScript;
if (runs) ts = (await import("typescript")).default;

test.skipIf(!runs)("the repository type-checks under its tsconfig.json (npm run typecheck)", () => {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), { noEmit: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
  expect(parsed).toBeDefined();
  expect(parsed!.fileNames.some((file) => file.includes("/test/"))).toBe(true); // the tests are in the program, not only src/
  const program = ts.createProgram({ rootNames: parsed!.fileNames, options: parsed!.options });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName.slice(root.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, " ");
  });
  expect(problems).toEqual([]);
}, 300_000);
