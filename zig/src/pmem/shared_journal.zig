//! A PMEM pool that many threads use without the pool's lock (threadSafety "lockFree", or
//! threadLocalCache), for both strategies: a FixedSize pool's shared fixed-size placement
//! (sync/shared_fixed.zig: the lock-free free stack, and with threadLocalCache the core's
//! per-thread magazines), a Variable pool's sharded TLSF (sync/sharded_variable.zig: the heap, the
//! pool's one region, is its home shard's, every thread's), with the journal (journal.zig) at its
//! place/release seam. This is layers.zig's placement interface for such a pool: the shared
//! placement's, with `free` and `reset` journaled (and for a Variable pool `alloc`: see below) and
//! the journal's own allocate and free.
//!
//! Why this keeps the journal's promises without a lock on the hot path. An allocation never
//! touches the file (table.zig: it is unpublished, a volatile reservation, until a root, a link or
//! commitUnpublished publishes it, each under the journal's lock, the pool's mutex), so allocating
//! is the placement's alone: a pop of the lock-free stack, or of the thread's magazine, or a
//! placement in the home shard under its lock, which also chooses the block's record slot (a
//! Variable pool's records lie in any free slot: the slot bookkeeping is the home shard's, kept
//! under its lock, never the journal's). A crash leaves what nothing published free, wherever the
//! block was. A free of a block that is unpublished, and whose bytes hold no link word, touches no
//! durable state either: a compare-and-swap of the block's state word and a push (a cache push
//! with threadLocalCache), or the shard's free with the slot given back. Only a free that must
//! reach the file or the journal's DRAM maps takes the journal's lock: a published block (its
//! record is zeroed, durably, once no other free of it can race and before another thread can
//! place and publish it there), and a block holding a link word (the journal clears those and
//! refuses the free of what a link names).
//!
//! A Variable block's record slot is chosen when it is placed and given back when it is freed, so
//! a free of an unpublished block racing its publication (the caller's race) must not let the
//! publication write a record into a slot, or for space, that is free: a publication claims the
//! block under the shard's lock first (journal.zig claim: table.zig `pinned`), and a claimed
//! block's free takes the journal's lock, which the publication holds. A FixedSize block's record
//! is its own slot i, so there the race leaves at most a record of a freed block (a leak), never
//! two records of the same space. Recovery reads the same table, exact, as for a locked pool, and
//! hands what it rebuilt to the shared placement (pool.zig shareRecovered).
//!
//! What serialises, plainly: publication (roots, links, commitUnpublished: one redo log in the
//! file), frees of published or link-holding blocks, persists and flushes whose bytes hold a link
//! word (the others scan their words as they write them back, with no lock: journal.zig
//! allocationRangeNotingLater), memcpyPersist and copy() into an allocation (the whole copy),
//! reset, and the journal's other calls (listing what no root reaches) take the pool's mutex; a
//! Variable pool's placements and frees meet on its home shard's lock (the heap is one region).
//! A free racing a publication of the same allocation is the caller's race (as a free racing any
//! use of it). JavaScript's thread cache (src/block_cache.ts) and bins are not opened for such a
//! pool: their frees write no core state, which would skip the journal for a published block, so
//! every allocate and free of a PMEM pool enters the core (ffi.zig mp_cache_open, pool.zig openBins).
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const SharedFixed = @import("../sync/shared_fixed.zig").SharedFixed;
const ShardedVariable = @import("../sync/sharded_variable.zig").ShardedVariable;
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const arena_mod = @import("../arena.zig");
const granule_bytes = arena_mod.granule_bytes;
const Journal = @import("journal.zig").Journal;

pub const Strategy = enum { fixed_size, variable };

pub fn Interface(comptime Pool: type, comptime strategy: Strategy) type {
    const Shared = switch (strategy) {
        .fixed_size => SharedFixed.Interface(Pool),
        .variable => ShardedVariable.Interface(Pool),
    };
    return struct {
        pub const blockBytes = Shared.blockBytes;
        pub const lookup = Shared.lookup;
        pub const figures = Shared.figures;
        pub const resetPeaks = Shared.resetPeaks;
        pub const listLive = Shared.listLive;
        pub const writeSnapshot = Shared.writeSnapshot;
        pub const addRegion = Shared.addRegion;
        pub const trims = Shared.trims;
        pub const removeRegion = Shared.removeRegion;

        /// A FixedSize block's record is its own slot: the placement alone. A Variable block's
        /// slot is chosen as it is placed, under the home shard's lock (PlaceNote).
        pub fn alloc(pool: *Pool, size: u64, stream: Pool.Stream) Error!Pool.Placed {
            if (strategy == .fixed_size) return Shared.alloc(pool, size, stream);
            const note: PlaceNote = .{ .journal = pool.journalOf().?, .pool_name = pool.poolName() };
            const got = try pool.shardedVariable().?.allocNoting(pool, size, @intCast(arena_mod.granulesFor(size)), pool.alignmentGranules(), note);
            return .{ .g = got.g, .id = got.id };
        }

        /// A free that needs nothing of the journal goes straight to the shared placement (no
        /// lock); the rest take the journal's lock (see the file's comment).
        pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!void {
            const journal = pool.journalOf().?;
            try journal.checkFile(pool);
            if (try freeQuietly(pool, journal, g, expected_id)) return;
            pool.lock();
            defer pool.unlock();
            return freeLocked(pool, g, expected_id);
        }

        /// Frees the block at `g` where its free needs no journal step; false (nothing done) where it does.
        fn freeQuietly(pool: *Pool, journal: *Journal, g: u32, expected_id: u32) Error!bool {
            switch (strategy) {
                .fixed_size => {
                    if (!journal.freesQuietly(pool, g)) return false;
                    try pool.sharedFixed().?.free(pool.poolName(), g, expected_id, granule_bytes);
                    return true;
                },
                // Asked under the shard's lock, with the free: no publication can claim the block between.
                .variable => return pool.shardedVariable().?.freeNoting(pool.poolName(), g, expected_id, pool.alignmentGranules(), QuietNote{ .journal = journal }),
            }
        }

        /// The journaled free, under the journal's lock: the checks of a locked pool's free (a
        /// stale handle's first, then a root or link naming the block), the record zeroed durably
        /// and the block's link words cleared once the block is marked freed and before anyone
        /// else can take it.
        pub fn freeLocked(pool: *Pool, g: u32, expected_id: u32) Error!void {
            const journal = pool.journalOf().?;
            const live = Shared.lookup(pool, g);
            // No live block there, or another allocation than the handle's: the placement says why.
            if (live == null or (expected_id != 0 and live.?.id != expected_id)) return Shared.free(pool, g, expected_id);
            try journal.beforeRelease(pool, g);
            switch (strategy) {
                .fixed_size => return pool.sharedFixed().?.freeNoting(pool.poolName(), g, expected_id, granule_bytes, FixedReleaseNote{ .journal = journal }),
                .variable => _ = try pool.shardedVariable().?.freeNoting(pool.poolName(), g, expected_id, pool.alignmentGranules(), VariableReleaseNote{ .journal = journal }),
            }
        }

        /// Every block free, every record and root gone (durably), under the journal's lock: for
        /// a FixedSize pool the placement first, which refuses while other threads hold caches of
        /// the pool (nothing is changed then); a Variable pool's table under every shard's lock,
        /// where its slots are kept.
        pub fn reset(pool: *Pool) Error!void {
            pool.lock();
            defer pool.unlock();
            switch (strategy) {
                .fixed_size => {
                    try Shared.reset(pool);
                    pool.journalOf().?.reset();
                },
                .variable => {
                    pool.shardedVariable().?.resetNoting(pool.regionList(), ResetNote{ .journal = pool.journalOf().? }) catch
                        return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
                    pool.noteResetForTool();
                },
            }
        }

        /// An allocation for the journal, which holds its lock (root(), growRoot()): counted by the placement.
        pub fn allocHeld(pool: *Pool, size: u64) Error!Pool.Placed {
            return alloc(pool, size, null);
        }
    };
}

/// A Variable pool's placement, told to its table under the home shard's lock: a record slot is
/// there for the block (or the allocation is refused: the table is full), and is the block's.
const PlaceNote = struct {
    journal: *Journal,
    pool_name: []const u8,

    pub fn reserve(note: PlaceNote, tlsf: *const Tlsf) Error!void {
        return note.journal.reserveIn(tlsf, note.pool_name);
    }

    pub fn placed(note: PlaceNote, tlsf: *const Tlsf, g: u32) void {
        note.journal.table.notePlacedIn(tlsf, g);
    }

    pub fn failNoRoom(note: PlaceNote, pool: anytype, size: u64) Error {
        return note.journal.failNoRoom(note.pool_name, size, pool.shardedVariable().?.freeBytes());
    }
};

/// A Variable pool's free with no journal step, under the block's shard's lock: only of a block
/// that is unpublished, that no publication has claimed, and whose bytes hold no link word; its
/// slot is given back with it (the file is not touched).
const QuietNote = struct {
    journal: *Journal,

    pub fn frees(note: QuietNote, g: u32, record: u32, requested_bytes: u64) bool {
        const table = &note.journal.table;
        if (table.pinnedOrPublished(table.slotOfRecord(record))) return false;
        return note.journal.holdsNoLinkWord(g, requested_bytes);
    }

    pub fn freed(note: QuietNote, g: u32, record: u32, _: u64) void {
        note.journal.released(g, record);
    }
};

/// A journaled free (the journal's lock held), once the placement has marked the block freed and
/// before another thread can take it: the record zeroed durably, the link words cleared.
fn release(journal: *Journal, g: u32, record: u32, requested_bytes: u64) void {
    journal.released(g, record);
    journal.dropLinkWords(g, requested_bytes);
}

/// `release` as sync/shared_fixed.zig freeNoting tells it: the record is the block's own slot.
const FixedReleaseNote = struct {
    journal: *Journal,

    pub inline fn freed(note: FixedReleaseNote, block: u32, requested_bytes: u32) void {
        release(note.journal, block, 0, requested_bytes);
    }
};

/// `release` as sync/sharded_variable.zig freeNoting tells it, under the shard's lock.
const VariableReleaseNote = struct {
    journal: *Journal,

    pub fn frees(_: VariableReleaseNote, _: u32, _: u32, _: u64) bool {
        return true; // beforeRelease has checked it, under the journal's lock
    }

    pub fn freed(note: VariableReleaseNote, g: u32, record: u32, requested_bytes: u64) void {
        release(note.journal, g, record, requested_bytes);
    }
};

/// A Variable pool's reset, under the journal's lock and every shard's: every root and record
/// goes, durably, with the slots' bookkeeping, before the shards are reset.
const ResetNote = struct {
    journal: *Journal,

    pub fn reset(note: ResetNote) void {
        note.journal.reset();
    }
};

test "a FixedSize PMEM pool placed without the lock: unpublished frees take no journal step, published ones zero their record, and reopening rebuilds the shared placement" {
    const stats_mod = @import("../stats.zig");
    _ = @import("libpmem.zig").api() catch return; // no libpmem here: nothing to open
    const path = "/dev/shm/memory-pool-zig-shared-journal-test.pool";
    for (test_modes) |mode| {
        const config = freshTestPool(.fixed_size, mode, path);
        defer std.fs.deleteFileAbsolute(path) catch {};
        var kept_g: u32 = 0;
        var committed_g: u32 = 0;
        {
            const pool = try openTestPool(config);
            defer pool.destroy();
            try std.testing.expect(pool.sharedFixed() != null);
            const journal = pool.journalOf().?;
            const kept = try pool.alloc(40, null);
            const committed = try pool.alloc(50, null);
            const draft = try pool.alloc(60, null);
            try std.testing.expect(journal.freesQuietly(pool, draft.g)); // unpublished, no link word
            _ = try pool.free(draft.g, draft.id);
            try std.testing.expectError(error.DoubleFree, pool.free(draft.g, draft.id));
            try journal.setRoot(pool, "kept", kept.g, kept.id, false);
            try journal.commitUnpublished(pool, committed.g, committed.id);
            try std.testing.expect(!journal.freesQuietly(pool, kept.g)); // published: the journal's lock
            try std.testing.expectError(error.PmemRoot, pool.free(kept.g, kept.id)); // a root publishes it
            const slot = journal.table.fixedSlot(committed.g).?;
            try std.testing.expect(journal.table.isPublished(slot));
            _ = try pool.free(committed.g, committed.id);
            try std.testing.expect(!journal.table.isPublished(slot)); // zeroed, durably, by the free
            const again = try pool.alloc(30, null);
            try journal.commitUnpublished(pool, again.g, again.id);
            kept_g = kept.g;
            committed_g = again.g;
            _ = try pool.alloc(20, null); // never published: free after the reopen
        }
        {
            const pool = try openTestPool(config);
            defer pool.destroy();
            try std.testing.expect(pool.sharedFixed() != null);
            try std.testing.expectEqual(kept_g, try pool.journalOf().?.getRoot(pool, "kept"));
            try std.testing.expectEqual(@as(u64, 40), pool.lookup(kept_g).?.requested_bytes);
            try std.testing.expectEqual(@as(u64, 30), pool.lookup(committed_g).?.requested_bytes);
            var out: [stats_mod.field_count]f64 = undefined;
            pool.writeStats(&out);
            try std.testing.expectEqual(@as(f64, 2), out[@intFromEnum(stats_mod.Field.live_allocations)]);
            try std.testing.expectEqual(@as(f64, 70), out[@intFromEnum(stats_mod.Field.bytes_in_use)]);
            // The free blocks are on the shared stack: every one of them can be allocated, and no live one is handed out.
            var taken: usize = 0;
            while (pool.alloc(64, null)) |placed| : (taken += 1) {
                try std.testing.expect(placed.g != kept_g and placed.g != committed_g);
            } else |err| try std.testing.expectEqual(error.OutOfMemory, err);
            try std.testing.expectEqual(pool.journalOf().?.table.words.len - 2, taken);
            try pool.reset();
            try std.testing.expectEqual(@as(u32, 0), try pool.journalOf().?.getRoot(pool, "kept"));
            try std.testing.expect(!pool.journalOf().?.table.isPublished(pool.journalOf().?.table.fixedSlot(committed_g).?));
        }
    }
}

/// The settings that place a PMEM pool without its lock, for the tests here (after the first test: the imports of open.zig and pool.zig are the tests' alone): "lockFree",
/// threadLocalCache (with "mutex"), both.
const test_modes = [_]struct { @import("../config.zig").ThreadSafety, bool }{ .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true } };

/// A 1 MiB pool file at `path` (none there yet) of `strategy` (FixedSize: 64-byte blocks) with `mode`'s settings.
fn freshTestPool(comptime strategy: Strategy, mode: @TypeOf(test_modes[0]), path: []const u8) @import("open.zig").Config {
    var base = @import("../config.zig").testConfig(switch (strategy) {
        .fixed_size => .fixed_size,
        .variable => .variable,
    });
    if (strategy == .fixed_size) base.block_size = 64;
    base.initial_size = 1024 * 1024;
    base.thread_safety = mode[0];
    base.thread_local_cache = mode[1];
    std.fs.deleteFileAbsolute(path) catch {};
    return .{ .base = base, .path = path };
}

/// Opens the test pool `config` names, published as the registry does (the magazines key on the handle).
fn openTestPool(config: @import("open.zig").Config) !*@import("../pool.zig").Pool {
    const pool = try @import("open.zig").open(std.testing.allocator, "shared-journal-test", config);
    pool.published(1);
    return pool;
}

test "a Variable PMEM pool placed without the lock: slots are chosen as blocks are placed, unpublished frees give them back without touching the file, published ones zero their record, and reopening rebuilds the home shard" {
    const stats_mod = @import("../stats.zig");
    _ = @import("libpmem.zig").api() catch return; // no libpmem here: nothing to open
    const path = "/dev/shm/memory-pool-zig-sharded-journal-test.pool";
    for (test_modes) |mode| {
        const config = freshTestPool(.variable, mode, path);
        defer std.fs.deleteFileAbsolute(path) catch {};
        var kept_g: u32 = 0;
        var committed_g: u32 = 0;
        {
            const pool = try openTestPool(config);
            defer pool.destroy();
            try std.testing.expect(pool.shardedVariable() != null and pool.placesWithoutLock());
            const journal = pool.journalOf().?;
            const table = &journal.table;
            const kept = try pool.alloc(40, null);
            const committed = try pool.alloc(500, null);
            const draft = try pool.alloc(6000, null);
            const draft_slot = journal.liveSlot(pool, draft.g).?;
            try std.testing.expect(!table.pinnedOrPublished(draft_slot)); // placed: a slot, nothing in the file
            _ = try pool.free(draft.g, draft.id);
            try std.testing.expectEqual(@as(?u32, draft_slot), table.free_slots.getLast()); // its slot is free again
            try std.testing.expectError(error.DoubleFree, pool.free(draft.g, draft.id));
            try journal.setRoot(pool, "kept", kept.g, kept.id, false);
            try journal.commitUnpublished(pool, committed.g, committed.id);
            try std.testing.expectError(error.PmemRoot, pool.free(kept.g, kept.id)); // a root publishes it
            const slot = journal.liveSlot(pool, committed.g).?;
            try std.testing.expect(table.isPublished(slot));
            _ = try pool.free(committed.g, committed.id);
            try std.testing.expect(!table.isPublished(slot) and !table.pinned.isSet(slot)); // zeroed, durably, by the free
            const again = try pool.alloc(30, null);
            try journal.commitUnpublished(pool, again.g, again.id);
            kept_g = kept.g;
            committed_g = again.g;
            _ = try pool.alloc(20, null); // never published: free after the reopen
            // A publication claims its block: from then on its free takes the journal's lock (the quiet note refuses it).
            const claimed = try pool.alloc(64, null);
            try journal.claim(pool, claimed.g, claimed.id, "test");
            try std.testing.expect(table.pinned.isSet(journal.liveSlot(pool, claimed.g).?));
            _ = try pool.free(claimed.g, claimed.id);
            try std.testing.expect(pool.lookup(claimed.g) == null);
            try std.testing.expectError(error.UseAfterFree, journal.claim(pool, claimed.g, claimed.id, "test")); // freed: nothing to claim
        }
        {
            const pool = try openTestPool(config);
            defer pool.destroy();
            try std.testing.expect(pool.shardedVariable() != null);
            const journal = pool.journalOf().?;
            try std.testing.expectEqual(kept_g, try journal.getRoot(pool, "kept"));
            try std.testing.expectEqual(@as(u64, 40), pool.lookup(kept_g).?.requested_bytes);
            try std.testing.expectEqual(@as(u64, 30), pool.lookup(committed_g).?.requested_bytes);
            var out: [stats_mod.field_count]f64 = undefined;
            pool.writeStats(&out);
            try std.testing.expectEqual(@as(f64, 2), out[@intFromEnum(stats_mod.Field.live_allocations)]);
            try std.testing.expectEqual(@as(f64, 70), out[@intFromEnum(stats_mod.Field.bytes_in_use)]);
            // The free space is the home shard's: the blocks placed never touch the two live ones.
            var taken: usize = 0;
            while (pool.alloc(4096, null)) |placed| : (taken += 1) {
                try std.testing.expect(placed.g + 4096 / granule_bytes <= kept_g or placed.g >= kept_g + 1);
                try std.testing.expect(placed.g + 4096 / granule_bytes <= committed_g or placed.g >= committed_g + 2);
            } else |err| try std.testing.expectEqual(error.OutOfMemory, err);
            try std.testing.expect(taken > 200);
            try pool.reset();
            try std.testing.expectEqual(@as(u32, 0), try journal.getRoot(pool, "kept"));
            for (journal.table.words) |word| try std.testing.expectEqual(@as(u64, 0), word);
            try std.testing.expectEqual(@as(usize, 0), journal.table.free_slots.items.len);
            const after = try pool.alloc(100, null);
            try std.testing.expectEqual(@as(u32, 0), journal.liveSlot(pool, after.g).?); // slots taken in order again
        }
    }
}

test "Variable PMEM pool, threads placing without the lock: each publishes and frees its own blocks; the records are exactly the published blocks, and a reopen finds them" {
    const open = @import("open.zig");
    _ = @import("libpmem.zig").api() catch return;
    const path = "/dev/shm/memory-pool-zig-sharded-journal-threads.pool";
    std.fs.deleteFileAbsolute(path) catch {};
    defer std.fs.deleteFileAbsolute(path) catch {};
    var config = freshTestPool(.variable, test_modes[0], path);
    config.base.initial_size = 4 * 1024 * 1024;
    const thread_count = 4;
    const rounds = 300;
    const keep = 5;
    const Pool = @import("../pool.zig").Pool;
    const Worker = struct {
        fn run(pool: *Pool, kept: *[keep]u32, seed: u32) void {
            const journal = pool.journalOf().?;
            var held: [keep]Pool.Placed = undefined;
            var count: usize = 0;
            for (0..rounds) |round| {
                const size = 16 + (seed * 31 + round * 7) % 700;
                const draft = pool.alloc(size, null) catch unreachable;
                const version = pool.alloc(size + 8, null) catch unreachable;
                _ = pool.free(draft.g, draft.id) catch unreachable; // unpublished: no journal step
                journal.commitUnpublished(pool, version.g, version.id) catch unreachable;
                if (count == keep) {
                    _ = pool.free(held[0].g, held[0].id) catch unreachable; // published: its record zeroed
                    std.mem.copyForwards(Pool.Placed, held[0 .. keep - 1], held[1..keep]);
                    count -= 1;
                }
                held[count] = version;
                count += 1;
            }
            for (held, kept) |placed, *g| g.* = placed.g;
        }
    };
    var kept: [thread_count][keep]u32 = undefined;
    {
        const pool = try open.open(std.testing.allocator, "sharded-journal-threads", config);
        defer pool.destroy();
        pool.published(1);
        var threads: [thread_count]std.Thread = undefined;
        for (&threads, 0..) |*thread, i| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ pool, &kept[i], @as(u32, @intCast(i)) });
        for (threads) |thread| thread.join();
        var records: usize = 0;
        for (pool.journalOf().?.table.words) |word| records += @intFromBool(word != 0);
        try std.testing.expectEqual(@as(usize, thread_count * keep), records);
        var out: [@import("../stats.zig").field_count]f64 = undefined;
        pool.writeStats(&out);
        try std.testing.expectEqual(@as(f64, thread_count * keep), out[@intFromEnum(@import("../stats.zig").Field.live_allocations)]);
        try std.testing.expectEqual(@as(f64, thread_count * (2 * rounds)), out[@intFromEnum(@import("../stats.zig").Field.allocation_count)]);
    }
    const pool = try open.open(std.testing.allocator, "sharded-journal-threads", config);
    defer pool.destroy();
    for (kept) |row| for (row) |g| try std.testing.expect(pool.lookup(g) != null);
    try std.testing.expectEqual(@as(u32, thread_count * keep), pool.listLive(&.{}));
}
