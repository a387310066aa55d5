/**
 * PMEMMemoryPool: a pool whose memory is a file mapped with libpmem, so that what a program
 * allocated and persisted is still there, intact, after the process ends or dies at any instant.
 *
 * Allocations are host memory: the same Allocation handles and views as a CPU pool (HostPool),
 * over the mapping. What is persistent: every published allocation and every free (crash-consistent
 * in the core), named roots through which a new process finds its data, links from one allocation
 * to another, and whatever bytes you persist(). An allocation is published, and so survives a crash,
 * only by a root (setRoot), a link (link) or commitUnpublished; until then a crash leaves it free.
 */
import { ptr as addressOf, type Pointer } from "bun:ffi";
import { Allocation, assertLive, assertLiveAsFarAsKnown, endedElsewhere, idOfAllocation, isAllocation, offsetOfAllocation, sizeOfAllocation } from "./allocation";
import type { LeakInfo } from "./debug/report";
import type { PoolConfig } from "./config";
import { describe, InvalidArgumentError, InvalidPointerError, InvalidSizeError, PMEMRootError } from "./errors";
import { encodeName, GRANULE_BYTES, Status } from "./native";
import { addressSpaceOf, allocInCore, assertOwnAllocationIn, baseOf, debugOf, destroyPoolObject, endedIn, expectOkIn, failureIn, foreignPool, handleOf, HOST_STEPS, HostPool, trackAddresses, tracksAllocations, type PoolSteps } from "./pool";
import { checkReceivers } from "./receiver";
import { booleanOption, byteLengthOf, isArrayBuffer, isWellFormedName, optionsArg, sizeArg } from "./validate";
import * as native from "./native";

export interface SetRootOptions {
  /** Also free the allocation the root published before, in the same atomic step (copy-on-write updates). */
  freePrevious?: boolean;
}

export interface LinkOptions {
  /** Also free the allocation the word linked to before, in the same atomic step (replacing or removing a node). */
  freePrevious?: boolean;
}

export interface AllocationsOptions {
  /** Only the allocations no root reaches, directly or through links written with link(). */
  unreachable?: boolean;
}

/** Bytes of a link word: link() writes one at a multiple of 8 inside the parent allocation. */
export const LINK_BYTES = 8;

/** What part of the pool's memory persist(), flush() and memcpyPersist() act on. */
export type PersistTarget = Allocation | ArrayBufferView;

/** What persist() or flush() calls: the core's call for an allocation's range and for a view's. */
interface WriteBack {
  action: "persist" | "flush";
  allocation: (handle: number, offset: number, id: number, at: number, length: number) => number;
  range: (handle: number, fileOffset: number, length: number) => number;
}
const PERSIST: WriteBack = { action: "persist", allocation: native.persistPmemAllocation, range: native.persistPmem };
const FLUSH: WriteBack = { action: "flush", allocation: native.flushPmemAllocation, range: native.flushPmem };

/** A root's name as the core takes it; the core checks its length. */
function rootName(name: unknown): Uint8Array {
  if (!isWellFormedName(name)) throw new PMEMRootError(`a root's name is a string of well-formed Unicode, not ${describe(name)}`);
  return encodeName(name);
}

/**
 * The length of the range to `action` (persist, flush, copy into) at `offset` of `what` (`extent`
 * bytes long): `length`, or by default what follows the offset; InvalidSizeError where the range
 * does not lie inside it.
 */
function persistLength(length: number | undefined, offset: number, extent: number, what: string, action: string): number {
  // Only a whole-number offset reaches the subtraction (a symbol or bigint would throw a TypeError).
  const len = length ?? extent - (Number.isSafeInteger(offset) ? offset : NaN);
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(len) && offset >= 0 && len >= 0 && offset + len <= extent)) {
    throw new InvalidSizeError(`cannot ${action} ${describe(length)} bytes at offset ${describe(offset)} of ${what} of ${extent} bytes: the range must lie inside it`);
  }
  return len;
}

/** Whether a value is a PMEM pool the manager made (src/receiver.ts). */
let isPMEMPool: (value: unknown) => boolean;
/** A PMEM pool's steps beyond a host pool's (PoolSteps): what a leak is, where roots and links reach blocks. */
let PMEM_STEPS: PoolSteps<PMEMMemoryPool>;

export class PMEMMemoryPool extends HostPool {
  readonly kind = "pmem" as const;
  /** The pool's file (an absolute path). */
  readonly path: string;
  /** True on persistent memory, real or emulated (PMEM_IS_PMEM_FORCE=1): persist() flushes CPU caches. False: it calls msync. */
  readonly isPmem: boolean;
  /** Whether opening the pool created its file (false: an existing pool was opened and recovered). */
  readonly created: boolean;

  static {
    isPMEMPool = (value) => typeof value === "object" && value !== null && #rangeLength in value;
    PMEM_STEPS = {
      ...HOST_STEPS,
      // A handle collected is no leak here: roots, links and allocations() find the block again.
      // What no root reaches is reported when the pool closes (leaked).
      lostWithHandle: () => false,
      leaked: (pool) => pool.#leaked(),
    };
  }

  /** @internal pools are made by MemoryPoolManager.createPMEMPool */
  constructor(name: string, config: Readonly<PoolConfig>, handle: number) {
    super(name, config, handle, undefined, PMEM_STEPS as PoolSteps<HostPool>); // a pool of the core's one table: the same calls as every pool
    this.path = native.pmemPoolPath(handle);
    this.isPmem = native.isOnPersistentMemory(handle);
    this.created = native.pmemFileCreated(handle);
    trackAddresses(this); // copy() persists what it writes into this memory, views included
  }

  /**
   * Makes `length` bytes of `target` from `offset` durable: once this returns they survive a
   * crash or power failure. pmem_persist on PMEM, pmem_msync elsewhere. A view persists its own bytes.
   */
  persist(target: PersistTarget, length?: number, offset = 0): void {
    if (!(typeof this === "object" && this !== null && #rangeLength in this)) throw foreignPool("pool.persist", this); // in the body: src/receiver.ts
    this.#writeBack(PERSIST, target, length, offset);
  }

  /** Starts writing `length` bytes back without waiting; drain() waits. flush() + drain() = persist(). */
  flush(target: PersistTarget, length?: number, offset = 0): void {
    if (!(typeof this === "object" && this !== null && #rangeLength in this)) throw foreignPool("pool.flush", this); // in the body: src/receiver.ts
    this.#writeBack(FLUSH, target, length, offset);
  }

  /** persist() and flush(): the range checked here as far as this thread can, then one core call. */
  #writeBack(how: WriteBack, target: PersistTarget, length: number | undefined, offset: number): void {
    if (isAllocation(target)) {
      const len = this.#allocationRange(target, length, offset, how.action);
      // One call checks the allocation (offset and id) and acts: never on the block's next allocation.
      if (len !== 0) this.#expectHeld(target, how.action, how.allocation(handleOf(this), offsetOfAllocation(target), idOfAllocation(target), offset, len));
      return;
    }
    const start = this.#viewStart(target, length, offset, how.action);
    if (this.#rangeLength !== 0) expectOkIn(this, how.range(handleOf(this), start, this.#rangeLength));
  }

  /** Waits until everything flushed so far is durable. */
  drain(): void {
    expectOkIn(this, native.drainPmem(handleOf(this)));
  }

  /**
   * Copies `source` into `target` (an allocation, or a view of one) at byte `offset` and makes it
   * durable (pmem_memcpy_persist): for bulk writes. All of `source` must fit the target from
   * `offset` (InvalidSizeError): the copy never reaches the next allocation.
   */
  memcpyPersist(target: PersistTarget, source: ArrayBufferView | ArrayBuffer, offset = 0): void {
    if (!(typeof this === "object" && this !== null && #rangeLength in this)) throw foreignPool("pool.memcpyPersist", this);
    if (!(ArrayBuffer.isView(source) || isArrayBuffer(source))) throw new InvalidArgumentError("source", `memcpyPersist copies from a typed array, DataView or ArrayBuffer, not ${describe(source)}`);
    const bytes = byteLengthOf(source);
    if (isAllocation(target)) {
      this.#allocationRange(target, bytes, offset, "copy into"); // checks that the copy fits the target
      if (bytes === 0) return;
      const from = addressOf((ArrayBuffer.isView(source) ? source : new Uint8Array(source)) as DataView);
      // The core checks it again against the allocation it holds now, in the same call as the copy.
      this.#expectHeld(target, "copy into", native.memcpyPersistIntoPmem(handleOf(this), offsetOfAllocation(target), idOfAllocation(target), offset, from, bytes));
      return;
    }
    const start = this.#viewStart(target, bytes, offset, "copy into"); // checks that the copy fits the target
    if (bytes === 0) return;
    const from = addressOf((ArrayBuffer.isView(source) ? source : new Uint8Array(source)) as DataView);
    expectOkIn(this, native.memcpyPersistPmem(handleOf(this), start, from, bytes));
  }

  /**
   * The length of the range of `allocation` a persist, flush or copy acts on, after the checks this
   * thread can make alone (this pool's allocation, not freed, destroyed or reset here); the core
   * checks the rest (a free through its pointer or by another Worker) in the call that acts on it.
   * An empty range reaches no such call, so the core is asked here.
   */
  #allocationRange(allocation: Allocation, length: number | undefined, offset: number, action: string): number {
    this.#assertOwnAsFarAsKnown(allocation, action);
    const len = persistLength(length, offset, sizeOfAllocation(allocation), "an allocation", action);
    if (len === 0) assertLive(allocation, action);
    return len;
  }

  /** Throws for a status of a call on `allocation`: UseAfterFreeError (the handle is then dead) where the core says the block no longer holds it. */
  #expectHeld(allocation: Allocation, action: string, status: number): void {
    if (status === Status.useAfterFree) endedElsewhere(allocation, action);
    expectOkIn(this, status);
  }

  #rangeLength = 0;

  /** The byte offset from the file's start of the range of a view; its length is left in #rangeLength. */
  #viewStart(target: PersistTarget, length: number | undefined, offset: number, action: string): number {
    if (ArrayBuffer.isView(target)) {
      const len = (this.#rangeLength = persistLength(length, offset, byteLengthOf(target), "a view", action));
      if (len === 0) {
        // Nothing to write back (and an empty view may have no address), but a closed pool, or another
        // thread's, is refused as for any range: a drain is the one core call that checks it and writes nothing.
        expectOkIn(this, native.drainPmem(handleOf(this)));
        return 0;
      }
      const start = addressOf(target as DataView) - baseOf(this);
      // A view of other memory (a plain array, another pool's block) has no offset in this file: said
      // here as such, where the core would name an offset made of two unrelated addresses.
      if (start >= 0 && start + byteLengthOf(target) <= addressSpaceOf(this)) return start + offset;
    }
    throw new InvalidPointerError(`cannot ${action} ${describe(target)}: pool '${this.name}' takes an Allocation of its own or a view of one`);
  }

  /**
   * Throws unless `allocation` is a live allocation of this pool: UseAfterFreeError also where it
   * was freed through its pointer, a view, or by the core (freePrevious), which its handle does
   * not know until the core is asked (else persist went on to the block's next allocation, and a
   * publish or link was refused as an InvalidPointerError or DoubleFreeError).
   */
  #assertUsable(allocation: Allocation, action: string): void {
    if (!isAllocation(allocation)) throw new InvalidPointerError(`expected an Allocation of pool '${this.name}', not ${describe(allocation)}`);
    this.#assertOwnAsFarAsKnown(allocation, action);
    assertLive(allocation, action);
  }

  /**
   * Throws unless `allocation` is this pool's and not known here to have ended. Its own pool's end
   * is checked first: a handle of this file's earlier open (closed, then opened again under the
   * same name) is a UseAfterFreeError as copy() says, not an InvalidPointerError that it "belongs
   * to pool 'p', not 'p'".
   */
  #assertOwnAsFarAsKnown(allocation: Allocation, action: string): void {
    assertLiveAsFarAsKnown(allocation, action);
    assertOwnAllocationIn(this, allocation);
  }

  /**
   * Publishes `allocation` under `name` (1 to 55 bytes of UTF-8), durably: a new process finds it
   * with getRoot(name). An unpublished allocation becomes durable in the same atomic step (before
   * it, a crash leaves it free). `null` removes the root (the block it published stays allocated).
   * A block has one root at most, and cannot be freed while a root publishes it. With
   * `freePrevious`, the block the root published before is freed in the same atomic step:
   * allocate a new version, fill it, persist it, then setRoot(name, next, { freePrevious: true }).
   */
  setRoot(name: string, allocation: Allocation | null, options?: SetRootOptions): void {
    const encoded = rootName(name);
    const freePrevious = booleanOption("SetRootOptions", optionsArg("SetRootOptions", options, ["freePrevious"]), "freePrevious");
    let offset = 0;
    let id = 0;
    if (allocation !== null) {
      if (!isAllocation(allocation)) throw new InvalidPointerError(`setRoot takes an Allocation of pool '${this.name}' or null`);
      this.#assertUsable(allocation, "publish");
      offset = offsetOfAllocation(allocation);
      id = idOfAllocation(allocation);
    }
    // The block the root names now: freed by the call where freePrevious asks, and then its views must die.
    const previous = freePrevious ? this.#offsetOrNone(native.pmemRootOffset(handleOf(this), encoded)) : 0;
    const status = native.setPmemRoot(handleOf(this), encoded, offset, id, freePrevious === true);
    if (allocation === null) expectOkIn(this, status);
    else this.#expectHeld(allocation, "publish", status);
    this.#freedByCore(previous, offset);
  }

  /**
   * Writes a link to `child` (`null`: no link) into the 8 bytes at `byteOffset` (a multiple of 8) of
   * `parent`, durably. Where `parent` is published (a root, a link or commitUnpublished reaches it)
   * and `child` is not, the link and the child's allocation become durable in one atomic step: the
   * link publishes the child. A crash before leaves the child free; after, it is there, linked.
   * `parent` must be published first where `child` is unpublished (PMEMRootError otherwise). With
   * `freePrevious`, the allocation the word linked to before is freed in the same step. Read a
   * link with linked(); the word holds the child's offset and a check, so a damaged link is refused.
   */
  link(parent: Allocation, byteOffset: number, child: Allocation | null, options?: LinkOptions): void {
    // The options first, as setRoot reads them: a getter that frees the parent is then seen by its check.
    const freePrevious = booleanOption("LinkOptions", optionsArg("LinkOptions", options, ["freePrevious"]), "freePrevious");
    this.#assertUsable(parent, "link from");
    let offset = 0;
    let id = 0;
    if (child !== null) {
      this.#assertUsable(child, "link to");
      offset = offsetOfAllocation(child);
      id = idOfAllocation(child);
    }
    const word = this.#wordOffset(byteOffset);
    const previous = freePrevious ? this.#offsetOrNone(native.pmemLinked(handleOf(this), offsetOfAllocation(parent), idOfAllocation(parent), word)) : 0;
    const status = native.linkPmem(handleOf(this), offsetOfAllocation(parent), idOfAllocation(parent), word, offset, id, freePrevious === true);
    if (status === Status.useAfterFree) {
      // One of the two ended since its check (another Worker freed it): the one the core no longer holds says so.
      assertLive(parent, "link from");
      if (child !== null) assertLive(child, "link to");
    }
    expectOkIn(this, status);
    this.#freedByCore(previous, offset);
  }

  /** A granule offset the core returned, or 0 where it returned none or a status (the call after it says why). */
  #offsetOrNone(offset: number): number {
    return offset < 0 ? 0 : offset;
  }

  /**
   * After setRoot or link with freePrevious: the core freed the block at `previous` (0: none) unless
   * it is the one just published (`kept`). As after any free in this thread, its views are detached
   * and the debug records hear of it: else a view of the freed block would read and write whatever
   * allocation takes the block next.
   */
  #freedByCore(previous: number, kept: number): void {
    if (previous === 0 || previous === kept) return;
    endedIn(this, previous);
    if (tracksAllocations(this)) debugOf(this)!.freed(previous);
  }

  /** The allocation the link at `byteOffset` of `parent` names, or undefined where the word is 0 (no link). */
  linked(parent: Allocation, byteOffset: number): Allocation | undefined {
    this.#assertUsable(parent, "read a link of");
    const offset = native.pmemLinked(handleOf(this), offsetOfAllocation(parent), idOfAllocation(parent), this.#wordOffset(byteOffset));
    this.#expectHeld(parent, "read a link of", offset); // throws for every status: what is left is an offset
    return offset === 0 ? undefined : this.fromPointer(baseOf(this) + offset * GRANULE_BYTES);
  }

  /**
   * Makes `allocation` durable without publishing it: no root or link reaches it, so after a
   * restart only offsets your own code kept can find it. If they are lost (a crash before you
   * stored them durably), it leaks: allocations({ unreachable: true }) lists it. Prefer setRoot or link.
   */
  commitUnpublished(allocation: Allocation): void {
    this.#assertUsable(allocation, "commit");
    this.#expectHeld(allocation, "commit", native.commitUnpublishedPmem(handleOf(this), offsetOfAllocation(allocation), idOfAllocation(allocation)));
  }

  /** A link's byte offset as the core takes it (it checks the range); not a number: NaN, refused there. */
  #wordOffset(byteOffset: unknown): number {
    return typeof byteOffset === "number" ? byteOffset : NaN;
  }

  /** The allocation published as `name`, or undefined where there is no such root. */
  getRoot(name: string): Allocation | undefined {
    const encoded = rootName(name);
    const offset = expectOkIn(this, native.pmemRootOffset(handleOf(this), encoded));
    return offset === 0 ? undefined : this.fromPointer(baseOf(this) + offset * GRANULE_BYTES);
  }

  /**
   * The allocation published as `name`; where there is none, a new zero-filled one of `size` bytes,
   * allocated and published in one atomic step (a crash leaves either both or neither). Like
   * pmemobj_root, a root smaller than `size` grows: a copy of it, zero-filled past its old end,
   * replaces it in one atomic step (a crash leaves the old root or the grown one), and handles of
   * the old block then throw UseAfterFreeError. A root that a link names cannot grow (the link would
   * name free space): PMEMRootError, and nothing is changed.
   */
  root(name: string, size: number): Allocation {
    const encoded = rootName(name);
    const bytes = sizeArg(size);
    // The block the root names now: where the core grows the root (an earlier version of the
    // program made it smaller), it frees this one in the same step, and its views here must die.
    const previous = this.#offsetOrNone(native.pmemRootOffset(handleOf(this), encoded));
    const offset = expectOkIn(this, allocInCore(this, () => native.pmemRootOrNew(handleOf(this), encoded, bytes)));
    this.#freedByCore(previous, offset);
    return this.fromPointer(baseOf(this) + offset * GRANULE_BYTES);
  }

  /** The names of every root. */
  roots(): string[] {
    const names: string[] = [];
    for (let index = 0; ; index++) {
      const name = native.pmemRootName(handleOf(this), index);
      if (typeof name === "number") throw failureIn(this, name);
      if (name === "") return names; // past the last root (a name has at least one byte)
      names.push(name);
    }
  }

  /**
   * Every live allocation, by address: after a restart, what the roots do not reach can be found
   * here. With `{ unreachable: true }`, only those no root reaches, directly or through links
   * written with link(): unpublished ones, ones committed with commitUnpublished, and published
   * ones whose root or link was removed. Finding them reads every reachable allocation.
   */
  allocations(options?: AllocationsOptions): Allocation[] {
    const unreachable = booleanOption("AllocationsOptions", optionsArg("AllocationsOptions", options, ["unreachable"]), "unreachable");
    const found: Allocation[] = [];
    for (const offset of this.#listed(unreachable === true).sort()) {
      try {
        found.push(this.fromPointer(baseOf(this) + offset * GRANULE_BYTES));
      } catch (err) {
        // Another Worker freed it since the core listed it (a shared pool): it is no longer there to list.
        if (!(err instanceof InvalidPointerError)) throw err;
      }
    }
    return found;
  }

  /** The granule offsets of every live allocation, or of those no root reaches, as the core lists them. */
  #listed(unreachable: boolean): Uint32Array {
    const list = unreachable ? native.listUnreachableOffsets : native.listLiveOffsets;
    let offsets = new Uint32Array(1024);
    let count = expectOkIn(this, list(handleOf(this), offsets, offsets.length));
    while (count > offsets.length) {
      offsets = new Uint32Array(count);
      count = expectOkIn(this, list(handleOf(this), offsets, offsets.length));
    }
    return offsets.subarray(0, count);
  }

  /**
   * The leak report's allocations: those no root or link reaches (unpublished ones, lost
   * at close; committed ones no root reaches, left in the file), not the published data.
   */
  #leaked(): LeakInfo[] {
    const unreachable = new Set(Array.from(this.#listed(true), (offset) => baseOf(this) + offset * GRANULE_BYTES));
    return this.getLeaks().filter((leak) => unreachable.has(leak.ptr));
  }

  /** Closes the pool (as manager.destroyPool does): the file stays; unpublished allocations are not in it. */
  close(): void {
    destroyPoolObject(this);
  }
}

export type { Pointer };

// The public members, behind the check of their receiver (src/receiver.ts; leftovers2); persist, flush
// and memcpyPersist, on the persisting loop's path, check theirs in their bodies.
checkReceivers(PMEMMemoryPool.prototype, "pool", isPMEMPool, ["drain", "setRoot", "link", "linked", "commitUnpublished", "getRoot", "root", "roots", "allocations", "close"], foreignPool);
