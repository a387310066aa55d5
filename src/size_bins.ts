/**
 * The JavaScript half of a Variable pool's bins (the core's half: zig/src/sync/js_bins.zig). A pool
 * only its creating thread may touch (threadSafety "none", the default) and without the core's debug
 * switches keeps, in this thread, bins of freed blocks by size class, up to 64 MiB: each size up to
 * 256 B its own class, then 16 classes a power of two. A class holds blocks of the sizes it spans; a
 * request takes the class's last block where it is large enough (a repeated size, the CUDA caching
 * allocators' case of tensors, always is), else a block of the next two classes (at most ~1/8
 * larger). An allocation of a size a bin holds, and the free of a
 * block the bins manage, make no FFI call; a miss is one core call that places a block of the size
 * asked for (rounded to granules, as the core's own path does: the pool's geometry is what that path
 * would make) and registers it in a table both sides read.
 *
 * The table has a slot per managed block (offset, capacity in granules, requested size, state: the
 * live allocation's id, or the binned flag over it) and an open-addressing hash from offset to slot,
 * probed here in an Int32Array. The core's readers (liveSize, fromPointer, holds, snapshots,
 * allocations(), statistics) read it, so a binned block is free and one handed out again is live
 * with its new id and size; a double free, a stale handle's free and a free after the block left are
 * typed errors found here. Only the core adds or removes slots (a miss, a free through the core, a
 * flush, reset, and a block that leaves: a PMEM root or link publishes it, a GPU stream frees it:
 * its free then goes to the core, which journals it or waits for the stream).
 *
 * Peaks are exact: a hit raises the high-water marks in the header (the bytes the bins' live
 * allocations asked for, the fewest blocks binned), which the core folds over the rest of the pool's
 * figures, which no hit changes, as this thread next calls it. Hits and frees here are not timed, and
 * neither are the core's misses (a timing of the misses alone would say nothing of the pool's):
 * allocTimeSamples stays 0, as on the fixed-size pools' caches.
 *
 * Binned bytes are capped at a quarter of the pool's committed bytes, and at least 8 MiB (the core
 * sets the cap at each miss); a free past the cap, or into a full bin, goes to the core. The bins
 * are flushed back on trim(), reset(), destroyPool, Worker exit, and before a request the bins do
 * not serve; an allocation that fails for lack of memory flushes them and tries once more.
 *
 * No Atomics on the hot paths: only this thread touches the pool and its table. The pool's id word
 * is also written by the core's own allocations (roots, streams, requests the bins do not serve),
 * all made by this thread's calls into the core: a plain load after them reads what they wrote
 * (the header's counters rely on the same). The counters only the statistics read (allocations,
 * frees and their bytes) are kept in this object and written for the core by publish(), which
 * the pool calls before every core call that reads them (getStats, snapshot); the figures the
 * core folds into the peaks at each of the owner's calls (live bytes, binned blocks and their
 * watermarks) and the binned bytes, which the core changes too, stay in the header.
 *
 * Raw pointers take the hit by address (allocAddress, freeAddress), called from the bodies of the
 * pools' allocateRaw and deallocate: JSC inlines small functions only, five calls deep from a
 * caller's loop (bench/RESULTS.md, the fixed-size pools' hit), and the hit's methods are kept
 * small and within that depth. JSC weighs a function by its bytecode's length: a #private
 * member's read (a scope lookup of its name, then the read) weighs about three times a property's,
 * and a module constant's about as much, so this class's members are TypeScript-private
 * properties (no user reaches a SizeBins: only its pool holds it, in a #private field) and the
 * hit's numbers const enums (H, S, K: numbers in the compiled code).
 */
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { CACHE_CANNOT_TELL } from "./block_cache";
import { NativeLibraryError } from "./errors";
import { ABI, GRANULE_BYTES, lastId, Status } from "./native";
import * as native from "./native";
import { cacheClosed, cacheOpened, type ThreadCache } from "./thread_cache";

/**
 * The header's f64 counters (zig/src/sync/js_bins.zig Header), by index. A const enum: its uses
 * are numbers in the compiled code, where a module's constant costs the hit's methods three
 * bytecode instructions a use of the budget JSC inlines within (and a property of an object more).
 */
const enum H { allocations = 0, frees = 1, allocatedBytes = 2, freedBytes = 3, liveRequestedBytes = 4, cachedBytes = 5, cachedBlocks = 6, capBytes = 7, idsAddress = 8, liveRequestedHigh = 10, cachedBlocksLow = 11 }
/** The same, by name, for checkLayout. */
const Header = { allocations: H.allocations, frees: H.frees, allocatedBytes: H.allocatedBytes, freedBytes: H.freedBytes, liveRequestedBytes: H.liveRequestedBytes, cachedBytes: H.cachedBytes, cachedBlocks: H.cachedBlocks, capBytes: H.capBytes, idsAddress: H.idsAddress, liveRequestedHigh: H.liveRequestedHigh, cachedBlocksLow: H.cachedBlocksLow } as const;
const HEADER_BYTES = 96;
const SLOT_CAPACITY = 1 << 15;
const HASH_BITS = 16;
const HASH_SHIFT = 32 - HASH_BITS;
const HASH_MASK = (1 << HASH_BITS) - 1;
const HASH_MULTIPLIER = 0x9e37_79b1 | 0;
const SLOTS_OFFSET = HEADER_BYTES;
const HASH_OFFSET = SLOTS_OFFSET + 16 * SLOT_CAPACITY;
const TABLE_BYTES = HASH_OFFSET + 4 * (1 << HASH_BITS);
/**
 * Numbers the hit's methods use, as a const enum (as H): the granule (the core's, checkLayout
 * says), 1 / granule (exact: an address's granule offset with a multiply), the blocks a size
 * class holds at most, a binned slot's state flag (read through an Int32Array: negative), and
 * the largest id (the next is 1; the core's, checkLayout says).
 */
const enum K { granule = 16, perGranule = 0.0625, classDepth = 8, binned = -0x8000_0000, idMax = 0x7fff_ffff }
/** A slot's words: offset, capacity in granules, requested bytes, state (a const enum, as H). */
const enum S { G = 0, GRANULES = 1, REQUESTED = 2, STATE = 3 }

/** The largest request the bins serve (64 MiB); larger ones take the core's path. */
const MAX_BYTES = 64 << 20;
/** Where a request's class is empty, the classes above it that may serve it. */
const CLASSES_ABOVE = 2;
/** Size classes: exact granule counts up to 16, then 16 a power of two up to MAX_BYTES. */
const CLASSES = classOf(MAX_BYTES / K.granule) + 1;

/** The class of a block, or a request, of `granules`. */
function classOf(granules: number): number {
  if (granules <= 16) return granules;
  const shift = 27 - Math.clz32(granules);
  return (shift << 4) + (granules >>> shift);
}

let layoutChecked = false;

function checkLayout(): void {
  if (layoutChecked) return;
  const c = ABI.constants;
  const header = ABI.records.binsHeader;
  const expected: [string, number, number][] = [
    ["binsHeader bytes", header.bytes, HEADER_BYTES],
    ["binsSlotsOffset", c.binsSlotsOffset, SLOTS_OFFSET],
    ["binsHashOffset", c.binsHashOffset, HASH_OFFSET],
    ["binsSlotCapacity", c.binsSlotCapacity, SLOT_CAPACITY],
    ["binsHashBits", c.binsHashBits, HASH_BITS],
    ["binsHashMultiplier", c.binsHashMultiplier | 0, HASH_MULTIPLIER],
    ["binsBinnedFlag", c.binsBinnedFlag | 0, K.binned],
    ["granuleBytes", GRANULE_BYTES, K.granule],
    ["idMask", c.idMask, K.idMax],
    ...(Object.entries(Header) as [keyof typeof Header, number][]).map(([name, index]): [string, number, number] => [`binsHeader ${name}`, header.fields[name].index, index]),
  ];
  const wrong = expected.filter(([, core, here]) => core !== here).map(([name, core, here]) => `${name} ${core} (this code: ${here})`);
  if (wrong.length > 0) throw new NativeLibraryError(`the core's JavaScript bins layout differs from this code's: ${wrong.join(", ")}: use the core of the same version as this code (rebuild it in a checkout: npm run build)`);
  layoutChecked = true;
}

export class SizeBins implements ThreadCache {
  private readonly handle: number;
  private readonly address: number;
  private readonly header: Float64Array;
  private readonly slots: Int32Array;
  private readonly hash: Int32Array;
  /** The pool's last id (the core's word): each allocation here takes the next. */
  private readonly ids: Int32Array;
  /** The pool's first byte's address: a block's is base + 16 x its granule offset. */
  private readonly base: number;
  /** The header's allocations, frees and their bytes, kept here: publish() writes them there. */
  private allocations: number;
  private frees: number;
  private allocatedBytes: number;
  private freedBytes: number;
  /** Size classes: K.classDepth slots each, and how many each holds. */
  private readonly classSlots = new Int32Array(CLASSES * K.classDepth);
  private readonly classCounts = new Int32Array(CLASSES);
  private dead = false;
  readonly maxBytes = MAX_BYTES;
  lastId = 0;
  message = "";

  private constructor(handle: number, address: number, base: number, readonly poolName: string) {
    this.handle = handle;
    this.address = address;
    this.base = base;
    const table = toArrayBuffer(address as Pointer, 0, TABLE_BYTES);
    this.header = new Float64Array(table, 0, HEADER_BYTES / 8);
    this.slots = new Int32Array(table, SLOTS_OFFSET, 4 * SLOT_CAPACITY);
    this.hash = new Int32Array(table, HASH_OFFSET, 1 << HASH_BITS);
    this.ids = new Int32Array(toArrayBuffer(this.header[H.idsAddress]! as Pointer, 0, 4));
    const header = this.header;
    this.allocations = header[H.allocations]!;
    this.frees = header[H.frees]!;
    this.allocatedBytes = header[H.allocatedBytes]!;
    this.freedBytes = header[H.freedBytes]!;
  }

  /** The calling thread's bins of the pool, or null where the pool has none. */
  static open(handle: number, poolName: string): SizeBins | null {
    checkLayout();
    const address = native.openBins(handle);
    if (address === 0) return null;
    const bins = new SizeBins(handle, address, native.poolBase(handle), poolName);
    cacheOpened(bins);
    return bins;
  }

  get open(): boolean {
    return !this.dead;
  }

  get holdsBlocks(): boolean {
    return !this.dead && this.header[H.cachedBlocks]! > 0;
  }

  alloc(size: number): number {
    const address = this.allocAddress(size);
    return address < 0 ? address : (address - this.base) * K.perGranule;
  }

  /**
   * As alloc(), giving the block's address (a raw pointer's allocation): the address, id in
   * `lastId`, or a negative status. Where the class's last block is binned and large enough
   * (a repeated size's always is), take hands it out; everything else is allocSlow's, which
   * comes back here once a block is on top. Small, as take is: JSC inlines only small functions,
   * five calls deep from a caller's loop (the pool's allocateRaw calls this from its body).
   */
  allocAddress(size: number): number {
    const granules = (size + K.granule - 1) >>> 4;
    const index = granules <= 16 ? granules : classOf(granules);
    const count = this.classCounts[index]! - 1;
    // The class of the size asked for holds blocks of its size and a little more or less: its last one, where it is large enough (a repeated size always is).
    if (count >= 0) {
      const slots = this.slots;
      const at = this.classSlots[index * K.classDepth + count]! << 2;
      if (slots[at + S.STATE]! < 0 && slots[at + S.GRANULES]! >= granules) {
        this.classCounts[index] = count;
        return this.take(at, size);
      }
    }
    return this.allocSlow(size, granules, index);
  }

  /** Hands the binned block whose slot's words start at `at` out for `size` bytes (it is large enough, and off its class): its address. */
  private take(at: number, size: number): number {
    const slots = this.slots;
    const last = this.ids[0]!;
    const id = last === K.idMax ? 1 : last + 1;
    this.ids[0] = id;
    slots[at + S.REQUESTED] = size;
    slots[at + S.STATE] = id;
    this.allocations++;
    this.allocatedBytes += size;
    const header = this.header;
    const live = (header[H.liveRequestedBytes]! += size);
    header[H.cachedBytes]! -= slots[at + S.GRANULES]! * K.granule;
    const binned = (header[H.cachedBlocks]! -= 1);
    // The highs this hit reaches, for the core's peaks (it folds them in at its next call).
    if (live > header[H.liveRequestedHigh]!) header[H.liveRequestedHigh] = live;
    if (binned < header[H.cachedBlocksLow]!) header[H.cachedBlocksLow] = binned;
    this.lastId = id;
    return this.base + (slots[at + S.G]! >>> 0) * K.granule;
  }

  /**
   * The class's last block is too small (or not binned: out of step with the table): a block of
   * one of the next CLASSES_ABOVE classes (each at least its size; at most ~1/8 larger past 16
   * granules), else the core's.
   */
  private allocSlow(size: number, granules: number, index: number): number {
    const top = this.classCounts[index]! - 1;
    // A slot the core took back meanwhile (a reset not made through this pool's reset()): not ours.
    if (top >= 0 && this.slots[(this.classSlots[index * K.classDepth + top]! << 2) + S.STATE]! >= 0) return this.outOfStep(size);
    const last = Math.min(index + CLASSES_ABOVE, CLASSES - 1);
    for (let above = index + 1; above <= last; above++) {
      const count = this.classCounts[above]! - 1;
      if (count < 0) continue;
      const at = this.classSlots[above * K.classDepth + count]! << 2;
      if (this.slots[at + S.STATE]! >= 0 || this.slots[at + S.GRANULES]! < granules) return this.outOfStep(size);
      this.classCounts[above] = count;
      return this.take(at, size);
    }
    return this.miss(size, granules * K.granule);
  }

  /** The bins disagree with the table: forget them (the core holds the truth) and take a new block: its address, or a negative status. */
  private outOfStep(size: number): number {
    this.forget();
    return this.miss(size, Math.ceil(size / K.granule) * K.granule);
  }

  /** A block from the core for `size` bytes in a block of `capacity` (its address, or a negative status): after a failure for lack of memory, the bins go back and it tries once more. */
  private miss(size: number, capacity: number): number {
    if (this.dead) return this.died();
    let offset = native.allocBinned(this.handle, size, capacity);
    if (offset === Status.outOfMemory && this.holdsBlocks) {
      this.flush();
      offset = native.allocBinned(this.handle, size, capacity);
    }
    if (offset < 0) {
      this.message = ""; // the core's own message says why
      // Destroyed unseen (by a second copy of the library in this thread): the core keeps the table for this view until the flush lets go of it.
      if (offset === Status.poolNotFound) this.flush();
      return offset;
    }
    this.lastId = lastId();
    return this.base + offset * K.granule;
  }

  /** The slot of the block at `g`, or -1 where the bins do not manage it. */
  private slotOf(g: number): number {
    const hash = this.hash;
    const slots = this.slots;
    const key = g | 0;
    let at = Math.imul(key, HASH_MULTIPLIER) >>> HASH_SHIFT;
    for (;;) {
      const entry = hash[at]!;
      if (entry === 0) return -1;
      if (slots[((entry - 1) << 2) + S.G] === key) return entry - 1;
      at = (at + 1) & HASH_MASK;
    }
  }

  /**
   * Frees the block at `g` (with `expectedId` not 0, only while it holds that allocation) into its
   * class: 0, 1 where the core must free it (a block the bins do not manage, past the cap, a full
   * class), or a negative status (a double free).
   */
  free(g: number, expectedId: number): number {
    if (this.dead) return 1; // the core says why (the table may be unmapped)
    const slot = this.slotOf(g);
    if (slot < 0) return 1;
    const at = slot << 2;
    const state = this.slots[at + S.STATE]!;
    if (state < 0 || (expectedId !== 0 && state !== expectedId)) return this.doubleFree(g, expectedId, state);
    return this.binAt(at, state);
  }

  /**
   * As free(g, 0), given the block's address (a raw pointer's free: the pool's deallocate calls
   * this from its body, and slotOf and binAt lie within JSC's inlining depth): the block's granule
   * offset where it binned it; else -1, having changed nothing (the caller then takes the pool's
   * path, whose free() says why where it fails).
   */
  freeAddress(address: number): number {
    if (this.dead) return -1; // the table may be unmapped
    const g = (address - this.base) * K.perGranule;
    // A pointer inside a granule, below the pool or past 2^32 granules starts no block.
    if (g >>> 0 !== g) return -1;
    const slot = this.slotOf(g);
    if (slot < 0) return -1;
    const at = slot << 2;
    const state = this.slots[at + S.STATE]!;
    if (state <= 0) return -1; // binned: free() tells the double free
    return this.binAt(at, state) === 0 ? g : -1;
  }

  /** Bins the live block whose slot's words start at `at` (its allocation `state`): 0, or 1 where the core must free it (past the cap, a full class). */
  private binAt(at: number, state: number): number {
    const slots = this.slots;
    const granules = slots[at + S.GRANULES]!;
    const header = this.header;
    const bytes = granules * K.granule;
    if (header[H.cachedBytes]! + bytes > header[H.capBytes]!) return 1; // past the cap: the core frees it
    // (classOf written out: the fifth call from a caller's loop would not be inlined.)
    const shift = 27 - Math.clz32(granules);
    const index = granules <= 16 ? granules : (shift << 4) + (granules >>> shift);
    const count = this.classCounts[index]!;
    if (count === K.classDepth) return 1; // a full class: the core frees it
    this.classSlots[index * K.classDepth + count] = at >>> 2;
    this.classCounts[index] = count + 1;
    const requested = slots[at + S.REQUESTED]!;
    slots[at + S.STATE] = state | K.binned;
    this.frees++;
    this.freedBytes += requested;
    header[H.liveRequestedBytes]! -= requested;
    header[H.cachedBytes]! += bytes;
    header[H.cachedBlocks]! += 1;
    return 0;
  }

  private doubleFree(g: number, expectedId: number, state: number): number {
    const where = `at offset ${g * K.granule}`;
    if (expectedId === 0) this.message = `double free: the block ${where} is already free (pool '${this.poolName}')`;
    else if (state < 0) this.message = `double free: allocation #${expectedId} ${where} was already freed (pool '${this.poolName}')`;
    else this.message = `double free: allocation #${expectedId} ${where} was already freed, and the block now holds allocation #${state} (pool '${this.poolName}')`;
    return Status.doubleFree;
  }

  liveId(g: number): number {
    if (this.dead) return CACHE_CANNOT_TELL;
    const slot = this.slotOf(g);
    if (slot < 0) return CACHE_CANNOT_TELL;
    const state = this.slots[(slot << 2) + S.STATE]!;
    return state < 0 ? 0 : state;
  }

  /** Writes into the header the counters kept here, for a core call that reads them (the pool's statistics). */
  publish(): void {
    if (this.dead) return;
    const header = this.header;
    header[H.allocations] = this.allocations;
    header[H.frees] = this.frees;
    header[H.allocatedBytes] = this.allocatedBytes;
    header[H.freedBytes] = this.freedBytes;
  }

  flush(): void {
    if (this.dead) return;
    this.publish();
    // The core first: where the pool is gone (destroyed), the table is too, and must not be read.
    const flushed = native.flushBins(this.handle, this.address);
    if (flushed === Status.poolNotFound) return this.die();
    this.forget();
  }

  private forget(): void {
    this.classCounts.fill(0);
  }

  private died(): number {
    this.message = `pool '${this.poolName}' was destroyed`;
    return Status.poolNotFound;
  }

  private die(): void {
    this.dead = true;
    this.forget();
    cacheClosed(this);
  }
}
