/**
 * `bun bench/copy.ts`: host copy() against its anchor, TypedArray.prototype.set over the same
 * bytes, in this process (issue 12: at most 1.25x at 64 B, at most 1.0x from 4 KiB). Each size is
 * timed between two allocations, from a typed array into an allocation, from an allocation into
 * a typed array, and between two typed arrays. The anchor for a pair is `dst.set(src)` on the
 * Uint8Arrays the copy reads and writes (an allocation's `.bytes`). Figures: bench/RESULTS.md.
 * `bun bench/copy.ts 64 4096` times only those sizes (in bytes). COPY_CLOCK=cpu times the rows by
 * this thread's CPU time (util.ts threadCpuTimes: the lowest of several rounds, rows alternating),
 * which a machine shared with other work disturbs less, else mitata's wall clock.
 * The "after a free" rows copy right after a free of another block of the same pool (a pointer's,
 * allocateRaw then deallocate), against that free alone: copy()'s fast path proves an allocation
 * alive with no call into the core, which an unrelated end must not undo.
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { copy, MemoryPoolManager, PoolConfig, type Allocation, type CopySide } from "../src/index";
import { compare, goalRows, type TimedGoal } from "./goals";
import { cpuModel, KiB, MiB, table, threadCpuTimes, timesByName } from "./util";

const manager = MemoryPoolManager.getInstance();
const SIZES: [label: string, bytes: number, goal: number][] = [
  ["64 B", 64, 1.25],
  ["4 KiB", 4 * KiB, 1.0],
  ["64 KiB", 64 * KiB, 1.0],
  ["64 MiB", 64 * MiB, 1.0],
];
const only = process.argv.slice(2).map(Number);
const sizes = only.length === 0 ? SIZES : SIZES.filter(([, bytes]) => only.includes(bytes));
const threadCpu = process.env.COPY_CLOCK === "cpu";
const copyPool = manager.createCPUPool("bench-copy", Object.assign(new PoolConfig(), { initialSize: 160 * MiB }));
const goals: TimedGoal[] = [];

for (const [label, n, goal] of sizes) {
  const from = copyPool.allocate(n);
  const to = copyPool.allocate(n);
  from.bytes.fill(1);
  const source = new Uint8Array(n).fill(2);
  const target = new Uint8Array(n);
  const bytesOf = (side: CopySide) => (ArrayBuffer.isView(side) ? (side as Uint8Array) : (side as Allocation).bytes);
  const pairs: [name: string, dst: CopySide, src: CopySide][] = [
    ["allocation <- allocation", to, from],
    ["allocation <- typed array", to, source],
    ["typed array <- allocation", target, from],
    ["typed array <- typed array", target, source],
  ];
  if (threadCpu) {
    const rows: [string, () => void][] = [];
    for (const [name, dst, src] of pairs) {
      const dstBytes = bytesOf(dst);
      const srcBytes = bytesOf(src);
      rows.push([`copy ${name}`, () => void copy(dst, src)], [`set ${name}`, () => void dstBytes.set(srcBytes)]);
      if (name !== "typed array <- typed array") rows.push([`free, copy ${name}`, () => void (copyPool.deallocate(copyPool.allocateRaw(16)), copy(dst, src))]);
    }
    rows.push(["free", () => copyPool.deallocate(copyPool.allocateRaw(16))]);
    // About 3 ms a round at any size.
    const times = threadCpuTimes(rows, 7, Math.max(20, Math.round(300_000 / Math.max(1, n / 256))));
    for (const [name] of pairs) {
      const ours = times.get(`copy ${name}`)!;
      const anchor = times.get(`set ${name}`)!;
      console.log(`${label.padStart(6)}  ${name.padEnd(26)}  copy ${ours.toFixed(1).padStart(9)} ns  set ${anchor.toFixed(1).padStart(9)} ns  ${(ours / anchor).toFixed(2)}x (goal ${goal}x)`);
    }
    const free = times.get("free")!;
    for (const [name] of pairs.slice(0, 3)) {
      const after = times.get(`free, copy ${name}`)! - free;
      console.log(`${label.padStart(6)}  ${name.padEnd(26)}  after a free: copy ${after.toFixed(1).padStart(5)} ns (free + copy ${times.get(`free, copy ${name}`)!.toFixed(1)} ns, free alone ${free.toFixed(1)} ns)`);
    }
    continue;
  }
  group(`host copies of ${label}`, () => {
    for (const [name, dst, src] of pairs) {
      const dstBytes = bytesOf(dst);
      const srcBytes = bytesOf(src);
      goals.push(
        compare(
          `copy(), ${name}, ${label} vs TypedArray.prototype.set`,
          [`copy ${name} ${label}`, () => do_not_optimize(copy(dst, src))],
          [`set ${name} ${label}`, () => do_not_optimize(dstBytes.set(srcBytes))],
          goal,
        ),
      );
    }
    // No goal of issue 12: what a free just before costs a copy (the difference of the two rows).
    bench(`free ${label}`, () => copyPool.deallocate(copyPool.allocateRaw(16)));
    bench(`free, copy allocation <- allocation ${label}`, () => {
      copyPool.deallocate(copyPool.allocateRaw(16));
      do_not_optimize(copy(to, from));
    });
  });
}

if (!threadCpu) {
  const started = performance.now();
  const average = timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0]));
  const { rows, unmet } = goalRows(goals, average);
  console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
  console.log(table(["figure (issue 12)", "ours", "anchor", "ratio", "goal", "met?"], rows));
  console.log(`\n${unmet.length === 0 ? "all goals met" : `unmet: ${unmet.join("; ")}`} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
manager.destroyPool("bench-copy");
