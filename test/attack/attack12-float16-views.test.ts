/**
 * Float16Array, a typed array of Bun's like the others. Found by attacking main: `as(Float16Array)`
 * and `allocate(Float16Array, n)` were refused with "as takes a typed array type such as
 * Float32Array ..., not a function": a view of halves over an allocation could not be had, though
 * it is as safe as any other (exact, detached on free).
 */
import { expect, test } from "bun:test";
import { allocate, deallocate, UseAfterFreeError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

test("as(Float16Array) views the whole block as halves, and is detached on free", () => {
  const a = pool("attack12-float16").allocate(7);
  const halves = a.as(Float16Array);
  expect(halves).toBeInstanceOf(Float16Array);
  expect(halves.length).toBe(3); // floor(7 / 2)
  halves[0] = 1.5;
  expect(Array.from(a.bytes.subarray(0, 2))).toEqual([0x00, 0x3e]); // 1.5 as a half, little-endian
  a.free();
  expect(halves.length).toBe(0);
  expect(thrown(() => a.as(Float16Array))).toBeInstanceOf(UseAfterFreeError);
});

test("allocate(Float16Array, n) gives n halves from the default pool, freed by deallocate", () => {
  const halves = allocate(Float16Array, 10);
  expect(halves).toBeInstanceOf(Float16Array);
  expect(halves.length).toBe(10);
  expect(halves.byteLength).toBe(20);
  deallocate(halves);
  expect(halves.length).toBe(0);
});
