// The error a call throws, for tests that assert on its fields; fails the test if nothing is thrown.
import type { MemoryPoolError } from "../../src/index";

export function thrown<T = MemoryPoolError>(fn: () => unknown): T {
  try {
    fn();
  } catch (err) {
    return err as T;
  }
  throw new Error("expected a throw");
}
