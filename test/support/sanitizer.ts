// Runs a scenario of test/fixtures/nvtx-scenario.ts under compute-sanitizer and reads its report:
// shared by test/gpu/nvtx.test.ts and bench/sanitizer.ts (which prints the reports for the README).
import { existsSync } from "node:fs";
import { join } from "node:path";

/** compute-sanitizer: $COMPUTE_SANITIZER, the CUDA toolkit's, or the one on PATH; null where none is. */
export function findSanitizer(): string | null {
  const candidates = [process.env.COMPUTE_SANITIZER, "/usr/local/cuda/bin/compute-sanitizer", Bun.which("compute-sanitizer") ?? undefined];
  return candidates.find((path): path is string => path !== undefined && path !== "" && existsSync(path)) ?? null;
}

export type SanitizerTool = "memcheck" | "initcheck";

export interface SanitizerRun {
  /** The command as a person would type it. */
  command: string;
  exitCode: number;
  /** What the sanitizer and the scenario printed, stdout then stderr. */
  output: string;
  /** The address the scenario says the sanitizer should name ("expect address 0x..."). */
  expected: number | undefined;
  /** Every address the sanitizer's reports name as accessed. */
  reported: number[];
  /** From "ERROR SUMMARY: N errors". */
  errors: number | undefined;
}

const fixture = join(import.meta.dir, "..", "fixtures", "nvtx-scenario.ts");

/**
 * Runs `scenario` under `compute-sanitizer --tool <tool>` with registration on or off
 * (MEMORY_POOL_NVTX). Asynchronous, so that several runs (each slow under the sanitizer) overlap.
 */
export async function runUnderSanitizer(sanitizer: string, tool: SanitizerTool, scenario: string, registerMemory: boolean): Promise<SanitizerRun> {
  const options = ["--tool", tool, "--destroy-on-device-error=kernel", "--show-backtrace=no", "--target-processes", "all"];
  const flag = registerMemory ? "1" : "0";
  const child = Bun.spawn([sanitizer, ...options, process.execPath, fixture, scenario], { env: { ...process.env, MEMORY_POOL_NVTX: flag }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const output = `${stdout}${stderr}`;
  const expected = /expect address (0x[0-9a-f]+)/.exec(output)?.[1];
  const summary = /ERROR SUMMARY: (\d+) error/.exec(output)?.[1];
  return {
    command: `MEMORY_POOL_NVTX=${flag} compute-sanitizer ${options.join(" ")} bun test/fixtures/nvtx-scenario.ts ${scenario}`,
    exitCode,
    output,
    expected: expected === undefined ? undefined : Number(expected),
    // "Address 0x... is out of bounds" or, in newer sanitizers, "Access to 0x... is out of bounds".
    reported: [...output.matchAll(/(?:Address|Access to) (0x[0-9a-f]+)/g)].map((match) => Number(match[1])),
    errors: summary === undefined ? undefined : Number(summary),
  };
}
