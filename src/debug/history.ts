/**
 * A pool's recent history: a ring of the last N events. Allocations and frees are recorded
 * with trackHistory (with their JavaScript stacks); violations and leaks are recorded always,
 * since they are rare.
 */
import { formatStack, type StackTrace } from "./stack";

export type HistoryEventKind = "allocate" | "free" | "violation" | "leak";

export interface HistoryEvent {
  kind: HistoryEventKind;
  /** The allocation's id (Allocation.id). */
  id: number;
  /** Address of its first byte. */
  ptr: number;
  size: number;
  /** Milliseconds since the epoch, to the microsecond. */
  time: number;
  /** Where it happened in JavaScript (trackHistory), frames of this library left out. */
  stack?: string;
  /** For violations and leaks: what was found. */
  detail?: string;
}

interface Slot {
  kind: HistoryEventKind;
  id: number;
  ptr: number;
  size: number;
  time: number;
  trace: StackTrace | undefined;
  detail: string | undefined;
}

export class History {
  readonly #slots: (Slot | undefined)[];
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number) {
    this.#slots = new Array(capacity);
  }

  record(kind: HistoryEventKind, id: number, ptr: number, size: number, trace?: StackTrace, detail?: string): void {
    this.#slots[this.#next] = { kind, id, ptr, size, time: now(), trace, detail };
    this.#next = (this.#next + 1) % this.capacity;
    this.#count = Math.min(this.#count + 1, this.capacity);
  }

  /** The events kept, oldest first, as plain data. */
  events(): HistoryEvent[] {
    const events: HistoryEvent[] = [];
    for (let i = 0; i < this.#count; i++) {
      const slot = this.#slots[(this.#next - this.#count + i + this.capacity) % this.capacity]!;
      const event: HistoryEvent = { kind: slot.kind, id: slot.id, ptr: slot.ptr, size: slot.size, time: slot.time };
      const stack = formatStack(slot.trace);
      if (stack !== undefined) event.stack = stack;
      if (slot.detail !== undefined) event.detail = slot.detail;
      events.push(event);
    }
    return events;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#next = 0;
    this.#count = 0;
  }
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}
