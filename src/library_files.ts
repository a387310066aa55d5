/**
 * Where the library's own files are. Run from an installed package or a checkout, each module lies
 * at its own path under src/, and its import.meta.path says where the library is. In an app bundled
 * by `bun build` (or compiled with `bun build --compile`), every module is part of the bundle's file,
 * beside the app's own code, and import.meta.dir is the bundle's folder: nothing there is the
 * library's alone, so a module that reads its folder to find the library's files must not guess.
 */
import { join, sep } from "node:path";

/**
 * The folder that holds the library's src/, where `modulePath` (a module's import.meta.path) is
 * `src/<relativePath>` inside it; undefined where the module runs from a bundle.
 */
export function libraryRoot(modulePath: string, relativePath: string): string | undefined {
  const tail = sep + join("src", relativePath);
  return modulePath.endsWith(tail) ? modulePath.slice(0, -tail.length) : undefined;
}
