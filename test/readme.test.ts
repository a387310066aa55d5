// The README's first example is what a new user runs first: it must run as written.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

test("the README's 'A first pool' example runs", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = /## A first pool\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const script = block!.replace(`from "bun-memory-pool"`, `from ${JSON.stringify(join(root, "src", "index.ts"))}`);
  const file = join(mkdtempSync(join(tmpdir(), "memory-pool-readme-")), "first-pool.ts");
  writeFileSync(file, script);
  const result = Bun.spawnSync([process.execPath, file]);
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
  expect(result.stdout.toString()).toContain("Memory pool 'main_cpu_pool'");
});
