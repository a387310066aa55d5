// copy()'s fast path after an end of another block in the same pool (src/copy.ts): an allocation
// whose pool's count of ends moved is proven alive by its attached `bytes` view (allocation.ts
// #provingView), which every end of it in this thread detaches. Each case ends one block by some
// route and checks that the others are copied right while the ended one is refused, including
// where its view was made by another handle of the same block, transferred away, or made again.
import { expect, test } from "bun:test";
import { copy, UseAfterFreeError, type Allocation, type CPUMemoryPool } from "../src/index";
import { cpuPoolsPerTest } from "./support/pools";
import { thrown } from "./support/thrown";

const pool = cpuPoolsPerTest();

function filled(p: CPUMemoryPool, size: number, value: number): Allocation {
  const a = p.allocate(size);
  a.bytes.fill(value); // its view made: the proof the fast path takes after another block's end
  return a;
}

const ends: [route: string, end: (p: CPUMemoryPool, a: Allocation) => void][] = [
  ["free()", (_p, a) => a.free()],
  ["deallocate(handle)", (p, a) => p.deallocate(a)],
  ["deallocate(pointer)", (p, a) => p.deallocate(a.ptr)],
  ["deallocate(view)", (p, a) => p.deallocate(a.bytes)],
  ["free() of another handle of the block (fromPointer)", (p, a) => p.fromPointer(a.ptr).free()],
];

for (const [route, end] of ends) {
  test(`after ${route} of one block, viewed allocations still copy and the ended one is refused`, () => {
    for (const kind of [{}, { allocatorType: "FixedSize" as const, blockSize: 64 }]) {
      const p = pool(`after-free-${route}`, { initialSize: 64 * 1024, ...kind });
      const source = filled(p, 64, 7);
      const target = filled(p, 64, 0);
      const ended = filled(p, 64, 9);
      for (let round = 0; round < 3; round++) {
        end(p, p.allocate(64)); // an end of another block: the count moves
        target.bytes.fill(0);
        expect(copy(target, source)).toBe(64);
        expect(target.bytes.every((b) => b === 7)).toBe(true);
        const out = new Uint8Array(64);
        expect(copy(out, source)).toBe(64);
        expect(out.every((b) => b === 7)).toBe(true);
      }
      end(p, ended);
      const next = p.allocate(64); // its block again, most likely
      expect(thrown(() => copy(ended, source))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(target, ended))).toBeInstanceOf(UseAfterFreeError);
      expect(thrown(() => copy(new Uint8Array(64), ended))).toBeInstanceOf(UseAfterFreeError);
      expect(next.bytes.every((b) => b === 0 || b === 9)).toBe(true); // nothing of source's written into it
      expect(copy(target, source)).toBe(64);
      p.destroy();
    }
  });
}

test("a view the caller transferred away proves nothing: the copy is checked, and a view made again proves it again", () => {
  const p = pool("after-free-transferred", { initialSize: 64 * 1024 });
  const source = filled(p, 64, 3);
  const target = filled(p, 64, 0);
  const moved = target.bytes.buffer.transfer(); // the allocation's view is detached; it still lives
  p.allocate(64).free();
  expect(copy(target, source)).toBe(64);
  expect(new Uint8Array(moved).every((b) => b === 3)).toBe(true); // the same memory, through the moved buffer
  expect(target.bytes.every((b) => b === 3)).toBe(true); // a new view
  p.allocate(64).free();
  expect(copy(target, filled(p, 64, 4))).toBe(64);
  expect(target.bytes.every((b) => b === 4)).toBe(true);
});

test("reset() ends every allocation: viewed handles are refused after it, whatever other ends came before", () => {
  const p = pool("after-free-reset", { initialSize: 64 * 1024 });
  const source = filled(p, 64, 5);
  const target = filled(p, 64, 0);
  p.allocate(64).free();
  expect(copy(target, source)).toBe(64);
  p.reset();
  const fresh = filled(p, 64, 6);
  expect(thrown(() => copy(target, fresh))).toBeInstanceOf(UseAfterFreeError);
  expect(thrown(() => copy(fresh, source))).toBeInstanceOf(UseAfterFreeError);
  expect(fresh.bytes.every((b) => b === 6)).toBe(true);
});
