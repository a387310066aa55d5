/**
 * Prints what compute-sanitizer says of GPU pool misuse, with the pool's NVTX registration on and
 * off, for the README's GPU debugging section: `bun bench/sanitizer.ts` on the GPU machine. Not a
 * timing: each scenario of test/fixtures/nvtx-scenario.ts runs once under memcheck or initcheck,
 * and the table at the end says whether the sanitizer named the address the scenario expected,
 * whether a tool answered the pool's registration, and whether the sanitizer refused a heap. Under
 * the sanitizer GPU pools take one cuMemAlloc each (it refuses NVTX heaps over VMM mappings): the
 * "backing" scenario prints the address space each pool took and what export gives.
 */
import { gpuDeviceCount } from "../src/native.ts";
import { findSanitizer, runUnderSanitizer, type SanitizerTool } from "../test/support/sanitizer.ts";
import { table } from "./util.ts";

const sanitizer = findSanitizer();
if (gpuDeviceCount() === 0 || sanitizer === null) {
  console.log("bench/sanitizer.ts: needs a CUDA device and compute-sanitizer; run it on the GPU machine.");
  process.exit(0);
}

const runs: [SanitizerTool, string, boolean][] = [
  ["memcheck", "overrun", true],
  ["memcheck", "overrun", false],
  ["memcheck", "in-bounds", true],
  ["memcheck", "use-after-free", true],
  ["memcheck", "use-after-free", false],
  ["initcheck", "uninitialized-read", true],
  ["initcheck", "reused-read", true],
  ["initcheck", "reused-read", false],
  ["memcheck", "pinned-overrun", true],
  ["memcheck", "pinned-overrun", false],
  ["memcheck", "backing", true],
];

const rows: string[][] = [];
for (const [tool, scenario, registerMemory] of runs) {
  const run = await runUnderSanitizer(sanitizer, tool, scenario, registerMemory);
  console.log(`\n$ ${run.command}\n${run.output.trimEnd()}\n(exit ${run.exitCode})`);
  const named = run.expected === undefined ? "—" : run.reported.includes(run.expected) ? "yes" : "no";
  const status = /^done; nvtx (\{.*\})$/m.exec(run.output)?.[1];
  const attached = status === undefined ? "?" : (JSON.parse(status) as { toolAttached: boolean }).toolAttached ? "yes" : "no";
  const refused = run.output.includes("nvtxMemHeapRegister failed") ? "yes" : "no";
  rows.push([tool, scenario, registerMemory ? "on" : "off", String(run.errors ?? "?"), named, attached, refused]);
}
console.log(`\ncompute-sanitizer (${sanitizer}), ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}`);
console.log(table(["tool", "scenario", "registration", "errors", "expected address named", "tool attached", "heap refused"], rows));
