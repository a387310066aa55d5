//! Tests of what a pool gives back and how far it may grow: regions released at maxSize only where
//! that makes the request fit.
const std = @import("std");
const Pool = @import("pool.zig").Pool;
const config_mod = @import("config.zig");

test "a pool at maxSize gives no region back where what it would free cannot hold the request's region" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        const pool = try Pool.create(std.testing.allocator, "release only to fit", config_mod.testConfig(strategy));
        defer pool.destroy();
        var placed: [4]Pool.Placed = undefined;
        for (&placed) |*block| block.* = try pool.alloc(60 * 1024, null); // one a region: 4 x 64 KiB, maxSize
        _ = try pool.free(placed[1].g, placed[1].id);
        _ = try pool.free(placed[3].g, placed[3].id);
        // Regions 1 and 3 are empty, but region 2 lies between them: 128 KiB in two pieces, and
        // the request needs a region of 192 KiB in one.
        try std.testing.expectError(error.OutOfMemory, pool.alloc(150 * 1024, null));
        try std.testing.expectEqual(@as(u64, 0), pool.stats.bytes_trimmed);
        try std.testing.expectEqual(@as(u64, 256 * 1024), pool.arena.committed_bytes);
        // Region 2 emptied, the three lie side by side: they go back, and the request fits.
        _ = try pool.free(placed[2].g, placed[2].id);
        const large = try pool.alloc(150 * 1024, null);
        try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.stats.bytes_trimmed);
        _ = try pool.free(large.g, large.id);
        _ = try pool.free(placed[0].g, placed[0].id);
    }
}
