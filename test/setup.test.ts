/**
 * The contributors' set-up (.ci/setup.mjs) names what it cannot do without: run with a PATH whose
 * python3 is a stand-in that lacks what is asked of it, and no apt-get to install it with.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const node = Bun.which("node");
const shims = mkdtempSync(join(tmpdir(), "bun-memory-pool-setup-"));
afterAll(() => rmSync(shims, { recursive: true, force: true }));

/** Runs the set-up with `python3` answering as `script` (a shell body) and nothing else on PATH. */
function setupWithPython(script: string) {
  writeFileSync(join(shims, "python3"), `#!/bin/sh\n${script}\n`);
  chmodSync(join(shims, "python3"), 0o755);
  // npm packages are there already (node_modules), so the first step has nothing to run.
  const result = Bun.spawnSync([node!, join(root, ".ci", "setup.mjs")], { cwd: root, env: { PATH: shims }, stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe.skipIf(node === null)("set-up", () => {
  test("announces its steps, and a missing python3 is named with the Debian package to install", () => {
    const result = setupWithPython("exit 127");
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("[setup] 1/5 npm packages");
    expect(result.stdout).toContain("[setup] 2/5 Zig 0.15.1");
    expect(result.stderr).toContain("python3 is missing");
    expect(result.stderr).toContain("apt-get install python3)");
  });

  test("a python3 without pip is named with python3-pip", () => {
    const result = setupWithPython(`[ "$1" = "--version" ] && exit 0\nexit 1`);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("pip (python3 -m pip) is missing");
    expect(result.stderr).toContain("apt-get install python3-pip");
  });
});
