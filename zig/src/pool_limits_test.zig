//! Tests of what a pool gives back and how far it may grow: regions released at maxSize only where
//! that makes the request fit.
const std = @import("std");
const Pool = @import("pool.zig").Pool;
const config_mod = @import("config.zig");

/// A test pool's thread mode: threadSafety and threadLocalCache.
pub const ThreadMode = struct { config_mod.ThreadSafety, bool };

/// A pool of `config` in thread mode `mode`, published as the registry publishes the pools it makes
/// (the tests here and request_limit.zig's). The caller destroys it.
pub fn createPublished(name: []const u8, config: config_mod.Config, mode: ThreadMode) !*Pool {
    var in_mode = config;
    in_mode.thread_safety = mode[0];
    in_mode.thread_local_cache = mode[1];
    const pool = try Pool.create(std.testing.allocator, name, in_mode);
    pool.published(0);
    return pool;
}

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
        try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().bytes_trimmed);
        try std.testing.expectEqual(@as(u64, 256 * 1024), pool.committedBytes());
        // Region 2 emptied, the three lie side by side: they go back, and the request fits.
        _ = try pool.free(placed[2].g, placed[2].id);
        const large = try pool.alloc(150 * 1024, null);
        try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.statsRecord().bytes_trimmed);
        _ = try pool.free(large.g, large.id);
        _ = try pool.free(placed[0].g, placed[0].id);
    }
}

test "a pool never hands out more than its maxSize, though it commits whole units past it" {
    const thread_modes = [_]ThreadMode{ .{ .none, false }, .{ .mutex, false }, .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true } };
    const max_size: u64 = 100_000; // 1 unit of 64 KiB and 34,464 bytes of the next
    for ([_]config_mod.StrategyKind{ .fixed_size, .variable }) |strategy| for (thread_modes) |mode| for ([_]f64{ 0, 1 }) |growth| {
        if (strategy == .variable and mode[1]) continue; // thread caches serve fixed-size pools
        var config = config_mod.testConfig(strategy);
        config.block_size = 64;
        config.max_size = max_size;
        config.initial_size = if (growth == 0) max_size else 64 * 1024;
        config.growth = growth;
        const pool = try createPublished("at most maxSize", config, mode);
        defer pool.destroy();
        try std.testing.expect(pool.sizeMax() <= max_size);
        var held: std.ArrayList(Pool.Placed) = .empty;
        defer held.deinit(std.testing.allocator);
        var handed_out: u64 = 0;
        while (true) {
            const placed = pool.alloc(64, null) catch |err| {
                try std.testing.expectEqual(error.OutOfMemory, err);
                break;
            };
            try held.append(std.testing.allocator, placed);
            handed_out += 64;
            try std.testing.expect((@as(u64, placed.g) * 16) + 64 <= max_size); // no byte past maxSize
        }
        try std.testing.expect(handed_out <= max_size);
        try std.testing.expect(handed_out > max_size - 64 * 1024); // and the room below it is used
        if (strategy == .fixed_size) try std.testing.expectEqual(max_size / 64 * 64, handed_out);
        var out: [@import("stats.zig").field_count]f64 = undefined;
        pool.writeStats(&out);
        const Field = @import("stats.zig").Field;
        try std.testing.expectEqual(@as(f64, @floatFromInt(handed_out)), out[@intFromEnum(Field.bytes_in_use)]);
        try std.testing.expect(out[@intFromEnum(Field.bytes_allocated)] + out[@intFromEnum(Field.free_bytes)] <= @as(f64, @floatFromInt(max_size)));
        for (held.items) |placed| _ = try pool.free(placed.g, placed.id);
        // Emptied and trimmed, it grows to the limit again, no further.
        _ = pool.trim();
        const whole = pool.sizeMax();
        const block = try pool.alloc(whole, null);
        try std.testing.expect(@as(u64, block.g) * 16 + whole <= max_size);
        _ = try pool.free(block.g, block.id);
    };
}

/// The thread-safety modes of a fixed pool whose blocks are placed without the pool's lock.
const shared_modes = [_]ThreadMode{ .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true }, .{ .none, false } };

test "a lock-free or thread-cached fixed pool gives its empty regions back: at maxSize for a run no region holds, and on trim" {
    for (shared_modes) |mode| {
        const pool = try createPublished("shared release", config_mod.testConfig(.fixed_size), mode); // 64 KiB regions, at most 4
        defer pool.destroy();
        try std.testing.expect(pool.sharedFixed() != null);
        var placed: [4]Pool.Placed = undefined;
        for (&placed) |*block| block.* = try pool.alloc(60 * 1024, null);
        const single = try pool.alloc(100, null); // in the first region's last blocks
        for (placed) |block| _ = try pool.free(block.g, block.id);
        _ = try pool.free(single.g, single.id); // into this thread's magazine, where it caches
        try std.testing.expectEqual(@as(u64, 256 * 1024), pool.committedBytes());
        const large = try pool.alloc(150 * 1024, null); // regions 1 .. 3 go back; one of 192 KiB grows in their room
        try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.statsRecord().bytes_trimmed);
        _ = try pool.free(large.g, large.id);
        try std.testing.expectEqual(@as(u64, 192 * 1024), pool.trim());
        try std.testing.expectEqual(@as(u64, 64 * 1024), pool.committedBytes());
        const again = try pool.alloc(100, null); // the first region serves as before
        _ = try pool.free(again.g, again.id);
    }
}

test "a lock-free (sharded) Variable pool gives its empty regions back: at maxSize for a request no region holds, and on trim" {
    const pool = try createPublished("sharded release", config_mod.testConfig(.variable), .{ .lock_free, false }); // 64 KiB regions, at most 4
    defer pool.destroy();
    try std.testing.expect(pool.shardedVariable() != null);
    var placed: [4]Pool.Placed = undefined;
    for (&placed) |*block| block.* = try pool.alloc(60 * 1024, null);
    try std.testing.expectError(error.OutOfMemory, pool.alloc(150 * 1024, null)); // every region holds a live block
    try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().bytes_trimmed);
    for (placed) |block| _ = try pool.free(block.g, block.id);
    const large = try pool.alloc(150 * 1024, null); // regions 1 .. 3 go back; one of 192 KiB grows in their room
    try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.statsRecord().bytes_trimmed);
    _ = try pool.free(large.g, large.id);
    try std.testing.expectEqual(@as(u64, 192 * 1024), pool.trim());
    try std.testing.expectError(error.InvalidPointer, pool.free(placed[1].g, placed[1].id)); // its region is gone: no shard owns it
    try std.testing.expectEqual(@as(u64, 64 * 1024), pool.committedBytes());
    const again = try pool.alloc(100, null);
    _ = try pool.free(again.g, again.id);
}

/// Three threads allocate (sizes from `sizeOf`), stamp, check and free blocks of `pool` while this
/// thread trims it 200 times: a block handed out twice, or given back with its region, breaks a
/// stamp or a free. Returns the bytes the trims released; every block is free at the end.
fn trimUnderLoad(pool: *Pool, comptime sizeOf: fn (std.Random) u64) !u64 {
    const Worker = struct {
        fn run(target: *Pool, seed: u64, failures: *std.atomic.Value(u32)) void {
            var random = std.Random.DefaultPrng.init(seed);
            var held: [40]?Pool.Placed = @splat(null);
            for (0..3000) |_| {
                const slot = random.random().uintLessThan(usize, held.len);
                if (held[slot]) |block| {
                    const bytes: [*]u8 = @ptrFromInt(target.arena.address(block.g));
                    if (bytes[0] != @as(u8, @truncate(block.id)) or bytes[15] != @as(u8, @truncate(seed))) _ = failures.fetchAdd(1, .monotonic);
                    _ = target.free(block.g, block.id) catch failures.store(1 << 20, .monotonic);
                    held[slot] = null;
                    continue;
                }
                const block = target.alloc(sizeOf(random.random()), null) catch continue;
                const bytes: [*]u8 = @ptrFromInt(target.arena.address(block.g));
                bytes[0] = @truncate(block.id);
                bytes[15] = @truncate(seed);
                held[slot] = block;
            }
            for (held) |maybe| if (maybe) |block| {
                _ = target.free(block.g, block.id) catch failures.store(1 << 20, .monotonic);
            };
        }
    };
    var failures = std.atomic.Value(u32).init(0);
    var threads: [3]std.Thread = undefined;
    for (&threads, 0..) |*thread, index| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ pool, index + 1, &failures });
    var released: u64 = 0;
    for (0..200) |_| {
        released += pool.trim();
        std.Thread.yield() catch {};
    }
    for (threads) |thread| thread.join();
    try std.testing.expectEqual(@as(u32, 0), failures.load(.monotonic));
    var out: [@import("stats.zig").field_count]f64 = undefined;
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(@import("stats.zig").Field.live_allocations)]);
    return released;
}

fn blockOrRun(random: std.Random) u64 {
    return if (random.uintLessThan(u32, 8) == 0) 5000 else 1000; // a run now and then
}

fn anySize(random: std.Random) u64 {
    return 16 + random.uintLessThan(u64, 100_000);
}

test "a lock-free fixed pool trimmed while threads allocate and free: no block is handed out twice or out of its region" {
    for ([_]ThreadMode{ .{ .lock_free, false }, .{ .lock_free, true }, .{ .mutex, true } }) |mode| {
        var config = config_mod.testConfig(.fixed_size);
        config.block_size = 1024;
        config.max_size = 1 << 20;
        const pool = try createPublished("trim under load", config, mode);
        defer pool.destroy();
        try std.testing.expect(try trimUnderLoad(pool, blockOrRun) <= pool.statsRecord().bytes_trimmed); // and what runs at maxSize released
    }
}

test "a sharded Variable pool trimmed while threads allocate and free: no block is handed out twice" {
    var config = config_mod.testConfig(.variable);
    config.max_size = 4 << 20;
    const pool = try createPublished("sharded trim under load", config, .{ .lock_free, false });
    defer pool.destroy();
    try std.testing.expect(try trimUnderLoad(pool, anySize) <= pool.statsRecord().bytes_trimmed);
    _ = pool.trim();
    try std.testing.expectEqual(@as(u64, 64 * 1024), pool.committedBytes()); // all free: every region but the first went back
}
