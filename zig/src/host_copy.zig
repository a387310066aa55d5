//! Copies between host memory of any kind the CPU can address: CPU and pinned pools, JavaScript
//! arrays. (PMEM adds its persisting copy beside this one: the bytes are durable on return.)
//! Bounds are checked by src/copy.ts, which knows both sides; here only addresses and a length
//! arrive. The ranges may overlap, as in a copy within one allocation.
const std = @import("std");
const assert = std.debug.assert;

/// libc's memmove, not the compiler's own: glibc picks the fastest copy this CPU has (1 MiB in
/// 11.0 µs against 15.2 µs on the dev machine; the same at 64 B and 64 MiB). It is looked up by
/// name in the process (dlsym), once: an `extern "c" fn memmove` declared here binds at link time
/// to compiler-rt's memmove, which Zig links into this library as a local symbol (`nm` lists it as
/// `t memmove`), and which is 1.2x slower than libc's from 16 KiB (bench/RESULTS.md, session 6).
const Memmove = *const fn (dst: [*]u8, src: [*]const u8, len: usize) callconv(.c) ?*anyopaque;

/// Set once by the first copy of any thread; every thread that races to it stores the same value.
var libc_memmove: ?Memmove = null;

fn compilerMemmove(dst: [*]u8, src: [*]const u8, len: usize) callconv(.c) ?*anyopaque {
    @memmove(dst[0..len], src[0..len]);
    return dst;
}

/// dlsym's handle for "every object of the process, in load order": null on Linux, -2 on macOS.
const rtld_default: ?*anyopaque = if (@import("builtin").os.tag.isDarwin()) @ptrFromInt(@as(usize, @bitCast(@as(isize, -2)))) else null;

fn memmoveFn() Memmove {
    if (@atomicLoad(?Memmove, &libc_memmove, .monotonic)) |found| return found;
    // RTLD_DEFAULT: the process's global scope, where libc's memmove is and this library's local
    // one is not. A process with no dynamic libc (none that loads this library) keeps the compiler's.
    const found: Memmove = if (std.c.dlsym(rtld_default, "memmove")) |symbol| @ptrCast(@alignCast(symbol)) else &compilerMemmove;
    @atomicStore(?Memmove, &libc_memmove, found, .monotonic);
    return found;
}

pub fn copy(dst: [*]u8, src: [*]const u8, len: usize) void {
    assert(len > 0);
    assert(@intFromPtr(dst) != 0 and @intFromPtr(src) != 0);
    _ = memmoveFn()(dst, src, len);
}

test "overlapping copies move the bytes as if through a buffer" {
    var bytes: [16]u8 = .{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    copy(bytes[4..].ptr, bytes[0..].ptr, 8); // forwards over itself
    try std.testing.expectEqualSlices(u8, &.{ 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15 }, &bytes);
    copy(bytes[0..].ptr, bytes[2..].ptr, 4); // backwards over itself
    try std.testing.expectEqualSlices(u8, &.{ 2, 3, 0, 1, 0, 1, 2, 3 }, bytes[0..8]);
}

test "the copy is libc's memmove, found in the process, not this library's own" {
    var bytes: [4]u8 = .{ 1, 2, 3, 4 };
    copy(bytes[1..].ptr, bytes[0..].ptr, 3);
    try std.testing.expectEqualSlices(u8, &.{ 1, 1, 2, 3 }, &bytes);
    const found = libc_memmove.?;
    try std.testing.expect(found != @as(Memmove, &compilerMemmove));
    try std.testing.expect(@intFromPtr(found) == @intFromPtr(std.c.dlsym(rtld_default, "memmove").?));
}
