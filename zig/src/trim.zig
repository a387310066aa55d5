//! Trim: a pool gives its empty regions but the first back to the OS (`trim`), and where it
//! cannot grow at its maxSize, gives them back to grow in the room they leave (pool.zig
//! growForReleasing, through `releaseEmptyRegions`). Which regions a placement lets go is its
//! own say (layers.zig `trims`, `removeRegion`); the lock trim takes is the one the placement's
//! growth takes: a lock-free or sharded placement's growth lock, else the pool's own. Asks the
//! pool (pool.zig) through its methods only.
const std = @import("std");
const assert = std.debug.assert;
const granule_bytes = @import("arena.zig").granule_bytes;

pub fn Trim(comptime Pool: type) type {
    return struct {
        /// Gives every empty region but the first back to the OS; returns the bytes released. Every
        /// call counts in trim_count, a pool that gives nothing back too (README: trimCount).
        pub fn trim(pool: *Pool) u64 {
            const range = pool.gpuSide().range("memory-pool: trim");
            defer range.end();
            if (!trims(pool)) {
                countUntrimmed(pool);
                return 0;
            }
            if (pool.sharedFixed()) |shared| { // its blocks are placed without the pool's lock
                shared.trimming();
                defer shared.growth_mutex.unlock();
                pool.statsRecord().trim_count += 1;
                return releaseEmptyRegions(pool);
            }
            if (pool.shardedVariable()) |sharded| {
                sharded.growth_mutex.lock();
                defer sharded.growth_mutex.unlock();
                pool.statsRecord().trim_count += 1;
                return releaseEmptyRegions(pool);
            }
            pool.lock();
            defer pool.unlock();
            pool.gpuSide().reclaim(pool, null, true);
            pool.statsRecord().trim_count += 1;
            return releaseEmptyRegions(pool);
        }

        /// A trim of a pool that gives nothing back, counted under the lock its record is kept under:
        /// a lock-free placement's growth lock (its figures are read under it), else the pool's own.
        fn countUntrimmed(pool: *Pool) void {
            assert(!trims(pool));
            if (pool.sharedFixed()) |shared| return countTrimUnder(pool, &shared.growth_mutex);
            if (pool.shardedVariable()) |sharded| return countTrimUnder(pool, &sharded.growth_mutex);
            pool.lock();
            defer pool.unlock();
            pool.statsRecord().trim_count += 1;
        }

        fn countTrimUnder(pool: *Pool, mutex: anytype) void {
            assert(pool.placesWithoutLock());
            mutex.lock();
            defer mutex.unlock();
            pool.statsRecord().trim_count += 1;
        }

        /// Whether the pool may give regions back.
        pub fn trims(pool: *const Pool) bool {
            if (!pool.layerEntry().trims(pool)) return false; // a placement that never gives regions back
            return !pool.isWholeAllocation(); // one allocation: nothing goes back before the pool does
        }

        /// trim()'s work, under the pool's lock (a shared placement's growth lock): every empty
        /// region but the first goes back; returns the bytes released.
        pub fn releaseEmptyRegions(pool: *Pool) u64 {
            assert(trims(pool));
            const committed_before = pool.committedBytes();
            var released: u64 = 0;
            for (pool.regionList()[1..], 1..) |region, index| {
                if (!region.committed or region.live_count != 0) continue;
                switch (pool.layerEntry().removeRegion(pool, @intCast(index), region)) {
                    .removed => {},
                    .kept => continue,
                    .stop => break,
                }
                pool.gpuSide().regionRemoved(pool.address(region.start));
                pool.arenaHeld().shrink(@intCast(index));
                released += @as(u64, region.len) * granule_bytes;
            }
            // A region cut short at maxSize (Arena.limitUsable) gives back whole units, more than its length.
            assert(committed_before - pool.committedBytes() >= released);
            // Growth goes on from what the pool still holds, not from a region it no longer has.
            pool.fitGrowthStepToRegions();
            pool.statsRecord().bytes_trimmed += released;
            return released;
        }
    };
}

test "a pool at maxSize gives its empty regions back to grow for a request none of them holds, and says so in bytes_trimmed" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        const pool = try pool_mod.Pool.create(std.testing.allocator, "release", testConfig(strategy));
        defer pool.destroy();
        var offsets: [4]u32 = undefined;
        for (&offsets) |*g| g.* = (try pool.alloc(60 * 1024, null)).g;
        try std.testing.expectEqual(@as(u64, 256 * 1024), pool.committedBytes());
        try std.testing.expectError(error.OutOfMemory, pool.alloc(150 * 1024, null)); // regions hold live blocks: none goes back
        try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().bytes_trimmed);
        for (offsets) |g| _ = try pool.free(g, 0);
        const large = try pool.alloc(150 * 1024, null); // the three empty regions go back; a region of 192 KiB takes their place
        try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.statsRecord().bytes_trimmed);
        try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().trim_count);
        try std.testing.expectEqual(@as(u64, 256 * 1024), pool.committedBytes());
        _ = try pool.free(large.g, large.id);
    }
}

test "every trim counts in trim_count, on a pool that gives nothing back too (lock-free, thread-cached)" {
    for (config_mod.fixed_modes) |mode| {
        const pool = try pool_mod.Pool.create(std.testing.allocator, "trims", config_mod.fixedConfigIn(mode, 64));
        defer pool.destroy();
        pool.published(0);
        const released = pool.trim() + pool.trim();
        try std.testing.expectEqual(@as(u64, 2), pool.statsRecord().trim_count);
        if (!Trimming.trims(pool)) try std.testing.expectEqual(@as(u64, 0), released);
    }
}

const pool_mod = @import("pool.zig"); // the tests make real pools
const config_mod = @import("config.zig");
const testConfig = config_mod.testConfig;
const Trimming = Trim(pool_mod.Pool);
