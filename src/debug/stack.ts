/**
 * JavaScript stacks of allocations and frees. Capturing one costs an Error object (a few hundred
 * nanoseconds); turning it into text costs more and happens only when a report needs it, so
 * trackHistory keeps the Error and formats it late.
 */
import { join } from "node:path";

/** Frames inside this library (src/) say nothing about the caller's bug: they are left out. */
const LIBRARY_DIR = join(import.meta.dir, "..");
const FRAMES_MAX = 16;
/** Frames the library itself adds between the caller and the capture. */
const LIBRARY_FRAMES_MAX = 8;

export type StackTrace = Error;

export function captureStack(): StackTrace {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = FRAMES_MAX + LIBRARY_FRAMES_MAX;
  const trace = new Error();
  Error.stackTraceLimit = limit;
  return trace;
}

/** The caller's frames, one per line ("    at f (file:line:column)"), without the library's own. */
export function formatStack(trace: StackTrace | undefined): string | undefined {
  if (trace === undefined) return undefined;
  const frames = (trace.stack ?? "")
    .split("\n")
    .filter((line) => line.startsWith("    at ") && !line.includes(LIBRARY_DIR))
    .slice(0, FRAMES_MAX);
  return frames.length > 0 ? frames.join("\n") : "    at <unknown>";
}
