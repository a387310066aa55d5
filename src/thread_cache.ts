/**
 * What a pool asks of this thread's JavaScript cache of its blocks, whichever kind the pool has:
 * a stack of free blocks for FixedSize pools (src/block_cache.ts), size bins for Variable pools
 * (src/size_bins.ts). Offsets are granule offsets; a negative number is a core status. And the
 * thread's one list of its open caches, of both kinds, which flushThreadCaches() and a Worker's
 * exit flush.
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
  /** Writes into the core's memory what the cache keeps only in JavaScript, before a core call reads it (src/block_cache.ts). */
  publish?(): void;
}

/** This thread's open caches, of both kinds: flushed together by flushThreadCaches() and as a Worker exits. */
const openCaches = new Set<ThreadCache>();

/** A cache this thread opened: flushThreadCaches() and the Worker's exit flush it. */
export function cacheOpened(cache: ThreadCache): void {
  openCaches.add(cache);
}

/** A cache whose pool is gone: nothing to flush any more. */
export function cacheClosed(cache: ThreadCache): void {
  openCaches.delete(cache);
}

/** Gives the blocks of every cache of this thread back to their pools. */
export function flushAllCaches(): void {
  for (const cache of openCaches) cache.flush();
}

// A Worker's caches go back as it exits (and, where it is terminated, as its thread ends: the core's exit hook).
if (!Bun.isMainThread) process.on("exit", flushAllCaches);
