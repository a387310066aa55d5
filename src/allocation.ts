/**
 * Allocations: handles on one block each, with explicit lifetimes. A handle knows when it dies:
 * after free() (by the handle, by its pointer or a view, by the pool's reset() or destruction)
 * every access throws instead of reaching memory that now belongs to someone else.
 */
import type { Pointer } from "bun:ffi";
import { DoubleFreeError, UnsupportedOperationError, UseAfterFreeError, type MemoryPoolError } from "./errors";
import { allocationLine } from "./inspect";
import type { HostPool, NativePool } from "./pool";
import { types } from "node:util";
import { bufferPrototype, typedArrayTypeArg } from "./validate";
import { checkReceivers, foreignHandle } from "./receiver";

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float16ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/**
 * What every kind of allocation shares: address, size, identity and lifetime. These are read-only
 * for real, not only in the types: native code is handed `ptr` and `size` (copies, views), so a
 * handle whose `size` a caller could set (`a.size = 1 << 28`, as if to resize it) would make a copy
 * or a view reach far past its block.
 */
/**
 * @internal what pools hand the constructors of allocations. The classes are exported (for
 * instanceof), so their constructors can be called from outside, where `ptr` and `size` need not
 * be the block's: without this they refuse (a forged 64-byte handle claiming 256 MiB made a view
 * that reached far past its block).
 */
export const MADE_BY_POOL: unique symbol = Symbol("made by a pool");

// copy()'s fast path (below): the engine's own functions and the prototypes of arrays of bytes,
// taken once (what a caller patches later changes none of them, and a call reads no global).
const isView = ArrayBuffer.isView;
const isUint8Array = types.isUint8Array;
const prototypeOf = Object.getPrototypeOf;
const byteArrayPrototype: object = Uint8Array.prototype;
/** Returns what it is given: a class that extends it adds its fields to that object (ByteArrayBrand, in PoolAllocation). */
class Identity {
  constructor(target: object) {
    return target;
  }
}
/** Whether a view is a Uint8Array by the engine's word, which it then keeps on the view, now and then (ByteArrayBrand). */
let brandByteArray: (view: ArrayBufferView) => boolean;
/** One Uint8Array the engine names in this many is branded (brandByteArray). */
const BRAND_EVERY = 32;
let namesBeforeBrand = BRAND_EVERY;
/** @internal whether a view (an object ArrayBuffer.isView accepted) is a Uint8Array (a Buffer is one), by the engine's word (ByteArrayBrand). */
export let isByteArray: (view: ArrayBufferView) => boolean;
/** A handle's proving view where it has none (#provingView): no element, so it proves nothing, and the fast path reads it with no test for undefined. */
const NO_VIEW = new Uint8Array(0);

/*
 * Whether a value is a handle a pool made. `instanceof` tests only the prototype, which any object
 * can be given (Object.create(Allocation.prototype), setPrototypeOf) and a Proxy of a handle
 * passes; such an object has none of the fields, and reading one throws a TypeError where the
 * caller was owed a typed error (copy, deallocate, setRoot, persist all read them). The private
 * fields are the proof: a Proxy does not forward them.
 */
let hasPoolFields: (value: object) => boolean;
let hasHostFields: (value: object) => boolean;

/**
 * @internal a pool's count of the ends of its allocations (element 0), where every end is one this
 * thread makes and counts (host pools of threadSafety "none": HostPool). It is the core's word for
 * the pool (zig/src/end_counts.zig), on which every copy of the library in the thread counts: a
 * second copy's free of a block ends its allocation too. The pool hands it to the handles it makes.
 */
export type EndCount = Float64Array;
/** The count of a handle whose pool's ends prove nothing: no handle's #aliveAtEnds (-1, or a count) is ever its value. Never written. */
const NO_PROOF: EndCount = new Float64Array([-2]);

/*
 * An allocation's fields as its pool made them, for the library's own checks and copies: read from
 * the private fields, past any getter a caller shadowed with an own property (handles are ordinary
 * objects: Object.defineProperty(a, "size", ...) succeeds) or patched on the prototype.
 */
/** @internal the address of an allocation's first byte. */
export let addressOfAllocation: (allocation: PoolAllocation) => number;
/** @internal the bytes an allocation was asked for. */
export let sizeOfAllocation: (allocation: PoolAllocation) => number;
/** @internal an allocation's granule offset in its pool and its id there. */
export let offsetOfAllocation: (allocation: PoolAllocation) => number;
export let idOfAllocation: (allocation: PoolAllocation) => number;
/** @internal the pool an allocation came from. */
export let poolOfAllocation: <P extends NativePool>(allocation: PoolAllocation<P>) => P;
/** @internal whether this thread knows an allocation lives with no call into the core (see PoolAllocation's #aliveAtEnds). */
export let knownAlive: (allocation: PoolAllocation) => boolean;
/*
 * copy()'s fast path (src/copy.ts), where a side is an Allocation this thread knows lives (knownAlive:
 * a host pool of threadSafety "none", not PMEM, no end counted since it was last known alive) or a
 * Uint8Array (or Buffer). Each is one function with no call inside: copy() is inlined into its caller,
 * and these under it, only while each is small and the calls nest at most as deep as JSC inlines
 * (five frames from a loop: bench/RESULTS.md, session 8). A typed array is asked ArrayBuffer.isView
 * before the brand check, which costs far more where it fails.
 */
/**
 * @internal the bytes a copy's source holds, proven with no call into the core: an allocation known
 * alive (its size), a Uint8Array or Buffer of this realm, as the engine knows it (ByteArrayBrand,
 * in PoolAllocation: a DataView's element reads are property reads), its claimed length, read first, confirmed by
 * two element reads, which nothing can answer but its memory: one at length - 1, none at length; 0
 * for anything else, an empty or detached view, a length that lies.
 */
export let copySourceLength: (side: unknown) => number;
/** @internal what the core reads a proven source (copySourceLength) from: a typed array itself (bun:ffi passes its address), else the allocation's address. */
export let copySourceOperand: (side: unknown) => number | Uint8Array;
/** @internal a copy's destination that is an allocation known alive and holds at least `end` bytes: its address; 0 for anything else (no block is at 0). */
export let copyTargetAddress: (side: unknown, end: number) => number;
/*
 * The checks of an allocation's life, for the library's own calls: its private methods, past any
 * own property that shadows the public ones (a handle given `assertUsable: () => {}` passed every
 * check, and a copy wrote into its block's next allocation).
 */
/** @internal throws UseAfterFreeError unless the block is still the allocation's (assertUsable). */
export let assertLive: (allocation: PoolAllocation, action: string) => void;
/** @internal throws UseAfterFreeError where this thread knows the allocation ended (assertUsableAsFarAsKnown). */
export let assertLiveAsFarAsKnown: (allocation: PoolAllocation, action: string) => void;
/** @internal the core says the block no longer holds the allocation: its handle is dead (freedElsewhere). */
export let endedElsewhere: (allocation: PoolAllocation, action: string) => never;
/** @internal throws unless the handle may still be freed (a subclass's free(), before its release). */
export let assertFreeable: (allocation: PoolAllocation) => void;
/**
 * @internal a subclass's free(): runs the pool's release and marks the handle freed (also when the
 * core says it already was), then throws the damage the release returned. Not a member: a caller
 * reaching it marked a live allocation's handle dead with its block never freed.
 */
export let settleFree: (allocation: PoolAllocation, release: () => MemoryPoolError | undefined | void) => void;
/**
 * @internal whether every end of an allocation is one this thread makes and counts: its pool (a host
 * pool of threadSafety "none", not PMEM) handed it the count of ends (EndCount), and only this copy
 * of the library ended allocations of the pool since this copy opened it. Then its attached `bytes`
 * view proves it alive too: every such end detaches it (another copy's end detaches no view of this one's).
 */
export let endsOnlyHere: (allocation: PoolAllocation) => boolean;
/** @internal whether free() marked the handle freed (also when the core said its block had ended another way): no call into the core. */
export let markedFreed: (allocation: PoolAllocation) => boolean;
/** An Allocation's `bytes` made `view`: where its pool's count proves life, the view proves it too (#provingView). */
let noteProvingView: (allocation: PoolAllocation, view: Uint8Array) => void;
/** A handle freed: an Allocation forgets the view `bytes` made last (one of another kind has none). */
let forgetView: (allocation: PoolAllocation) => void;
/** @internal what an allocation is, for messages: "allocation #id of N bytes at 0x... (pool 'name')". */
export let describeHandle: (allocation: PoolAllocation) => string;
/** @internal the view `bytes` made last. */
export let viewOfAllocation: (allocation: Allocation) => Uint8Array<ArrayBuffer> | undefined;
/**
 * @internal where `side` is an Allocation, the view `bytes` made last where it proves the allocation
 * alive, else undefined (and undefined for anything that is not an Allocation: one call both tells
 * what a side is and proves it, for copy()'s fast paths). It is attached, and every end of the
 * allocation detaches it (endsOnlyHere). Attached is read as `view[0] !== undefined`, an element
 * read that no property, subclass or patched prototype can answer (a detached view has no elements;
 * an allocation has at least one byte). The view spans exactly the allocation's bytes.
 */
export let liveViewHere: (side: unknown) => Uint8Array<ArrayBuffer> | undefined;
/**
 * @internal where `side` is an Allocation whose view proves it alive (liveViewHere), records it known
 * alive at its pool's count of ends now, as a check by the core does (assertLive): copy()'s fast path
 * takes it again until the next end. Whether it did; false for anything else.
 */
export let provenAliveByView: (side: unknown) => boolean;
/** An allocation proven alive now: knownAlive until its pool counts the next end (false where it counts none). */
let recordKnownAlive: (allocation: PoolAllocation) => boolean;

/*
 * A host pool's views of its blocks, which only the pool's private methods make: an exact buffer
 * (`bytes`, `as`) and what `windowBytes` gives (a window view, or the exact view on a pool with
 * guard pages). Members of the pool, callable from JavaScript,
 * made a view of any size at any offset (`pool.exactBuffer(0, 1 << 20, 1)` on a pool of 64 KiB
 * reached unmapped memory); pool.ts hands them here once, as it loads, and no later caller can.
 */
type ExactBuffer = (pool: HostPool, offset: number, size: number, id: number) => ArrayBuffer;
type WindowView = (pool: HostPool, offset: number, size: number, id: number) => Uint8Array<ArrayBuffer>;
/** A view over an allocation's exact buffer was handed out: the pool's leak watch follows it as it follows the handle. */
type ViewMade = (allocation: Allocation, view: ArrayBufferView) => void;
/** Whether every end its count (EndCount) counted since this copy of the library opened the pool was this copy's. */
type OnlyOwnEnds = (pool: HostPool) => boolean;
// Written once, with no initial value, as the accessors above: JSC then calls them as constants.
// (Allocations come only from pools, so pool.ts has provided them before any is made.)
let exactBufferOf: ExactBuffer;
let windowViewOf: WindowView;
let viewMadeIn: ViewMade;
let onlyOwnEndsIn: OnlyOwnEnds;
/** @internal pool.ts's HostPool, as it loads: its views of its blocks, the leak watch's view hook and what its count of ends proves (the first call only; any later one throws). */
export function provideHostViews(exactBuffer: ExactBuffer, windowView: WindowView, viewMade: ViewMade, onlyOwnEnds: OnlyOwnEnds): void {
  if (exactBufferOf !== undefined) throw new UnsupportedOperationError("the host pools' views are provided once");
  exactBufferOf = exactBuffer;
  windowViewOf = windowView;
  viewMadeIn = viewMade;
  onlyOwnEndsIn = onlyOwnEnds;
}

/** A handle's free of allocation `id` at granule `offset` in `pool` (pool.ts's releaseIn: no member of the pool a caller could reach). */
type Release = (pool: NativePool, offset: number, id: number) => MemoryPoolError | undefined;
let releaseIn: Release;
/** @internal pool.ts, as it loads: the pools' free of a handle's block (the first call only; any later one throws). */
export function providePoolRelease(release: Release): void {
  if (releaseIn !== undefined) throw new UnsupportedOperationError("the pools' release is provided once");
  releaseIn = release;
}

/*
 * What a handle reads of its pool (pool.ts's epochOf, destroyedHere, holdsIn, stillHoldsIn,
 * stackNoteIn: module functions over its private members, which no caller can reach from a pool).
 */
type PoolReads = {
  epoch: (pool: NativePool) => number;
  destroyed: (pool: NativePool) => boolean;
  holds: (pool: NativePool, offset: number, id: number) => boolean;
  stillHolds: (pool: NativePool, offset: number, id: number) => boolean;
  stackNote: (pool: NativePool, id: number, offset: number) => string;
};
let epochOf: PoolReads["epoch"];
let destroyedHere: PoolReads["destroyed"];
let holdsIn: PoolReads["holds"];
let stillHoldsIn: PoolReads["stillHolds"];
let stackNoteIn: PoolReads["stackNote"];
/** @internal pool.ts, as it loads: what a handle reads of its pool (the first call only; any later one throws). */
export function providePoolReads(reads: PoolReads): void {
  if (epochOf !== undefined) throw new UnsupportedOperationError("the pools' reads are provided once");
  ({ epoch: epochOf, destroyed: destroyedHere, holds: holdsIn, stillHolds: stillHoldsIn, stackNote: stackNoteIn } = reads);
}

/** @internal whether `value` is an allocation a pool made, of any kind (what `instanceof PoolAllocation` means to ask). */
export function isPoolAllocation(value: unknown): value is PoolAllocation {
  return typeof value === "object" && value !== null && hasPoolFields(value);
}

/** @internal whether `value` is an Allocation (host memory) a pool made (what `instanceof Allocation` means to ask). */
export function isAllocation(value: unknown): value is Allocation {
  return typeof value === "object" && value !== null && hasHostFields(value);
}

/** The refusal of a handle's member called on anything but a handle a pool made (src/receiver.ts). */
const foreignAllocation = foreignHandle("an allocation (pool.allocate(), fromPointer())");

export abstract class PoolAllocation<P extends NativePool = NativePool> {
  readonly #pool: P;
  readonly #ptr: Pointer;
  readonly #size: number;
  readonly #offset: number;
  readonly #id: number;
  readonly #epoch: number;
  #freed = false;
  /** The pool's count of ends, where it proves life (EndCount); NO_PROOF elsewhere. */
  readonly #endCount: EndCount;
  /**
   * #endCount's value when this allocation was last known alive, -1 where there is none: while the
   * count has not moved, no allocation of the pool ended (reset and destroy count too), so this one
   * lives, and no call into the core need say so.
   */
  #aliveAtEnds: number;
  /**
   * Where the count proves life, the view `bytes` made last (an Allocation's): while it is attached
   * (an element read), the allocation lives too, as every end in this thread detaches it
   * (endsOnlyHere). copy()'s fast path takes it where the count moved (an end of another block).
   */
  #provingView: Uint8Array = NO_VIEW;

  /** @internal use pool.allocate() */
  constructor(pool: P, ptr: Pointer, size: number, offset: number, id: number, made?: typeof MADE_BY_POOL, endCount?: EndCount) {
    if (made !== MADE_BY_POOL) throw new UnsupportedOperationError(`${new.target.name} has no public constructor: pool.allocate() and pool.fromPointer() make allocations`);
    this.#pool = pool;
    this.#ptr = ptr;
    this.#size = size;
    this.#offset = offset;
    this.#id = id;
    this.#epoch = epochOf(pool);
    this.#endCount = endCount ?? NO_PROOF;
    this.#aliveAtEnds = endCount === undefined ? -1 : endCount[0]!;
  }

  static {
    // `#pool in value`: only code inside the class can ask it (see isPoolAllocation).
    hasPoolFields = (value) => #pool in value;
    addressOfAllocation = (allocation) => allocation.#ptr;
    sizeOfAllocation = (allocation) => allocation.#size;
    offsetOfAllocation = (allocation) => allocation.#offset;
    idOfAllocation = (allocation) => allocation.#id;
    poolOfAllocation = <P extends NativePool>(allocation: PoolAllocation<P>) => allocation.#pool;
    knownAlive = (allocation) => allocation.#knownAlive();
    /**
     * Whether a view is a Uint8Array (a Buffer is one) by the engine's record of what it is, which no
     * prototype, own property or Proxy changes. An element read proves a length only on a typed
     * array: a DataView given Uint8Array.prototype passes ArrayBuffer.isView and a prototype check,
     * and its element reads are property reads that a caller answers (Object.prototype[63] = 1).
     * The engine is asked once an object (util.types.isUint8Array, a call into native code: 3-4 ns),
     * and its word kept on the object as a private field, whose test JSC inlines (under 1 ns): an
     * object's kind never changes, no code but this class's can add the field (`new ByteArrayBrand(o)`
     * adds it to `o`: Identity returns it), and a Proxy is an object of its own (the field is not
     * looked up on its target). Declared here, so that copy()'s fast checks test it with no call
     * (bench/RESULTS.md, session 9: the candidates' costs).
     */
    class ByteArrayBrand extends Identity {
      readonly #engineSaidUint8Array = true;
      static {
        brandByteArray = (view) => {
          if (!isUint8Array(view)) return false;
          // Branding costs an array 10-15 ns, which one copied once never earns back: one Uint8Array
          // the engine names in BRAND_EVERY is branded, so an array copied again and again soon is.
          if (--namesBeforeBrand > 0) return true;
          namesBeforeBrand = BRAND_EVERY;
          try {
            new ByteArrayBrand(view);
          } catch {
            // an engine that keeps a non-extensible object from taking a private field: asked again next time
          }
          return true;
        };
        isByteArray = (view) => #engineSaidUint8Array in view || brandByteArray(view);
        copySourceLength = (side) => {
          if (isView(side)) {
            const proto: unknown = prototypeOf(side);
            const claimed: unknown = (side as Uint8Array).length;
            return (proto === byteArrayPrototype || proto === bufferPrototype) && (#engineSaidUint8Array in side || brandByteArray(side)) && typeof claimed === "number" && (side as Uint8Array)[claimed - 1] !== undefined && (side as Uint8Array)[claimed] === undefined ? claimed : 0;
          }
          if (typeof side !== "object" || side === null || !(#aliveAtEnds in side)) return 0;
          return (side.#aliveAtEnds === side.#endCount[0] || (side.#provingView[0] !== undefined && endsOnlyHere(side))) && !side.#freed ? side.#size : 0;
        };
      }
    }
    recordKnownAlive = (allocation) => {
      const count = allocation.#endCount;
      if (count === NO_PROOF) return false;
      allocation.#aliveAtEnds = count[0]!;
      return true;
    };
    copySourceOperand = (side) => (isView(side) ? (side as Uint8Array) : (side as PoolAllocation).#ptr);
    copyTargetAddress = (side, end) => {
      if (typeof side !== "object" || side === null || !(#aliveAtEnds in side)) return 0;
      return (side.#aliveAtEnds === side.#endCount[0] || (side.#provingView[0] !== undefined && endsOnlyHere(side))) && !side.#freed && side.#size >= end ? side.#ptr : 0;
    };
    endsOnlyHere = (allocation) => allocation.#endCount !== NO_PROOF && onlyOwnEndsIn(allocation.#pool as HostPool);
    noteProvingView = (allocation, view) => {
      if (allocation.#endCount !== NO_PROOF) allocation.#provingView = view;
    };
    assertLive = (allocation, action) => allocation.#assertAlive(action);
    assertLiveAsFarAsKnown = (allocation, action) => allocation.#assertKnownAlive(action);
    endedElsewhere = (allocation, action) => allocation.#freedElsewhere(action);
    assertFreeable = (allocation) => allocation.#assertFreeable();
    settleFree = (allocation, release) => allocation.#settle(release);
    describeHandle = (allocation) => allocation.#describe();
    markedFreed = (allocation) => allocation.#freed;
  }

  #knownAlive(): boolean {
    return this.#aliveAtEnds === this.#endCount[0] && !this.#freed;
  }

  /** The pool the allocation came from. */
  get pool(): P {
    if (!(typeof this === "object" && this !== null && #pool in this)) throw foreignAllocation("allocation.pool", this);
    return this.#pool;
  }

  /** Address of the first byte (a device address for GPU allocations), for native code. */
  get ptr(): Pointer {
    if (!(typeof this === "object" && this !== null && #ptr in this)) throw foreignAllocation("allocation.ptr", this);
    return this.#ptr;
  }

  /** Bytes asked for. */
  get size(): number {
    if (!(typeof this === "object" && this !== null && #size in this)) throw foreignAllocation("allocation.size", this);
    return this.#size;
  }

  /** The pool's number for this allocation: a block freed by pointer and reused gets a new one. */
  get id(): number {
    return this.#id;
  }

  /** For JSON.stringify: which allocation it is (its pool by name). */
  toJSON(): { pool: string; id: number; ptr: number; size: number } {
    return { pool: this.#pool.name, id: this.#id, ptr: this.#ptr, size: this.#size };
  }

  /** Whether the memory is still this allocation's. */
  get alive(): boolean {
    if (!(typeof this === "object" && this !== null && #freed in this)) throw foreignAllocation("allocation.alive", this);
    return !this.#freed && this.#epoch === epochOf(this.#pool) && !destroyedHere(this.#pool) && stillHoldsIn(this.#pool, this.#offset, this.#id);
  }

  /** Returns the block to its pool. A second free is a DoubleFreeError. */
  free(): void {
    if (!(typeof this === "object" && this !== null && #freed in this)) throw foreignAllocation("allocation.free", this);
    this.#assertFreeable();
    // #settle()'s steps written out: no closure made per free (the handle's common path).
    let damage: MemoryPoolError | undefined;
    try {
      damage = releaseIn(this.#pool, this.#offset, this.#id);
    } catch (err) {
      this.#releaseFailed(err);
    }
    this.#released(damage);
  }

  [Symbol.dispose](): void {
    if (this.alive) this.free();
  }

  /** One line: `Allocation #12 of 'main' 1.00 KiB at 0x7f3a12340000` ("(freed)" once freed). */
  toString(): string {
    return allocationLine(this.constructor.name, this);
  }

  /** console.log and Bun.inspect print the one line, not the pool behind the handle. */
  [Bun.inspect.custom](): string {
    return this.toString();
  }

  /** Throws unless this handle may still be freed. */
  #assertFreeable(): void {
    if (this.#freed) throw new DoubleFreeError(`double free: ${this.#describe()} was already freed${stackNoteIn(this.#pool, this.#id, this.#offset)}`);
    if (destroyedHere(this.#pool)) throw new UseAfterFreeError(`cannot free ${this.#describe()}: pool '${this.#pool.name}' was destroyed`);
    if (this.#epoch !== epochOf(this.#pool)) throw new UseAfterFreeError(`cannot free ${this.#describe()}: pool '${this.#pool.name}' was reset`);
  }

  /**
   * Runs the pool's release and marks the handle freed (also when the core says it already was).
   * A release may return damage the free found (canaries, poison): the free went through, so the
   * handle is dead, and the damage is thrown then.
   */
  #settle(release: () => MemoryPoolError | undefined | void): void {
    let damage: MemoryPoolError | undefined | void;
    try {
      damage = release();
    } catch (err) {
      this.#releaseFailed(err);
    }
    this.#released(damage ?? undefined);
  }

  #releaseFailed(err: unknown): never {
    if (err instanceof DoubleFreeError) this.#freed = true; // freed by pointer, maybe reused since
    throw err;
  }

  #released(damage: MemoryPoolError | undefined): void {
    this.#freed = true;
    this.#provingView = NO_VIEW;
    forgetView(this);
    if (damage !== undefined) throw damage;
  }

  #assertAlive(action: string): void {
    if (this.#knownAlive()) return;
    this.#assertKnownAlive(action);
    // Read before the core is asked: an end in between leaves the count moved, never a stale proof.
    const ends = this.#endCount === NO_PROOF ? -1 : this.#endCount[0]!;
    if (!holdsIn(this.#pool, this.#offset, this.#id)) this.#freedElsewhere(action);
    this.#aliveAtEnds = ends;
  }

  #assertKnownAlive(action: string): void {
    if (this.#freed) this.#useAfterFree(`cannot ${action} ${this.#describe()}: it was freed`);
    if (destroyedHere(this.#pool)) throw new UseAfterFreeError(`cannot ${action} ${this.#describe()}: pool '${this.#pool.name}' was destroyed`);
    if (this.#epoch !== epochOf(this.#pool)) throw new UseAfterFreeError(`cannot ${action} ${this.#describe()}: pool '${this.#pool.name}' was reset`);
  }

  #freedElsewhere(action: string): never {
    this.#freed = true;
    this.#useAfterFree(`cannot ${action} ${this.#describe()}: it was freed through its pointer or a view`);
  }

  /** With trackHistory, the message says where the allocation was made and freed. */
  #useAfterFree(message: string): never {
    throw new UseAfterFreeError(message + stackNoteIn(this.#pool, this.#id, this.#offset));
  }

  /** What the allocation is, for messages (describeHandle). */
  #describe(): string {
    return `allocation #${this.#id} of ${this.#size} bytes at 0x${this.#ptr.toString(16)} (pool '${this.#pool.name}')`;
  }
}

/** An allocation of host memory: typed views over exactly its bytes. */
export { foreignAllocation };

export class Allocation extends PoolAllocation<HostPool> {
  #bytes: Uint8Array<ArrayBuffer> | undefined = undefined;

  static {
    hasHostFields = (value) => #bytes in value;
    viewOfAllocation = (allocation) => allocation.#bytes;
    forgetView = (allocation) => {
      if (#bytes in allocation) allocation.#bytes = undefined;
    };
    liveViewHere = (side) => {
      if (typeof side !== "object" || side === null || !(#bytes in side)) return undefined;
      const view = side.#bytes;
      return view !== undefined && view[0] !== undefined && endsOnlyHere(side) ? view : undefined;
    };
    provenAliveByView = (side) => liveViewHere(side) !== undefined && recordKnownAlive(side as Allocation);
  }

  /**
   * A Uint8Array over exactly the bytes asked for: its `.buffer` is this allocation and nothing
   * else, and it is detached (length 0) once the allocation ends in this thread.
   */
  get bytes(): Uint8Array<ArrayBuffer> {
    if (!(typeof this === "object" && this !== null && #bytes in this)) throw foreignAllocation("allocation.bytes", this);
    assertLive(this, "read bytes of");
    const cached = this.#bytes;
    // A view the caller detached by transferring its buffer away is replaced (size is never 0).
    if (cached !== undefined && cached.byteLength !== 0) return cached;
    const view = this.#madeView(new Uint8Array(this.#exactBuffer()));
    noteProvingView(this, view);
    return (this.#bytes = view);
  }

  /** `view`, made over the exact buffer, told to the pool: a view kept keeps the allocation reachable, as its handle does (leakReport). */
  #madeView<V extends ArrayBufferView>(view: V): V {
    viewMadeIn(this, view);
    return view;
  }

  /** The buffer over exactly this allocation, from the fields the pool gave it (a caller's own `size` property must not make a longer one). */
  #exactBuffer(): ArrayBuffer {
    return exactBufferOf(poolOfAllocation(this), offsetOfAllocation(this), sizeOfAllocation(this), idOfAllocation(this));
  }

  /** A typed view of the whole block, as safe as `bytes`: as(Float32Array) has floor(size / 4) elements. */
  as<T extends TypedArrayConstructor>(type: T): InstanceType<T> {
    if (!(typeof this === "object" && this !== null && #bytes in this)) throw foreignAllocation("allocation.as", this);
    assertLive(this, "view");
    const checked = typedArrayTypeArg("as", type);
    return this.#madeView(new checked(this.#exactBuffer(), 0, Math.floor(sizeOfAllocation(this) / checked.BYTES_PER_ELEMENT)) as InstanceType<T>);
  }

  /**
   * UNSAFE, for hot loops only: a Uint8Array over the same bytes cut from one of the pool's windows
   * (buffers over a MiB or more of its memory), made once per block and handed out again, the same
   * view, while the block's allocation has the same size: no buffer of its own per allocation. It
   * gives up both safeties of `bytes`: its `.buffer` is the window, through which other allocations
   * of the pool can be read and written, and nothing detaches it, so kept past free() it reaches
   * whatever is allocated there next. It is never longer than the allocation it is handed out for.
   * On a pool with guard pages it is the view `bytes` gives (a buffer over exactly the allocation,
   * detached when it ends): a window there would span guard pages, which reading it whole faults on.
   */
  windowBytes(): Uint8Array<ArrayBuffer> {
    if (!(typeof this === "object" && this !== null && #bytes in this)) throw foreignAllocation("allocation.windowBytes", this);
    assertLive(this, "view");
    return windowViewOf(poolOfAllocation(this), offsetOfAllocation(this), sizeOfAllocation(this), idOfAllocation(this));
  }

}

// The public members that are not hot paths, behind the check of their receiver (src/receiver.ts);
// the hot ones (ptr, size, pool, alive, free, bytes, as, windowBytes) check theirs in their bodies.
checkReceivers(PoolAllocation.prototype, "allocation", isPoolAllocation, ["id", "toJSON", "toString", Symbol.dispose, Bun.inspect.custom], foreignAllocation);
