/**
 * `bun bench/receivers.ts`: the hot calls whose receivers are checked (a method called on an object
 * that only inherits a pool's or an allocation's prototype is a typed error: src/receiver.ts), each
 * next to libc's pair in this process. Figures: bench/RESULTS.md (session 5: leftovers2).
 */
import { do_not_optimize, run } from "mitata";
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
import { compare, goalRows, type TimedGoal } from "./goals";
import { cpuModel, table, timesByName } from "./util";

const manager = MemoryPoolManager.getInstance();
const fixed = manager.createCPUPool("receivers-fixed", PoolConfig.FixedSizeCPU(64));
const variable = manager.createCPUPool("receivers-variable", new PoolConfig());
const libc: [string, () => void] = ["libc malloc(64) + free (ffi)", () => { const p = malloc(64); free(p); do_not_optimize(p); }];
const rows: [string, () => void][] = [
  ["fixed allocateRaw(64) + deallocate", () => { const p = fixed.allocateRaw(64); fixed.deallocate(p); do_not_optimize(p); }],
  ["fixed allocate(64) + free()", () => fixed.allocate(64).free()],
  ["fixed allocate(64).bytes + free()", () => { const a = fixed.allocate(64); do_not_optimize(a.bytes); a.free(); }],
  ["variable allocate(64).bytes + free()", () => { const a = variable.allocate(64); do_not_optimize(a.bytes); a.free(); }],
  ["fixed allocateWindowBytes(64) + deallocate", () => { const v = fixed.allocateWindowBytes(64); fixed.deallocate(v); do_not_optimize(v); }],
];
for (let i = 0; i < 200_000; i++) for (const [, step] of [...rows, libc]) step();
const goals: TimedGoal[] = rows.map((row) => compare(`${row[0]} vs libc`, row, libc, undefined, 3));
const { rows: table_rows } = goalRows(goals, timesByName(await run({ format: "quiet" } as Parameters<typeof run>[0])));
console.log(`cpu: ${cpuModel()} (${navigator.hardwareConcurrency} cores), Bun ${Bun.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(table(["row", "ours", "libc", "ratio", "goal", "met?"], table_rows));
manager.destroyPool("receivers-fixed");
manager.destroyPool("receivers-variable");
