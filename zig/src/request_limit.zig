//! The largest request a pool serves (`sizeMax`): made once, when the pool's first region is
//! there, from what the pool is shaped like (its first region, its reservation, its placement's
//! stride and alignment, the bytes a block holds besides its request). The one place the limit
//! is made, for every strategy; pool.zig asks it once and keeps the answer.
const std = @import("std");
const assert = std.debug.assert;
const arena_mod = @import("arena.zig");
const tlsf_mod = @import("strategy/tlsf.zig");

const granule_bytes = arena_mod.granule_bytes;

/// What a pool's largest request is made from.
pub const Shape = struct {
    /// The pool's first region, committed (it is never given back).
    first_region: arena_mod.Region,
    /// The pool's reservation: the first region and the room beside it.
    reserved_bytes: u64,
    /// What the pool's regions may hand out: the reservation, or maxSize where that is less
    /// (Arena.limitUsable: a region reaching past maxSize is cut short there).
    usable_bytes: u64,
    /// The unit regions are committed in.
    granularity: u64,
    /// Whether the pool adds regions (growth above 0): one that never grows holds only its first
    /// region, whatever it reserved.
    grows: bool,
    /// A fixed-size pool's stride (granules a block takes); null for a Variable pool.
    fixed_stride: ?u32,
    alignment_granules: u32,
    /// The bytes a block holds besides its request (the debug layer's canaries; see Layer.requestOverheadBytes).
    overhead_bytes: u64,
};

/// A pool's largest request: what the largest block one region of its reservation holds (the
/// first region, or one region of all the room beside it: the first region is never given back;
/// a region's length is a u32 of granules) less the bytes a block holds besides its request
/// (canaries); a pool that never grows (growth 0), what its first region holds. A larger request
/// could not be served however much were free: InvalidSize, where OutOfMemory would say that
/// freeing some might help; an empty pool serves this size.
pub fn largestRequestBytes(shape: Shape) u64 {
    assert(shape.first_region.committed and shape.granularity > 0 and shape.alignment_granules > 0);
    const granularity = shape.granularity;
    const first_bytes = @as(u64, shape.first_region.len) * granule_bytes;
    assert(first_bytes <= shape.reserved_bytes);
    assert(shape.usable_bytes <= shape.reserved_bytes);
    // What a region beside the first may hand out: to the end of the reservation, or to maxSize;
    // nothing where the pool never grows (its reservation is no promise of room: PoolFailures.reservableBytes).
    const room = if (!shape.grows) 0 else @min((shape.reserved_bytes - first_bytes) / granularity * granularity, shape.usable_bytes -| first_bytes);
    const grown_bytes = @min(room, tlsf_mod.region_granules_max * granule_bytes / granularity * granularity);
    const block_bytes = if (shape.fixed_stride) |stride| blk: {
        // A run of whole blocks in one region (a run never spans two).
        const stride_bytes = @as(u64, stride) * granule_bytes;
        const blocks = @max(first_bytes, grown_bytes) / stride_bytes;
        assert(blocks >= 1);
        break :blk blocks * stride_bytes;
    } else granule_bytes * @max(firstRegionBlockGranules(shape.first_region, shape.alignment_granules), grownRegionBlockGranules(grown_bytes, shape.alignment_granules));
    // A block holds the request and the debug layer's canaries: sizeMax of a pool with canaries
    // said the block's every byte, and allocate(sizeMax) on an empty pool was an OutOfMemoryError.
    // The layer rounds a request up to whole granules (Layer.strategyBlockBytes).
    const overhead = shape.overhead_bytes;
    assert(block_bytes % granule_bytes == 0 and block_bytes > overhead);
    const request_bytes = (block_bytes - overhead) / granule_bytes * granule_bytes;
    assert(request_bytes > 0);
    // A fixed-size block keeps its request's size in 32 bits (a run of 4 GiB holds 4 GiB - 1).
    return if (shape.fixed_stride != null) @min(request_bytes, std.math.maxInt(u32)) else request_bytes;
}

/// The largest block the first region of a Variable pool holds at the pool's alignment.
fn firstRegionBlockGranules(region: arena_mod.Region, alignment_granules: u32) u64 {
    assert(region.committed and region.len > 0 and alignment_granules > 0);
    const aligned_start = std.mem.alignForward(u64, region.start, alignment_granules);
    return region.end() -| aligned_start;
}

/// The largest block a Variable pool's new region of `region_bytes` is sure to hold: the one
/// whose `regionBytesFor` (tlsf.granulesSureToFit: room at any start) `growFor` commits in it.
fn grownRegionBlockGranules(region_bytes: u64, alignment_granules: u32) u64 {
    assert(region_bytes % granule_bytes == 0 and region_bytes / granule_bytes <= tlsf_mod.region_granules_max);
    const granules = (region_bytes / granule_bytes) -| (alignment_granules - 1);
    assert(granules == 0 or tlsf_mod.granulesSureToFit(granules, alignment_granules) * granule_bytes <= region_bytes);
    return granules;
}

test "the largest request: a run of whole blocks in the larger region, or the larger of the first region and the room beside it, less the overhead, in whole granules" {
    const KiB = 1024;
    const first: arena_mod.Region = .{ .start = 0, .len = 64 * KiB / granule_bytes, .committed = true, .live_count = 0 };
    // Blocks of 112 bytes: 585 in the first 64 KiB, 1755 in the 192 KiB beside it.
    try std.testing.expectEqual(@as(u64, 1755 * 112), largestRequestBytes(.{ .first_region = first, .reserved_bytes = 256 * KiB, .usable_bytes = 256 * KiB, .granularity = 64 * KiB, .grows = true, .fixed_stride = 112 / granule_bytes, .alignment_granules = 1, .overhead_bytes = 0 }));
    // No room beside the first region: the first region's blocks.
    try std.testing.expectEqual(@as(u64, 585 * 112), largestRequestBytes(.{ .first_region = first, .reserved_bytes = 64 * KiB, .usable_bytes = 64 * KiB, .granularity = 64 * KiB, .grows = true, .fixed_stride = 112 / granule_bytes, .alignment_granules = 1, .overhead_bytes = 0 }));
    const variable: Shape = .{ .first_region = first, .reserved_bytes = 1024 * KiB, .usable_bytes = 1024 * KiB, .granularity = 64 * KiB, .grows = true, .fixed_stride = null, .alignment_granules = 1, .overhead_bytes = 0 };
    try std.testing.expectEqual(@as(u64, 960 * KiB), largestRequestBytes(variable));
    var with_canaries = variable;
    with_canaries.overhead_bytes = 40; // rounded up to whole granules: 48 bytes go
    try std.testing.expectEqual(@as(u64, 960 * KiB - 48), largestRequestBytes(with_canaries));
    var aligned = variable;
    aligned.alignment_granules = 4096 / granule_bytes; // a new region is sure to hold its bytes less one alignment
    try std.testing.expectEqual(@as(u64, 960 * KiB - 4096 + granule_bytes), largestRequestBytes(aligned));
    var whole = variable;
    whole.reserved_bytes = 64 * KiB; // the first region alone
    whole.usable_bytes = 64 * KiB;
    try std.testing.expectEqual(@as(u64, 64 * KiB), largestRequestBytes(whole));
    var never_grows = variable;
    never_grows.grows = false; // growth 0: the first region is all it ever holds, whatever it reserved
    try std.testing.expectEqual(@as(u64, 64 * KiB), largestRequestBytes(never_grows));
    try std.testing.expectEqual(@as(u64, 585 * 112), largestRequestBytes(.{ .first_region = first, .reserved_bytes = 256 * KiB, .usable_bytes = 256 * KiB, .granularity = 64 * KiB, .grows = false, .fixed_stride = 112 / granule_bytes, .alignment_granules = 1, .overhead_bytes = 0 }));
    var capped = variable;
    capped.usable_bytes = 1000 * KiB; // maxSize 1000 KiB in a 1 MiB reservation: the last region stops there
    try std.testing.expectEqual(@as(u64, 936 * KiB), largestRequestBytes(capped));
}

// A pool's sizeMax as a pool answers it: served on an empty pool, one byte more invalid.

const pool_mod = @import("pool.zig");
const Pool = pool_mod.Pool;
const debug_layer_built = pool_mod.debug_layer_built;
const config_mod = @import("config.zig");
const ThreadSafety = config_mod.ThreadSafety;
const testConfig = config_mod.testConfig;
const status = @import("status.zig");
const limits_test = @import("pool_limits_test.zig");
const createPublished = limits_test.createPublished;

test "a variable pool at maxSize serves one request of all of it: a size past it is invalid, one the pool cannot fit now is out of memory" {
    const modes = [_]limits_test.ThreadMode{ .{ .none, false }, .{ .mutex, false }, .{ .lock_free, false } };
    for (modes) |mode| for ([_]u32{ 16, 4096 }) |alignment| {
        var config = testConfig(.variable);
        config.initial_size = 1 << 20;
        config.max_size = 1 << 20;
        config.growth = 0;
        config.alignment = alignment;
        const pool = try createPublished("whole", config, mode);
        defer pool.destroy();
        try std.testing.expectError(error.InvalidSize, pool.alloc((1 << 20) + 1, null));
        const whole = try pool.alloc(1 << 20, null);
        try std.testing.expectError(error.OutOfMemory, pool.alloc(1, null));
        _ = try pool.free(whole.g, whole.id);
        const small = try pool.alloc(16, null);
        try std.testing.expectError(error.OutOfMemory, pool.alloc(1 << 20, null));
        _ = try pool.free(small.g, small.id);
        _ = try pool.free((try pool.alloc(1 << 20, null)).g, 0);
    };
}


test "a variable pool's sizeMax is the largest block one region it can add holds, less canaries: an empty pool serves it, one byte more is invalid" {
    const modes = [_]ThreadSafety{ .none, .mutex, .lock_free };
    // initialSize, maxSize, growth: the first region (64 KiB) is never given back, so a request
    // past what fits beside it (960 KiB and less) could never be served; or the whole reservation.
    const shapes = [_]struct { u64, u64, f64 }{ .{ 64 << 10, 1 << 20, 2.0 }, .{ 1 << 20, 1 << 20, 0 } };
    for (modes) |mode| for ([_]u32{ 16, 4096 }) |alignment| for ([_]bool{ false, true }) |canaries| for (shapes) |shape| {
        if (canaries and (!debug_layer_built or mode == .lock_free)) continue; // canaries work under a lock
        var config = testConfig(.variable);
        config.initial_size = shape[0];
        config.max_size = shape[1];
        config.growth = shape[2];
        config.alignment = alignment;
        config.debug.canaries = canaries;
        const pool = try createPublished("variable size max", config, .{ mode, false });
        defer pool.destroy();
        const size_max = pool.sizeMax();
        try std.testing.expect(size_max % granule_bytes == 0 and size_max <= shape[1]);
        if (!canaries and alignment == 16) try std.testing.expectEqual(if (shape[0] == shape[1]) shape[1] else shape[1] - shape[0], size_max);
        try std.testing.expectError(error.InvalidSize, pool.alloc(size_max + 1, null));
        const largest = try pool.alloc(size_max, null);
        _ = try pool.free(largest.g, largest.id);
    };
}


test "a fixed pool whose maxSize cannot hold one block with its canaries is refused as a setting; one request past its largest run is InvalidSize" {
    var config = testConfig(.fixed_size);
    config.block_size = 64 * 1024;
    config.initial_size = 64 * 1024;
    config.max_size = 64 * 1024;
    config.debug.canaries = true;
    if (debug_layer_built) {
        try std.testing.expectError(error.Config, Pool.create(std.testing.allocator, "no room", config));
        try std.testing.expectEqualStrings("maxSize", status.lastSetting());
    }
    config = testConfig(.fixed_size); // blocks of 112 bytes: 585 in the first 64 KiB, 1755 in the 192 KiB beside it
    const pool = try Pool.create(std.testing.allocator, "runs", config);
    defer pool.destroy();
    try std.testing.expectEqual(@as(u64, 1755 * 112), pool.sizeMax());
    try std.testing.expectError(error.InvalidSize, pool.alloc(1755 * 112 + 1, null));
    const run = try pool.alloc(1755 * 112, null);
    _ = try pool.free(run.g, run.id);
    if (debug_layer_built) { // with canaries, the largest run holds them too: sizeMax leaves them out
        config.debug.canaries = true;
        const guarded = try Pool.create(std.testing.allocator, "runs with canaries", config);
        defer guarded.destroy();
        try std.testing.expectError(error.InvalidSize, guarded.alloc(guarded.sizeMax() + 1, null));
        const largest = try guarded.alloc(guarded.sizeMax(), null);
        _ = try guarded.free(largest.g, largest.id);
    }
}

