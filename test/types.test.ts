/**
 * The public types as a TypeScript user meets them, checked by the compiler: codes as literal
 * unions, exported result types, .bytes typed as .as() is, getPool by kind (test/fixtures/types/usage.ts).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

test("test/fixtures/types/usage.ts compiles, and each line marked as an error is one", () => {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const options = ["--noEmit", "--strict", "--target", "ESNext", "--module", "Preserve", "--moduleResolution", "bundler", "--allowImportingTsExtensions", "--skipLibCheck", "--types", "bun", "--lib", "ESNext"];
  const result = Bun.spawnSync(["node", tsc, ...options, join(root, "test/fixtures/types/usage.ts")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const output = result.stdout.toString() + result.stderr.toString();
  expect(output).toBe("");
  expect(result.exitCode).toBe(0);
}, 60_000);
