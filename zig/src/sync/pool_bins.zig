//! A pool's side of its JavaScript bins (the table is sync/js_bins.zig's): which pool may have
//! them and opening them (`openBins`), a miss that places a block the bins may keep (`allocBinned`),
//! a flush that gives every binned block back (`flushBins`), and a block that leaves the bins'
//! management while live (`leaveBinsLocked`: a PMEM root or link publishes it, a GPU stream frees
//! it). The pool's own readers (release, lookup, listing, snapshots, figures) ask the bins where
//! they stand in front of its placement (pool.zig). Asks the pool through its methods only.
const std = @import("std");
const assert = std.debug.assert;
const js_bins = @import("js_bins.zig");
const Bins = js_bins.Bins;
const Config = @import("../config.zig").Config;
const status = @import("../status.zig");
const Error = status.Error;

pub fn PoolBins(comptime Pool: type) type {
    return struct {
        /// The pool's JavaScript bins, made on the first call: null where the pool may not have
        /// them (only its thread touches a "none" pool, so JavaScript and the core never work on
        /// the table at once; the debug layer and the sharded placement keep their own state).
        pub fn openBins(pool: *Pool) ?*Bins {
            if (pool.binsOpened()) |bins| return bins;
            const config = pool.settings();
            if (config.strategy != .variable or config.thread_safety != .none) return null;
            if (pool.debugLayer() != null or config.debug.coreActive() or pool.placesWithoutLock()) return null;
            // A block freed into the bins stays registered as live with the tool, which would then miss a kernel's use after free.
            if (pool.gpuSide().watchedByTool()) return null;
            const bins = Bins.create(pool.lastIdAddress(), pool.statsRecord()) orelse return null;
            bins.setCap(pool.committedBytes());
            pool.adoptBins(bins);
            assert(pool.binsOpened() == bins);
            return bins;
        }

        /// A miss of the JavaScript bins: a block of `capacity` bytes for an allocation of `size`,
        /// registered in the bins' table (where a slot is free) so that JavaScript may bin it when it
        /// is freed. Counted (a failure too) and journaled as any allocation, through the pool's
        /// statistics layer and placement (layers.zig `allocBlock`).
        pub fn allocBinned(pool: *Pool, size: u64, capacity: u64) Error!Pool.Placed {
            const bins = pool.binsOpened().?;
            const range = pool.gpuSide().range("memory-pool: allocate");
            defer range.end();
            try pool.checkSize(size);
            if (capacity < size or capacity > pool.sizeMax()) return status.fail(error.InvalidSize, "a bin's block of {d} bytes cannot hold {d} bytes (pool '{s}')", .{ capacity, size, pool.poolName() });
            pool.lock();
            defer pool.unlock();
            const placed = try @import("../layers.zig").Layers(Pool).allocBlock(pool, size, capacity);
            if (size <= std.math.maxInt(u32)) _ = bins.register(placed.g, @intCast(Config.granulesFor(capacity)), @intCast(size), placed.id);
            bins.foldPeaks(pool.statsRecord()); // the allocation raised the bins' part (the watermark lags)
            bins.setCap(pool.committedBytes());
            pool.gpuSide().allocated(pool.address(placed.g), size, placed.id);
            return placed;
        }

        /// Gives every block the JavaScript bins hold back to the placement; returns how many.
        pub fn flushBins(pool: *Pool) Error!u32 {
            const bins = pool.binsOpened() orelse return 0;
            pool.lock();
            defer pool.unlock();
            var flushed: u32 = 0;
            var from: u32 = 0;
            while (bins.nextBinned(from)) |slot| : (flushed += 1) {
                from = slot + 1;
                try pool.freeLockedAt(bins.takeBinned(slot));
            }
            assert(bins.nextBinned(0) == null);
            return flushed;
        }

        /// The live block at `g` leaves the JavaScript bins' management, where they manage it: its
        /// current id and size go into the placement's record and the statistics, and its free goes to
        /// the core from now on (a PMEM root or link publishes it, a GPU stream frees it).
        pub fn leaveBinsLocked(pool: *Pool, g: u32) void {
            const bins = pool.binsOpened() orelse return;
            const slot = switch (bins.find(g)) {
                .live => |slot| slot,
                .none, .binned => return,
            };
            const stats = pool.statsRecord();
            bins.foldPeaks(stats); // its bytes move from the bins' part to the rest
            const left = bins.leave(slot);
            const placement = pool.placementHeld();
            placement.variable.setId(g, left.id);
            placement.variable.setRequested(g, left.requested);
            const in_use = @as(i64, @intCast(stats.bytes_in_use)) + left.bytes_in_use_change;
            assert(in_use >= 0);
            stats.bytes_in_use = @intCast(in_use);
            bins.foldPeaks(stats);
            assert(bins.find(g) == .none);
        }

        /// Whether the pool has JavaScript bins: a block of it may be freed and handed out again with
        /// no call into the core.
        pub fn hasBins(pool: *const Pool) bool {
            return pool.binsOpened() != null;
        }

        /// The block the JavaScript bins manage whose bytes hold granule `g` (its start, and whether
        /// they hold it freed), or null: for a range known by its bytes, not by its block (a view's).
        pub fn binsHolderLocked(pool: *const Pool, g: u32) ?js_bins.Holder {
            const bins = pool.binsOpened() orelse return null;
            return bins.holding(g);
        }
    };
}

test "no JavaScript bins for a pool an NVTX tool watches: its frees must reach the tool" {
    const pool = try pool_mod.Pool.create(std.testing.allocator, "watched", testConfig(.variable));
    defer pool.destroy();
    pool.gpuSide().annotations.active = true; // as when compute-sanitizer answered the pool's first heap
    try std.testing.expect(pool.openBins() == null);
    pool.gpuSide().annotations.active = false;
    try std.testing.expect(pool.openBins() != null);
}

test "JavaScript's bins through the pool's layers: a miss counted at its block's bytes, a failed one counted; a binned block is free to every reader, and a flush gives it back" {
    var config = testConfig(.variable);
    config.growth = 0;
    const pool = try pool_mod.Pool.create(std.testing.allocator, "bins", config);
    defer pool.destroy();
    const bins = pool.openBins().?;
    const F = stats_mod.Field;
    var out: [stats_mod.field_count]f64 = undefined;
    const placed = try pool.allocBinned(100, 1024);
    try std.testing.expectEqual(@as(u64, 100), pool.lookup(placed.g).?.requested_bytes);
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 100), out[@intFromEnum(F.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 1024), out[@intFromEnum(F.bytes_allocated)]);
    // No room for the block's capacity now (growth off: the first region, 64 KiB, is all the pool
    // holds, and a block is live in it): the statistics layer counts it. A capacity past what the
    // first region holds is invalid, not counted.
    try std.testing.expectEqual(@as(u64, 64 * 1024), pool.sizeMax());
    try std.testing.expectError(error.OutOfMemory, pool.allocBinned(100, 64 * 1024));
    try std.testing.expectError(error.InvalidSize, pool.allocBinned(100, pool.sizeMax() + granule_bytes));
    try std.testing.expectError(error.InvalidSize, pool.allocBinned(100, 50)); // a block smaller than its request
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(F.failed_allocations)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(F.allocation_count)]);
    // JavaScript frees it into its bins, as src/size_bins.ts does.
    const header = &bins.shared.header;
    bins.shared.slots[bins.find(placed.g).live].state |= js_bins.binned_flag;
    header.cached_blocks += 1;
    header.cached_bytes += 1024;
    header.live_requested_bytes -= 100;
    header.frees += 1;
    header.freed_bytes += 100;
    try std.testing.expect(pool.lookup(placed.g) == null);
    try std.testing.expectError(error.DoubleFree, pool.free(placed.g, 0));
    try std.testing.expectEqual(@as(u32, 0), pool.listLive(&.{}));
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(F.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(F.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 1024), out[@intFromEnum(F.cached_bytes)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(F.free_count)]);
    pool.resetPeaks();
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(F.peak_live_allocations)]);
    try std.testing.expectEqual(@as(u32, 1), try pool.flushBins());
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(F.bytes_allocated)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(F.cached_bytes)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(F.free_count)]);
    const again = try pool.alloc(100, null); // the flushed block is the placement's again
    try std.testing.expectEqual(placed.g, again.g);
}

const pool_mod = @import("../pool.zig"); // the tests make real pools
const config_mod = @import("../config.zig");
const stats_mod = @import("../stats.zig");
const testConfig = config_mod.testConfig;
const granule_bytes = @import("../arena.zig").granule_bytes;
