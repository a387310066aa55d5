/**
 * What a pool asks of this thread's JavaScript cache of its blocks, whichever kind the pool has:
 * a stack of free blocks for FixedSize pools (src/block_cache.ts), size bins for Variable pools
 * (src/size_bins.ts). Offsets are granule offsets; a negative number is a core status.
 */
export interface ThreadCache {
  /** The largest request the cache serves: bigger ones go to the core. */
  readonly maxBytes: number;
  /** The id of the allocation the last alloc() made. */
  lastId: number;
  /** Why the last call that returned a failure failed ("" where the core's own message says why). */
  message: string;
  /** Whether the pool is still there as far as this cache can tell. */
  readonly open: boolean;
  /** Whether the cache holds free blocks (a request the cache does not serve gives them back first). */
  readonly holdsBlocks: boolean;
  /** A block for `size` bytes (1..maxBytes): its granule offset, id in `lastId`; or a negative status. */
  alloc(size: number): number;
  /** Frees the block at `g` (by allocation `expectedId` where not 0): 0, 1 where the core must free it, or a negative status. */
  free(g: number, expectedId: number): number;
  /** The id of the allocation at `g`, 0 where the block is free, or CACHE_CANNOT_TELL (src/block_cache.ts): ask the core. */
  liveId(g: number): number;
  /** Gives every cached block back to the pool. */
  flush(): void;
  /** The core made allocation `id` of the pool. */
  sawCoreId(id: number): void;
}
