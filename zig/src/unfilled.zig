//! Arrays that are not filled when they are allocated or freed. This core is built ReleaseSafe,
//! where std.mem.Allocator's alloc, realloc and free write 0xAA over every byte they hand out or
//! take back (the safety fill of undefined memory). For the arrays recovery makes (hundreds of MB
//! for a PMEM pool of 10^6 allocations, every byte written right after) that fill was a quarter of
//! the time to reopen a pool. These go to the allocator's raw calls instead; what they return may
//! also be freed with Allocator.free, and they may free what Allocator.alloc made.
const std = @import("std");
const assert = std.debug.assert;

/// `n` items of `T`, their bytes as the allocator left them.
pub fn alloc(gpa: std.mem.Allocator, comptime T: type, n: usize) error{OutOfMemory}![]T {
    if (n == 0 or @sizeOf(T) == 0) return &.{};
    const bytes = std.math.mul(usize, n, @sizeOf(T)) catch return error.OutOfMemory;
    const raw = gpa.rawAlloc(bytes, .of(T), @returnAddress()) orelse return error.OutOfMemory;
    const items: [*]T = @ptrCast(@alignCast(raw));
    return items[0..n];
}

/// Gives back what `alloc` (or Allocator.alloc) made, without filling it first.
pub fn free(gpa: std.mem.Allocator, items: anytype) void {
    const T = @typeInfo(@TypeOf(items)).pointer.child;
    if (items.len == 0 or @sizeOf(T) == 0) return;
    gpa.rawFree(std.mem.sliceAsBytes(@constCast(items)), .of(T), @returnAddress());
}

/// An empty list of `T` with room for `n` (unfilled), for a list that has none yet.
pub fn listWithCapacity(gpa: std.mem.Allocator, comptime T: type, n: usize) error{OutOfMemory}!std.ArrayList(T) {
    const items = try alloc(gpa, T, n);
    return .{ .items = items[0..0], .capacity = items.len };
}

test "unfilled arrays hold what is written, mix with Allocator.free, and empty ones allocate nothing" {
    const gpa = std.testing.allocator;
    const items = try alloc(gpa, u64, 1000);
    for (items, 0..) |*item, index| item.* = index;
    try std.testing.expectEqual(@as(u64, 999), items[999]);
    free(gpa, items);
    const mixed = try alloc(gpa, u32, 10);
    gpa.free(mixed); // the same raw call underneath
    try std.testing.expectEqual(@as(usize, 0), (try alloc(gpa, u32, 0)).len);
    var list = try listWithCapacity(gpa, u32, 16);
    defer list.deinit(gpa);
    try std.testing.expectEqual(@as(usize, 16), list.capacity);
    list.appendAssumeCapacity(7);
    try std.testing.expectEqual(@as(u32, 7), list.items[0]);
}
