//! What the OS says the process may hold and holds, read the one way every budget here reads it:
//! its soft limits (`ulimit`, getrlimit) and its small /proc files. The budgets built on them
//! (address_limit.zig, descriptor_limit.zig) leave the same share of a limit to the rest of the
//! process, the runtime's own mappings and files, so that the pools never take its last ones.
const std = @import("std");
const assert = std.debug.assert;

/// The soft limit on `resource`; null where none is set or it cannot be read (the OS decides).
pub fn soft(resource: std.posix.rlimit_resource) ?u64 {
    const limit = std.posix.getrlimit(resource) catch return null;
    if (limit.cur == std.posix.RLIM.INFINITY) return null;
    return limit.cur;
}

/// The part of `limit` the pools may take: three quarters, a quarter staying for the rest of the process.
pub fn poolsShare(limit: u64) u64 {
    const share = limit - limit / 4;
    assert(share <= limit and (limit == 0 or share > 0));
    return share;
}

/// The first bytes of a file (of /proc: one read gives what a small one holds), or null where it cannot be read.
pub fn readStart(path: [*:0]const u8, buffer: []u8) ?[]const u8 {
    assert(buffer.len > 0);
    const fd = std.posix.openZ(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0) catch return null;
    defer std.posix.close(fd);
    const got = std.posix.read(fd, buffer) catch return null;
    assert(got <= buffer.len);
    return buffer[0..got];
}

test "the pools' share of a limit leaves a quarter, and a limit of 1 is theirs whole" {
    try std.testing.expectEqual(@as(u64, 48), poolsShare(64));
    try std.testing.expectEqual(@as(u64, 6), poolsShare(8));
    try std.testing.expectEqual(@as(u64, 1), poolsShare(1));
}

test "readStart gives a file's first bytes, at most the buffer's, and null for no file" {
    var buffer: [4]u8 = undefined;
    try std.testing.expect(readStart("/nonexistent/file", &buffer) == null);
    const start = readStart("/proc/self/statm", &buffer) orelse return error.SkipZigTest; // no /proc
    try std.testing.expectEqual(@as(usize, 4), start.len); // the process's size in pages, then more figures
    try std.testing.expect(std.ascii.isDigit(start[0]));
}
