//! How a pool grows (pool.zig growFor): by steps of `growth` x the last step (the first region to
//! start with), so that what a pool commits follows what it needs; a request larger than the next
//! step gets a region of its own size and leaves the step as it was. Decided from figures alone;
//! the pool commits what this plans and keeps the step.
const std = @import("std");
const assert = std.debug.assert;
const granule_bytes = @import("arena.zig").granule_bytes;
const region_granules_max = @import("strategy/tlsf.zig").region_granules_max;

/// The region a pool adds.
pub const Plan = struct {
    /// The bytes of the region to commit.
    bytes: u64,
    /// Whether `bytes` is the next step: once committed, growth goes on from it.
    steps: bool,
    /// Where a step cannot be committed (the OS refuses it), the request's own size to try instead.
    fallback: ?u64,
};

/// The region to add for a request that needs `needed_bytes` (see Pool.regionBytesFor), growth
/// being `growth` x `step_bytes` with `room_bytes` of the reservation left, in units of
/// `granularity`; null where no region may be added for it (growth off, no room, or more than a
/// region's length holds).
pub fn plan(growth: f64, step_bytes: u64, needed_bytes: u64, room_bytes: u64, granularity: u64) ?Plan {
    assert(growth >= 0 and std.math.isPowerOfTwo(granularity));
    if (growth == 0) return null;
    const minimum = std.mem.alignForward(u64, needed_bytes, granularity);
    if (minimum > room_bytes or minimum / granule_bytes > region_granules_max) return null;
    const step = std.mem.alignForward(u64, @intFromFloat(@as(f64, @floatFromInt(step_bytes)) * growth), granularity);
    // A request larger than the next step gets a region of its own size: were the step to
    // jump to it, every region after one large request would be that large and more.
    if (minimum > step) return .{ .bytes = minimum, .steps = false, .fallback = null };
    const len = @min(step, room_bytes / granularity * granularity);
    assert(len >= minimum);
    return .{ .bytes = len, .steps = true, .fallback = minimum };
}

test "growth: a step of growth x the last, cut to the room left; a larger request its own size, not a step; nothing with growth off or past the room" {
    const KiB = 1024;
    const unit = 64 * KiB;
    try std.testing.expectEqual(Plan{ .bytes = 128 * KiB, .steps = true, .fallback = unit }, plan(2, 64 * KiB, 1, 1024 * KiB, unit).?);
    try std.testing.expectEqual(Plan{ .bytes = 10 << 20, .steps = false, .fallback = null }, plan(2, 128 * KiB, 10 << 20, 20 << 20, unit).?);
    try std.testing.expectEqual(Plan{ .bytes = 192 * KiB, .steps = true, .fallback = 128 * KiB }, plan(2, 256 * KiB, 100 * KiB, 192 * KiB, unit).?); // the step, cut to the room
    try std.testing.expectEqual(Plan{ .bytes = 128 * KiB, .steps = true, .fallback = 128 * KiB }, plan(1.5, 64 * KiB, 65 * KiB, 1024 * KiB, unit).?); // 96 KiB, in whole units
    try std.testing.expect(plan(0, 64 * KiB, 1, 1024 * KiB, unit) == null);
    try std.testing.expect(plan(2, 64 * KiB, 1024 * KiB + 1, 1024 * KiB, unit) == null);
}
