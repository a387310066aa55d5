/**
 * A PMEM pool by a relative path once the working directory was removed. Found by attacking main:
 * createPMEMPool made the path absolute with process.cwd(), which throws an untyped ENOENT Error
 * there. It is now a PMEMFileError saying why; an absolute path is unaffected. In a child
 * process: the working directory is the whole process's.
 */
import { afterAll, expect, test } from "bun:test";
import { attackFixture, runBun } from "../support/child";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { poolPath, removePoolFiles } from "../pmem/helpers";

afterAll(removePoolFiles);

test("a relative path with the working directory gone is a PMEMFileError; an absolute one opens", async () => {
  const directory = mkdtempSync(join(tmpdir(), "attack12-cwd-"));
  const child = await runBun(attackFixture("attack12-removed-cwd-child.ts"), [directory, poolPath("attack12-cwd")], { env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" } });
  const { stdout, stderr } = child;
  expect({ exitCode: child.exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
  expect(JSON.parse(stdout)).toEqual({
    relative: "PMEM_FILE: the pool's path 'relative.pool' is relative, and the working directory is gone (removed while the process was in it): give an absolute path",
    absolute: "done",
    relativeNameFree: true,
  });
});
