/**
 * MemoryPoolManager's constructor from JavaScript. Found by attacking main: it is private to
 * TypeScript only, and `new MemoryPoolManager()` made a second manager that took over the thread's
 * leak watch and the hook that tells the manager of destroyed pools from the one getInstance()
 * gives (every call of the library goes through that one). It now refuses any caller but getInstance().
 */
import { expect, test } from "bun:test";
import { MemoryPoolManager, UnsupportedOperationError } from "../../src/index";
import { thrown } from "../support/thrown";

test("a second manager cannot be made; the process's manager goes on", () => {
  const Manager = MemoryPoolManager as unknown as new (earlier?: unknown) => MemoryPoolManager;
  const error = thrown(() => new Manager(undefined));
  expect(error).toBeInstanceOf(UnsupportedOperationError);
  expect(error.message).toContain("MemoryPoolManager.getInstance()");
  const manager = MemoryPoolManager.getInstance();
  const pool = manager.createCPUPool("attack12-second-manager");
  pool.allocate(16);
  pool.destroy();
  expect(manager.hasPool("attack12-second-manager")).toBe(false);
});
