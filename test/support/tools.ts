/**
 * Whether the tools some tests need besides Bun are installed: the TypeScript compiler and Bun's
 * types (the type checks, the declarations), and Zig (the release's cores). A copy of the
 * repository with only bun and mitata installed (the GPU machine runs `bun test` from one) has none
 * of them: those tests skip there, saying why, rather than fail on a module they cannot load. Where
 * the tools are here, the tests run, and fail where something is wrong.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

/** Whether the package `name` resolves from the repository's root (its node_modules). */
function installed(name: string): boolean {
  try {
    Bun.resolveSync(`${name}/package.json`, root);
    return true;
  } catch {
    return false;
  }
}

/** Why the type tests cannot run here (typescript or @types/bun, or those of `packages`, not installed), or undefined where they can. */
export function missingTypeTools(packages = ["typescript", "@types/bun"]): string | undefined {
  const missing = packages.filter((name) => !installed(name));
  if (missing.length === 0) return undefined;
  return `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not installed in node_modules (npm install puts ${missing.length === 1 ? "it" : "them"} there)`;
}

/** Why the pinned Zig cannot run here (PyPI's ziglang in .tools/zig, as .ci/setup.mjs installs it), or undefined where it can. */
export function missingZig(): string | undefined {
  const result = spawnSync("python3", ["-m", "ziglang", "version"], { env: { ...process.env, PYTHONPATH: join(root, ".tools", "zig") }, encoding: "utf8" });
  if (result.status === 0) return undefined;
  return `Zig (python3 -m ziglang, from .tools/zig) does not run here: ${result.error?.message ?? result.stderr.trim().split("\n").at(-1) ?? `exit ${result.status}`} (node .ci/setup.mjs installs it)`;
}

/** Logs why `file`'s tests are skipped, where `reason` says they are; returns whether they run. */
export function runsHere(file: string, reason: string | undefined): boolean {
  if (reason !== undefined) console.log(`[${file}] skipped: ${reason}`);
  return reason === undefined;
}
