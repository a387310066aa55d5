/**
 * `bun bench/views.ts`: what an exact, detachable view costs in this Bun, primitive by primitive,
 * next to `new Uint8Array(n)` and `Buffer.allocUnsafe(n)`. This chose the design of HostPool's
 * views (src/pool.ts): a buffer per allocation, detached with `transfer()`, whose successor (never
 * handed out) is kept as the block's spare for its next allocation. Medians and means: the means
 * carry the garbage collections that external buffers' bytes bring on.
 *
 * The second table is what live external buffers cost everything else: JSC counts their bytes as
 * heap, so a small JavaScript allocation is timed while 0 B to 4 GiB of them are live (why the
 * pool's windows and spares are kept small). Figures: bench/RESULTS.md.
 */
import { dlopen, FFIType, toArrayBuffer, toBuffer, type Pointer } from "bun:ffi";
import { bench, do_not_optimize, group, run } from "mitata";
import { malloc } from "./anchors";
import { cpuModel, formatNs, KiB, MiB, table, timesByName } from "./util";

const memory = malloc(64 * MiB)! as Pointer;
// A C function that ignores what it is given, as the finalizer toArrayBuffer's 4th and 5th arguments name.
const noOp = (dlopen("libc.so.6", { abs: { args: [FFIType.i32], returns: FFIType.i32 } }).symbols.abs as unknown as { ptr: number }).ptr;
const withFinalizer = toArrayBuffer as unknown as (ptr: Pointer, offset: number, length: number, context: Pointer, finalizer: number) => ArrayBuffer;
/**
 * The second table: each case in a process of its own (a heap that never saw the buffers), timed
 * by rounds of a plain loop. `live` keeps the buffers; `detached` makes and detaches them; `collected`
 * keeps them through a full collection.
 */
const LIVE: [string, string[]][] = [
  ["none", ["0", "live"]],
  ["4 MiB live (4 of 1 MiB)", ["4", "live"]],
  ["64 MiB live (64 of 1 MiB)", ["64", "live"]],
  ["256 MiB made and detached at once", ["256", "detached"]],
  ["4 GiB live (one buffer, as a pool's whole window was)", ["4096", "live"]],
  ["4 GiB live, after a full collection", ["4096", "collected"]],
];
if (process.argv[2] === "--live") {
  const [mib, how] = [Number(process.argv[3]), process.argv[4]];
  const held = mib <= 256 ? Array.from({ length: mib }, () => toArrayBuffer(memory, 0, MiB)) : [toArrayBuffer(memory, 0, mib * MiB)];
  if (how === "detached") for (const buffer of held) buffer.transfer(0);
  if (how === "collected") Bun.gc(true);
  let kept: Uint8Array | undefined;
  const rounds: number[] = [];
  for (let round = 0; round < 40; round++) {
    const started = Bun.nanoseconds();
    for (let i = 0; i < 20_000; i++) kept = new Uint8Array(64);
    rounds.push((Bun.nanoseconds() - started) / 20_000);
  }
  do_not_optimize(kept);
  do_not_optimize(held);
  const timed = rounds.slice(10); // the first rounds compile the loop
  console.log(JSON.stringify({ fastest: Math.min(...timed), mean: timed.reduce((a, b) => a + b, 0) / timed.length }));
  process.exit(0);
}
function liveRow(args: string[]): string {
  const child = Bun.spawnSync([process.execPath, import.meta.path, "--live", ...args]);
  const { fastest, mean } = JSON.parse(child.stdout.toString()) as { fastest: number; mean: number };
  return `${formatNs(fastest)} / ${formatNs(mean)}`;
}

const window = toArrayBuffer(memory, 0, 64 * MiB);
const SIZES = [64, 4 * KiB, 64 * KiB, MiB];

const rows: [string, (size: number) => () => void][] = [
  ["new Uint8Array(n)", (n) => () => do_not_optimize(new Uint8Array(n))],
  ["Buffer.allocUnsafe(n)", (n) => () => do_not_optimize(Buffer.allocUnsafe(n))],
  ["window view: new Uint8Array(window, offset, n)", (n) => () => do_not_optimize(new Uint8Array(window, 4096, n))],
  ["toArrayBuffer alone", (n) => () => do_not_optimize(toArrayBuffer(memory, 0, n))],
  [
    // One external buffer made and no view: what every exact view costs at least (it grows with n: JSC counts the bytes as heap).
    "one buffer made: spare = spare.transfer(), no view",
    (n) => {
      let spare = toArrayBuffer(memory, 0, n);
      return () => {
        spare = spare.transfer();
        do_not_optimize(spare);
      };
    },
  ],
  ["toBuffer alone (a Buffer over the bytes)", (n) => () => do_not_optimize(toBuffer(memory, 0, n))],
  ["toArrayBuffer + view (not detached)", (n) => () => do_not_optimize(new Uint8Array(toArrayBuffer(memory, 0, n)))],
  [
    "floor: toArrayBuffer + view + transfer(0)",
    (n) => () => {
      const buffer = toArrayBuffer(memory, 0, n);
      do_not_optimize(new Uint8Array(buffer));
      buffer.transfer(0);
    },
  ],
  [
    "the floor with a finalizer (a no-op C function)",
    (n) => () => {
      const buffer = withFinalizer(memory, 0, n, memory, noOp);
      do_not_optimize(new Uint8Array(buffer));
      buffer.transfer(0);
    },
  ],
  [
    "toArrayBuffer + view + transferToFixedLength(0)",
    (n) => () => {
      const buffer = toArrayBuffer(memory, 0, n);
      do_not_optimize(new Uint8Array(buffer));
      buffer.transferToFixedLength(0);
    },
  ],
  [
    "toArrayBuffer + view + structuredClone(transfer)",
    (n) => () => {
      const buffer = toArrayBuffer(memory, 0, n);
      do_not_optimize(new Uint8Array(buffer));
      structuredClone(buffer, { transfer: [buffer] });
    },
  ],
  [
    "toBuffer + .buffer.transfer(0)",
    (n) => () => {
      const view = toBuffer(memory, 0, n);
      do_not_optimize(view);
      (view.buffer as ArrayBuffer).transfer(0);
    },
  ],
  [
    "spare view: subarray(0, n) + transfer + a new spare view",
    (n) => {
      let spare = toArrayBuffer(memory, 0, n);
      let view = new Uint8Array(spare);
      return () => {
        do_not_optimize(view.subarray(0, n));
        spare = spare.transfer();
        view = new Uint8Array(spare);
      };
    },
  ],
  [
    "spare buffer: view + spare = spare.transfer() (chosen)",
    (n) => {
      let spare = toArrayBuffer(memory, 0, n);
      return () => {
        do_not_optimize(new Uint8Array(spare));
        spare = spare.transfer(); // detaches the view; the successor reaches the same bytes without a copy
      };
    },
  ],
];

group("exact, detachable views", () => {
  for (const size of SIZES) for (const [name, make] of rows) bench(`${name} @${size}`, make(size));
});

const result = await run({ format: "quiet" } as Parameters<typeof run>[0]);
const medians = timesByName(result, "p50");
const means = timesByName(result);
const header = ["primitive", ...SIZES.map((size) => (size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`))];
const cell = (name: string, size: number) => `${formatNs(medians.get(`${name} @${size}`) ?? NaN)} / ${formatNs(means.get(`${name} @${size}`) ?? NaN)}`;
console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log("median / mean");
console.log(table(header, rows.map(([name]) => [name, ...SIZES.map((size) => cell(name, size))])));
console.log(table(["external buffers", "new Uint8Array(64), fastest round / mean of rounds"], LIVE.map(([label, args]) => [label, liveRow(args)])));
