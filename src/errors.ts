/**
 * Every error the library throws extends MemoryPoolError and carries a stable `code`, so
 * callers can branch on `err.code` (or `instanceof`) rather than on message text. Each class's
 * `code` is one literal (ConfigError's is "CONFIG"); MemoryPoolErrorCode is every code, so a
 * `switch (err.code)` over a MemoryPoolError completes and can be checked for exhaustiveness, and
 * over an AnyMemoryPoolError narrows to the class (`case "CONFIG": err.field`).
 */
export type MemoryPoolErrorCode =
  | "CONFIG"
  | "OUT_OF_MEMORY"
  | "INVALID_SIZE"
  | "USE_AFTER_FREE"
  | "BOUNDARY_VIOLATION"
  | "DOUBLE_FREE"
  | "INVALID_POINTER"
  | "POOL_EXISTS"
  | "POOL_NOT_FOUND"
  | "THREAD_SAFETY"
  | "UNSUPPORTED"
  | "OUT_OF_BOUNDS"
  | "INVALID_SNAPSHOT"
  | "GPU_UNAVAILABLE"
  | "NATIVE_LIBRARY"
  | "PMEM_UNAVAILABLE"
  | "PMEM_FORMAT"
  | "PMEM_FILE"
  | "PMEM_ROOT"
  | "INVALID_ARGUMENT"
  | "TOO_MANY_POOLS"
  | "CORE";

export class MemoryPoolError<Code extends MemoryPoolErrorCode = MemoryPoolErrorCode> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }

  /** `DoubleFreeError [DOUBLE_FREE]: message`. */
  override toString(): string {
    return errorText(this, false);
  }

  /** The line above and the stack's frames; the details stay on the object (pointers in hex in the message). */
  [Bun.inspect.custom](): string {
    return errorText(this, true);
  }

  /**
   * JSON.stringify(error), as loggers write errors: name, code, message (an Error's own message is
   * not enumerable, so it was left out) and the class's fields. A field holding a caller's value
   * (ConfigError's `value`) is named as messages name it: a bigint or a cyclic object made
   * JSON.stringify throw, and a large typed array put its contents in the log.
   */
  toJSON(): Record<string, unknown> {
    const json: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [key, value] of Object.entries(this)) if (!(key in json)) json[key] = jsonField(value);
    return json;
  }
}

/** A field as JSON can hold it: numbers, strings, booleans and records of them as they are; anything else as describe() names it. */
function jsonField(value: unknown): unknown {
  const plain = (item: unknown) => item === null || item === undefined || typeof item === "string" || typeof item === "boolean" || typeof item === "number";
  if (plain(value)) return value;
  try {
    if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(plain)) return value;
  } catch {
    // a Proxy whose traps throw: named by describe(), which never throws
  }
  return describe(value);
}

/**
 * A setting is out of range or of the wrong type: a PoolConfig field, an option of a call
 * (MemoryMapOptions, SnapshotOptions, CopyOptions...), a pool's name, MEMORY_POOL_DEBUG.
 * `field` names it, `value` is what it held, `reason` says what it must be.
 */
export class ConfigError extends MemoryPoolError<"CONFIG"> {
  readonly field: string;
  readonly value: unknown;
  readonly reason: string;
  /**
   * The message is `owner.field = value: reason` (`owner` "": `field = value: reason`). Without
   * `owner` and with `value` undefined, `reason` is already a whole message (as the core words it).
   */
  constructor(field: string, value: unknown, reason: string, owner?: string) {
    const setting = owner === undefined ? `PoolConfig.${field}` : owner === "" ? field : `${owner}.${field}`;
    super("CONFIG", owner === undefined && value === undefined ? reason : `${setting} = ${describe(value)}: ${reason}`);
    this.field = field;
    this.value = value;
    this.reason = reason;
  }
}

/**
 * The core's refusal of a setting (its message whole, which names the field) with the value the
 * configuration held, as `PoolConfig.field = value: ...` like every other ConfigError: the core is
 * given numbers and says only which field it refuses. A function of this file, not a static member
 * of the exported class, which any caller could reach.
 */
export function refusedWithValue(refused: ConfigError, value: unknown): ConfigError {
  return new ConfigError(refused.field, value, refused.message);
}

/**
 * An argument of the wrong kind where no more specific error fits (a size is an InvalidSizeError,
 * a pointer an InvalidPointerError, a setting a ConfigError): e.g. `as(null)`, where a typed
 * array type such as Float32Array is wanted. `argument` names the parameter.
 */
export class InvalidArgumentError extends MemoryPoolError<"INVALID_ARGUMENT"> {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super("INVALID_ARGUMENT", message);
    this.argument = argument;
  }
}

export class OutOfMemoryError extends MemoryPoolError<"OUT_OF_MEMORY"> {
  constructor(message: string) {
    super("OUT_OF_MEMORY", message);
  }
}

/** A size that no allocation can have: zero, negative, fractional, NaN, or over the pool's limit. */
export class InvalidSizeError extends MemoryPoolError<"INVALID_SIZE"> {
  constructor(message: string) {
    super("INVALID_SIZE", message);
  }
}

/** Where the debug layer saw an allocation's memory used: the allocation and how far into it. */
export interface MemoryErrorDetails {
  /** The pool's id for the allocation (Allocation.id). */
  allocationId: number;
  /** Address of the allocation's first byte. */
  ptr: number;
  /** Bytes asked for. */
  size: number;
  /** The damaged byte nearest the allocation, from its first byte: negative before it, `size` or more after it. */
  offset: number;
  /** How many bytes were found damaged. */
  damagedBytes: number;
  /** The JavaScript stack of the allocation, where trackHistory kept it. */
  allocationStack: string | undefined;
  /** The JavaScript stack of its free, where trackHistory kept it (freed memory only). */
  freeStack?: string | undefined;
}

/**
 * Memory used after it was freed: through a handle (always), or, where quarantine is on, a write
 * into a freed block found when it leaves quarantine or on pool.check(); `details` then names
 * the allocation and where it was written.
 */
export class UseAfterFreeError extends MemoryPoolError<"USE_AFTER_FREE"> {
  readonly details: MemoryErrorDetails | undefined;
  constructor(message: string, details?: MemoryErrorDetails) {
    super("USE_AFTER_FREE", message);
    this.details = details;
  }
}

/**
 * Canaries next to an allocation were overwritten: a write before its first byte or past its last.
 * Found on free, on pool.check() and when the pool is destroyed. The error's own `stack` is where
 * it was found; `allocationStack` is where the damaged allocation was made (with trackHistory).
 */
export class BoundaryViolationError extends MemoryPoolError<"BOUNDARY_VIOLATION"> {
  readonly allocationId: number;
  readonly side: "before" | "after";
  readonly offset: number;
  readonly ptr: number;
  readonly size: number;
  readonly damagedBytes: number;
  readonly allocationStack: string | undefined;
  readonly poolName: string;
  constructor(message: string, poolName: string, details: MemoryErrorDetails) {
    super("BOUNDARY_VIOLATION", message);
    this.allocationId = details.allocationId;
    this.side = details.offset < 0 ? "before" : "after";
    this.offset = details.offset;
    this.ptr = details.ptr;
    this.size = details.size;
    this.damagedBytes = details.damagedBytes;
    this.allocationStack = details.allocationStack;
    this.poolName = poolName;
  }
}

export class DoubleFreeError extends MemoryPoolError<"DOUBLE_FREE"> {
  constructor(message: string) {
    super("DOUBLE_FREE", message);
  }
}

/** A pointer or view the pool never gave out: foreign, interior, or from another pool. */
export class InvalidPointerError extends MemoryPoolError<"INVALID_POINTER"> {
  constructor(message: string) {
    super("INVALID_POINTER", message);
  }
}

export class PoolExistsError extends MemoryPoolError<"POOL_EXISTS"> {
  constructor(message: string) {
    super("POOL_EXISTS", message);
  }
}

export class PoolNotFoundError extends MemoryPoolError<"POOL_NOT_FOUND"> {
  constructor(message: string) {
    super("POOL_NOT_FOUND", message);
  }
}

/**
 * No room for another pool: 4096 pools exist at once (destroy one first), or the slots left have
 * served so many pools that they are retired, so that a destroyed pool's handle never names another.
 */
export class TooManyPoolsError extends MemoryPoolError<"TOO_MANY_POOLS"> {
  constructor(message: string) {
    super("TOO_MANY_POOLS", message);
  }
}

/** A threadSafety "none" pool used from a thread other than the one that made it (checked by the default build of the core). */
export class ThreadSafetyError extends MemoryPoolError<"THREAD_SAFETY"> {
  constructor(message: string) {
    super("THREAD_SAFETY", message);
  }
}

/** An operation this kind of pool does not offer (yet): the message says what to do instead. */
export class UnsupportedOperationError extends MemoryPoolError<"UNSUPPORTED"> {
  constructor(message: string) {
    super("UNSUPPORTED", message);
  }
}

/** A copy or fill would reach past the end of an allocation or array; nothing was copied. */
export class OutOfBoundsError extends MemoryPoolError<"OUT_OF_BOUNDS"> {
  constructor(message: string) {
    super("OUT_OF_BOUNDS", message);
  }
}

/** Something given as a pool snapshot or history is not one (renderMemoryMap, renderTimeline, a saved file): the message says what is off. */
export class InvalidSnapshotError extends MemoryPoolError<"INVALID_SNAPSHOT"> {
  constructor(message: string) {
    super("INVALID_SNAPSHOT", message);
  }
}

/** No usable CUDA driver or device: the message says what is missing and what to do. */
export class GPUUnavailableError extends MemoryPoolError<"GPU_UNAVAILABLE"> {
  constructor(message: string) {
    super("GPU_UNAVAILABLE", message);
  }
}

/** The native core is missing or does not match this version of the TypeScript side. */
export class NativeLibraryError extends MemoryPoolError<"NATIVE_LIBRARY"> {
  constructor(message: string) {
    super("NATIVE_LIBRARY", message);
  }
}

/** PMEM pools need libpmem (PMDK's libpmem.so.1), which is not installed or not usable here. */
export class PMEMUnavailableError extends MemoryPoolError<"PMEM_UNAVAILABLE"> {
  constructor(message: string) {
    super("PMEM_UNAVAILABLE", message);
  }
}

/** A failure the core reported with a status this version of the TypeScript side does not know (a newer core): the message is the core's. */
export class CoreError extends MemoryPoolError<"CORE"> {
  readonly status: number;
  constructor(message: string, status: number) {
    super("CORE", `${message} (status ${status})`);
    this.status = status;
  }
}

/** Why a pool file was refused; the file is left as it was. */
export type PMEMFormatReason = "magic" | "version" | "checksum" | "layout" | "truncated" | "extended" | "metadata";

/**
 * A file at pmemPoolPath that is not a pool this library can open: another program's file (`magic`),
 * another format version, a damaged header (`checksum`), a layout other than the config's, a file
 * cut short or grown since it was made, or damaged allocation metadata. Nothing was written to it.
 */
export class PMEMFormatError extends MemoryPoolError<"PMEM_FORMAT"> {
  readonly reason: PMEMFormatReason;
  constructor(message: string, reason: PMEMFormatReason) {
    super("PMEM_FORMAT", message);
    this.reason = reason;
  }
}

/** pmemPoolPath cannot be used: a missing directory, no permission, not a file, no space, or in use. */
export class PMEMFileError extends MemoryPoolError<"PMEM_FILE"> {
  constructor(message: string) {
    super("PMEM_FILE", message);
  }
}

/** A root or link that cannot be set: a bad name, no free root slot, freeing a block a root publishes, or linking an unpublished block from an unpublished one. */
export class PMEMRootError extends MemoryPoolError<"PMEM_ROOT"> {
  constructor(message: string) {
    super("PMEM_ROOT", message);
  }
}

/** Every error class the library throws: `switch (err.code)` on one narrows it to its class. */
export type AnyMemoryPoolError =
  | ConfigError
  | OutOfMemoryError
  | InvalidSizeError
  | UseAfterFreeError
  | BoundaryViolationError
  | DoubleFreeError
  | InvalidPointerError
  | PoolExistsError
  | PoolNotFoundError
  | ThreadSafetyError
  | UnsupportedOperationError
  | OutOfBoundsError
  | InvalidSnapshotError
  | GPUUnavailableError
  | NativeLibraryError
  | PMEMUnavailableError
  | PMEMFormatError
  | PMEMFileError
  | PMEMRootError
  | InvalidArgumentError
  | TooManyPoolsError
  | CoreError;

/** `BoundaryViolationError [BOUNDARY_VIOLATION]: message`, then the stack's frames where asked and kept. */
function errorText(error: MemoryPoolError, withStack: boolean): string {
  const head = `${error.name} [${error.code}]: ${error.message}`;
  // A program's Error.prepareStackTrace may make `stack` anything (an array of call sites) or throw.
  let stack: unknown = "";
  try {
    stack = withStack ? error.stack : "";
  } catch {
    stack = "";
  }
  const frames = typeof stack === "string" ? stack.split("\n").filter((line) => /^\s+at /.test(line)) : [];
  return frames.length === 0 ? head : `${head}\n${frames.join("\n")}`;
}

/**
 * A value for a message: numbers, booleans, bigints and (short) strings as they are; anything
 * else by its type, never its contents (a view's bytes, an object's toString).
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value.length <= 80 ? JSON.stringify(value) : `a string of ${value.length} characters`;
    case "bigint":
      return describeBigint(value);
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  try {
    if (Array.isArray(value)) return "an array";
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || proto === Object.prototype) return "an object";
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== "string" || name === "") return "an object";
    return `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}`;
  } catch {
    return "an object"; // a revoked Proxy, or one whose traps throw: describing it must not throw
  }
}

/** Hexadecimal digits past which a bigint is named by its size: those of 64 bits are shown whole. */
const BIGINT_HEX_DIGITS_SHOWN = 16;

/**
 * A bigint as messages show it: whole where it is no wider than 64 bits, else by its
 * size, as a long string is. A bigint of a few million bits put a message of megabytes in every
 * error and log (its decimal digits, which also take time to work out).
 */
function describeBigint(value: bigint): string {
  const hexDigits = (value < 0n ? -value : value).toString(16).length;
  return hexDigits <= BIGINT_HEX_DIGITS_SHOWN ? `${value}n` : `a bigint of ${hexDigits} hexadecimal digits`;
}
