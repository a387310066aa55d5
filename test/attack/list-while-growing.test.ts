/**
 * getLeaks() on a shared FixedSize pool while other Workers grow it. The core listed the pool's
 * regions without the growth lock, so a region another Worker's refill was adding (its blocks'
 * chunks not there yet, or the region list moved by its growth) read as a block with no chunk:
 * a segmentation fault or a core panic in 2 of 5 runs of this child (once in churn.test.ts).
 * Five runs here, each in a child process, so a crash fails the test.
 */
import { expect, test } from "bun:test";
import { runChild } from "../pmem/helpers";

test("listing live blocks while three Workers grow a lockFree pool region by region: no crash, every block listed at the end", async () => {
  for (let run = 0; run < 5; run++) {
    const child = await runChild("../../fixtures/attack/list-while-growing-child.ts", []);
    expect(child.stderr).toBe("");
    expect(child.exitCode).toBe(0);
    const result = JSON.parse(child.stdout) as { lists: number; live: number };
    expect(result.lists).toBeGreaterThan(0);
    expect(result.live).toBe(600_000);
  }
}, 120_000);
