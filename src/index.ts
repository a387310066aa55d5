/** memory-pool: memory pools for Bun. Everything public is exported here, and only here. */
export { Allocation, PoolAllocation, type TypedArrayConstructor } from "./allocation";
export { PoolConfig, type AllocatorType, type ThreadSafety } from "./config";
export {
  ConfigError,
  DoubleFreeError,
  GPUUnavailableError,
  InvalidPointerError,
  InvalidSizeError,
  MemoryPoolError,
  NativeLibraryError,
  OutOfMemoryError,
  PMEMFileError,
  PMEMFormatError,
  PMEMRootError,
  OutOfBoundsError,
  PMEMUnavailableError,
  PoolExistsError,
  PoolNotFoundError,
  ThreadSafetyError,
  UnsupportedOperationError,
  UseAfterFreeError,
  type PMEMFormatReason,
} from "./errors";
export { GPUAllocation, GPUMemoryPool, GPUStream, type CopyOptions, type HostSide, type StreamOptions } from "./gpu";
export { allocate, allocateGPU, deallocate, deallocateGPU } from "./helpers";
export { MemoryPoolManager, type MemoryPool, type PoolInfo } from "./manager";
export { PMEMMemoryPool, type PersistTarget, type SetRootOptions } from "./pmem";
export { CPUMemoryPool, PinnedMemoryPool, type Freeable, type PoolKind } from "./pool";
export { MemoryStats } from "./stats";
