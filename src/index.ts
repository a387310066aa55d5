/** bun-memory-pool: memory pools for Bun. Everything public is exported here, and only here. */
export { Allocation, PoolAllocation, type TypedArrayConstructor } from "./allocation";
export { PoolConfig, type AllocatorType, type GuardPagePosition, type PoolOptions, type ThreadSafety } from "./config";
export type { HistoryEvent, HistoryEventKind } from "./debug/history";
export type { LeakInfo } from "./debug/report";
export {
  BoundaryViolationError,
  ConfigError,
  CoreError,
  DoubleFreeError,
  GPUUnavailableError,
  InvalidArgumentError,
  InvalidPointerError,
  InvalidSizeError,
  InvalidSnapshotError,
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
  TooManyPoolsError,
  UnsupportedOperationError,
  UseAfterFreeError,
  type AnyMemoryPoolError,
  type MemoryErrorDetails,
  type MemoryPoolErrorCode,
  type PMEMFormatReason,
} from "./errors";
export { copy, type CopyOptions, type CopySide, type MemoryKind } from "./copy";
export { GPUAllocation, GPUMemoryPool, GPUStream, type HostSide, type StreamOptions } from "./gpu";
export { allocate, allocateGPU, deallocate, deallocateGPU } from "./helpers";
export { SharedGPUMemory, type GPUIPCHandle } from "./ipc";
export { isAvailable, unavailableReason } from "./loader";
export { MemoryPoolManager, type MemoryPool, type PoolInfo, type PoolOfKind } from "./manager";
export { configureNvtx, nvtxStatus, type NvtxOptions, type NvtxStatus } from "./nvtx";
export { renderMemoryMap, type MemoryMapOptions } from "./memory_map";
export { type AllocationsOptions, LINK_BYTES, type LinkOptions, PMEMMemoryPool, type PersistTarget, type SetRootOptions } from "./pmem";
export { CPUMemoryPool, PinnedMemoryPool, type Freeable, type HostPool, type NativePool, type PoolJSON, type PoolKind } from "./pool";
export type {
  AllocationDetails,
  AllocationDetailsProvider,
  BlockState,
  PoolSnapshot,
  SnapshotBlock,
  SnapshotOptions,
  SnapshotRegion,
} from "./snapshot";
export { MemoryStats, type MemoryStatsJSON } from "./stats";
export { renderTimeline, type TimelineOptions, type TimelineSource } from "./timeline";
