//! The statistics layer: counts each allocation and free into the pool's record (stats.zig) and
//! times one call in `timing_sample_period` where collectStats is on. Chosen once when the pool is
//! made (layers.zig): `Exact` for placements under the pool's lock, which count there; `Striped`
//! for placements that many threads use without that lock (sync/shared_fixed.zig,
//! sync/sharded_variable.zig), which count as they place, in striped counters, and give their
//! figures when asked. The placing layer (layers.zig `Placing`) calls this around the placement,
//! so a placement only places.
const std = @import("std");
const assert = std.debug.assert;
const stats_mod = @import("stats.zig");
const Stats = stats_mod.Stats;
const granule_bytes = @import("arena.zig").granule_bytes;

/// Counts kept exact under the pool's lock: bytes requested and set aside, live allocations, and
/// (collectStats) their peaks; `timed`: one call in a period timed (`Timing`).
pub fn Exact(comptime timed: bool) type {
    return struct {
        const T = Timing(timed);
        pub const Started = T.Started;

        pub inline fn startAlloc(pool: anytype) Started {
            return T.startAlloc(pool.statsRecord());
        }

        /// Placement `P` placed a block for `size` bytes (what it set aside: `P.blockBytes`).
        pub inline fn placed(pool: anytype, started: Started, size: u64, comptime P: type) void {
            placedBlock(pool, started, size, P.blockBytes(pool, size));
        }

        /// A block of `block_bytes` set aside was placed for `size` bytes.
        pub inline fn placedBlock(pool: anytype, started: Started, size: u64, block_bytes: u64) void {
            // Inlined, as the counting was when it sat in the placing code: a call of it cost 4
            // instructions a pair more (bench/core_instructions.c).
            @call(.always_inline, Stats.recordAlloc, .{ pool.statsRecord(), size, block_bytes });
            T.endAlloc(pool.statsRecord(), started);
        }

        /// An allocation failed (the placement said why).
        pub inline fn failed(pool: anytype) void {
            pool.statsRecord().failed_allocations += 1;
        }

        pub inline fn startFree(pool: anytype) Started {
            return T.startFree(pool.statsRecord());
        }

        /// The placement freed `freed` (its requested bytes and granules).
        pub inline fn freed(pool: anytype, started: Started, block: anytype) void {
            @call(.always_inline, Stats.recordFree, .{ pool.statsRecord(), block.requested_bytes, @as(u64, block.granules) * granule_bytes });
            T.endFree(pool.statsRecord(), started);
        }

        /// Every allocation was freed at once (the placement's reset).
        pub fn reset(pool: anytype) void {
            pool.statsRecord().recordReset();
        }

        /// The figures, with the free space placement `P` reports, as `P` corrects them.
        pub fn write(pool: anytype, comptime P: type, out: *[stats_mod.field_count]f64) void {
            pool.statsRecord().write(P.space(pool), out);
            P.correctFigures(pool, out);
        }

        pub fn resetPeaks(pool: anytype, comptime P: type) void {
            pool.resetRecordPeaks();
            P.correctPeaks(pool);
        }
    };
}

/// For placements that count as they place (in striped counters, no lock): nothing per call; the
/// figures are the placement's (`P.figures`, `P.resetPeaks`).
pub const Striped = struct {
    pub const Started = void;

    pub inline fn startAlloc(pool: anytype) Started {
        _ = pool;
    }

    /// Nothing to do (and nothing to compute: the placement's block bytes are not asked for).
    pub inline fn placed(pool: anytype, started: Started, size: u64, comptime P: type) void {
        _ = .{ pool, started, size, P };
    }

    pub inline fn failed(pool: anytype) void {
        _ = pool;
    }

    pub inline fn startFree(pool: anytype) Started {
        _ = pool;
    }

    pub inline fn freed(pool: anytype, started: Started, block: anytype) void {
        _ = .{ pool, started, block };
    }

    /// The placement's reset counted the frees; the reset itself is counted here.
    pub fn reset(pool: anytype) void {
        pool.statsRecord().reset_count += 1;
    }

    pub fn write(pool: anytype, comptime P: type, out: *[stats_mod.field_count]f64) void {
        var stats: Stats = undefined;
        const space = P.figures(pool, &stats);
        stats.write(space, out);
    }

    pub fn resetPeaks(pool: anytype, comptime P: type) void {
        P.resetPeaks(pool);
    }
};

/// The statistics' timing layer: a pool's allocate and free timed one call in
/// `timing_sample_period` where collectStats is on (`on`). Chosen once when the pool is made
/// (`Exact`): a pool without collectStats runs none of it, not even the test of whether to.
pub fn Timing(comptime on: bool) type {
    return struct {
        pub const Started = if (on) ?std.time.Instant else void;

        pub inline fn startAlloc(stats: *const Stats) Started {
            return if (on) start(stats, stats.allocation_count) else {};
        }

        pub inline fn startFree(stats: *const Stats) Started {
            return if (on) start(stats, stats.free_count) else {};
        }

        inline fn start(stats: *const Stats, count: u64) ?std.time.Instant {
            assert(stats.enabled);
            return if (stats.sampleNow(count)) std.time.Instant.now() catch null else null;
        }

        pub inline fn endAlloc(stats: *Stats, started: Started) void {
            if (on) if (started) |at| stats.recordAllocTime(since(at));
        }

        pub inline fn endFree(stats: *Stats, started: Started) void {
            if (on) if (started) |at| stats.recordFreeTime(since(at));
        }

        inline fn since(at: std.time.Instant) u64 {
            const now = std.time.Instant.now() catch at;
            return now.since(at);
        }
    };
}


test "exact counting counts what is placed and freed, a failure, and a reset" {
    const FakePool = struct { // what the statistics layer asks of a pool
        stats: Stats = .{ .enabled = true },
        fn statsRecord(self: *@This()) *Stats {
            return &self.stats;
        }
        fn resetRecordPeaks(self: *@This()) void {
            self.stats.resetPeaks(4096);
        }
    };
    var pool: FakePool = .{};
    const Counted = Exact(false);
    const Blocks = struct { // a placement that sets 112 bytes aside for 100, and 64 for 50, and corrects nothing
        fn blockBytes(_: *FakePool, size: u64) u64 {
            return if (size == 100) 112 else 64;
        }
        fn correctPeaks(_: *FakePool) void {}
    };
    Counted.placed(&pool, Counted.startAlloc(&pool), 100, Blocks);
    Counted.placed(&pool, Counted.startAlloc(&pool), 50, Blocks);
    Counted.failed(&pool);
    Counted.freed(&pool, Counted.startFree(&pool), .{ .requested_bytes = 100, .granules = 7 });
    try std.testing.expectEqual(@as(u64, 50), pool.stats.bytes_in_use);
    try std.testing.expectEqual(@as(u64, 64), pool.stats.bytes_allocated);
    try std.testing.expectEqual(@as(u64, 1), pool.stats.live_allocations);
    try std.testing.expectEqual(@as(u64, 2), pool.stats.peak_live_allocations);
    try std.testing.expectEqual(@as(u64, 1), pool.stats.failed_allocations);
    Counted.resetPeaks(&pool, Blocks);
    try std.testing.expectEqual(@as(u64, 1), pool.stats.peak_live_allocations);
    Counted.reset(&pool);
    try std.testing.expectEqual(@as(u64, 0), pool.stats.live_allocations);
    try std.testing.expectEqual(@as(u64, 1), pool.stats.reset_count);
}

test "the timing layer samples one call in a period where it is on, and is nothing where it is off" {
    var stats: Stats = .{ .enabled = true };
    const Timed = Timing(true);
    stats.allocation_count = stats_mod.timing_sample_period - 1;
    const started = Timed.startAlloc(&stats);
    try std.testing.expect(started != null);
    Timed.endAlloc(&stats, started);
    try std.testing.expectEqual(@as(u64, 1), stats.alloc_samples);
    stats.free_count = 0; // not a sampled call
    const skipped = Timed.startFree(&stats);
    try std.testing.expect(skipped == null);
    Timed.endFree(&stats, skipped);
    try std.testing.expectEqual(@as(u64, 0), stats.free_samples);
    try std.testing.expectEqual(@as(usize, 0), @sizeOf(Timing(false).Started));
}
