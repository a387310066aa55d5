/**
 * Snapshots: a pool's regions and blocks at one moment, as plain, JSON-serialisable data. The
 * core writes them in one call under the pool's lock (zig/src/snapshot.zig), with the statistics
 * of the same moment, so blocks and figures agree even while other Workers use the pool.
 * src/memory_map.ts draws them.
 */
import type { PoolConfig } from "./config";
import { ConfigError, describe, UnsupportedOperationError } from "./errors";
import { byValue } from "./abi";
import { ABI, GRANULE_BYTES, STATS_FIELDS } from "./native";
import type { NativePool, PoolKind } from "./pool";
import { MemoryStats, type MemoryStatsJSON } from "./stats";
import { optionsArg } from "./validate";

/**
 * What a block holds: `live` (allocated), `free`, `pending` (freed on a GPU stream whose work may
 * still touch it), and from the debug layer `guard` (inaccessible guard pages), `quarantined`
 * (freed, held back from reuse so a use after free is caught) and `guardFree` (free pages of a
 * guard region, which only allocations with guard pages use).
 */
export type BlockState = "free" | "live" | "pending" | "guard" | "quarantined" | "guardFree";

export interface SnapshotRegion {
  /** The pool's own number for the region (regions are listed in address order). */
  index: number;
  /** Bytes from the pool's first byte. */
  offset: number;
  size: number;
  liveBlocks: number;
  freeBlocks: number;
  freeBytes: number;
  /**
   * Its largest free block, or in a FixedSize pool its most free blocks in a row: a request over one
   * block takes a run of them (not on PMEM, whose FixedSize pools take one block at most).
   */
  largestFreeBlock: number;
  /** This region's blocks are blocks[firstBlock .. firstBlock + blockCount). */
  firstBlock: number;
  blockCount: number;
}

export interface SnapshotBlock {
  /** Bytes from the pool's first byte. */
  offset: number;
  /** Bytes of the block (the request rounded up to granules or to the block size). */
  size: number;
  state: BlockState;
  /** Position of the block's region in `regions`. */
  region: number;
  /** The allocation's id (blocks that hold one). */
  id?: number;
  /** Bytes the allocation asked for. */
  requestedSize?: number;
  /** Allocations the pool made after this one: an age that costs the hot path nothing. */
  age?: number;
  /** Milliseconds since the allocation, where history is on. */
  ageMs?: number;
  /** The JavaScript stack of the allocation, where history is on. */
  stack?: string;
}

export interface PoolSnapshot {
  format: "memory-pool/snapshot";
  version: 1;
  pool: string;
  kind: PoolKind;
  /** ISO 8601. */
  takenAt: string;
  /** Address of the pool's first byte (a device address for GPU pools). */
  baseAddress: number;
  config: Record<string, unknown>;
  /** Whether blocks carry ageMs and stack (from a details provider). */
  history: boolean;
  regions: SnapshotRegion[];
  blocks: SnapshotBlock[];
  stats: MemoryStatsJSON;
}

/** Per-allocation details a history keeper knows and the core does not. */
export interface AllocationDetails {
  ageMs?: number;
  stack?: string;
}
/** Asked once for each block that holds an allocation: its id, and the block's offset and size in bytes. */
export type AllocationDetailsProvider = (allocation: { id: number; offset: number; size: number }) => AllocationDetails | undefined;

export interface SnapshotOptions {
  /** Ages in milliseconds and allocation stacks; by default the pool's own history, where it keeps one. */
  details?: AllocationDetailsProvider;
}

// The records' layouts, as the core describes them (zig/src/snapshot.zig, src/abi.ts).
const { snapshotHeader, snapshotRegion, snapshotBlock } = ABI.records;
const REGION_WORDS = snapshotRegion.bytes / 4;
const BLOCK_BYTES = snapshotBlock.bytes;
/** A block's state by the value the core writes. */
const BLOCK_STATES: readonly BlockState[] = byValue(ABI.enums.blockState);
/** Room for this many more records than the last count, for Workers allocating meanwhile. */
const SLACK = 64;
/**
 * Most blocks a snapshot holds: about 1.6 GB of JavaScript objects and 7 s on the dev machine. Past
 * it a snapshot is refused: a FixedSize pool of 2 GiB in 16 B blocks has 134 million, and reading
 * them all grew the process past 20 GB until the kernel killed it.
 */
const SNAPSHOT_BLOCKS_MAX = 1 << 24;

interface Records {
  header: Uint32Array;
  regions: Uint32Array;
  blockWords: Uint32Array;
  blockFloats: Float64Array;
  stats: Float64Array;
}

/** Capacity that fitted last time, per pool: a repeated snapshot needs one core call. */
const lastCapacity = new WeakMap<NativePool, { regions: number; blocks: number }>();

/** The core's snapshot call, through a pool's own calls (a private method of the pool: no caller hands the core records of its own sizes). */
export type ReadSnapshot = (header: Uint32Array, regions: Uint32Array, regionCapacity: number, blocks: Uint8Array, blockCapacity: number, stats: Float64Array) => number;

/** Reads the records, growing the buffers until they fit (a Worker may be allocating). */
function readRecords(pool: NativePool, read: ReadSnapshot): Records {
  let capacity = lastCapacity.get(pool) ?? { regions: 16, blocks: 1024 };
  for (;;) {
    const header = new Uint32Array(snapshotHeader.bytes / 4);
    const regions = new Uint32Array(capacity.regions * REGION_WORDS);
    const blocks = new ArrayBuffer(capacity.blocks * BLOCK_BYTES);
    const stats = new Float64Array(STATS_FIELDS.length);
    const status = read(header, regions, capacity.regions, new Uint8Array(blocks), capacity.blocks, stats);
    // Copied at once: the JIT may reuse earlier reads of memory the core wrote (see native.ts).
    const copied = header.slice();
    const regionCount = copied[snapshotHeader.fields.regionCount.index]!;
    const blockCount = copied[snapshotHeader.fields.blockCount.index]!;
    if (status === 0) {
      lastCapacity.set(pool, capacity);
      const used = blocks.slice(0, blockCount * BLOCK_BYTES);
      return {
        header: copied,
        regions: regions.slice(0, regionCount * REGION_WORDS),
        blockWords: new Uint32Array(used),
        blockFloats: new Float64Array(used),
        stats: stats.slice(),
      };
    }
    if (blockCount > SNAPSHOT_BLOCKS_MAX) {
      throw new UnsupportedOperationError(
        `snapshot() of pool '${pool.name}' would hold ${blockCount} blocks, more than the ${SNAPSHOT_BLOCKS_MAX} a snapshot holds: getStats() gives its figures (a FixedSize pool of larger blocks has fewer)`,
      );
    }
    capacity = { regions: regionCount + SLACK, blocks: blockCount + Math.ceil(blockCount / 8) + SLACK };
  }
}

/** @internal pool.snapshot(): `base` is the pool's first address, `provided` its debug layer's details where it keeps them. */
export function takeSnapshot(pool: NativePool, base: number, provided: AllocationDetailsProvider | undefined, options: SnapshotOptions | undefined, read: ReadSnapshot): PoolSnapshot {
  const given = optionsArg("SnapshotOptions", options, ["details"]).details;
  if (!(given === undefined || typeof given === "function")) {
    throw new ConfigError("details", given, "must be a function from { id, offset } to { ageMs?, stack? }", "SnapshotOptions");
  }
  const takenAt = new Date().toISOString();
  const records = readRecords(pool, read);
  const header = (field: keyof typeof snapshotHeader.fields) => records.header[snapshotHeader.fields[field].index]!;
  const [regionCount, blockCount, lastId, idMax] = [header("regionCount"), header("blockCount"), header("lastId"), header("idMax")];
  const regionField = snapshotRegion.fields;
  const blockField = snapshotBlock.fields;
  const granuleBytes = GRANULE_BYTES;
  const details = (given as AllocationDetailsProvider | undefined) ?? provided;

  const regions: SnapshotRegion[] = new Array(regionCount);
  for (let r = 0; r < regionCount; r++) {
    const word = r * REGION_WORDS;
    const index = records.regions[word + regionField.index.index]!;
    regions[r] = {
      index,
      offset: records.regions[word + regionField.start.index]! * granuleBytes,
      size: records.regions[word + regionField.granules.index]! * granuleBytes,
      liveBlocks: 0,
      freeBlocks: 0,
      freeBytes: 0,
      largestFreeBlock: 0,
      firstBlock: 0,
      blockCount: 0,
    };
  }

  const blocks: SnapshotBlock[] = new Array(blockCount);
  const words = records.blockWords;
  const floats = records.blockFloats;
  let r = 0;
  let regionEnd = regionCount > 0 ? regions[0]!.offset + regions[0]!.size : 0;
  // Free blocks in a row (a FixedSize pool's; TLSF joins its own): where the run ends, and its bytes.
  let runEnd = -1;
  let runBytes = 0;
  for (let b = 0; b < blockCount; b++) {
    const word = b * (BLOCK_BYTES / 4);
    const offset = words[word + blockField.start.index]! * granuleBytes;
    const size = words[word + blockField.granules.index]! * granuleBytes;
    const state = BLOCK_STATES[words[word + blockField.state.index]!]!;
    // Blocks come in address order, region after region (zig/src/snapshot.zig).
    while (offset >= regionEnd && r + 1 < regionCount) {
      r++;
      regions[r]!.firstBlock = b;
      regionEnd = regions[r]!.offset + regions[r]!.size;
    }
    const holder = regions[r]!;
    holder.blockCount++;
    if (state === "free" || state === "guardFree") {
      if (state === "free") {
        holder.freeBlocks++;
        holder.freeBytes += size;
        // A run goes on where this block starts at its end, in the same region (whose first free block starts one).
        runBytes = runEnd === offset && holder.freeBytes > size ? runBytes + size : size;
        runEnd = offset + size;
        if (runBytes > holder.largestFreeBlock) holder.largestFreeBlock = runBytes;
      }
      blocks[b] = { offset, size, state, region: r };
      continue;
    }
    if (state === "live") holder.liveBlocks++;
    const id = words[word + blockField.id.index]!;
    const requestedSize = floats[b * (BLOCK_BYTES / 8) + blockField.requestedBytes.index]!;
    // A pending block (freed on a stream, not yet reusable) holds no allocation any more: no id, no age.
    const block: SnapshotBlock = id === 0 ? { offset, size, state, region: r, requestedSize } : { offset, size, state, region: r, id, requestedSize };
    if (id !== 0) {
      // Ids count up from 1 and wrap after idMax, so the distance may wrap too.
      block.age = lastId >= id ? lastId - id : lastId + idMax - id;
      const known = details?.({ id, offset, size });
      if (known !== undefined) addDetails(block, known, details!);
    }
    blocks[b] = block;
  }

  return {
    format: "memory-pool/snapshot",
    version: 1,
    pool: pool.name,
    kind: pool.kind,
    takenAt,
    baseAddress: base,
    config: plainConfig(pool.config),
    history: details !== undefined,
    regions,
    blocks,
    stats: new MemoryStats(pool.name, records.stats).toJSON(),
  };
}

/** What a details provider said of a block; a provider that answers with the wrong types is a ConfigError. */
function addDetails(block: SnapshotBlock, known: AllocationDetails, provider: AllocationDetailsProvider): void {
  const refuse = (what: string) => {
    throw new ConfigError("details", provider, `answered allocation #${block.id} with ${what}: it must answer undefined or { ageMs?: number, stack?: string }`, "SnapshotOptions");
  };
  if (typeof known !== "object" || known === null) refuse(describe(known));
  // Read once each, as every caller's object is (validate.ts optionEntries): a getter or Proxy trap that throws is this ConfigError too.
  let ageMs: unknown;
  let stack: unknown;
  try {
    ({ ageMs, stack } = known);
  } catch (thrown) {
    refuse(`an object that cannot be read (it threw ${describe(thrown)})`);
  }
  if (!(ageMs === undefined || (typeof ageMs === "number" && Number.isFinite(ageMs)))) refuse(`ageMs ${describe(ageMs)}`);
  if (!(stack === undefined || typeof stack === "string")) refuse(`stack ${describe(stack)}`);
  if (ageMs !== undefined) block.ageMs = ageMs as number;
  if (stack !== undefined) block.stack = stack as string;
}

/** The config's own fields as a plain object (JSON-serialisable, detached from the pool). */
export function plainConfig(config: Readonly<PoolConfig>): Record<string, unknown> {
  return { ...config };
}
