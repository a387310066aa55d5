//! What the last detected memory error on this thread was: which allocation, which side of it,
//! how far from its start. A failing call records it next to its status (status.zig), and
//! TypeScript reads it field by field (`mp_violation`) to build a BoundaryViolationError or a
//! UseAfterFreeError that names the allocation.
const std = @import("std");
const assert = std.debug.assert;

/// Where the damage lies: before the first byte, after the last, or inside a freed block.
pub const Side = enum(u32) { before = 0, after = 1, freed = 2 };

pub const Violation = struct {
    id: u32,
    /// Granule offset of the allocation's first byte from its pool's base.
    user_g: u32,
    size: u64,
    side: Side,
    /// Of the damaged byte nearest the allocation, from its first byte: negative before it,
    /// `size` and more after it, from 0 below `size` for a freed block.
    offset: i64,
    damaged_bytes: u64,
};

/// The fields as `mp_violation` numbers them (abi.zig describes them to TypeScript).
pub const Field = enum(u32) { id, user_granule, size, side, offset, damaged_bytes };

threadlocal var last: Violation = .{ .id = 0, .user_g = 0, .size = 0, .side = .after, .offset = 0, .damaged_bytes = 0 };

pub fn record(violation: Violation) void {
    assert(violation.id != 0 and violation.damaged_bytes > 0);
    switch (violation.side) {
        .before => assert(violation.offset < 0),
        .after => assert(violation.offset >= violation.size),
        .freed => assert(violation.offset >= 0 and violation.offset < violation.size),
    }
    last = violation;
}

/// The last violation recorded on this thread (debug/thread_end_report.zig words it).
pub fn lastViolation() Violation {
    return last;
}

pub fn lastField(field: Field) f64 {
    return switch (field) {
        .id => @floatFromInt(last.id),
        .user_granule => @floatFromInt(last.user_g),
        .size => @floatFromInt(last.size),
        .side => @floatFromInt(@intFromEnum(last.side)),
        .offset => @floatFromInt(last.offset),
        .damaged_bytes => @floatFromInt(last.damaged_bytes),
    };
}

test "a recorded violation reads back field by field" {
    record(.{ .id = 7, .user_g = 3, .size = 64, .side = .after, .offset = 64, .damaged_bytes = 1 });
    try std.testing.expectEqual(@as(f64, 7), lastField(.id));
    try std.testing.expectEqual(@as(f64, 64), lastField(.offset));
    try std.testing.expectEqual(@as(f64, 1), lastField(.side));
    record(.{ .id = 8, .user_g = 3, .size = 64, .side = .before, .offset = -1, .damaged_bytes = 4 });
    try std.testing.expectEqual(@as(f64, -1), lastField(.offset));
    try std.testing.expectEqual(@as(f64, 0), lastField(.side));
}
