/** memory-pool: memory pools for Bun. Everything public is exported here, and only here. */
export { Allocation, type TypedArrayConstructor } from "./allocation";
export { PoolConfig, type AllocatorType, type ThreadSafety } from "./config";
export {
  BoundaryViolationError,
  ConfigError,
  DoubleFreeError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  NativeLibraryError,
  OutOfMemoryError,
  PoolExistsError,
  PoolNotFoundError,
  UseAfterFreeError,
  type MemoryErrorDetails,
} from "./errors";
export { allocate, deallocate } from "./helpers";
export { MemoryPoolManager, type MemoryPool, type PoolInfo } from "./manager";
export { CPUMemoryPool, type Freeable, type PoolKind } from "./pool";
export { MemoryStats } from "./stats";
