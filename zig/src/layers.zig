//! A pool's entry points as its layers compose them, chosen once when it is made (`choose`). From
//! the outside in: the pool's lock (sync/locking.zig), the debug layer (debug/entry.zig, where a
//! switch acts in the core), the statistics (counting.zig), and the placement with, for PMEM, the
//! journal's seam. Every pool's entry is `stack(L, debugged, S, P)` of one lock, debug choice,
//! statistics and placement; no call tests which layers the pool has.
//!
//! Each layer is a comptime parameter of the one outside it, not a wrapper that calls it: see
//! sync/locking.zig for why (an inlined wrapper's result cost a store-forwarding stall).
//!
//! The placement interface. Every placement implements it, `pool` being the Pool: the pool's own
//! fixed-size or TLSF strategy under its lock (`Locked`), the lock-free or thread-cached fixed-size
//! placement (sync/shared_fixed.zig `Interface`) and the sharded TLSF (sync/sharded_variable.zig
//! `Interface`). Nothing here counts: the statistics layer does, around these.
//!   alloc(pool, size, stream) Error!Placed   a block for `size` bytes and its allocation id (growing
//!                                            the pool where it must); the error says why none
//!   blockBytes(pool, size) u64               what the placement sets aside for `size` bytes
//!   free(pool, g, expected_id) Error!Freed   the block at `g` given back (with `expected_id` not 0,
//!                                            only while it holds that allocation); what was freed
//!   lookup(pool, g) ?Live                    the live allocation that starts at `g`
//!   reset(pool) Error!void                   every block free again
//!   listLive(pool, []u32) u32                the live allocations' offsets, as many as fit; how many
//!   writeSnapshot(pool, Output) Error!bool   regions, blocks and figures at one moment (snapshot.zig)
//!   addRegion(pool, index, Region) !void     a region the pool grew by (under the growth lock)
//!   trims(pool) bool                         whether trim may give its regions back
//!   removeRegion(pool, index, Region) Removal  an empty region trim offers: removed, kept, or stop
//! and for the statistics layer it goes with: `space(pool) Stats.Space`, `correctFigures(pool, out)`
//! and `correctPeaks(pool)` (counting.zig `Exact`: the figures and peaks as the allocations made
//! hold them, where a cache in front of the placement, JavaScript's bins, hands blocks out), or
//! `figures(pool, *Stats) Stats.Space` and `resetPeaks(pool)` (counting.zig `Striped`).
const std = @import("std");
const assert = std.debug.assert;
const locking = @import("sync/locking.zig");
const counting = @import("counting.zig");
const Debugged = @import("debug/entry.zig").Debugged;
const SharedFixed = @import("sync/shared_fixed.zig").SharedFixed;
const ShardedVariable = @import("sync/sharded_variable.zig").ShardedVariable;
const shared_journal = @import("pmem/shared_journal.zig");
const stats_mod = @import("stats.zig");
const snapshot = @import("snapshot.zig");
const status = @import("status.zig");
const Error = status.Error;
const arena_mod = @import("arena.zig");
const debug_layer_built = @import("build_options").debug_layer;

pub fn Layers(comptime Pool: type) type {
    return struct {
        /// The entry points of a pool's layers (this file composes them: lock, debug layer,
        /// statistics, placement), chosen once when the pool is made.
        pub const Entry = struct {
            alloc: *const fn (*Pool, u64, Pool.Stream) Error!Pool.Placed,
            free: *const fn (*Pool, u32, u32) Error!bool,
            lookup: *const fn (*Pool, u32) ?Pool.Live,
            /// The whole-pool operations.
            reset: *const fn (*Pool) Error!void,
            writeStats: *const fn (*Pool, *[stats_mod.field_count]f64) void,
            resetPeaks: *const fn (*Pool) void,
            listLive: *const fn (*Pool, []u32) u32,
            writeSnapshot: *const fn (*Pool, snapshot.Output) Error!bool,
            /// The placement's side of growth and trim (the caller holds the lock growth takes).
            addRegion: *const fn (*Pool, u32, arena_mod.Region) error{OutOfMemory}!void,
            trims: *const fn (*const Pool) bool,
            removeRegion: *const fn (*Pool, u32, arena_mod.Region) Removal,

            /// `Hot`: the per-block entry points; `Cold`: the whole-pool operations; `P`: the placement.
            pub fn of(comptime Hot: type, comptime Cold: type, comptime P: type) Entry {
                return .{
                    .alloc = Hot.alloc,
                    .free = Hot.free,
                    .lookup = Hot.lookup,
                    .reset = Cold.reset,
                    .writeStats = Cold.writeStats,
                    .resetPeaks = Cold.resetPeaks,
                    .listLive = Cold.listLive,
                    .writeSnapshot = Cold.writeSnapshot,
                    .addRegion = P.addRegion,
                    .trims = P.trims,
                    .removeRegion = P.removeRegion,
                };
            }
        };

        /// What a placement did with an empty region trim offered it.
        pub const Removal = enum { removed, kept, stop };

        /// The entry of a pool whose layers are, from the outside in: lock `L`, the debug layer
        /// where `debugged`, statistics `S`, placement `P`. Under the debug layer the lock is taken
        /// once, by it.
        pub fn stack(comptime L: type, comptime debugged: bool, comptime S: type, comptime P: type) Entry {
            const Plain = Placing(if (debugged) locking.Held else L, S, P);
            const Hot = if (debugged) Debugged(Pool, Plain, L) else Plain;
            return Entry.of(Hot, Whole(L, S, P), P);
        }

        /// Counts a failed allocation, except one for lack of memory while the JavaScript bins hold
        /// blocks: JavaScript then gives them back and asks once more (size_bins.ts #miss,
        /// NativePool.allocInCore), and that answer is the one its caller sees, counted once.
        fn countFailure(comptime S: type, pool: *Pool, err: Error) void {
            if (err == error.OutOfMemory) if (pool.binsOpened()) |bins| if (bins.holdsBlocks()) return;
            S.failed(pool);
        }

        /// Allocate, free and lookup through statistics `S` and placement `P`, under lock `L`.
        pub fn Placing(comptime L: type, comptime S: type, comptime P: type) type {
            return struct {
                pub fn alloc(pool: *Pool, size: u64, stream: Pool.Stream) Error!Pool.Placed {
                    L.acquire(pool);
                    defer L.release(pool);
                    const started = S.startAlloc(pool);
                    const placed = P.alloc(pool, size, stream) catch |err| {
                        countFailure(S, pool, err);
                        return err;
                    };
                    S.placed(pool, started, size, P); // the placement asserted what it placed
                    return placed;
                }

                pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!bool {
                    L.acquire(pool);
                    defer L.release(pool);
                    const started = S.startFree(pool);
                    const freed = try P.free(pool, g, expected_id);
                    S.freed(pool, started, freed);
                    return false;
                }

                pub fn lookup(pool: *Pool, g: u32) ?Pool.Live {
                    L.acquire(pool);
                    defer L.release(pool);
                    return P.lookup(pool, g);
                }
            };
        }

        /// The whole-pool operations, through the same layers.
        fn Whole(comptime L: type, comptime S: type, comptime P: type) type {
            return struct {
                pub fn reset(pool: *Pool) Error!void {
                    L.acquire(pool);
                    defer L.release(pool);
                    try P.reset(pool);
                    S.reset(pool);
                }

                pub fn writeStats(pool: *Pool, out: *[stats_mod.field_count]f64) void {
                    L.acquire(pool);
                    defer L.release(pool);
                    S.write(pool, P, out);
                }

                pub fn resetPeaks(pool: *Pool) void {
                    L.acquire(pool);
                    defer L.release(pool);
                    S.resetPeaks(pool, P);
                }

                pub fn listLive(pool: *Pool, out: []u32) u32 {
                    L.acquire(pool);
                    defer L.release(pool);
                    return P.listLive(pool, out);
                }

                pub fn writeSnapshot(pool: *Pool, out: snapshot.Output) Error!bool {
                    L.acquire(pool);
                    defer L.release(pool);
                    return P.writeSnapshot(pool, out);
                }
            };
        }

        /// The pool's own placement (strategy/placement.zig: fixed-size or TLSF), under its lock;
        /// `journaled` (PMEM): the journal is told of each placement and release, at this seam.
        pub fn Locked(comptime journaled: bool, comptime binned: bool) type {
            return struct {
                pub inline fn alloc(pool: *Pool, size: u64, stream: Pool.Stream) Error!Pool.Placed {
                    return placeBlock(pool, size, size, stream);
                }

                /// A block of `block_bytes` (at least `size`) for an allocation of `size` bytes.
                pub inline fn placeBlock(pool: *Pool, block_bytes: u64, size: u64, stream: Pool.Stream) Error!Pool.Placed {
                    assert(journaled == (pool.journalOf() != null) and block_bytes >= size);
                    const id = pool.nextId();
                    if (pool.streamFreesPending()) pool.reclaimStreamFrees(stream);
                    const g = if (journaled) try pool.placeRecorded(pool.journalOf().?, block_bytes, size, id) else pool.place(block_bytes, size, id) orelse return pool.failPlace(size);
                    assert(g < status.offset_error_base and g % pool.alignmentGranules() == 0);
                    pool.notePlacedIn(g);
                    return .{ .g = g, .id = id };
                }

                pub inline fn blockBytes(pool: *const Pool, size: u64) u64 {
                    return pool.blockBytes(size);
                }

                pub inline fn free(pool: *Pool, g: u32, expected_id: u32) Error!Pool.Freed {
                    const region_index = pool.regionOf(g);
                    if (region_index == arena_mod.none) return pool.failOutside(g);
                    // The block's id matters only to a handle's free, or while stream frees are pending (a
                    // pending block must not be freed again); the plain pointer free skips the lookup.
                    if (expected_id != 0 or pool.streamFreesPending()) try pool.checkId(binned, region_index, g, expected_id);
                    return pool.releaseBlock(journaled, binned, region_index, g);
                }

                pub inline fn lookup(pool: *Pool, g: u32) ?Pool.Live {
                    return pool.liveLocked(g);
                }

                pub fn reset(pool: *Pool) Error!void {
                    return pool.resetPlaced();
                }

                pub fn space(pool: *Pool) stats_mod.Stats.Space {
                    return pool.spaceLocked();
                }

                pub fn correctFigures(pool: *Pool, out: *[stats_mod.field_count]f64) void {
                    pool.correctFiguresLocked(out);
                }

                pub fn correctPeaks(pool: *Pool) void {
                    pool.correctPeaksLocked();
                }

                pub fn listLive(pool: *Pool, out: []u32) u32 {
                    return pool.listLiveLocked(out);
                }

                pub fn writeSnapshot(pool: *Pool, out: snapshot.Output) Error!bool {
                    return pool.writeSnapshotPlaced(out);
                }

                pub fn addRegion(pool: *Pool, index: u32, region: arena_mod.Region) error{OutOfMemory}!void {
                    return pool.addRegionPlaced(index, region);
                }

                /// Its empty regions go back (pool.zig trim: but for a range that is one allocation).
                pub fn trims(pool: *const Pool) bool {
                    _ = pool;
                    return true;
                }

                pub fn removeRegion(pool: *Pool, index: u32, region: arena_mod.Region) Pool.Removal {
                    return pool.removeRegionPlaced(index, region);
                }
            };
        }

        /// Indexed by whether the pool has a mutex (threadSafety "mutex"), then by whether it times
        /// its calls (collectStats: counting.zig Exact(true)).
        fn table(comptime debugged: bool, comptime journaled: bool) [2][2]Entry {
            var entries: [2][2]Entry = undefined;
            inline for (.{ false, true }) |locked| {
                inline for (.{ false, true }) |timed| {
                    entries[@intFromBool(locked)][@intFromBool(timed)] = stack(locking.Lock(locked), debugged, counting.Exact(timed), Locked(journaled, false));
                }
            }
            return entries;
        }
        const plain_entries = table(false, false);
        const journaled_entries = table(false, true);
        const debug_entries = if (debug_layer_built) table(true, false) else undefined;
        /// A pool JavaScript's bins stand in front of (a "none" Variable pool, untimed: pool.zig
        /// openBins), indexed by whether it is journaled: its frees and lookups ask the bins.
        const binned_entries = [2]Entry{
            stack(locking.Lock(false), false, counting.Exact(false), Locked(false, true)),
            stack(locking.Lock(false), false, counting.Exact(false), Locked(true, true)),
        };
        // Lock-free and sharded placements synchronise themselves and count in striped counters.
        const shared_entry = stack(locking.SelfSynced, false, counting.Striped, SharedFixed.Interface(Pool));
        const sharded_entry = stack(locking.SelfSynced, false, counting.Striped, ShardedVariable.Interface(Pool));
        // A PMEM pool placed without its lock: the journal at its free (pmem/shared_journal.zig).
        const SharedJournaled = shared_journal.Interface(Pool, .fixed_size);
        const shared_journaled_entry = stack(locking.SelfSynced, false, counting.Striped, SharedJournaled);
        const ShardedJournaled = shared_journal.Interface(Pool, .variable);
        const sharded_journaled_entry = stack(locking.SelfSynced, false, counting.Striped, ShardedJournaled);

        /// The entry for `pool`'s layers, once its placement, debug layer and journal are made.
        pub fn choose(pool: *const Pool) *const Entry {
            if (pool.sharedFixed() != null) return if (pool.journalOf() != null) &shared_journaled_entry else &shared_entry;
            if (pool.shardedVariable() != null) return if (pool.journalOf() != null) &sharded_journaled_entry else &sharded_entry;
            assert(pool.threadSafety() != .lock_free);
            const locked = @intFromBool(pool.threadSafety() == .mutex);
            // Not where JavaScript's bins hand blocks out: most allocations never enter the core (pool.zig openBins).
            const timed = @intFromBool(pool.collectsStats() and pool.binsOpened() == null);
            if (pool.binsOpened() != null) {
                assert(locked == 0 and pool.debugLayer() == null);
                return &binned_entries[@intFromBool(pool.journalOf() != null)];
            }
            if (pool.journalOf() != null) {
                assert(pool.debugLayer() == null);
                return &journaled_entries[locked][timed];
            }
            if (debug_layer_built) if (pool.debugLayer() != null) return &debug_entries[locked][timed];
            return &plain_entries[locked][timed];
        }

        /// Allocate, for a layer that holds the pool's lock (the journal's roots): counted, not timed.
        pub fn allocHeld(pool: *Pool, size: u64) Error!Pool.Placed {
            assert(pool.journalOf() != null);
            if (pool.sharedFixed() != null) return SharedJournaled.allocHeld(pool, size);
            if (pool.shardedVariable() != null) return ShardedJournaled.allocHeld(pool, size);
            return Placing(locking.Held, counting.Exact(false), Locked(true, false)).alloc(pool, size, null); // placing only: whichever way frees go
        }

        /// A block of `capacity` bytes for an allocation of `size` (a miss of JavaScript's bins,
        /// pool.zig allocBinned, which holds the pool's lock): counted as any allocation, a failure
        /// too, at the block's bytes; not timed.
        pub fn allocBlock(pool: *Pool, size: u64, capacity: u64) Error!Pool.Placed {
            const S = counting.Exact(false);
            const started = S.startAlloc(pool);
            const placed = (if (pool.journalOf() != null)
                Locked(true, true).placeBlock(pool, capacity, size, null)
            else
                Locked(false, true).placeBlock(pool, capacity, size, null)) catch |err| {
                countFailure(S, pool, err);
                return err;
            };
            S.placedBlock(pool, started, size, pool.blockBytes(capacity));
            return placed;
        }

        /// Frees the block at `g` for a layer that holds the pool's lock (stream frees, the journal's
        /// freePrevious): counted, not timed.
        pub fn freeHeld(pool: *Pool, g: u32) Error!void {
            if (pool.journalOf() != null and pool.sharedFixed() != null) return SharedJournaled.freeLocked(pool, g, 0);
            if (pool.journalOf() != null and pool.shardedVariable() != null) return ShardedJournaled.freeLocked(pool, g, 0);
            // Journaled or not, binned or not (a flush of the bins frees through here: pool_bins.zig flushBins).
            switch (@as(u2, @intFromBool(pool.journalOf() != null)) << 1 | @intFromBool(pool.binsOpened() != null)) {
                inline else => |mode| _ = try Placing(locking.Held, counting.Exact(false), Locked(mode & 2 != 0, mode & 1 != 0)).free(pool, g, 0),
            }
        }
    };
}
