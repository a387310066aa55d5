//! A "none" pool has no lock: it is the creating thread's alone. Where the core is built with
//! runtime safety (the default ReleaseSafe build; ReleaseFast drops the check) an allocate,
//! free, reset or trim from another thread is refused with ThreadMisuse before it can race
//! and corrupt the pool. It costs a thread-local read and a compare.
const std = @import("std");
const status = @import("../status.zig");

pub const enabled = std.debug.runtime_safety;

/// Refuses a call on a "none" pool from a thread other than `owner`.
pub inline fn check(thread_safety_none: bool, owner: std.Thread.Id, pool_name: []const u8) status.Error!void {
    if (!enabled or !thread_safety_none) return;
    const me = std.Thread.getCurrentId();
    if (me == owner) return;
    return status.fail(error.ThreadMisuse, "pool '{s}' has threadSafety \"none\" and belongs to thread {d}; thread {d} may not use it (choose \"mutex\" or \"lockFree\" to share it)", .{ pool_name, owner, me });
}
