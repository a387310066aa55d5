/**
 * The JavaScript half of a pool's thread cache (the core's half: zig/src/sync/js_cache.zig). Each
 * thread (each Bun Worker) that allocates from a fixed-size pool placed by the core's shared path
 * keeps a stack of free blocks in a record in the core's memory, and allocates and frees on it with
 * no FFI call; one core call refills or flushes a batch. Block state is the core's own: a state
 * word per block (0 never allocated, the allocation's id while live, the freed flag and who freed it once free) in
 * chunks that this file views through toArrayBuffer and reads and writes with Atomics, so another
 * thread's free, the core's lookups and this thread's checks all see one truth. A double free, a
 * pointer no block starts at, and a free through the wrong pool are typed errors found here.
 *
 * A block on the stack is free (freed flag set), counted by the core as cached, apart from the bytes in
 * use. The record's counters (allocations, frees, bytes asked for) are summed into the pool's
 * statistics by the core. When the thread ends, or on mp_thread_flush, the core gives the stack's
 * blocks back.
 *
 * Atomics cost 5–20 ns each here (they are calls in this Bun, not instructions: bench/RESULTS.md),
 * so a pair uses at most one: the compare-and-swap that frees a block of a shared pool (of two
 * racing frees exactly one wins). A pool only its own thread may touch (threadSafety "none", the
 * default) has no racing free: a plain store frees there, and ids count pool-wide on a word the
 * core shares (cachePoolIds), as its other placements count them; its counters, last id and the
 * record's copy of the stack are kept in this object and written for the core only before a core
 * call reads them (publish()). An allocation publishes the block's
 * new id with a plain store on x86-64 (see PLAIN_PUBLISH). Everything else is a plain read of a value this thread wrote, or one whose staleness
 * the compare-and-swap catches. The stack's count is kept here (`#count`) and mirrored into the
 * record for the core, and so is the stack (#numbers, #addresses): numbers a refill wrote are read
 * from the record once, with Atomics, since Bun's JIT may reuse a plain typed-array read across the
 * FFI call that wrote them.
 */
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { NativeLibraryError } from "./errors";
import { ABI, GRANULE_BYTES, Status } from "./native";
import * as native from "./native";
import { cacheClosed, cacheOpened, type ThreadCache } from "./thread_cache";

/**
 * The layout of a cache record (zig/src/sync/js_cache.zig Shared: f64 counters, then u32 words,
 * then the stack) and of a block-state chunk (zig/src/sync/lockfree_fixed.zig Chunk: four arrays
 * of u32 words), as constants, so the hot paths read no field for them (reading them from an
 * object cost about 5 ns a pair). The core's ABI description (records.cacheRecord and the cache
 * constants) is the one written form: the first cache to open checks these against it, and a core
 * that differs is refused with a NativeLibraryError.
 */
const Word = { ownerSerial: 8, count: 9, strideGranules: 10, capacity: 11, pendingNumber: 12, pendingKind: 13, freer: 14, numbers: 16 } as const;
const Counter = { allocations: 0, frees: 1, allocatedBytes: 2, freedBytes: 3 } as const;
/**
 * The operation a shared pool's cache is in the middle of, written to the record before its first
 * step and cleared after its last (js_cache.zig settlePending): a Worker ended by terminate() stops
 * its JavaScript between any two steps (a slow path of the engine may take the termination), and
 * the core finishes the operation at the thread's end, so that no block is lost or miscounted.
 */
const PENDING_ALLOC = 1;
const PENDING_FREE = 2;
/**
 * The pending word's other bits: a sequence each operation advances as it begins (its kind in
 * the low bits) and leaves as it ends (kind 0), so that the core reads the record's counters as of
 * one moment, re-reading them while the word moved (js_cache.zig `steady`): the stores were made
 * anyway; only their values changed. A shared pool's sequence numbers what the counters count
 * (allocations + frees + their bytes: an operation advances it by a step for its count and one for
 * each byte; a free that does not happen takes its steps back: #unstack), which is how the
 * core tells at a terminated Worker's end whether the operation in flight was counted, not at all,
 * or its count alone (it counts the count, then the bytes, two stores a Worker may be stopped
 * between: js_cache.zig `countedSequence`).
 */
const PENDING_KIND_MASK = 3;
const PENDING_SEQUENCE_STEP = 4;
/**
 * The largest request this cache serves (js_cache.zig max_cached_request): an operation's steps
 * (one for its count, one a byte) then stay apart from one step and from none, modulo the
 * sequence's 2^30. Larger ones (blocks of a GiB and more) go to the core.
 */
const MAX_CACHED_REQUEST = 2 ** 30 - 2;
const CHUNK_SHIFT = 12;
const CHUNK_BLOCKS = 1 << CHUNK_SHIFT;
/**
 * Word offsets of a chunk's requested-size and start (`g + 1`) arrays; its state words come first.
 * Both hold u32s, read here through the chunk's Int32Array: past 2^31 (a block at 32 GiB into the
 * pool, a request of 2 GiB or more) they read negative, so they are read with `>>> 0` or compared
 * with `(g + 1) | 0`.
 */
const REQUESTED = CHUNK_BLOCKS;
const START_PLUS_ONE = 3 * CHUNK_BLOCKS;
const CHUNK_BYTES = 16 * CHUNK_BLOCKS;
/** 1 / GRANULE_BYTES, exact: an address's granule offset with a multiply. */
const PER_GRANULE = 1 / GRANULE_BYTES;
/**
 * A state word's flags, as int32: chunks are viewed as an Int32Array, so a freed word (bit 31) is
 * negative and every value stays an int32 (a Uint32Array's words above 2^31 would be doubles, and
 * the JIT's int32 speculation would fail). CONTINUED marks a block a run holds after its first;
 * ids stay below it.
 */
const FREED = -0x8000_0000;
const CONTINUED = 0x4000_0000;
/** Every block's word once the pool was destroyed while this thread's cache viewed it: the next use of any block sees it. */
const DEAD = -1;
const ID_BITS = CONTINUED - 1;
/** liveId() where this cache cannot tell (its pool was destroyed under it): ask the core. */
export const CACHE_CANNOT_TELL = -1;
const CAPACITY = 256;
const RECORD_BYTES = 4 * Word.numbers + 4 * CAPACITY;

let layoutChecked = false;

/** Throws a NativeLibraryError where the core describes the record or chunk otherwise than the constants above. */
function checkLayout(): void {
  if (layoutChecked) return;
  const record = ABI.records.cacheRecord;
  const c = ABI.constants;
  const expected: [string, number, number][] = [
    ["cacheRecord bytes", record.bytes, RECORD_BYTES],
    ["cacheNumbersOffset", c.cacheNumbersOffset, 4 * Word.numbers],
    ["cacheCapacity", c.cacheCapacity, CAPACITY],
    ["cacheChunkShift", c.cacheChunkShift, CHUNK_SHIFT],
    ["cacheChunkBytes", c.cacheChunkBytes, CHUNK_BYTES],
    ["cacheChunkRequestedOffset", c.cacheChunkRequestedOffset, 4 * REQUESTED],
    ["cacheChunkStartOffset", c.cacheChunkStartOffset, 4 * START_PLUS_ONE],
    ["cachePendingAlloc", c.cachePendingAlloc, PENDING_ALLOC],
    ["cachePendingFree", c.cachePendingFree, PENDING_FREE],
    ["cachePendingKindMask", c.cachePendingKindMask, PENDING_KIND_MASK],
    ["cachePendingSequenceStep", c.cachePendingSequenceStep, PENDING_SEQUENCE_STEP],
    ["cacheMaxRequest", c.cacheMaxRequest, MAX_CACHED_REQUEST],
    ["blockFreedFlag", c.blockFreedFlag | 0, FREED],
    ["blockContinuedFlag", c.blockContinuedFlag, CONTINUED],
    ["blockDeadState", c.blockDeadState | 0, DEAD],
    ...(Object.entries(Word).filter(([name]) => name !== "numbers") as [keyof typeof Word, number][]).map(([name, index]): [string, number, number] => [`cacheRecord ${name}`, record.fields[name as "count"].index, index]),
    ...(Object.entries(Counter) as [keyof typeof Counter, number][]).map(([name, index]): [string, number, number] => [`cacheRecord ${name}`, record.fields[name].index, index]),
  ];
  const wrong = expected.filter(([, core, here]) => core !== here).map(([name, core, here]) => `${name} ${core} (this code: ${here})`);
  if (wrong.length > 0) throw new NativeLibraryError(`the core's JavaScript cache layout differs from this code's: ${wrong.join(", ")}: use the core of the same version as this code (rebuild it in a checkout: npm run build)`);
  layoutChecked = true;
}

/** Ids a shared pool's cache takes from the core at once (a call per this many allocations). */
const ID_BATCH = 64;
/** A full stack gives back all but this share of its capacity in one call (192 of 256 blocks). */
const KEEP_ON_FLUSH_SHARE = 3 / 4;
/**
 * Where stores are seen by other cores in program order (x86-64), a plain store publishes a block's
 * id after its size (JSC keeps typed-array stores in program order); elsewhere Atomics.store does.
 */
const PLAIN_PUBLISH = process.arch === "x64";

export class BlockCache implements ThreadCache {
  readonly #handle: number;
  readonly #address: Pointer;
  readonly #words: Uint32Array;
  readonly #counters: Float64Array;
  readonly #serial: number;
  readonly #stride: number;
  /** log2 of the stride where it is a power of two (a shift instead of a division), else -1. */
  readonly #strideShift: number;
  /** The record's capacity, which the core sets (js_cache.zig capacityFor: less in a small pool), and the blocks a flush of a full stack keeps. */
  readonly #capacity: number;
  readonly #keepOnFlush: number;
  readonly #chunks: (Int32Array | undefined)[] = [];
  /**
   * Chunk 0's view once made (blocks 0 to 4095: a pool's first 256 KiB of 64-byte blocks), read
   * from a field of its own: the hot paths' chain of dependent loads (a popped number, its chunk,
   * the block's words) loses a step for the blocks most pools use.
   */
  #chunk0: Int32Array | undefined = undefined;
  /** Blocks on the stack: the truth is here, the record's count word mirrors it for the core. */
  #count: number;
  /**
   * The stack as this thread reads it: each slot's block number and address, written by this file
   * alone (a push writes them with the record's slot; a slot a refill wrote is copied by the pop that
   * first reaches it: see #coreWrittenBelow). A pop reads the address here rather than computing it, and
   * a push stores the address it was given: the next pop's address then waits for no arithmetic
   * on the last one, where a stack of numbers alone chains every pair's conversions (address to
   * granule to number and back: ~7 ns a pair here, bench/RESULTS.md).
   */
  readonly #numbers: Int32Array;
  readonly #addresses: Float64Array;
  /** The pool's first byte's address: blocks' addresses are base + 16 x granule offset. */
  readonly #base: number;
  /** Set once the pool was seen destroyed: every later operation fails at once. */
  #dead = false;
  /**
   * Stack slots below this index hold numbers the core wrote (a refill writes slots from the count
   * up; a push from here overwrites slot `count`, which is never below it) that #numbers and
   * #addresses do not hold yet: a pop there reads the number with Atomics and views its block's
   * chunk (#allocSlow). After a refill it is the new count; each such pop lowers it to the slot popped.
   */
  #coreWrittenBelow = 0;
  /**
   * Whether only this thread ever touches the pool (threadSafety "none": the core refuses every
   * other thread): then a free marks its block with a plain store, since no other free can race
   * it, and ids are counted here one by one on #ids (a shared pool's, a batch at a time).
   */
  readonly #exclusive: boolean;
  /**
   * The core's word holding the pool's last id: an exclusive pool's is read and written on every
   * allocation here (another copy of the library in this thread allocates through the core, which
   * counts on it: an id kept here alone was given twice, and a freed handle passed the core's check
   * of its block's id); a shared pool's is advanced a batch at a time with a compare-and-swap (#takeIds).
   */
  readonly #ids: Int32Array;
  /**
   * The record's counters, kept here: the truth is these fields. A shared pool's cache writes each
   * through to the record as it changes (the core sums them for any thread's getStats, and finishes
   * a terminated Worker's operation from them); an exclusive pool's only in publish(), which the
   * core's readers are preceded by (a plain field costs a fraction of a Float64Array's
   * read-modify-write: bench/RESULTS.md).
   */
  #allocations: number;
  #frees: number;
  #allocatedBytes: number;
  #freedBytes: number;
  /** The pending word's sequence (PENDING_SEQUENCE_STEP): the one the operation under way began, or the last one ended. */
  #sequence = 0;
  /**
   * The state word this cache's frees write: the freed flag and the record's freer (js_cache.zig
   * Record.freer, no other record's), so that of two racing frees of one block the word names the
   * winner, and the core tells at this thread's end whether a free in flight won (settlePending).
   * Written in place of the id a live word held: the same one swap, of a value read once here.
   */
  readonly #freed: number;
  /** A shared pool's ids this thread took from the core (a batch at a time) and has not given out: #nextId up to #idsEnd. */
  #nextId = 0;
  #idsEnd = 0;
  /** The largest request a block serves: bigger ones go to the core. */
  readonly maxBytes: number;
  /** The id of the allocation the last alloc() made. */
  lastId = 0;
  /** Why the last call that returned a failure failed. */
  message = "";

  constructor(handle: number, address: number, ids: Int32Array, maxBytes: number, readonly poolName: string, exclusive: boolean, base: number) {
    this.#handle = handle;
    this.#base = base;
    this.#ids = ids;
    this.#exclusive = exclusive;
    this.#address = address as Pointer;
    const record = toArrayBuffer(address as Pointer, 0, RECORD_BYTES);
    this.#words = new Uint32Array(record);
    this.#counters = new Float64Array(record, 0, 8);
    // A record another thread left (js_cache.zig adopt) keeps its counters: the pool's sums count them.
    this.#allocations = this.#counters[Counter.allocations]!;
    this.#frees = this.#counters[Counter.frees]!;
    this.#allocatedBytes = this.#counters[Counter.allocatedBytes]!;
    this.#freedBytes = this.#counters[Counter.freedBytes]!;
    this.#serial = Atomics.load(this.#words, Word.ownerSerial);
    this.#stride = this.#words[Word.strideGranules]!;
    this.#strideShift = (this.#stride & (this.#stride - 1)) === 0 ? 31 - Math.clz32(this.#stride) : -1;
    this.#capacity = this.#words[Word.capacity]!;
    this.#keepOnFlush = Math.floor(this.#capacity * KEEP_ON_FLUSH_SHARE);
    this.#freed = FREED | this.#words[Word.freer]!;
    this.#numbers = new Int32Array(this.#capacity);
    this.#addresses = new Float64Array(this.#capacity);
    this.#count = Atomics.load(this.#words, Word.count);
    this.#sequence = Atomics.load(this.#words, Word.pendingKind) & ~PENDING_KIND_MASK;
    this.#coreWrittenBelow = this.#count;
    this.maxBytes = Math.min(maxBytes, this.#stride * GRANULE_BYTES, MAX_CACHED_REQUEST);
  }

  /** Opens the calling thread's cache of the pool, or gives null where the pool has none. */
  static open(handle: number, maxBytes: number, poolName: string, exclusive: boolean): BlockCache | null {
    checkLayout();
    // The id word first: another Worker may destroy the pool at any moment, and a record the core
    // opened for this thread must reach a cache (which releases it once it sees the pool gone).
    // The core keeps the word past the pool's end, as it keeps the record.
    const ids = native.cachePoolIds(handle);
    if (ids === null) return null; // no cache, or no pool: the core's path says which
    const address = native.openCache(handle);
    if (address === 0) return null;
    const cache = new BlockCache(handle, address, ids, maxBytes, poolName, exclusive, native.poolBase(handle));
    cacheOpened(cache);
    return cache;
  }

  /** Whether the stack holds blocks (a request for a run of blocks gives them back first). */
  get holdsBlocks(): boolean {
    return this.#count > 0;
  }

  /** Whether the pool is still there (another Worker may have destroyed it). */
  get open(): boolean {
    return !this.#dead && Atomics.load(this.#words, Word.ownerSerial) === this.#serial;
  }

  /** The pool was destroyed by another thread (its blocks say so): this cache stops for good. */
  #died(): number {
    this.#die();
    return Status.poolNotFound;
  }

  /** The pool is being destroyed, or was: PoolNotFound; once its record is closed, this cache dies. */
  #poolGoing(): number {
    if (!this.open) return this.#died();
    this.message = `pool '${this.poolName}' was destroyed`;
    return Status.poolNotFound;
  }

  /**
   * The pool is gone: this cache never touches its record again, and tells the core so, which may
   * then give the record to this thread's next pool (never while this object could still use it).
   */
  #die(): void {
    this.message = `pool '${this.poolName}' was destroyed`;
    if (this.#dead) return;
    this.#dead = true;
    // The hot paths test neither: an empty stack and no known chunk send them to the slow paths, which do.
    this.#count = 0;
    this.#coreWrittenBelow = 0;
    this.#chunks.length = 0;
    this.#chunk0 = undefined;
    cacheClosed(this);
    native.releaseCache(this.#address);
  }

  /** A block for `size` bytes (1..maxBytes, checked by the caller): its granule offset, id in `lastId`; or a negative status. */
  alloc(size: number): number {
    const address = this.#exclusive ? this.allocAddress(size) : this.allocSharedAddress(size);
    return address < 0 ? address : (address - this.#base) * PER_GRANULE;
  }

  /**
   * An exclusive pool's allocation of a block for `size` bytes (1..maxBytes, checked by the caller),
   * as alloc() but giving the block's address (a raw pointer's allocation): the address, id in
   * `lastId`, or a negative status. A shared pool's is allocSharedAddress, a method of its own: code a
   * pool of one kind runs is profiled apart from the other's, and a shared pool's pair run even once
   * in the process made an exclusive pool's 1–2 ns dearer (bench/RESULTS.md). The hit is whole here,
   * with no call: JSC inlines only small functions, five calls deep from a caller's loop. Refills,
   * slots a refill wrote, a destroyed pool and every failure go to #allocSlow, which comes back here
   * once the top slot is ready. A dead cache's count is 0, so it always goes there.
   */
  allocAddress(size: number): number {
    const count = this.#count - 1;
    if (count >= this.#coreWrittenBelow && this.#exclusive) {
      const number = this.#numbers[count]!;
      const chunk = number < CHUNK_BLOCKS ? this.#chunk0 : this.#chunks[number >>> CHUNK_SHIFT];
      // (Always known while the pool lives: the pop that copied the slot, or the free that pushed it, viewed it.)
      if (chunk !== undefined) {
        const at = number & (CHUNK_BLOCKS - 1);
        // Ids count up pool-wide (as the core gives them): a handle of an earlier allocation never
        // frees a later one. The block is ours (freed, on our stack): no other thread writes its
        // words. Its words and the id word now; the record's count and counters at publish().
        const ids = this.#ids;
        const last = ids[0]!;
        const next = last === ID_BITS ? 1 : last + 1;
        ids[0] = next;
        this.#count = count;
        chunk[REQUESTED + at] = size;
        chunk[at] = next;
        this.#allocations++;
        this.#allocatedBytes += size;
        this.lastId = next;
        return this.#addresses[count]!;
      }
    }
    return this.#allocSlow(size);
  }

  /** A shared pool's allocAddress: ids come in batches from the core, and every step is written through for the core. */
  allocSharedAddress(size: number): number {
    const count = this.#count - 1;
    if (count >= this.#coreWrittenBelow) {
      const number = this.#numbers[count]!;
      const chunk = number < CHUNK_BLOCKS ? this.#chunk0 : this.#chunks[number >>> CHUNK_SHIFT];
      if (chunk !== undefined) {
        const at = number & (CHUNK_BLOCKS - 1);
        // The block is ours, except that a destroy in another Worker writes DEAD into its word.
        if (chunk[at] === DEAD) return this.#died();
        if (this.#nextId === this.#idsEnd) this.#takeIds();
        // The allocation in flight (see PENDING_ALLOC), written out here rather than called: a call
        // this deep from a caller's loop is one JSC does not inline (a pair cost 3 ns more).
        const words = this.#words;
        const counters = this.#counters;
        words[Word.pendingNumber] = number;
        words[Word.pendingKind] = (this.#sequence = (this.#sequence + (size + 1) * PENDING_SEQUENCE_STEP) | 0) | PENDING_ALLOC;
        const next = this.#nextId++;
        this.#count = count;
        words[Word.count] = count;
        chunk[REQUESTED + at] = size;
        if (PLAIN_PUBLISH) chunk[at] = next;
        else Atomics.store(chunk, at, next);
        counters[Counter.allocations] = ++this.#allocations;
        counters[Counter.allocatedBytes] = this.#allocatedBytes += size;
        words[Word.pendingKind] = this.#sequence;
        this.lastId = next;
        return this.#addresses[count]!;
      }
    }
    return this.#allocSlow(size);
  }

  /** Refills an empty stack, copies a slot a refill wrote, or fails for a destroyed pool: the address of the block taken, or a negative status. */
  #allocSlow(size: number): number {
    if (this.#dead) return this.#died();
    let count = this.#count;
    if (count === 0) {
      this.publish();
      count = native.refillCache(this.#handle, this.#address);
      if (count < 0) {
        this.message = ""; // the core's own message says why
        return count;
      }
      this.#count = count;
      this.#coreWrittenBelow = count;
    }
    count--;
    if (count < this.#coreWrittenBelow) {
      const number = Atomics.load(this.#words, Word.numbers + count);
      const chunk = this.#chunkOf(number) ?? this.#chunk(number >>> CHUNK_SHIFT);
      // A chunk not viewed yet, which the core no longer gives: another Worker destroys the pool. Until
      // the destroy has closed the record (which this cache then releases), the stack stays as it is.
      if (chunk === undefined) return this.#poolGoing();
      this.#numbers[count] = number;
      this.#addresses[count] = this.#base + ((chunk[START_PLUS_ONE + (number & (CHUNK_BLOCKS - 1))]! >>> 0) - 1) * GRANULE_BYTES;
      this.#coreWrittenBelow = count;
    }
    return this.#exclusive ? this.allocAddress(size) : this.allocSharedAddress(size); // the top slot is ready now: the hit takes it
  }

  /** The chunk of block `number` this cache views, if any (the hot paths' lookup: it makes none). */
  #chunkOf(number: number): Int32Array | undefined {
    return number < CHUNK_BLOCKS ? this.#chunk0 : this.#chunks[number >>> CHUNK_SHIFT];
  }

  /**
   * Takes the next batch of a shared pool's ids off the core's word, as the core's takeIds does
   * (zig/src/sync/shared_fixed.zig): from 1 up to ID_BITS, a batch that would pass it starting
   * again at 1. One compare-and-swap a batch. Where another Worker destroyed the pool meanwhile,
   * the core kept the word (as it keeps the chunks) for views like this one.
   */
  #takeIds(): void {
    const ids = this.#ids;
    let last = Atomics.load(ids, 0);
    for (;;) {
      const first = last > ID_BITS - ID_BATCH ? 1 : last + 1;
      const seen = Atomics.compareExchange(ids, 0, last, first + ID_BATCH - 1);
      if (seen === last) {
        this.#nextId = first;
        this.#idsEnd = first + ID_BATCH;
        return;
      }
      last = seen;
    }
  }

  /**
   * Frees the block at granule `g` (with `expectedId` not 0, only while it holds that allocation):
   * 0, 1 where it is not a single block this cache serves (the caller asks the core), or a negative status.
   */
  free(g: number, expectedId: number): number {
    const number = this.#strideShift >= 0 ? g >>> this.#strideShift : Math.floor(g / this.#stride);
    const chunk = number < CHUNK_BLOCKS ? this.#chunk0 : this.#chunks[number >>> CHUNK_SHIFT];
    const at = number & (CHUNK_BLOCKS - 1);
    // One test for the common case: the block starts at g, holds a single live allocation (the
    // one expected), and its chunk is known. Everything else is sorted out by #freeSlow.
    if (chunk === undefined || chunk[START_PLUS_ONE + at] !== ((g + 1) | 0)) return this.#freeSlow(g, expectedId);
    const state = chunk[at]!;
    if (state <= 0 || state >= CONTINUED || (expectedId !== 0 && state !== expectedId)) return this.#freeSlow(g, expectedId);
    return this.#release(chunk, at, number, state, g, this.#base + g * GRANULE_BYTES, expectedId);
  }

  /**
   * As free(g, 0), given the block's address (a raw pointer's free; both kinds of pool have their
   * hit whole here, as allocAddress and allocSharedAddress have theirs: a call from here is one JSC
   * does not inline): 0 where it freed the block, else 1 or a negative status,
   * having changed nothing where the pointer is not the start of a single live block this cache
   * serves (the caller then takes free(), whose slow path says why).
   */
  freeAddress(address: number): number {
    // g is exact (a multiple of 1/16 of an address below 2^53); a pointer that is no block's start
    // (inside one, past the pool, below it, not a granule's) fails the start word's test.
    const g = (address - this.#base) * PER_GRANULE;
    const number = this.#strideShift >= 0 ? g >>> this.#strideShift : Math.floor(g / this.#stride);
    // (#chunkOf, written out: JSC inlines five calls deep, and this is the fifth from a caller's loop.)
    const chunk = number < CHUNK_BLOCKS ? this.#chunk0 : this.#chunks[number >>> CHUNK_SHIFT];
    if (chunk === undefined) return 1;
    const at = number & (CHUNK_BLOCKS - 1);
    if ((chunk[START_PLUS_ONE + at]! >>> 0) - 1 !== g) return 1;
    const state = chunk[at]!;
    if (state <= 0 || state >= CONTINUED) return 1;
    const requested = chunk[REQUESTED + at]! >>> 0;
    const count = this.#count;
    if (requested > this.maxBytes || count === this.#capacity) return this.#release(chunk, at, number, state, g, address, 0);
    if (!this.#exclusive) {
      // A shared pool's hit, #release's steps written out (with them called, a pair cost 1 ns
      // more: bench/RESULTS.md), in #stackTop's order: the push (the record's slot, then its count)
      // before the free in flight is recorded (PENDING_FREE), both before the compare-and-swap
      // that decides between two racing frees; the counts after it.
      const words = this.#words;
      const counters = this.#counters;
      this.#numbers[count] = number;
      this.#addresses[count] = address;
      words[Word.numbers + count] = number;
      words[Word.count] = count + 1;
      words[Word.pendingNumber] = number;
      words[Word.pendingKind] = (this.#sequence = (this.#sequence + (requested + 1) * PENDING_SEQUENCE_STEP) | 0) | PENDING_FREE;
      if (Atomics.compareExchange(chunk, at, state, this.#freed) !== state) {
        this.#unstack(count, requested); // not ours to free
        return this.#freeSlow(g, 0);
      }
      this.#count = count + 1;
      counters[Counter.frees] = ++this.#frees;
      counters[Counter.freedBytes] = this.#freedBytes += requested;
      words[Word.pendingKind] = this.#sequence;
      return 0;
    }
    // An exclusive pool's hit, whole here as allocAddress's is: the push (in the record at
    // publish()), a plain store marking the block freed (no other free can race it), the counts.
    this.#numbers[count] = number;
    this.#addresses[count] = address;
    chunk[at] = this.#freed;
    this.#count = count + 1;
    this.#frees++;
    this.#freedBytes += requested;
    return 0;
  }

  /** free()'s and freeAddress()'s common part, from the block's live state word on. */
  #release(chunk: Int32Array, at: number, number: number, state: number, g: number, address: number, expectedId: number): number {
    const requested = chunk[REQUESTED + at]! >>> 0;
    if (requested > this.maxBytes) return 1;
    const count = this.#stackTop(number, address);
    if (count < 0) return count;
    // Of two racing frees exactly one swaps the state word; the other sees the freed flag (slow
    // path). A pool only this thread may touch has no racing free: a plain store (a CAS costs
    // 6-9 ns here, half of libc's whole malloc + free: bench/RESULTS.md).
    if (this.#exclusive) chunk[at] = this.#freed;
    else {
      this.#intendFree(number, requested);
      if (Atomics.compareExchange(chunk, at, state, this.#freed) !== state) {
        this.#unstack(count, requested); // not ours to free
        return this.#freeSlow(g, expectedId);
      }
    }
    return this.#pushed(count, requested);
  }

  /** A shared pool's free of block `number`, of `requested` bytes, begins (see PENDING_ALLOC). */
  #intendFree(number: number, requested: number): void {
    this.#words[Word.pendingNumber] = number;
    this.#words[Word.pendingKind] = (this.#sequence = (this.#sequence + (requested + 1) * PENDING_SEQUENCE_STEP) | 0) | PENDING_FREE;
  }

  /**
   * Puts block `number` on the stack for the core to see (flushing a batch to the core where it is
   * full) before the caller marks it freed: a Worker ended by terminate() may stop between any two
   * steps, and a block marked freed but on no stack would be lost to the pool for good, where one
   * on the stack but not yet marked is still live, which the core's flush at the thread's end
   * tells by its state word (js_cache.zig flushRecordTo); one marked but not yet counted, the core
   * counts there (PENDING_FREE). Returns the slot, or a negative status.
   */
  #stackTop(number: number, address: number): number {
    let count = this.#count;
    if (count === this.#capacity) {
      this.publish(this.#keepOnFlush);
      count = native.flushCache(this.#handle, this.#address, this.#keepOnFlush); // slots below stay as they were
      // Another Worker destroyed the pool meanwhile: a status, never a stack count.
      if (count < 0) return count === Status.poolNotFound ? this.#died() : count;
      this.#count = count;
    }
    this.#numbers[count] = number;
    this.#addresses[count] = address;
    this.#words[Word.numbers + count] = number;
    this.#words[Word.count] = count + 1;
    return count;
  }

  /** The block #stackTop put in slot `count` is marked freed: it is this cache's now; counts the free. */
  #pushed(count: number, requested: number): number {
    this.#count = count + 1;
    this.#frees++;
    this.#freedBytes += requested;
    if (!this.#exclusive) {
      this.#counters[Counter.frees] = this.#frees;
      this.#counters[Counter.freedBytes] = this.#freedBytes;
    }
    this.#words[Word.pendingKind] = this.#sequence;
    return 0;
  }

  /**
   * Writes into the record what an exclusive pool's hits keep here alone:
   * the counters, the stack's count and its slots from `from` up (those below
   * #coreWrittenBelow are the core's own already), for a core call that reads them: a refill or
   * flush here, the pool's statistics, reset, snapshot and core allocations (NativePool calls it
   * first). Only this thread may use an exclusive pool, and the pool ends with it (the core's flush
   * at the thread's end reads a record this left behind, and keeps only blocks their state words
   * say are free: js_cache.zig dropUnfreed), so no reader comes between. A shared pool's cache
   * writes all of it as it goes.
   */
  publish(from: number = this.#count): void {
    if (!this.#exclusive || this.#dead) return;
    const counters = this.#counters;
    counters[Counter.allocations] = this.#allocations;
    counters[Counter.frees] = this.#frees;
    counters[Counter.allocatedBytes] = this.#allocatedBytes;
    counters[Counter.freedBytes] = this.#freedBytes;
    const count = this.#count;
    for (let slot = Math.max(from, this.#coreWrittenBelow); slot < count; slot++) this.#words[Word.numbers + slot] = this.#numbers[slot]!;
    this.#words[Word.count] = count;
  }

  /**
   * The block #stackTop put in slot `count` was not freed here after all: off the stack again, no
   * free in flight, and the steps its free of `requested` bytes took taken back (nothing was counted).
   * A Worker terminated before this runs leaves the block on the record's stack with the free in
   * flight: the core finds the winner's freer in its word, not this record's (#freed), and takes
   * it off there (js_cache.zig settlePending).
   */
  #unstack(count: number, requested: number): void {
    this.#words[Word.count] = count;
    this.#words[Word.pendingKind] = this.#sequence = (this.#sequence - (requested + 1) * PENDING_SEQUENCE_STEP) | 0;
  }

  /** The free of #free's uncommon cases: a chunk not viewed yet, a block in a race, and every failure. */
  #freeSlow(g: number, expectedId: number): number {
    if (this.#dead) return this.#died();
    const number = this.#numberOf(g);
    const chunk = this.#chunk(number >>> CHUNK_SHIFT);
    // No chunk: past the pool's blocks, or the pool is being destroyed by another Worker (the core
    // gives none from the moment the destroy begins, before it closes this cache's record). The
    // core's free answers either: InvalidPointerError, or PoolNotFoundError.
    if (chunk === undefined) return 1;
    const at = number & (CHUNK_BLOCKS - 1);
    const start = chunk[START_PLUS_ONE + at]! >>> 0;
    if (start !== g + 1) {
      // Inside a block: an allocation's interior only where one holds it (a run's later blocks read
      // CONTINUED); inside a free block it is a pointer the pool never gave out.
      const holder = Atomics.load(chunk, at);
      if (holder === DEAD) return this.#died();
      if (start !== 0 && start - 1 < g && holder > 0) return this.#fail(Status.invalidPointer, `pointer at offset ${g * GRANULE_BYTES} points inside an allocation of pool '${this.poolName}', not at its start`);
      return this.#neverGaveOut(g);
    }
    let state = Atomics.load(chunk, at);
    for (;;) {
      if (state === DEAD) return this.#died();
      if (state === 0) return this.#neverGaveOut(g);
      // A handle's block started its allocation: inside a run now, that allocation ended (a double free, as the core's other placements say).
      if ((state & CONTINUED) !== 0 && expectedId !== 0) return this.#fail(Status.doubleFree, `double free: allocation #${expectedId} at offset ${g * GRANULE_BYTES} was already freed (pool '${this.poolName}')`);
      if ((state & CONTINUED) !== 0) return this.#fail(Status.invalidPointer, `pointer at offset ${g * GRANULE_BYTES} points inside a run of blocks of pool '${this.poolName}', not at its start`);
      if (state < 0) {
        return this.#fail(Status.doubleFree, expectedId !== 0 ? `double free: allocation #${expectedId} at offset ${g * GRANULE_BYTES} was already freed (pool '${this.poolName}')` : `double free: the block at offset ${g * GRANULE_BYTES} is already free (pool '${this.poolName}')`);
      }
      if (expectedId !== 0 && state !== expectedId) {
        return this.#fail(Status.doubleFree, `double free: allocation #${expectedId} at offset ${g * GRANULE_BYTES} was already freed, and the block now holds allocation #${state} (pool '${this.poolName}')`);
      }
      const requested = chunk[REQUESTED + at]! >>> 0;
      if (requested > this.maxBytes) return 1;
      const count = this.#stackTop(number, this.#base + g * GRANULE_BYTES);
      if (count < 0) return count;
      this.#intendFree(number, requested);
      const seen = Atomics.compareExchange(chunk, at, state, this.#freed);
      if (seen === state) return this.#pushed(count, requested);
      this.#unstack(count, requested); // another free won
      state = seen;
    }
  }

  /**
   * The id of the allocation that holds the block at `g` now, 0 where it is free or none starts
   * there, or CACHE_CANNOT_TELL where this cache cannot say: the pool was destroyed (its blocks read
   * dead) or the core no longer gives this thread the block's chunk. Then the core answers (with
   * PoolNotFoundError). The caller's check that the cache is open comes first and another Worker may
   * destroy the pool just after it: a dead block must never read as one freed by pointer.
   */
  liveId(g: number): number {
    const number = this.#numberOf(g);
    const chunk = this.#chunk(number >>> CHUNK_SHIFT);
    if (chunk === undefined) return CACHE_CANNOT_TELL;
    const at = number & (CHUNK_BLOCKS - 1);
    if (chunk[START_PLUS_ONE + at] !== ((g + 1) | 0)) return 0;
    const state = Atomics.load(chunk, at);
    if (state === DEAD) return CACHE_CANNOT_TELL;
    return state < 0 || (state & CONTINUED) !== 0 ? 0 : state;
  }

  /** Gives every cached block back to the pool. */
  flush(): void {
    if (this.#dead || !this.open) {
      this.#die(); // its pool is gone: nothing to give back, ever
      return;
    }
    this.publish(0);
    native.flushCache(this.#handle, this.#address, 0);
    this.#count = 0;
    this.#coreWrittenBelow = 0;
  }

  /** The block number of granule `g` (lockfree_fixed.zig numberOf: g / stride, rounded down). */
  #numberOf(g: number): number {
    return this.#strideShift >= 0 ? g >>> this.#strideShift : Math.floor(g / this.#stride);
  }

  #chunk(index: number): Int32Array | undefined {
    const known = this.#chunks[index];
    if (known !== undefined) return known;
    const address = native.cacheChunk(this.#handle, index);
    if (address === 0) return undefined;
    const chunk = new Int32Array(toArrayBuffer(address as Pointer, 0, CHUNK_BYTES));
    this.#chunks[index] = chunk;
    if (index === 0) this.#chunk0 = chunk;
    return chunk;
  }

  #fail(status: number, message: string): number {
    this.message = message;
    return status;
  }

  /** A free of granule `g`, where no block of this pool starts. */
  #neverGaveOut(g: number): number {
    return this.#fail(Status.invalidPointer, `pool '${this.poolName}' never gave out a block at offset ${g * GRANULE_BYTES}`);
  }
}
