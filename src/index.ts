/** memory-pool: memory pools for Bun. Everything public is exported here, and only here. */
export { Allocation, type TypedArrayConstructor } from "./allocation";
export { PoolConfig, type AllocatorType, type ThreadSafety } from "./config";
export {
  ConfigError,
  DoubleFreeError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  NativeLibraryError,
  OutOfMemoryError,
  PMEMFileError,
  PMEMFormatError,
  PMEMRootError,
  PMEMUnavailableError,
  PoolExistsError,
  PoolNotFoundError,
  UseAfterFreeError,
  type PMEMFormatReason,
} from "./errors";
export { allocate, deallocate } from "./helpers";
export { MemoryPoolManager, type MemoryPool, type PoolInfo } from "./manager";
export { PMEMMemoryPool, type PersistTarget, type SetRootOptions } from "./pmem";
export { CPUMemoryPool, type Freeable, type PoolKind } from "./pool";
export { MemoryStats } from "./stats";
