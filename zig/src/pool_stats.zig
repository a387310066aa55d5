//! A pool's figures as the statistics layer (counting.zig) asks for them: its space (bytes
//! committed, address space, regions, free bytes and the largest free piece) from what a placement
//! says is free (`spaceWith`); and for a pool whose own placement (strategy/placement.zig) places
//! under its lock (layers.zig `Locked`), that space, the record written with it, and the figures
//! and peaks as the allocations made hold them where JavaScript's bins hand blocks out
//! (sync/js_bins.zig `correct`, `resetPeaks`). The record itself is stats.zig's. Asks the pool
//! (pool.zig) through its methods only.
const std = @import("std");
const assert = std.debug.assert;
const stats_mod = @import("stats.zig");
const Space = stats_mod.Stats.Space;
const granule_bytes = @import("arena.zig").granule_bytes;
const debug_layer_built = @import("build_options").debug_layer;

pub fn PoolStats(comptime Pool: type) type {
    return struct {
        /// The pool's space where its placement says `free_bytes` are free, `largest_free` of them in one piece.
        pub fn spaceWith(pool: *const Pool, free_bytes: u64, largest_free: u64) Space {
            assert(largest_free <= free_bytes);
            return .{ .reserved = pool.committedBytes(), .address_space = pool.addressSpaceBytes(), .regions = regionCount(pool), .free = free_bytes, .largest_free = largest_free, .request_max = pool.sizeMax() };
        }

        /// The pool's committed regions.
        pub fn regionCount(pool: *const Pool) u64 {
            var regions: u64 = 0;
            for (pool.regionList()) |region| regions += @intFromBool(region.committed);
            assert(regions > 0); // the first region stays while the pool does
            return regions;
        }

        /// The record's peaks start again from the figures now (bytes reserved: what is committed).
        pub fn resetRecordPeaks(pool: *Pool) void {
            pool.statsRecord().resetPeaks(pool.committedBytes());
        }

        /// The pool's space as its own placement holds it, under its lock.
        pub fn spaceLocked(pool: *Pool) Space {
            const regions = regionCount(pool);
            const free_granules, const largest_granules = pool.placementLocked().freeSpace(pool.alignmentGranules());
            var space = spaceWith(pool, free_granules * granule_bytes, largest_granules * granule_bytes);
            assert(space.regions == regions);
            space.request_overhead = pool.requestOverheadBytes();
            space.debug = if (debug_layer_built) (if (pool.debugLayer()) |layer| layer.space(pool.beneath()) else .{}) else .{};
            return space;
        }

        /// The figures of the pool's own placement, under its lock.
        pub fn writeStatsLocked(pool: *Pool, out: *[stats_mod.field_count]f64) void {
            pool.statsRecord().write(spaceLocked(pool), out);
            correctFiguresLocked(pool, out);
        }

        /// The figures just written from the pool's record (`out`) become those of the allocations
        /// made, where JavaScript's bins hand blocks out (sync/js_bins.zig `correct`).
        pub fn correctFiguresLocked(pool: *Pool, out: *[stats_mod.field_count]f64) void {
            if (pool.binsOpened()) |bins| bins.correct(pool.statsRecord(), out);
        }

        /// The record's peaks, just reset, start from what the allocations hold, where JavaScript's
        /// bins hand blocks out (the record counts binned blocks as in use).
        pub fn correctPeaksLocked(pool: *Pool) void {
            if (pool.binsOpened()) |bins| bins.resetPeaks(pool.statsRecord());
        }
    };
}
