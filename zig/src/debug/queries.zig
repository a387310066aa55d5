//! What the C ABI asks a pool's debug layer (ffi.zig mp_check, mp_is_guarded, mp_set_stack): each
//! under the pool's lock, answered by its debug layer (debug/layer.zig) where it has one; a pool
//! without one has no canary, poison or guard page to report. `pool` is a Pool (pool.zig), asked
//! through its methods.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const StackKind = @import("guard.zig").StackKind;
const debug_layer_built = @import("build_options").debug_layer;

/// Checks every canary and every quarantined block's poison (a pool without the debug layer
/// has none: nothing to find).
pub fn check(pool: anytype) Error!void {
    pool.lock();
    defer pool.unlock();
    if (debug_layer_built) if (pool.debugLayer()) |layer| return layer.check(pool.beneath());
}

/// Whether the live allocation at `g` has guard pages.
pub fn isGuarded(pool: anytype, g: u32) bool {
    pool.lock();
    defer pool.unlock();
    if (debug_layer_built) if (pool.debugLayer()) |layer| return layer.isGuarded(pool.beneath(), g);
    return false;
}

/// Keeps a JavaScript stack of the allocation (`kind`: 0 its allocation, 1 its free) where a
/// fault report may need it (guarded allocations); returns whether it was kept.
pub fn setStack(pool: anytype, g: u32, kind: u32, stack: []const u8) Error!bool {
    const which = std.meta.intToEnum(StackKind, kind) catch
        return status.fail(error.InvalidSize, "stack kind {d} is not 0 (allocation) or 1 (free)", .{kind});
    assert(@intFromEnum(which) == kind);
    pool.lock();
    defer pool.unlock();
    if (debug_layer_built) if (pool.debugLayer()) |layer| return layer.setStack(pool.beneath(), g, which, stack);
    return false;
}

test "a pool without the debug layer has nothing to check, no guarded allocation, keeps no stack, and refuses a stack kind past 1" {
    const Pool = @import("../pool.zig").Pool;
    const pool = try Pool.create(std.testing.allocator, "no debug layer", @import("../config.zig").testConfig(.variable));
    defer pool.destroy();
    const placed = try pool.alloc(64, null);
    try check(pool);
    try std.testing.expect(!isGuarded(pool, placed.g));
    try std.testing.expect(!try setStack(pool, placed.g, 0, "at main"));
    try std.testing.expectError(error.InvalidSize, setStack(pool, placed.g, 2, "at main"));
    _ = try pool.free(placed.g, placed.id);
}
