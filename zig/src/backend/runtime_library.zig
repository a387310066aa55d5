//! A C library the core finds at run time (dlopen) rather than links, so that the core loads on
//! machines without it and only the pools that need it say what is missing. Its table of entry
//! points is resolved by field name once, then handed out, or error.Unavailable with the reason.
//! backend/cuda_driver.zig and pmem/libpmem.zig are two: each says where its library is and what
//! to check once it is open, and keeps this state in a `var` with a `std.once` in front of it.
const std = @import("std");
const assert = std.debug.assert;

/// The state of a library whose entry points are the fields of `Api` (function pointers named as
/// the library's symbols), with room for a reason of up to `reason_bytes_max` bytes.
pub fn RuntimeLibrary(comptime Api: type, comptime reason_bytes_max: usize) type {
    comptime assert(reason_bytes_max > 0 and @typeInfo(Api).@"struct".fields.len > 0);
    return struct {
        const Self = @This();

        table: Api = undefined,
        reason_buffer: [reason_bytes_max]u8 = undefined,
        /// Why the table cannot be used; null once `succeed` has run.
        reason: ?[]const u8 = "not loaded yet",

        /// Records why the library cannot be used. A reason longer than the buffer keeps what fits:
        /// callers bound every part they quote from outside (a path, dlerror's text) so that it fits.
        pub fn fail(self: *Self, comptime fmt: []const u8, args: anytype) void {
            var writer: std.Io.Writer = .fixed(&self.reason_buffer);
            writer.print(fmt, args) catch {}; // full: what fits is kept
            self.reason = writer.buffered();
            assert(self.reason.?.len > 0);
        }

        /// Fills the table from the library `handle`: null, or the name of the first entry point the
        /// library lacks (the table is then not to be used).
        pub fn resolve(self: *Self, handle: *anyopaque) ?[:0]const u8 {
            inline for (@typeInfo(Api).@"struct".fields) |field| {
                const symbol = std.c.dlsym(handle, field.name) orelse return field.name;
                @field(self.table, field.name) = @ptrCast(@alignCast(symbol));
            }
            return null;
        }

        /// Every entry point resolved and every check passed: the table may be used from now on.
        pub fn succeed(self: *Self) void {
            self.reason = null;
        }

        /// The table, or error.Unavailable with `unavailableReason()` saying why.
        pub fn get(self: *const Self) error{Unavailable}!*const Api {
            if (self.reason != null) return error.Unavailable;
            return &self.table;
        }

        /// The table where `get` has succeeded before: hot paths call through it without a check.
        pub inline fn loaded(self: *const Self) *const Api {
            assert(self.reason == null);
            return &self.table;
        }

        pub fn unavailableReason(self: *const Self) []const u8 {
            return self.reason orelse "";
        }
    };
}

test "a library's state: unusable until it succeeds, a reason kept whole or cut to its buffer, missing entry points named" {
    const Api = struct { strlen: *const fn ([*:0]const u8) callconv(.c) usize, no_such_symbol_here: *const fn () callconv(.c) void };
    var library: RuntimeLibrary(Api, 16) = .{};
    try std.testing.expectError(error.Unavailable, library.get());
    library.fail("absent: {s}", .{"x"});
    try std.testing.expectEqualStrings("absent: x", library.unavailableReason());
    library.fail("a reason of {d} bytes and more", .{30});
    try std.testing.expectEqualStrings("a reason of 30 b", library.unavailableReason());
    const libc = std.c.dlopen("libc.so.6", .{ .NOW = true }) orelse return error.SkipZigTest;
    try std.testing.expectEqualStrings("no_such_symbol_here", library.resolve(libc).?);
    try std.testing.expectError(error.Unavailable, library.get());
    library.succeed();
    try std.testing.expectEqual(@as(usize, 3), (try library.get()).strlen("abc"));
    try std.testing.expectEqualStrings("", library.unavailableReason());
}
