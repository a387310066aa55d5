//! The process's memory mappings against the kernel's limit on them (vm.max_map_count, 65530 by
//! default). Every guarded allocation splits its region's mapping in two or three (its data pages
//! accessible, the pages around them not), so a pool with guard pages can use up the process's
//! mappings; the runtime's next mmap then fails, and Bun aborts the process on it (seen at the next
//! ArrayBuffer of a MiB). Guarded placement asks `roomForMore()` first and places the allocation
//! unguarded where it says no, keeping an eighth of the limit for everything else in the process.
//! Counting the mappings reads /proc/self/maps, so it is done again only after a quarter of the room
//! left could have been used (an allocation adds at most three mappings), and at most every 4096
//! guarded allocations.
const std = @import("std");
const assert = std.debug.assert;
const readStart = @import("process_limits.zig").readStart;

/// Mappings one guarded allocation may add at most: its data pages split from the pages before and after them.
const mappings_per_allocation = 3;
/// Guarded allocations between two counts while the room left cannot be read (no /proc), or while
/// there is none (allocations are placed unguarded meanwhile, and some of the room may come back).
const recount_interval = 4096;

/// Calls before the next count, and what the last count said (process-wide: every pool's calls).
var calls_before_count: std.atomic.Value(i64) = .init(0);
var room_at_last_count: std.atomic.Value(bool) = .init(true);
var limit_cache: std.atomic.Value(u64) = .init(0);

/// Whether another guarded allocation leaves the process room for mappings of its own; counts
/// them again where the calls allowed since the last count are spent.
pub fn roomForMore() bool {
    if (calls_before_count.fetchSub(1, .monotonic) > 0) return room_at_last_count.load(.monotonic);
    const room = roomLeft() orelse std.math.maxInt(u64);
    // While there is room, a quarter of it may be used before the next count.
    const allowed: i64 = @intCast(@min(room / mappings_per_allocation / 4, recount_interval));
    room_at_last_count.store(allowed > 0, .monotonic);
    calls_before_count.store(if (allowed > 0) allowed else recount_interval, .monotonic);
    return allowed > 0;
}

/// Mappings the process may still make before it reaches the eighth of the limit kept for
/// everything else; null where the count or the limit cannot be read.
fn roomLeft() ?u64 {
    const limit = maxMapCount() orelse return null;
    const used = mappingsInUse() orelse return null;
    const kept = limit / 8;
    return if (used + kept >= limit) 0 else limit - kept - used;
}

/// The kernel's limit on the process's mappings (vm.max_map_count); null where unreadable.
pub fn maxMapCount() ?u64 {
    const cached = limit_cache.load(.monotonic);
    if (cached != 0) return cached;
    var buffer: [32]u8 = undefined;
    const text = readStart("/proc/sys/vm/max_map_count", &buffer) orelse return null;
    const limit = std.fmt.parseInt(u64, std.mem.trim(u8, text, " \n"), 10) catch return null;
    if (limit == 0) return null;
    limit_cache.store(limit, .monotonic);
    return limit;
}

/// The lines of /proc/self/maps: one a mapping.
pub fn mappingsInUse() ?u64 {
    const fd = std.posix.openZ("/proc/self/maps", .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0) catch return null;
    defer std.posix.close(fd);
    var buffer: [64 * 1024]u8 = undefined;
    var lines: u64 = 0;
    while (true) {
        const got = std.posix.read(fd, &buffer) catch return null;
        if (got == 0) return lines;
        lines += std.mem.count(u8, buffer[0..got], "\n");
    }
}

test "the process has room for more mappings, and counts them again only once its allowance is spent" {
    const limit = maxMapCount() orelse return error.SkipZigTest;
    const used = mappingsInUse().?;
    try std.testing.expect(used > 0 and used < limit);
    calls_before_count.store(0, .monotonic);
    try std.testing.expect(roomForMore()); // counted now: a test process is far from the limit
    const allowed = calls_before_count.load(.monotonic);
    try std.testing.expect(allowed > 0 and allowed <= @as(i64, @intCast(limit / mappings_per_allocation / 4)));
    try std.testing.expect(roomForMore()); // from the allowance, without a count
    try std.testing.expectEqual(allowed - 1, calls_before_count.load(.monotonic));
}
