/**
 * `bun bench/views.ts`: what an exact, detachable view costs in this Bun, primitive by primitive,
 * next to `new Uint8Array(n)` and `Buffer.allocUnsafe(n)`. This chose the design of HostPool's
 * views (src/pool.ts): a buffer per allocation, detached with `transfer()`, whose successor (never
 * handed out) is kept as the block's spare for its next allocation. Figures: bench/RESULTS.md.
 */
import { toArrayBuffer, toBuffer, type Pointer } from "bun:ffi";
import { bench, do_not_optimize, group, run } from "mitata";
import { malloc } from "./anchors";
import { cpuModel, formatNs, KiB, MiB, table, timesByName } from "./util";

const memory = malloc(64 * MiB)! as Pointer;
const window = toArrayBuffer(memory, 0, 64 * MiB);
const SIZES = [64, 4 * KiB, 64 * KiB, MiB];

const rows: [string, (size: number) => () => void][] = [
  ["new Uint8Array(n)", (n) => () => do_not_optimize(new Uint8Array(n))],
  ["Buffer.allocUnsafe(n)", (n) => () => do_not_optimize(Buffer.allocUnsafe(n))],
  ["window view: new Uint8Array(window, offset, n)", (n) => () => do_not_optimize(new Uint8Array(window, 4096, n))],
  ["toArrayBuffer alone", (n) => () => do_not_optimize(toArrayBuffer(memory, 0, n))],
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

const times = timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0]), "p50");
const header = ["primitive (median)", ...SIZES.map((size) => (size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`))];
console.log(`\ncpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(table(header, rows.map(([name]) => [name, ...SIZES.map((size) => formatNs(times.get(`${name} @${size}`) ?? NaN))])));
