/**
 * A link word written through a view and made durable by persists that each cover only part of it
 * still keeps its target from being freed. Found by attack11: a persisted range's link words were
 * taken as the whole 8-byte words inside the range, so a word persisted in two halves (bytes 0-3,
 * then 4-7), or by a range that starts or ends inside it, was never noted, and once the set of
 * named blocks was started a free of its target went through: the file then held a durable link
 * naming free space (after a crash, or at once, whatever allocation takes the block next).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copy, MemoryPoolManager, PMEMRootError, type Allocation } from "../../src/index";
import { linkWord, pmemConfig, poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";
import { offsetOfAllocation } from "../../src/allocation";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

describe("PMEM: a link persisted in parts", () => {
  for (const strategy of ["Variable", "FixedSize"] as const) {
    test(`a link word whose persists each cover part of it keeps its target (${strategy})`, () => {
      const pool = manager.createPMEMPool(`attack-split-link-${strategy}`, pmemConfig(poolPath(`split-link-${strategy}`), { allocatorType: strategy, blockSize: 256 }));
      const commit = (size: number) => {
        const allocation = pool.allocate(size);
        pool.commitUnpublished(allocation);
        return allocation;
      };
      commit(16).free(); // a published block's free starts the set of named blocks
      // Each way makes bytes 8..15 of the holder durable in parts none of which holds the whole word.
      const ways: [string, (holder: Allocation) => void][] = [
        ["two halves", (holder) => { pool.persist(holder, 4, 8); pool.persist(holder, 4, 12); }],
        ["two halves through views", (holder) => { pool.persist(holder.bytes.subarray(8, 12)); pool.persist(holder.bytes.subarray(12, 16)); }],
        ["two halves flushed", (holder) => { pool.flush(holder, 4, 8); pool.flush(holder, 4, 12); pool.drain(); }],
        ["ranges ending and starting inside the word", (holder) => { pool.persist(holder, 11, 0); pool.persist(holder, 21, 11); }],
        ["bytes one at a time", (holder) => { for (let i = 8; i < 16; i++) pool.persist(holder, 1, i); }],
        // copy() into PMEM writes and persists in one step: each half brought in by a copy of its own.
        ["two halves copied in", (holder) => { const word = holder.bytes.slice(8, 16); holder.bytes.fill(0, 8, 16); pool.persist(holder); copy(holder, word.subarray(0, 4), 4, { dstOffset: 8 }); copy(holder, word.subarray(4), 4, { dstOffset: 12 }); }],
        ["two halves copied into a view", (holder) => { const word = holder.bytes.slice(8, 16); holder.bytes.fill(0, 8, 16); pool.persist(holder); copy(holder.bytes.subarray(8, 12), word.subarray(0, 4)); copy(holder.bytes.subarray(12, 16), word.subarray(4)); }],
      ];
      for (const [way, persistWord] of ways) {
        const target = commit(16);
        const holder = commit(64);
        new BigUint64Array(holder.bytes.buffer, holder.bytes.byteOffset, 8)[1] = linkWord(offsetOfAllocation(target));
        persistWord(holder);
        const refused = thrown(() => target.free());
        expect(refused, way).toBeInstanceOf(PMEMRootError);
        expect(refused.message).toContain(`the link at byte 8 of the allocation at offset ${offsetOfAllocation(holder) * 16}`);
        expect(target.alive).toBe(true);
        holder.bytes.fill(0);
        pool.persist(holder);
        target.free();
        holder.free();
      }
      pool.close();
    });
  }
});
