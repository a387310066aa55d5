//! A PMEM FixedSize pool that many threads use without the pool's lock (threadSafety "lockFree",
//! or threadLocalCache): the shared fixed-size placement (sync/shared_fixed.zig: the lock-free
//! free stack, and with threadLocalCache the core's per-thread magazines) with the journal
//! (journal.zig) at its free. This is layers.zig's placement interface for such a pool: the shared
//! placement's, with `free` and `reset` journaled and the journal's own allocate and free.
//!
//! Why this keeps the journal's promises without a lock on the hot path. An allocation never
//! touches the file (table.zig: it is unpublished, a volatile reservation, until a root, a link or
//! commitUnpublished publishes it, each under the journal's lock, the pool's mutex), so allocating
//! is the shared placement's alone: a pop of the lock-free stack, or of the thread's magazine. A
//! crash leaves what nothing published free, wherever the block was (live, in a magazine, on the
//! stack). A free of a block that is unpublished, and whose bytes hold no link word, touches no
//! durable state either: it is a compare-and-swap of the block's state word and a push (a cache
//! push with threadLocalCache). Only a free that must reach the file or the journal's DRAM maps
//! takes the journal's lock: a published block (its record is zeroed, durably, after its state
//! word says freed, so no other free of it races, and before it goes back on the stack or into a
//! magazine, so no other thread can place and publish it before the zero is durable), and a block
//! holding a link word (the journal clears those and refuses the free of what a link names).
//! Fixed-size records are per block (block i's record is table slot i), so no slot is chosen and
//! no record is shared between threads: recovery reads the same table, exact, as for a locked pool.
//!
//! What serialises, plainly: publication (roots, links, commitUnpublished: one redo log in the
//! file), frees of published or link-holding blocks, persists and flushes whose bytes hold a link
//! word (the others scan their words as they write them back, with no lock: journal.zig
//! allocationRangeNotingLater), memcpyPersist and copy() into an allocation (the whole copy),
//! reset, and the journal's other calls (listing what no root reaches) take the pool's mutex. A free racing
//! a publication of the same allocation is the caller's race (as a free racing any use of it).
//! JavaScript's thread cache (src/block_cache.ts) is not opened for such a pool: its frees write the
//! state word with no core call, which would skip the journal for a published block, so every
//! allocate and free of a PMEM pool enters the core (ffi.zig mp_cache_open).
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const SharedFixed = @import("../sync/shared_fixed.zig").SharedFixed;
const granule_bytes = @import("../arena.zig").granule_bytes;

pub fn Interface(comptime Pool: type) type {
    const Shared = SharedFixed.Interface(Pool);
    return struct {
        pub const alloc = Shared.alloc;
        pub const blockBytes = Shared.blockBytes;
        pub const lookup = Shared.lookup;
        pub const figures = Shared.figures;
        pub const resetPeaks = Shared.resetPeaks;
        pub const listLive = Shared.listLive;
        pub const writeSnapshot = Shared.writeSnapshot;
        pub const addRegion = Shared.addRegion;
        pub const trims = Shared.trims;
        pub const removeRegion = Shared.removeRegion;

        /// A free that needs nothing of the journal goes straight to the shared placement (no
        /// lock); the rest take the journal's lock (see the file's comment).
        pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!void {
            const journal = pool.journalOf().?;
            try journal.checkFile(pool);
            if (journal.freesQuietly(pool, g)) return pool.sharedFixed().?.free(pool.poolName(), g, expected_id, granule_bytes);
            pool.lock();
            defer pool.unlock();
            return freeLocked(pool, g, expected_id);
        }

        /// The journaled free, under the journal's lock: the checks of a locked pool's free (a
        /// stale handle's first, then a root or link naming the block), the record zeroed durably
        /// and the block's link words cleared once the block is marked freed and before anyone
        /// else can take it.
        pub fn freeLocked(pool: *Pool, g: u32, expected_id: u32) Error!void {
            const journal = pool.journalOf().?;
            const live = Shared.lookup(pool, g);
            // No live block there, or another allocation than the handle's: the placement says why.
            if (live == null or (expected_id != 0 and live.?.id != expected_id)) return pool.sharedFixed().?.free(pool.poolName(), g, expected_id, granule_bytes);
            try journal.beforeRelease(pool, g);
            const Note = struct {
                journal: @TypeOf(journal),
                pub inline fn freed(note: @This(), block: u32, requested_bytes: u32) void {
                    note.journal.released(block, 0); // fixed-size: the record is block's own slot
                    note.journal.dropLinkWords(block, requested_bytes);
                }
            };
            return pool.sharedFixed().?.freeNoting(pool.poolName(), g, expected_id, granule_bytes, Note{ .journal = journal });
        }

        /// Every block free, every record and root gone (durably), under the journal's lock: the
        /// placement first, which refuses while other threads hold caches of the pool (nothing is
        /// changed then).
        pub fn reset(pool: *Pool) Error!void {
            pool.lock();
            defer pool.unlock();
            try Shared.reset(pool);
            pool.journalOf().?.reset();
        }

        /// An allocation for the journal, which holds its lock (root(), growRoot()): counted by the placement.
        pub fn allocHeld(pool: *Pool, size: u64) Error!Pool.Placed {
            return Shared.alloc(pool, size, null);
        }
    };
}

test "a FixedSize PMEM pool placed without the lock: unpublished frees take no journal step, published ones zero their record, and reopening rebuilds the shared placement" {
    const open = @import("open.zig");
    const config_mod = @import("../config.zig");
    const stats_mod = @import("../stats.zig");
    _ = @import("libpmem.zig").api() catch return; // no libpmem here: nothing to open
    const path = "/dev/shm/memory-pool-zig-shared-journal-test.pool";
    for ([_]struct { config_mod.ThreadSafety, bool }{ .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true } }) |mode| {
        std.fs.deleteFileAbsolute(path) catch {};
        defer std.fs.deleteFileAbsolute(path) catch {};
        var base = config_mod.testConfig(.fixed_size);
        base.block_size = 64;
        base.initial_size = 1024 * 1024;
        base.thread_safety = mode[0];
        base.thread_local_cache = mode[1];
        const config: open.Config = .{ .base = base, .path = path };
        var kept_g: u32 = 0;
        var committed_g: u32 = 0;
        {
            const pool = try open.open(std.testing.allocator, "shared-journal-test", config);
            defer pool.destroy();
            pool.published(1); // as the registry does: the magazines key on the handle
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
            const pool = try open.open(std.testing.allocator, "shared-journal-test", config);
            defer pool.destroy();
            pool.published(1);
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
