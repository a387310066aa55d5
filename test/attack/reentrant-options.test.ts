/**
 * Options whose getters act on the pool mid-call (reentrancy), as a hostile or careless caller's
 * might. Found by attacking main: copy() checked its options, then checked both sides, then read
 * the options again: a getter that freed the destination on its second read made the copy write
 * into a freed block, and into the allocation that had taken it since. A getter could also give
 * the check no stream and the copy another object as its stream (on a GPU path, its `handle` went
 * to the driver as a CUstream). Options are now read once, before the sides are checked.
 */
import { expect, test } from "bun:test";
import { copy, PoolNotFoundError, UseAfterFreeError, type Allocation } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

for (const read of [1, 2, 3]) {
  test(`a dstOffset getter that frees the destination on its read ${read} never lets the copy write into the block's next allocation`, () => {
    const p = pool(`attack-reentrant-free-${read}`);
    const dst = p.allocate(64);
    const src = p.allocate(64);
    src.bytes.fill(9);
    let reads = 0;
    let next: Allocation | undefined;
    const options = {
      get dstOffset() {
        if (++reads === read) {
          dst.free();
          next = p.allocate(64); // takes the freed block
          next.bytes.fill(1);
        }
        return 0;
      },
    };
    const outcome = (() => {
      try {
        return copy(dst, src, 64, options);
      } catch (err) {
        return err;
      }
    })();
    expect(reads).toBe(1); // read once, whatever the path
    if (next !== undefined) {
      expect(outcome).toBeInstanceOf(UseAfterFreeError);
      expect(next.ptr).toBe(dst.ptr);
      expect(next.bytes.every((byte) => byte === 1)).toBe(true);
    } else {
      expect(outcome).toBe(64); // the getter was not read again: the copy went to the live destination
    }
  });
}

test("a srcOffset getter that destroys the pool ends the copy with a typed error", () => {
  const p = pool("attack-reentrant-destroy");
  const src = p.allocate(64);
  const error = thrown(() => copy(new Uint8Array(64), src, 64, { get srcOffset() { p.destroy(); return 0; } }));
  expect(error.constructor === UseAfterFreeError || error.constructor === PoolNotFoundError).toBe(true);
});

test("a stream getter is read once: the stream it gave the check is the one the copy uses", () => {
  const p = pool("attack-reentrant-stream");
  const a = p.allocate(64);
  let fakeUsed = false;
  const fake = { handle: 0xdead, synchronize: () => (fakeUsed = true) };
  let reads = 0;
  // No stream on the first read; on any later one, an object that is no GPUStream.
  const options = () => {
    let own = 0;
    return { get stream() { reads++; return own++ === 0 ? undefined : fake; } } as never;
  };
  expect(copy(new Uint8Array(64), a.bytes, 64, options())).toBe(64); // two views: the fast path
  expect(copy(new Uint8Array(64), a, 64, options())).toBe(64); // an allocation: the endpoint path
  expect(fakeUsed).toBe(false);
  expect(reads).toBe(2);
});
