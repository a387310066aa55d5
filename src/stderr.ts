/**
 * The library's own reports on stderr (leak reports, MEMORY_POOL_SHOW_STATS tables), written
 * best-effort. A report is a side effect of the call that makes it (destroyPool, a handle
 * collected, the process's exit): where stderr cannot take it (a pipe whose reader has gone, as
 * after `bun app.ts 2>&1 | head`, is EPIPE), what is lost is the report, never the call. A
 * throwing write ended destroy() with an untyped EPIPE before the pool was released, and would
 * end the process from inside a FinalizationRegistry callback.
 */
import { writeSync } from "node:fs";

const STDERR = 2;
const encoder = new TextEncoder();

/** Writes `text` to stderr whole, as far as stderr takes it; never throws. */
export function writeReport(text: string): void {
  const bytes = encoder.encode(text);
  try {
    // A pipe may take part of a large report per write: the rest follows.
    for (let written = 0; written < bytes.length; ) written += writeSync(STDERR, bytes, written);
  } catch {
    // stderr is closed or broken: nobody can read the report.
  }
}
