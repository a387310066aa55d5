/**
 * PMEM publication attacked: Workers replace linked children (link with freePrevious, linked,
 * allocations({ unreachable })) while the pool is closed under them, then the file is opened again.
 * allocations() threw InvalidPointerError in a Worker whenever another Worker freed a block between
 * the core's listing and the handle made for it; now such a block is left out. Options that are
 * not true or false ("yes", 1) were taken for true; now a ConfigError. Hostile link arguments,
 * cycles, self-links and frees of linked blocks are typed errors or work, and reopen cleanly.
 */
import { afterAll, expect, test } from "bun:test";
import { ConfigError, InvalidPointerError, InvalidSizeError, MemoryPoolManager, PoolConfig, UseAfterFreeError, type PMEMMemoryPool } from "../../src/index";
import { linkWord, poolPath, removePoolFiles, runChild } from "../pmem/helpers";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

afterAll(removePoolFiles);

const manager = MemoryPoolManager.getInstance();
let opened = 0;
const open = (path: string, allocatorType: "Variable" | "FixedSize"): PMEMMemoryPool =>
  manager.createPMEMPool(`attack-publish-${opened++}`, Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: 256 * 1024, allocatorType, blockSize: 128 }));

test("Workers linking while the pool is closed under them: PoolNotFoundError there, and the file reopens with every link live and nothing unreachable", async () => {
  const workers = 3;
  const rounds = 4;
  const run = await runChild("../../fixtures/attack/pmem-link-close.ts", [poolPath("link-close"), String(workers), String(rounds)]);
  expect(run.stderr).toBe("");
  expect(run.signalCode).toBeNull();
  expect(run.exitCode).toBe(0);
  const results: { outcomes: { name: string; message: string }[]; roots: number; links: (number | string)[]; unreachable: number; live: number }[] = JSON.parse(run.stdout);
  expect(results).toHaveLength(rounds);
  for (const result of results) {
    for (const outcome of result.outcomes) expect(`${outcome.name}: ${outcome.message}`).toStartWith("PoolNotFoundError");
    expect(result.roots).toBe(workers);
    for (const link of result.links) expect(typeof link).toBe("number"); // a live block's size, or 0: never a dangling link
    expect(result.unreachable).toBe(0);
    expect(result.live).toBe(workers + result.links.filter((size) => size !== 0).length);
  }
}, 30_000);

for (const strategy of ["Variable", "FixedSize"] as const) {
  test(`hostile link arguments, cycles and frees of linked blocks (${strategy}), then a reopen`, () => {
    const path = poolPath(`publish-hostile-${strategy}`);
    let pool = open(path, strategy);
    const root = pool.root("root", 64);
    const child = pool.allocate(64);
    for (const at of [64, 3, -8, 2 ** 60, NaN, Infinity, "8", 8n]) expect(thrown(() => pool.link(root, at as number, child))).toBeInstanceOf(InvalidSizeError);
    pool.link(root, -0, child); // -0 is byte 0
    pool.link(root, 56, root); // a self-link: a cycle of one
    pool.link(child, 0, root); // and of two
    for (const at of [8, 16, 24]) pool.link(child, at, child); // many links to one block
    expect(offsetOfAllocation(pool.linked(root, 56)!)).toBe(offsetOfAllocation(root));
    expect(pool.allocations({ unreachable: true })).toHaveLength(0);
    // Options are true or false.
    for (const options of [{ freePrevious: "yes" }, { freePrevious: 1 }]) {
      const error = thrown<ConfigError>(() => pool.link(root, 8, null, options as never));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.field).toBe("freePrevious");
      expect(thrown(() => pool.setRoot("other", child, options as never))).toBeInstanceOf(ConfigError);
    }
    expect(thrown(() => pool.allocations({ unreachable: 1 } as never))).toBeInstanceOf(ConfigError);
    expect(pool.getRoot("other")).toBeUndefined();
    // freePrevious refuses to free the block the word is written into, and a freed child's link dangles, typed.
    expect(thrown(() => pool.link(root, 56, null, { freePrevious: true }))).toBeInstanceOf(InvalidPointerError);
    pool.link(root, 0, null);
    child.free();
    expect(thrown(() => pool.link(root, 0, child))).toBeInstanceOf(UseAfterFreeError);
    expect(pool.linked(root, 0)).toBeUndefined();
    // A word with a valid check that points into the header or past the file is refused as damaged.
    const words = new BigUint64Array(root.bytes.buffer, root.bytes.byteOffset, 8);
    for (const [at, target] of [[16, 1], [24, 0xffff_ffff]] as const) {
      words[at / 8] = linkWord(target);
      const error = thrown(() => pool.linked(root, at));
      expect(error).toBeInstanceOf(InvalidPointerError);
      expect(error.message).toContain("outside the pool's heap (the word is damaged)");
      expect(thrown(() => pool.link(root, at, null, { freePrevious: true })).message).toContain("outside the pool's heap");
      words[at / 8] = 0n;
    }
    pool.close();
    pool = open(path, strategy);
    const again = pool.getRoot("root")!;
    expect(offsetOfAllocation(pool.linked(again, 56)!)).toBe(offsetOfAllocation(again));
    expect(pool.allocations().map((a) => offsetOfAllocation(a))).toEqual([offsetOfAllocation(again)]);
    expect(pool.allocations({ unreachable: true })).toHaveLength(0);
    pool.close();
  });
}
