/**
 * The least TypeScript that reads a set of declarations. Each global type they name comes from one
 * of TypeScript's lib files, and the lib files added late set a floor (Float16ArrayConstructor is
 * in lib.esnext.float16.d.ts, from 5.8); a typed array with a type argument (`Uint8Array<ArrayBuffer>`)
 * needs 5.7, where typed arrays became generic.
 */
import { basename, resolve } from "node:path";
import ts from "typescript";

/** Lib files TypeScript added after 5.6, by the version that added them (read from each release's lib/ folder). */
const LIB_ADDED: Record<string, string> = {
  "lib.es2017.arraybuffer.d.ts": "5.7",
  "lib.es2024.d.ts": "5.7",
  "lib.es2024.full.d.ts": "5.7",
  "lib.es2024.arraybuffer.d.ts": "5.7",
  "lib.es2024.collection.d.ts": "5.7",
  "lib.es2024.object.d.ts": "5.7",
  "lib.es2024.promise.d.ts": "5.7",
  "lib.es2024.regexp.d.ts": "5.7",
  "lib.es2024.sharedmemory.d.ts": "5.7",
  "lib.es2024.string.d.ts": "5.7",
  "lib.esnext.float16.d.ts": "5.8",
  "lib.esnext.error.d.ts": "5.9",
  "lib.esnext.sharedmemory.d.ts": "5.9",
};
/** What every lib file not above needs: TypeScript 5.6 had it. */
const OLDER = "5.6";
/** Typed arrays take a type argument (their buffer's type) from 5.7 on. */
const GENERIC_TYPED_ARRAYS = "5.7";
const TYPED_ARRAY = /^(Big)?(U?int|Float)\d+(Clamped)?Array$/;

const later = (a: string, b: string) => (Bun.semver.order(`${a}.0`, `${b}.0`) >= 0 ? a : b);
const earlier = (a: string, b: string) => (later(a, b) === a ? b : a);

export interface TypeScriptFloor {
  /** The least TypeScript version (major.minor) that has every lib type the declarations name. */
  needed: string;
  /** The lib types that need it, each with the lib files that declare it. */
  why: string[];
  /** How many lib types the declarations name: a check that the walk reached them. */
  libTypes: number;
}

/** The floor of the declaration files of `program` that lie in `folder`. */
export function typescriptFloor(program: ts.Program, folder: string): TypeScriptFloor {
  const checker = program.getTypeChecker();
  const found = new Map<string, string>();
  const note = (what: string, version: string) => found.set(what, later(found.get(what) ?? OLDER, version));
  for (const file of program.getSourceFiles().filter((source) => resolve(source.fileName).startsWith(resolve(folder) + "/"))) {
    const visit = (node: ts.Node): void => {
      if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
        const symbol = checker.getSymbolAtLocation(ts.isTypeReferenceNode(node) ? node.typeName : node.expression);
        const libFiles = (symbol?.declarations ?? []).map((declaration) => declaration.getSourceFile()).filter((source) => program.isSourceFileDefaultLibrary(source));
        if (symbol !== undefined && libFiles.length > 0) {
          // Merged across lib files, a type is there from the earliest that declares it.
          const since = libFiles.map((source) => LIB_ADDED[basename(source.fileName)] ?? OLDER).reduce(earlier);
          note(`${symbol.name} (${libFiles.map((source) => basename(source.fileName)).join(", ")})`, since);
          if (node.typeArguments !== undefined && TYPED_ARRAY.test(symbol.name)) note(`${symbol.name}<...>`, GENERIC_TYPED_ARRAYS);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  const needed = [...found.values()].reduce(later, OLDER);
  return { needed, why: [...found].filter(([, version]) => version === needed).map(([what]) => what), libTypes: found.size };
}
