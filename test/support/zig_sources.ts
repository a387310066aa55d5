/** The core's Zig sources (zig/src), for the structural tests that read them (test/zig_imports.test.ts, test/zig_pool_fields.test.ts). */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const ZIG_SOURCE = resolve(import.meta.dir, "..", "..", "zig", "src");

/** Every .zig file under `directory`, its subfolders included. */
export function zigFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return zigFiles(path);
    return entry.name.endsWith(".zig") ? [path] : [];
  });
}
