/**
 * Diagnostics, no goal: what one crossing of bun:ffi costs. Two calls of libc abs() are the
 * floor under any alloc + free pair through FFI (the pool's or malloc's); set against the
 * anchor of goal 1 they show how much of malloc + free is the crossing and how much is malloc.
 */
import { do_not_optimize, group } from "mitata";
import { abs, free, malloc } from "./anchors";
import { compare, type Suite } from "./goals";

export function ffiSuite(): Suite {
  const goals = [] as Suite["goals"];
  let x = 1;
  group("diagnostics: the cost of crossing bun:ffi", () => {
    goals.push(
      compare(
        "diag: 2 FFI calls of libc abs() vs malloc(64)+free",
        [
          "2 × libc abs() (ffi floor)",
          () => {
            x = abs(x) + 1;
            x = abs(-x) & 0xffff;
            do_not_optimize(x);
          },
        ],
        [
          "libc malloc(64) + free (ffi), again",
          () => {
            const p = malloc(64);
            free(p);
            do_not_optimize(p);
          },
        ],
        undefined,
        1,
      ),
    );
  });
  return { goals, cleanup() {} };
}
