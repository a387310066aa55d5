/**
 * Every error the library throws extends MemoryPoolError and carries a stable `code`, so
 * callers can branch on `err.code` (or `instanceof`) rather than on message text.
 */
export class MemoryPoolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A PoolConfig field is out of range; `field` names it and `value` is what it held. */
export class ConfigError extends MemoryPoolError {
  readonly field: string;
  readonly value: unknown;
  /** `value` undefined: `reason` is already a whole message (as the core words it). */
  constructor(field: string, value: unknown, reason: string) {
    super("CONFIG", value === undefined ? reason : `PoolConfig.${field} = ${describe(value)}: ${reason}`);
    this.field = field;
    this.value = value;
  }
}

export class OutOfMemoryError extends MemoryPoolError {
  constructor(message: string) {
    super("OUT_OF_MEMORY", message);
  }
}

/** A size that no allocation can have: zero, negative, fractional, NaN, or over the pool's limit. */
export class InvalidSizeError extends MemoryPoolError {
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
export class UseAfterFreeError extends MemoryPoolError {
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
export class BoundaryViolationError extends MemoryPoolError {
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

export class DoubleFreeError extends MemoryPoolError {
  constructor(message: string) {
    super("DOUBLE_FREE", message);
  }
}

/** A pointer or view the pool never gave out: foreign, interior, or from another pool. */
export class InvalidPointerError extends MemoryPoolError {
  constructor(message: string) {
    super("INVALID_POINTER", message);
  }
}

export class PoolExistsError extends MemoryPoolError {
  constructor(message: string) {
    super("POOL_EXISTS", message);
  }
}

export class PoolNotFoundError extends MemoryPoolError {
  constructor(message: string) {
    super("POOL_NOT_FOUND", message);
  }
}

/**
 * No room for another pool: 4096 pools exist at once (destroy one first), or the slots left have
 * served so many pools that they are retired, so that a destroyed pool's handle never names another.
 */
export class TooManyPoolsError extends MemoryPoolError {
  constructor(message: string) {
    super("TOO_MANY_POOLS", message);
  }
}

/** A threadSafety "none" pool used from a thread other than the one that made it (checked by the default build of the core). */
export class ThreadSafetyError extends MemoryPoolError {
  constructor(message: string) {
    super("THREAD_SAFETY", message);
  }
}

/** An operation this kind of pool does not offer (yet): the message says what to do instead. */
export class UnsupportedOperationError extends MemoryPoolError {
  constructor(message: string) {
    super("UNSUPPORTED", message);
  }
}

/** A copy or fill would reach past the end of an allocation or array; nothing was copied. */
export class OutOfBoundsError extends MemoryPoolError {
  constructor(message: string) {
    super("OUT_OF_BOUNDS", message);
  }
}

/** Something given as a pool snapshot is not one (renderMemoryMap, a saved file): the message says what is off. */
export class InvalidSnapshotError extends MemoryPoolError {
  constructor(message: string) {
    super("INVALID_SNAPSHOT", message);
  }
}

/** No usable CUDA driver or device: the message says what is missing and what to do. */
export class GPUUnavailableError extends MemoryPoolError {
  constructor(message: string) {
    super("GPU_UNAVAILABLE", message);
  }
}

/** The native core is missing or does not match this version of the TypeScript side. */
export class NativeLibraryError extends MemoryPoolError {
  constructor(message: string) {
    super("NATIVE_LIBRARY", message);
  }
}

/** PMEM pools need libpmem (PMDK's libpmem.so.1), which is not installed or not usable here. */
export class PMEMUnavailableError extends MemoryPoolError {
  constructor(message: string) {
    super("PMEM_UNAVAILABLE", message);
  }
}

/** Why a pool file was refused; the file is left as it was. */
export type PMEMFormatReason = "magic" | "version" | "checksum" | "layout" | "truncated" | "extended" | "metadata";

/**
 * A file at pmemPoolPath that is not a pool this library can open: another program's file (`magic`),
 * another format version, a damaged header (`checksum`), a layout other than the config's, a file
 * cut short or grown since it was made, or damaged allocation metadata. Nothing was written to it.
 */
export class PMEMFormatError extends MemoryPoolError {
  readonly reason: PMEMFormatReason;
  constructor(message: string, reason: PMEMFormatReason) {
    super("PMEM_FORMAT", message);
    this.reason = reason;
  }
}

/** pmemPoolPath cannot be used: a missing directory, no permission, not a file, no space, or in use. */
export class PMEMFileError extends MemoryPoolError {
  constructor(message: string) {
    super("PMEM_FILE", message);
  }
}

/** A root that cannot be set: a bad name, no free root slot, or freeing a block a root publishes. */
export class PMEMRootError extends MemoryPoolError {
  constructor(message: string) {
    super("PMEM_ROOT", message);
  }
}

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return String(value);
}
