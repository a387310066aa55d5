/**
 * The words of debug reports: violations, leaks. Each names the allocation (id, size, address,
 * pool) and where it was made, so the report alone leads to the bug.
 */
import { bytes } from "../stats";

export interface LeakInfo {
  /** The pool's id for the allocation (Allocation.id). */
  id: number;
  /** Address of its first byte. */
  ptr: number;
  size: number;
  /** Milliseconds since it was allocated (where leakReport, trackHistory or safeViews kept the time). */
  age: number | undefined;
  /** Where it was allocated (trackHistory). */
  stack: string | undefined;
  /** Its Allocation objects and the views they handed out were garbage-collected while the memory was live: nothing of them can free it. */
  collected: boolean;
}

export function describeAllocation(id: number, size: number, ptr: number, poolName: string): string {
  return `allocation #${id} (${plural(size, "byte")} at 0x${ptr.toString(16)}, pool '${poolName}')`;
}

export function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

/**
 * Why a stack is missing. `recorded`: trackHistory is on, so this thread did not make (or free) the
 * allocation, or forgot the free among older ones: a shared pool's records stay in the thread that
 * made them (JavaScript stacks live in one thread's heap).
 */
function missingStack(recorded: boolean): string {
  return recorded ? "not known in this thread: trackHistory keeps each thread's own records, and another Worker's stay there" : "not recorded: turn on trackHistory";
}

export function stackSection(label: string, stack: string | undefined, recorded = false): string {
  if (stack === undefined) return `\n${label}: (${missingStack(recorded)})`;
  return `\n${label}:\n${stack}`;
}

/** A canary damaged on one side of an allocation. */
export function describeBoundaryViolation(what: string, size: number, offset: number, damaged: number, allocationStack: string | undefined, recorded = false): string {
  const where =
    offset < 0
      ? `buffer underflow: ${what} was written ${plural(-offset, "byte")} before its start`
      : `buffer overflow: ${what} was written ${plural(offset - size + 1, "byte")} past its end`;
  return `${where} (first damaged byte at offset ${offset}, ${plural(damaged, "byte")} of canary damaged)${stackSection("allocated at", allocationStack, recorded)}`;
}

/** Poison of a freed block in quarantine found changed. */
export function describeWriteAfterFree(what: string, offset: number, damaged: number, stacks: { allocated: string | undefined; freed: string | undefined }, recorded = false): string {
  return (
    `write after free: ${what} was written after it was freed (first changed byte at offset ${offset}, ${plural(damaged, "byte")} changed)` +
    stackSection("allocated at", stacks.allocated, recorded) +
    stackSection("freed at", stacks.freed, recorded)
  );
}

/**
 * The report printed on destroyPool and at exit: nothing where nothing leaked. `stacksRecorded`:
 * trackHistory is on, so a leak without a stack is one another thread made (the records of a
 * shared pool's allocations stay in the thread that made them).
 */
export function leakReport(poolName: string, when: string, leaks: readonly LeakInfo[], stacksRecorded: boolean): string | undefined {
  if (leaks.length === 0) return undefined;
  const total = leaks.reduce((sum, leak) => sum + leak.size, 0);
  const lines = [`bun-memory-pool: leak report for pool '${poolName}' (${when}): ${plural(leaks.length, "allocation")} still live, ${bytes(total)}`];
  for (const leak of leaks) {
    const age = leak.age === undefined ? "" : `, allocated ${formatAge(leak.age)} ago`;
    const collected = leak.collected ? " (its Allocation was garbage-collected: nothing can free it)" : "";
    lines.push(`  #${leak.id}: ${plural(leak.size, "byte")} at 0x${leak.ptr.toString(16)}${age}${collected}`);
    lines.push(leak.stack === undefined ? `    (allocation stack ${missingStack(stacksRecorded)})` : leak.stack.replace(/^/gm, "  "));
  }
  return `${lines.join("\n")}\n`;
}

function formatAge(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
