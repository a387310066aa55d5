//! The process's open file descriptors against its limit (RLIMIT_NOFILE, `ulimit -n`). A PMEM
//! pool keeps its file's descriptor open while it lives (the flock that keeps a second pool or
//! process out): with enough pools open, the limit was reached, and then the runtime's own next
//! descriptor failed (a file read threw EMFILE; a Worker's start made Bun exit, "bun ran out of
//! file descriptors"). Opening a pool file asks `roomForOne()` first, which keeps a quarter of the
//! limit for everything else in the process (as address_limit.zig keeps a quarter of the address
//! space, and map_budget.zig an eighth of the mappings).
const std = @import("std");
const assert = std.debug.assert;
const process_limits = @import("process_limits.zig");

/// What the process holds and may hold, where it can be read.
pub const Count = struct { open: u64, limit: u64 };

/// Whether one more descriptor leaves a quarter of the limit free; true where no limit is set or
/// the descriptors cannot be counted (the OS decides). `count`, where given, gets what was read.
pub fn roomForOne(count: ?*Count) bool {
    const limit = process_limits.soft(.NOFILE) orelse return true;
    const open = openDescriptors() orelse return true;
    assert(open > 0); // the count includes the descriptor that read it
    if (count) |out| out.* = .{ .open = open, .limit = limit };
    return fits(limit, open);
}

/// Whether one more beside `open` stays within the pools' share of `limit` (three quarters).
fn fits(limit: u64, open: u64) bool {
    return open + 1 <= process_limits.poolsShare(limit);
}

/// The entries of /proc/self/fd (the count includes the one that reads it, as the open it
/// precedes will need one more while it runs).
fn openDescriptors() ?u64 {
    var dir = std.fs.openDirAbsoluteZ("/proc/self/fd", .{ .iterate = true }) catch return null;
    defer dir.close();
    var entries = dir.iterate();
    var open: u64 = 0;
    while (entries.next() catch return null) |_| open += 1;
    return open;
}

test "one more fits while three quarters of the limit hold it" {
    try std.testing.expect(fits(64, 47));
    try std.testing.expect(!fits(64, 48));
    try std.testing.expect(fits(8, 5) and !fits(8, 6));
    try std.testing.expect(fits(1024, 100));
}

test "the process's descriptors are counted, within its limit" {
    var count: Count = undefined;
    const limit = process_limits.soft(.NOFILE) orelse return error.SkipZigTest;
    if (!roomForOne(&count)) return error.SkipZigTest; // a test process near its limit says nothing here
    try std.testing.expect(count.open > 0 and count.open < limit and count.limit == limit);
}
