/**
 * The TypeScript half of a pool's debug layer: what only JavaScript can know or do. It keeps a
 * record per live allocation where a switch needs one (the stack and time of its allocation),
 * what the views detached on free were views of (for double-free reports), the history ring, and the watch for
 * Allocations garbage-collected while live. A pool makes one only where a switch that acts here
 * is on, so a plain pool never calls into this file.
 */
import type { Allocation } from "../allocation";
import type { AllocationDetailsProvider } from "../snapshot";
import type { PoolConfig } from "../config";
import { ABI, allocationIdOf, hasGuardPages } from "../native";
import * as native from "../native";
import type { History } from "./history";
import { now } from "./history";
import { describeAllocation } from "./report";
import { captureStack, formatStack, type StackTrace } from "./stack";
import { writeReport } from "../stderr";
import { bufferOf } from "../validate";

/** Frees remembered after the fact, so a later report about freed memory can say where it was made and freed. */
const FREED_REMEMBERED = 4096;

interface AllocationRecord {
  readonly id: number;
  readonly ptr: number;
  readonly size: number;
  readonly time: number;
  readonly trace: StackTrace | undefined;
  /** It has guard pages. */
  readonly guarded: boolean;
  /** Its Allocation object was garbage-collected while the memory was live. */
  collected: boolean;
  /**
   * How many objects of this thread that free it the leak watch follows: Allocation objects
   * (pool.allocate made one; pool.fromPointer makes more) and the buffer of the views they handed
   * out. It is lost only once the last of them is collected.
   */
  handles: number;
}

interface FreedRecord {
  readonly offset: number;
  readonly id: number;
  readonly ptr: number;
  readonly size: number;
  readonly trace: StackTrace | undefined;
  readonly freeTrace: StackTrace | undefined;
}

/** The stacks known for an allocation, formatted. */
export interface AllocationStacks {
  allocated: string | undefined;
  freed: string | undefined;
}

/** What the process-wide watch needs to come back to this tracker when an Allocation is collected. */
export interface CollectedNote {
  tracker: DebugTracker;
  offset: number;
  id: number;
}

/** Kept reachable by the manager (a registry held only by a module's const may be collected in Bun). */
export interface LeakWatch {
  readonly registry: FinalizationRegistry<CollectedNote>;
}

export function makeLeakWatch(): LeakWatch {
  return { registry: new FinalizationRegistry<CollectedNote>((note) => note.tracker.collected(note.offset, note.id)) };
}

/** The watch of this thread's manager, which holds it; pools made before there is one watch nothing. */
let currentWatch: LeakWatch | undefined;

/** @internal called by the manager, which keeps `watch` reachable for as long as it lives. */
export function setLeakWatch(watch: LeakWatch): void {
  currentWatch = watch;
}

export function leakWatch(): LeakWatch | undefined {
  return currentWatch;
}

/** Which stack of an allocation `mp_set_stack` hands the core (zig/src/debug/guard.zig StackKind). */
const StackKind = ABI.enums.stackKind;
type StackKind = (typeof StackKind)[keyof typeof StackKind];

/**
 * The last FREED_REMEMBERED frees, found by allocation id and by offset. A ring decides which
 * to forget: evicting the oldest key of a Map is linear in Bun once many keys were deleted.
 */
class RecentFrees {
  readonly #ring: (FreedRecord | undefined)[] = new Array(FREED_REMEMBERED);
  #next = 0;
  readonly byId = new Map<number, FreedRecord>();
  readonly byOffset = new Map<number, FreedRecord>();

  add(freed: FreedRecord): void {
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined) {
      if (this.byId.get(oldest.id) === oldest) this.byId.delete(oldest.id);
      if (this.byOffset.get(oldest.offset) === oldest) this.byOffset.delete(oldest.offset);
    }
    this.#ring[this.#next] = freed;
    this.#next = (this.#next + 1) % FREED_REMEMBERED;
    this.byId.set(freed.id, freed);
    this.byOffset.set(freed.offset, freed);
  }
}

export class DebugTracker {
  readonly #records = new Map<number, AllocationRecord>();
  /** Recent frees, for reports about freed memory. */
  readonly #freed = new RecentFrees();
  /** Buffers detached on free, so a stale view handed back to deallocate() is named a double free. */
  readonly #detached = new WeakMap<ArrayBuffer, { id: number; ptr: number; size: number }>();
  /** The view buffers the leak watch follows (each once: `as` makes a new view over the same buffer each call). */
  readonly #watchedBuffers = new WeakSet<ArrayBuffer>();
  readonly #keepRecords: boolean;
  readonly #trackHistory: boolean;
  readonly #leakReport: boolean;
  #destroyed = false;

  constructor(
    readonly poolName: string,
    config: Readonly<PoolConfig>,
    readonly handle: number,
    readonly base: number,
    readonly history: History,
    readonly watch: LeakWatch | undefined,
    /** Whether the block at `offset` still holds allocation `id`. */
    readonly holds: (offset: number, id: number) => boolean,
  ) {
    this.#trackHistory = config.trackHistory;
    this.#leakReport = config.leakReport;
    this.#keepRecords = config.trackHistory || config.leakReport || config.safeViews;
  }

  /** Whether every allocation gets a record (history, leaks, safeViews' reports), or only guarded ones. */
  get keepsRecords(): boolean {
    return this.#keepRecords;
  }

  /** Which switches call for a tracker at all. */
  static wanted(config: Readonly<PoolConfig>): boolean {
    return config.trackHistory || config.leakReport || config.safeViews || config.guardPages;
  }

  /**
   * After the core gave out `offset` for an allocation; `tagged` is mp_last_id's answer: its id,
   * and in the top bit whether it has guard pages.
   */
  allocated(offset: number, tagged: number, size: number, allocation: Allocation | undefined): void {
    const guarded = hasGuardPages(tagged);
    this.#dropStale(offset);
    if (!this.#keepRecords && !guarded) return; // sampled guard pages, this one not sampled
    const id = allocationIdOf(tagged);
    const ptr = this.base + offset * 16;
    const trace = this.#trackHistory ? captureStack() : undefined;
    const record: AllocationRecord = { id, ptr, size, time: now(), trace, guarded, collected: false, handles: 0 };
    this.#records.set(offset, record);
    if (guarded && trace !== undefined) this.#passStackDown(offset, trace, StackKind.allocation);
    if (this.#trackHistory) this.history.record("allocate", id, ptr, size, trace);
    if (allocation !== undefined) this.#watch(record, allocation, offset);
  }

  /** With leakReport, the leak watch follows `allocation` (a handle, or the buffer of a view handed out), one more handle of `record`'s allocation. */
  #watch(record: AllocationRecord, allocation: Allocation | ArrayBuffer, offset: number): void {
    if (!this.#leakReport || this.watch === undefined) return;
    this.watch.registry.register(allocation, { tracker: this, offset, id: record.id }, record);
    record.handles++;
  }

  /**
   * A view over exactly the allocation at `offset` was handed out (`bytes`, `as`, the helpers'
   * arrays): where a handle of it is followed, its buffer is followed too. Every view of that
   * buffer holds it, and the allocation can be freed while any is kept: deallocate() takes the
   * view handed out, any view of the whole buffer (`new Uint8Array(buffer)`) and a subarray at
   * offset 0; a subarray further in reaches the buffer, a view of which frees it. The pool holds
   * the buffer weakly under leakReport (HostPool's ViewedBlock.weak), so it can be collected.
   */
  viewMade(offset: number, id: number, view: ArrayBufferView): void {
    const record = this.#records.get(offset);
    if (record === undefined || record.id !== id || record.handles === 0) return;
    const buffer = bufferOf(view); // not a getter a caller may patch
    if (!(buffer instanceof ArrayBuffer) || this.#watchedBuffers.has(buffer)) return;
    this.#watchedBuffers.add(buffer);
    this.#watch(record, buffer, offset);
  }

  /** The core keeps a guarded allocation's stacks, so its fault report can name them as the process dies. */
  #passStackDown(offset: number, trace: StackTrace, kind: StackKind): void {
    native.setAllocationStack(this.handle, offset, kind, formatStack(trace) ?? "");
  }

  /**
   * An Allocation made here for a block allocated elsewhere (pool.fromPointer, maybe another
   * Worker), or one not recorded when it was made (guard pages without records).
   */
  adopted(offset: number, id: number, size: number, allocation?: Allocation): AllocationRecord | undefined {
    const known = this.#records.get(offset);
    if (known !== undefined && known.id === id) {
      // Followed only where a handle made here is followed already: an allocation that lives by its
      // pointer (allocateRaw, another Worker's) is not lost when a handle adopted for a while goes.
      if (allocation !== undefined && known.handles > 0) this.#watch(known, allocation, offset);
      return known;
    }
    this.#dropStale(offset);
    const guarded = native.isGuarded(this.handle, offset);
    if (!this.#keepRecords && !guarded) return undefined;
    const record: AllocationRecord = { id, ptr: this.base + offset * 16, size, time: now(), trace: undefined, guarded, collected: false, handles: 0 };
    this.#records.set(offset, record);
    return record;
  }

  /**
   * After the core freed the block at `offset` (and the pool detached its views): remembers the
   * free. The pool calls it for every free where records are kept, else only for guarded
   * allocations, so sampled guard pages cost the rest nothing.
   */
  freed(offset: number): void {
    const record = this.#records.get(offset);
    if (record === undefined) return;
    this.#records.delete(offset);
    if (this.#leakReport) this.watch?.registry.unregister(record);
    const freeTrace = this.#trackHistory ? captureStack() : undefined;
    if (freeTrace !== undefined && record.guarded) this.#passStackDown(offset, freeTrace, StackKind.free);
    this.#rememberFree(offset, record, freeTrace);
  }

  /** A free of `record`'s allocation, in the history and among the recent frees. */
  #rememberFree(offset: number, record: AllocationRecord, freeTrace: StackTrace | undefined): void {
    if (this.#trackHistory) this.history.record("free", record.id, record.ptr, record.size, freeTrace);
    this.#freed.add({ offset, id: record.id, ptr: record.ptr, size: record.size, trace: record.trace, freeTrace });
  }

  /** The pool is about to detach `buffer`, a view buffer of the allocation at `offset`: remembers whose it was. */
  viewDetached(buffer: ArrayBuffer, offset: number): void {
    const record = this.#records.get(offset);
    if (record !== undefined) this.#detached.set(buffer, { id: record.id, ptr: record.ptr, size: record.size });
  }

  /**
   * Forgets the record at `offset`, of an allocation another thread freed (this one heard nothing
   * of it): a new allocation has the block now. (The pool detaches the old allocation's views when
   * the block is viewed again: HostPool.exactBuffer matches them by id.)
   */
  #dropStale(offset: number): void {
    const stale = this.#records.get(offset);
    if (stale === undefined) return;
    this.#records.delete(offset);
    if (this.#leakReport) this.watch?.registry.unregister(stale);
  }

  /** What a detached buffer was a view of, for a stale view handed to deallocate(). */
  detachedFrom(buffer: ArrayBufferLike): { id: number; ptr: number; size: number } | undefined {
    return buffer instanceof ArrayBuffer ? this.#detached.get(buffer) : undefined;
  }

  /**
   * Every allocation is gone at once (reset or destroy; the pool detached the views). A reset frees
   * each one, so each is remembered as freed, by the reset's stack, newest first: a history
   * replayed (as renderTimeline does) ends with what is live, not with everything that was live
   * before a reset, and each free is of the top band of the timeline's stack (oldest first, every
   * band above would step down: n^2 / 2 steps, past what renderTimeline draws at 1000 allocations).
   */
  forgetAll(destroyed: boolean): void {
    const freeTrace = !destroyed && this.#trackHistory ? captureStack() : undefined;
    const records = [...this.#records];
    for (let i = records.length - 1; i >= 0; i--) {
      const [offset, record] = records[i]!;
      if (this.#leakReport) this.watch?.registry.unregister(record);
      if (!destroyed) this.#rememberFree(offset, record, freeTrace);
    }
    this.#records.clear();
    if (destroyed) this.#destroyed = true;
  }

  /** The offsets of the allocations with records (every live one where records are kept). */
  recordedOffsets(): number[] {
    return [...this.#records.keys()];
  }

  /** Ages and allocation stacks of a snapshot's blocks (indexed once per snapshot). */
  detailsProvider(): AllocationDetailsProvider {
    // By id and block: ids wrap after 2^30 - 1, so an allocation older than the wrap and a newer
    // one can hold the same id (each would be drawn with the other's age and stack). A record is
    // at its user granule, inside its block (past a leading canary or guard page).
    const byId = new Map<number, AllocationRecord[]>();
    for (const record of this.#records.values()) {
      const sharing = byId.get(record.id);
      if (sharing === undefined) byId.set(record.id, [record]);
      else sharing.push(record);
    }
    const time = now();
    return ({ id, offset, size }) => {
      const start = this.base + offset;
      const record = byId.get(id)?.find((candidate) => candidate.ptr >= start && candidate.ptr < start + size);
      if (record === undefined) return undefined;
      const stack = formatStack(record.trace);
      return stack === undefined ? { ageMs: time - record.time } : { ageMs: time - record.time, stack };
    };
  }

  /** What is known of the live allocation at `offset`. */
  record(offset: number): Readonly<AllocationRecord> | undefined {
    return this.#records.get(offset);
  }

  /** The latest allocation freed at `offset`, as far as it is remembered. */
  freedAt(offset: number): { id: number; ptr: number; size: number; stacks: AllocationStacks } | undefined {
    const freed = this.#freed.byOffset.get(offset);
    if (freed === undefined) return undefined;
    return { id: freed.id, ptr: freed.ptr, size: freed.size, stacks: { allocated: formatStack(freed.trace), freed: formatStack(freed.freeTrace) } };
  }

  /** The live allocation whose bytes hold `address` (a linear search: for error reports). */
  containing(address: number): { id: number; ptr: number; size: number; stack: string | undefined } | undefined {
    for (const record of this.#records.values()) {
      if (address >= record.ptr && address < record.ptr + record.size) return { id: record.id, ptr: record.ptr, size: record.size, stack: formatStack(record.trace) };
    }
    return undefined;
  }

  /**
   * Where allocation `id` at granule `offset` was made and freed, as far as trackHistory recorded
   * it. Both must match: ids wrap after 2^30 - 1, so another allocation may hold the same id.
   */
  stacksOf(id: number, offset: number): AllocationStacks {
    const live = this.#records.get(offset);
    if (live !== undefined && live.id === id) return { allocated: formatStack(live.trace), freed: undefined };
    const latest = this.#freed.byOffset.get(offset);
    const freed = latest !== undefined && latest.id === id ? latest : this.#freed.byId.get(id);
    if (freed === undefined || freed.offset !== offset) return { allocated: undefined, freed: undefined };
    return { allocated: formatStack(freed.trace), freed: formatStack(freed.freeTrace) };
  }

  /** Called by the watch: an Allocation object was garbage-collected. A leak if its memory is still allocated. */
  collected(offset: number, id: number): void {
    if (this.#destroyed) return;
    const record = this.#records.get(offset);
    if (record === undefined || record.id !== id) return;
    record.handles--;
    if (record.handles > 0 || !this.holds(offset, id)) return; // another handle of it lives on, or it was freed
    record.collected = true;
    const what = `${describeAllocation(id, record.size, record.ptr, this.poolName)} was garbage-collected while still allocated`;
    this.history.record("leak", id, record.ptr, record.size, undefined, what);
    const stack = formatStack(record.trace);
    writeReport(`bun-memory-pool: leak: ${what}; it can no longer be freed through a handle or a view of it.\n${stack === undefined ? "  (allocation stack not recorded: turn on trackHistory)" : `  allocated at:\n${stack}`}\n`);
  }
}
