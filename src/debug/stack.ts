/**
 * JavaScript stacks of allocations and frees. Capturing one costs an Error object (a few hundred
 * nanoseconds); turning it into text costs more and happens only when a report needs it, so
 * trackHistory keeps the Error and formats it late.
 */
import { join } from "node:path";
import { libraryRoot } from "../library_files";
import { PACKAGE_NAME } from "../platforms";

/**
 * Frames inside this library (src/) say nothing about the caller's bug: they are left out, known by
 * their file. Run from its own files, the library's src/. In a bundle the library's code and the
 * app's share one file: there a frame is known as the library's only where a source map names its
 * file (`bun build --sourcemap`: .../bun-memory-pool/src/pool.ts); without one, every frame is kept,
 * the library's few above the app's (the folder above the bundle's is the app's: taken for the
 * library's, it left every stack empty).
 */
const root = libraryRoot(import.meta.path, join("debug", "stack.ts"));
const LIBRARY_FILES = root === undefined ? `/${PACKAGE_NAME}/src/` : join(root, "src") + "/";
const FRAMES_MAX = 16;
/** Frames the library itself adds between the caller and the capture. */
const LIBRARY_FRAMES_MAX = 8;

export type StackTrace = Error;

export function captureStack(): StackTrace {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = FRAMES_MAX + LIBRARY_FRAMES_MAX;
  } catch {
    return new Error(); // Error frozen (a hardened program's lockdown): the program's own depth
  }
  const trace = new Error();
  Error.stackTraceLimit = limit;
  return trace;
}

/** The caller's frames, one per line ("    at f (file:line:column)"), without the library's own. */
export function formatStack(trace: StackTrace | undefined): string | undefined {
  if (trace === undefined) return undefined;
  const frames = stackText(trace)
    .split("\n")
    .filter((line) => line.startsWith("    at ") && !line.includes(LIBRARY_FILES))
    .slice(0, FRAMES_MAX);
  return frames.length > 0 ? frames.join("\n") : "    at <unknown>";
}

/**
 * The trace's stack in the engine's own text. Bun formats a stack when it is first read, through
 * the program's Error.prepareStackTrace if it has one (source-map-support installs one; the
 * `callsites` idiom returns an array of call sites; a hook may return anything, or throw): that
 * hook is set aside while the library reads its own traces, so every report can be written.
 */
function stackText(trace: Error): string {
  const hooks = Error as unknown as { prepareStackTrace: unknown };
  const prepare = hooks.prepareStackTrace;
  try {
    if (prepare !== undefined) hooks.prepareStackTrace = undefined;
    const stack: unknown = trace.stack;
    return typeof stack === "string" ? stack : "";
  } catch {
    return ""; // a hook that could not be set aside (Error frozen) and threw
  } finally {
    if (prepare !== undefined && hooks.prepareStackTrace !== prepare) hooks.prepareStackTrace = prepare;
  }
}
