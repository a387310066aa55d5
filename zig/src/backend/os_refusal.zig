//! Why the OS refused host memory (an mmap or mprotect failed), sensed as it refused: the
//! out-of-memory message of the request that met it then names the cause (the limit on mappings,
//! vm.max_map_count, or memory the OS will not commit) instead of a pool's lack of free room
//! (pool_failures.zig failOsRefused).
const std = @import("std");
const assert = std.debug.assert;
const map_budget = @import("map_budget.zig");

/// Why the OS refused this thread's last request for host memory, sensed as it refused.
pub const Refusal = struct {
    /// What mmap or mprotect failed with (OutOfMemory is ENOMEM).
    err: anyerror,
    /// The bytes asked for.
    bytes: u64,
    /// Mappings the process had then, and the kernel's limit on them (0 where unreadable).
    mappings: u64,
    limit: u64,

    /// Whether the limit on mappings refused: ENOMEM with the process at the limit. A request
    /// may split a mapping in three, /proc/self/maps lists one more than the kernel counts
    /// ([vsyscall]), and other threads may unmap meanwhile: within 16 of it is at it.
    pub fn atMapLimit(self: Refusal) bool {
        assert(self.bytes > 0);
        return self.err == error.OutOfMemory and self.limit != 0 and self.mappings + 16 >= self.limit;
    }
};

/// This thread's last refusal since `forgetRefusal`: read by the failure message of the request
/// that met it, on the thread that made it (a request forgets the refusals before its own).
threadlocal var last_refusal: ?Refusal = null;

/// Called where mmap or mprotect refused `bytes` of host memory (a cold path: it reads /proc).
pub fn noteRefused(err: anyerror, bytes: u64) void {
    assert(bytes > 0);
    last_refusal = .{ .err = err, .bytes = bytes, .mappings = map_budget.mappingsInUse() orelse 0, .limit = map_budget.maxMapCount() orelse 0 };
}

pub fn forgetRefusal() void {
    last_refusal = null;
}

pub fn lastRefusal() ?Refusal {
    return last_refusal;
}

test "a refusal at the limit on mappings is told from one with mappings to spare, and is this thread's until forgotten" {
    const limit = map_budget.maxMapCount() orelse return error.SkipZigTest;
    forgetRefusal();
    try std.testing.expectEqual(@as(?Refusal, null), lastRefusal());
    noteRefused(error.OutOfMemory, 4096); // a test process is far from the limit: the OS lacked memory
    const sensed = lastRefusal().?;
    try std.testing.expect(sensed.mappings > 0 and sensed.limit == limit and !sensed.atMapLimit());
    try std.testing.expect((Refusal{ .err = error.OutOfMemory, .bytes = 4096, .mappings = limit - 1, .limit = limit }).atMapLimit());
    try std.testing.expect(!(Refusal{ .err = error.AccessDenied, .bytes = 4096, .mappings = limit, .limit = limit }).atMapLimit());
    try std.testing.expect(!(Refusal{ .err = error.OutOfMemory, .bytes = 4096, .mappings = limit, .limit = 0 }).atMapLimit());
    const other = try std.Thread.spawn(.{}, struct {
        fn run() void {
            assert(lastRefusal() == null); // another thread's refusal is not this one's
        }
    }.run, .{});
    other.join();
    forgetRefusal();
    try std.testing.expectEqual(@as(?Refusal, null), lastRefusal());
}
