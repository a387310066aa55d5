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
//! file), frees of published or link-holding blocks, reset, and the journal's other calls (durable
//! copies that find a link word, listing what no root reaches) take the pool's mutex. A free racing
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
            const journal = pool.journal.?;
            try journal.checkFile(pool);
            if (journal.freesQuietly(pool, g)) return pool.shared.?.free(pool.name, g, expected_id, granule_bytes);
            pool.lock();
            defer pool.unlock();
            return freeLocked(pool, g, expected_id);
        }

        /// The journaled free, under the journal's lock: the checks of a locked pool's free (a
        /// stale handle's first, then a root or link naming the block), the record zeroed durably
        /// and the block's link words cleared once the block is marked freed and before anyone
        /// else can take it.
        pub fn freeLocked(pool: *Pool, g: u32, expected_id: u32) Error!void {
            const journal = pool.journal.?;
            const live = Shared.lookup(pool, g);
            // No live block there, or another allocation than the handle's: the placement says why.
            if (live == null or (expected_id != 0 and live.?.id != expected_id)) return pool.shared.?.free(pool.name, g, expected_id, granule_bytes);
            try journal.beforeRelease(pool, g);
            const Note = struct {
                journal: @TypeOf(journal),
                pub inline fn freed(note: @This(), block: u32, requested_bytes: u32) void {
                    note.journal.released(block, 0); // fixed-size: the record is block's own slot
                    note.journal.dropLinkWords(block, requested_bytes);
                }
            };
            return pool.shared.?.freeNoting(pool.name, g, expected_id, granule_bytes, Note{ .journal = journal });
        }

        /// Every block free, every record and root gone (durably), under the journal's lock: the
        /// placement first, which refuses while other threads hold caches of the pool (nothing is
        /// changed then).
        pub fn reset(pool: *Pool) Error!void {
            pool.lock();
            defer pool.unlock();
            try Shared.reset(pool);
            pool.journal.?.reset();
        }

        /// An allocation for the journal, which holds its lock (root(), growRoot()): counted by the placement.
        pub fn allocHeld(pool: *Pool, size: u64) Error!Pool.Placed {
            return Shared.alloc(pool, size, null);
        }
    };
}
