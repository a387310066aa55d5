/**
 * Checks of arguments at the public entry points, so a value of the wrong type is the typed error
 * of its kind (a pointer an InvalidPointerError, an option a ConfigError, a typed array type an
 * InvalidArgumentError) rather than a TypeError from deep inside, or a wrong value that works by
 * coercion. Messages name a value's type, never its contents (errors.ts describe()).
 */
import { types } from "node:util";
import { ConfigError, describe, InvalidArgumentError, InvalidPointerError, InvalidSizeError, InvalidSnapshotError } from "./errors";
import type { TypedArrayConstructor } from "./allocation";

/**
 * A pointer: a whole number from 0, as bun:ffi's Pointer is. A bigint is refused (not converted),
 * so a pointer has one type everywhere, `allocation.ptr` included; Number(p) converts one exactly.
 */
export function pointerArg(call: string, value: unknown): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "bigint") {
    throw new InvalidPointerError(`${call} takes a pointer as a number (a bun:ffi Pointer), not a bigint (${describe(value)}): convert it with Number(p)`);
  }
  throw new InvalidPointerError(`${call} takes a pointer, a whole number from 0 (a bun:ffi Pointer), not ${describe(value)}`);
}

/**
 * A size in bytes as the core takes it: a finite number (the core checks that it is whole and in
 * range). Anything else is an InvalidSizeError saying what it was: the core, handed NaN for it,
 * would say "cannot allocate nan bytes" of a string or a bigint.
 */
export function sizeArg(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new InvalidSizeError(`cannot allocate ${describe(value)} bytes: a size is a number, a whole number of bytes above 0`);
}

/** Buffer's prototype where there is one (a Buffer is a Uint8Array of its own bytes too), else Uint8Array's. */
export const bufferPrototype: object = typeof Buffer === "function" ? Buffer.prototype : Uint8Array.prototype;

// The engine's own byteLength getters, taken when this module loads: a call that hands a view's
// address to native code must know how many bytes the view really spans.
const typedArrayByteLengthGetter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")!.get!;
const apply = Reflect.apply;
const NO_ARGUMENTS: readonly [] = Object.freeze([]) as readonly [];
// Reflect.apply of the getter, as copy()'s checked path measured it (a bound call read up to 8 ns more there).
const typedArrayByteLength = (view: unknown): number => apply(typedArrayByteLengthGetter, view, NO_ARGUMENTS) as number;
const dataViewByteLength = Function.prototype.call.bind(Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength")!.get!) as (view: unknown) => number;
const arrayBufferByteLength = Function.prototype.call.bind(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!) as (buffer: unknown) => number;
const typedArrayBuffer = Function.prototype.call.bind(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "buffer")!.get!) as (view: unknown) => ArrayBufferLike;
const dataViewBuffer = Function.prototype.call.bind(Object.getOwnPropertyDescriptor(DataView.prototype, "buffer")!.get!) as (view: unknown) => ArrayBufferLike;

/**
 * The bytes a typed array, DataView or ArrayBuffer really spans (0 once detached), read by the
 * engine's getter: `view.byteLength` is whatever a subclass, an own property or a patched prototype
 * says, and native code told a larger length reads or writes past the view's memory.
 */
export function byteLengthOf(value: ArrayBufferView | ArrayBuffer): number {
  if (!ArrayBuffer.isView(value)) return arrayBufferByteLength(value);
  // Asked of the engine (no prototype or Proxy answers it); a typed array's getter never throws.
  return isTypedArray(value) ? typedArrayByteLength(value) : dataViewBytes(value);
}

/** Whether a view is a typed array by the engine's record of what it is (else it is a DataView). */
const isTypedArray: (value: unknown) => boolean = types.isTypedArray;

/**
 * A DataView's bytes. Its getter throws where a typed array's reads 0: over a detached buffer (its
 * allocation was freed) or past the end of a shrunk resizable one. Either way it spans no bytes,
 * and a caller asks its length to say so with a typed error.
 */
function dataViewBytes(view: ArrayBufferView): number {
  try {
    return dataViewByteLength(view);
  } catch {
    return 0;
  }
}

/**
 * The buffer a view really views, read by the engine's getter (`view.buffer` may be an own
 * property, a subclass's getter that throws, or a Proxy whose traps throw).
 */
export function bufferOf(view: ArrayBufferView): ArrayBufferLike {
  try {
    return typedArrayBuffer(view);
  } catch {
    return dataViewBuffer(view);
  }
}

/**
 * Whether `value` is an ArrayBuffer (not a SharedArrayBuffer), by the engine's own check: a Proxy's
 * traps never run (`instanceof` would call its getPrototypeOf trap, which may throw).
 */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  try {
    arrayBufferByteLength(value);
    return true;
  } catch {
    return false;
  }
}

const TYPED_ARRAYS: ReadonlySet<unknown> = new Set<TypedArrayConstructor>([
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float16Array, // a typed array like the others (Bun 1.4: refused, a view of halves could not be had)
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
]);

const TYPED_ARRAY_NAMES: ReadonlySet<unknown> = new Set([...TYPED_ARRAYS].map((type) => (type as TypedArrayConstructor).name));
const functionSource = Function.prototype.call.bind(Function.prototype.toString) as (value: unknown) => string;

/**
 * The name of the typed array constructor `value` is where it is one of another realm (a node:vm
 * context's Float32Array, a ShadowRealm's): the engine's own function of that name, which is not
 * this realm's. Undefined for anything else. Reads no getter (the name is the own property's value).
 */
function typedArrayTypeOfAnotherRealm(value: unknown): string | undefined {
  if (typeof value !== "function") return undefined;
  try {
    const name: unknown = Object.getOwnPropertyDescriptor(value, "name")?.value;
    return TYPED_ARRAY_NAMES.has(name) && /\[native code\]\s*\}$/.test(functionSource(value)) ? (name as string) : undefined;
  } catch {
    return undefined; // a Proxy whose traps throw
  }
}

/** One of the typed array constructors (Float32Array...). */
export function typedArrayTypeArg<T extends TypedArrayConstructor>(call: string, value: T): T {
  if (TYPED_ARRAYS.has(value)) return value;
  // Another realm's Float32Array read "not a function", as if it were no typed array type at all.
  const foreign = typedArrayTypeOfAnotherRealm(value);
  if (foreign !== undefined) {
    throw new InvalidArgumentError("type", `${call} takes a typed array type of this realm, such as Float32Array or Int32Array, not the ${foreign} of another realm (a node:vm context's): pass this realm's ${foreign}`);
  }
  throw new InvalidArgumentError("type", `${call} takes a typed array type such as Float32Array or Int32Array, not ${describe(value)}`);
}

/**
 * A name the core gets as UTF-8 (a pool's, a root's): a string without lone surrogates. UTF-8
 * cannot hold one (it would become U+FFFD), so two different strings would be one name.
 */
export function isWellFormedName(value: unknown): value is string {
  return typeof value === "string" && value.isWellFormed();
}

/**
 * A plain object: made with `{}` (or Object.create(null)), not a class instance, array or function;
 * in any realm (`vm.runInNewContext("({ maxSize: 1 << 20 })")` makes one whose prototype is that
 * realm's Object.prototype, not this one's). A Proxy whose traps throw (or a revoked one) is none.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  let proto: unknown;
  try {
    proto = Object.getPrototypeOf(value);
  } catch {
    return false;
  }
  return proto === Object.prototype || proto === null || isObjectPrototypeOfARealm(proto);
}

/** How the engine prints its own Object constructor: every realm's prints the same. */
const OBJECT_SOURCE = Function.prototype.toString.call(Object);

/**
 * Whether `proto` is a realm's Object.prototype: the end of its chain, whose own `constructor` is
 * the engine's Object function of that realm, whose own `prototype` is `proto`. Read through
 * descriptors, so no getter runs; a Proxy whose traps throw is none.
 */
function isObjectPrototypeOfARealm(proto: unknown): boolean {
  if (typeof proto !== "object" || proto === null) return false;
  try {
    if (Object.getPrototypeOf(proto) !== null) return false;
    const made: unknown = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    return typeof made === "function" && Object.getOwnPropertyDescriptor(made, "prototype")?.value === proto && Function.prototype.toString.call(made) === OBJECT_SOURCE;
  } catch {
    return false;
  }
}

/** What a caller's object threw as it was read, for a message (reading the error may throw too). */
function thrownText(thrown: unknown): string {
  try {
    return thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : describe(thrown);
  } catch {
    return describe(thrown);
  }
}

/**
 * The enumerable own entries of an options object (a plain object, a PoolConfig), each read once,
 * so a getter cannot answer differently to the check and to the use. Whatever the object does as it
 * is read (a getter or Proxy trap that throws) is a ConfigError naming the field, never the
 * caller's own error passed through; a symbol key is no option. `owner` as ConfigError takes it
 * (undefined: PoolConfig); `whole` names the object itself.
 */
export function optionEntries(value: object, owner: string | undefined, whole: string): [string, unknown][] {
  let keys: (string | symbol)[];
  try {
    keys = Reflect.ownKeys(value);
  } catch (thrown) {
    throw new ConfigError(whole, value, `its keys cannot be listed (${thrownText(thrown)})`, "");
  }
  // Object.keys lists the enumerable string keys: where it lists as many, every key is one (a
  // literal's are), and none needs a descriptor made to ask (most of what reading options cost:
  // bench/copy_options.ts). Where it throws (a Proxy's descriptor trap), each key is asked below,
  // and what threw is named with its key.
  let enumerableStrings = false;
  try {
    enumerableStrings = Object.keys(value).length === keys.length;
  } catch {}
  const entries: [string, unknown][] = [];
  for (const key of keys) {
    const field = typeof key === "symbol" ? key.toString() : key;
    let read: unknown;
    try {
      if (!enumerableStrings && !Object.getOwnPropertyDescriptor(value, key)?.enumerable) continue;
      read = (value as Record<string | symbol, unknown>)[key];
    } catch (thrown) {
      throw unreadableOption(owner, field, thrown);
    }
    if (typeof key === "symbol") throw new ConfigError(field, read, "a symbol key is no option: options are named by strings", owner);
    entries.push([key, read]);
  }
  return entries;
}

/**
 * The options object of a call: undefined (no options) or a plain object whose keys are all among
 * `keys`; anything else is a ConfigError. `owner` is the options' type name, for messages. Each
 * option's own value is checked by the caller (wholeNumberOption, or its own test). Returns a copy,
 * read once (optionEntries), with no prototype, given options or none: an option left out reads
 * undefined even where Object.prototype has a property of its name (prototype pollution made
 * copy() write at a polluted dstOffset, and setRoot free the previous root).
 */
export function optionsArg(owner: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return Object.create(null);
  const literal = literalOptions(owner, value, keys);
  if (literal !== undefined) return literal;
  if (!isPlainObject(value)) throw new ConfigError(owner, value, `options are a plain object with any of ${keys.join(", ")}`, "");
  const options: Record<string, unknown> = Object.create(null);
  for (const [key, read] of optionEntries(value, owner, owner)) {
    if (!keys.includes(key)) throw new ConfigError(key, read, `${owner} has no option '${key}': the options are ${keys.join(", ")}`, owner);
    options[key] = read;
  }
  return options;
}

/**
 * optionsArg's record, read the cheap way, for options written as object literals of this realm
 * (`{ dstOffset: 8 }`), which nearly every call passes: their keys listed by for-in (the engine's
 * enumerator, cached by the object's shape) rather than by Reflect.ownKeys and a descriptor made
 * per key (110-150 ns a copy() with options: bench/copy_options.ts). Undefined, with no value read
 * and nothing thrown, for anything else (another prototype, a key that is not among `keys` or is
 * inherited (prototype pollution), an own symbol key, a Proxy whose trap throws): optionsArg's
 * own reading then decides, and throws what it throws. Each value is read once, own ones only; a
 * getter that throws is the ConfigError optionEntries makes of it.
 */
function literalOptions(owner: string, value: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const listed: string[] = [];
  try {
    if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
    // for-in lists enumerable string keys, inherited ones too: each must be own and known.
    for (const key in value) {
      if (!keys.includes(key) || !Object.hasOwn(value, key)) return undefined;
      listed.push(key);
    }
    // A symbol key is no option (optionEntries says so); for-in does not list them.
    if (Object.getOwnPropertySymbols(value).length !== 0) return undefined;
  } catch {
    return undefined; // a Proxy's trap threw: optionEntries reads it again and names what threw
  }
  const options: Record<string, unknown> = Object.create(null);
  for (const key of listed) {
    try {
      // A getter read before may have deleted this one: then it is no option (an inherited value is never read).
      if (Object.hasOwn(value, key)) options[key] = (value as Record<string, unknown>)[key];
    } catch (thrown) {
      throw unreadableOption(owner, key, thrown);
    }
  }
  return options;
}

/** A ConfigError for an option whose getter (or a Proxy's trap) threw as it was read: the whole message, no value to show. */
function unreadableOption(owner: string | undefined, field: string, thrown: unknown): ConfigError {
  return new ConfigError(field, undefined, `${owner ?? "PoolConfig"}.${field} cannot be read: it threw ${thrownText(thrown)}`);
}

/** An option that is true or false, or undefined where not given: "yes" or 1 is not taken for true. */
export function booleanOption(owner: string, options: Record<string, unknown>, key: string): boolean | undefined {
  const value = options[key];
  if (value === undefined || typeof value === "boolean") return value;
  throw new ConfigError(key, value, "must be true or false", owner);
}

/** An option that is a whole number from `min` to `max`, or undefined where not given. */
export function wholeNumberOption(owner: string, options: Record<string, unknown>, key: string, min: number, max: number, unit: string): number | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new ConfigError(key, value, `must be a whole number of ${unit} from ${min} to ${max}`, owner);
}

/**
 * What an environment switch's value says: false for 0, off, false, no and the empty value, true
 * for 1, on, true, yes (any case, spaces around ignored), undefined for anything else. The words of
 * every MEMORY_POOL_* switch, the core's (nvtx.zig switchValue) included.
 */
export function switchWord(value: string | undefined): boolean | undefined {
  const text = (value ?? "").trim().toLowerCase();
  if (text === "" || text === "0" || text === "off" || text === "false" || text === "no") return false;
  if (text === "1" || text === "on" || text === "true" || text === "yes") return true;
  return undefined;
}

/** How deep copyOfData copies: a snapshot's fields lie at most this deep (snapshot.blocks[i].field). */
const DATA_DEPTH = 4;

/**
 * A copy of data a caller hands in to be drawn (a snapshot, history events), read once: arrays and
 * objects to DATA_DEPTH, by their own enumerable keys, as JSON.stringify reads them. Getters and a
 * Proxy's traps run once, and what they throw is an InvalidSnapshotError saying so, never the
 * caller's own error or a TypeError; the copy is then checked and drawn, so a getter cannot pass
 * the check with one value and be drawn with another. Typed arrays, DataViews and buffers stay as
 * they are, unread (the checks refuse them by type): a view of a pool's window spans gigabytes of
 * mostly unmapped memory, which structuredClone would read (a crash).
 */
export function copyOfData<T>(value: T, what: string): T {
  try {
    return copyToDepth(value, 0) as T;
  } catch (err) {
    if (err instanceof HoleInData) throw new InvalidSnapshotError(`${what} cannot be read as data: ${err.message}`);
    throw new InvalidSnapshotError(`${what} cannot be read as data: reading it threw ${describe(err)}`);
  }
}

function copyToDepth(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > DATA_DEPTH || ArrayBuffer.isView(value) || isBuffer(value)) return value;
  if (Array.isArray(value)) return copyOfArray(value, depth);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyToDepth((value as Record<string, unknown>)[key], depth + 1);
  return copy;
}

/**
 * An array's items, each copied. An array with a hole is no data (JSON and the library make none),
 * and is refused at its first hole: `new Array(2 ** 32 - 1)` is a few bytes that claim four billion
 * items, and copying them all ran for minutes and gigabytes before any check saw the first.
 */
function copyOfArray(value: unknown[], depth: number): unknown[] {
  const length = value.length;
  const copy: unknown[] = [];
  for (let index = 0; index < length; index++) {
    if (!Object.hasOwn(value, index)) throw new HoleInData(`an array of ${length} items has a hole at index ${index}: data has none`);
    copy.push(copyToDepth(value[index], depth + 1));
  }
  return copy;
}

/** copyOfArray's refusal, which copyOfData words as every refusal of what it copies. */
class HoleInData extends Error {}

/**
 * Whether `value` is an ArrayBuffer or a SharedArrayBuffer, by the engine's checks (no Proxy trap
 * runs, and nothing is thrown: copyOfData asks it of every object it copies, and a snapshot of a
 * million blocks took 14 s where each answer "no" was two TypeErrors caught).
 */
function isBuffer(value: unknown): boolean {
  return types.isAnyArrayBuffer(value);
}
