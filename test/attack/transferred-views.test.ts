/**
 * A view's buffer transferred away by its user: `view.buffer.transfer()`, or a structuredClone /
 * postMessage transfer list (how a Bun user hands bytes to a Worker). Found by attacking main: the
 * pool then found its own record of the block's buffer detached, and free() threw a TypeError
 * ("Receiver is detached") after the core had freed the block, leaving the handle looking alive
 * and the block poisoned: every later view of any allocation there threw the same TypeError, and
 * reset() and destroy() did too. The handle's cached `bytes` stayed the detached, empty view.
 * The same with windowBytes(): a transferred window broke every later window view of the pool
 * (TypeError "Buffer is already detached") and destroy() threw a TypeError.
 */
import { expect, test } from "bun:test";
import { DoubleFreeError, UseAfterFreeError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";
import { destroyedHere } from "../../src/pool";

const pool = cpuPoolsPerTest();

const transfers: [string, (buffer: ArrayBuffer) => ArrayBuffer][] = [
  ["buffer.transfer()", (buffer) => buffer.transfer()],
  ["structuredClone with a transfer list", (buffer) => structuredClone(buffer, { transfer: [buffer] })],
];

for (const [how, transfer] of transfers) {
  test(`${how}: the allocation frees, and its block serves new allocations with views of their own`, () => {
    const p = pool(`attack-transfer-free-${how}`);
    const a = p.allocate(64);
    a.bytes.fill(3);
    const taken = new Uint8Array(transfer(a.bytes.buffer));
    expect(taken[0]).toBe(3);
    expect(a.bytes.length).toBe(64); // a new view, not the detached one the handle had cached
    expect(a.as(Uint32Array).length).toBe(16);
    a.free();
    expect(a.alive).toBe(false);
    expect(thrown(() => a.free())).toBeInstanceOf(DoubleFreeError);
    expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
    const again = p.allocate(64);
    expect(again.ptr).toBe(a.ptr); // the same block: its record was the poisoned one
    again.bytes.fill(9);
    expect(again.bytes.length).toBe(64);
    const larger = p.allocate(32);
    larger.free();
    again.free();
    const resized = p.allocate(48);
    expect(resized.ptr).toBe(a.ptr);
    expect(resized.bytes.length).toBe(48);
    resized.free();
    expect(p.getStats().liveAllocations).toBe(0);
  });

  test(`${how}: reset() and destroy() of a pool with a transferred view`, () => {
    const p = pool(`attack-transfer-reset-${how}`);
    const a = p.allocate(100);
    transfer(a.bytes.buffer);
    const kept = p.allocate(100).bytes;
    p.reset();
    expect(kept.length).toBe(0); // views of the other allocation are detached as always
    expect(thrown(() => a.bytes)).toBeInstanceOf(UseAfterFreeError);
    const b = p.allocate(100);
    transfer(b.as(Float64Array).buffer);
    p.destroy();
    expect(destroyedHere(p)).toBe(true);
  });
}

test("a transferred window: later windows are made again, and the pool is destroyed without a TypeError", () => {
  const p = pool("attack-transfer-window");
  const a = p.allocate(64);
  a.windowBytes().fill(4);
  a.windowBytes().buffer.transfer(16);
  const again = a.windowBytes();
  expect(again.length).toBe(64);
  expect(again[63]).toBe(4);
  expect(p.allocate(16).windowBytes().length).toBe(16);
  a.windowBytes().buffer.transfer();
  p.destroy();
  expect(destroyedHere(p)).toBe(true);
});
