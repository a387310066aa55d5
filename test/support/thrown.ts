// The error a call throws, for tests that assert on its fields (fails the test if nothing is thrown), and how a call ends.
import { MemoryPoolError } from "../../src/index";

export function thrown<T = MemoryPoolError>(fn: () => unknown): T {
  try {
    fn();
  } catch (err) {
    return err as T;
  }
  throw new Error("expected a throw");
}

/** What a call ends in, as a word a table of cases can hold: "done", the code of the MemoryPoolError it throws, or "untyped: ..." for any other throw. */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return "done";
  } catch (err) {
    return err instanceof MemoryPoolError ? err.code : `untyped: ${String(err)}`;
  }
}

/** As outcome(), with the message: "done", "CODE: message" for a MemoryPoolError, or "untyped: ..." for any other throw. */
export function outcomeWithMessage(fn: () => unknown): string {
  try {
    fn();
    return "done";
  } catch (err) {
    return err instanceof MemoryPoolError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}`;
  }
}
