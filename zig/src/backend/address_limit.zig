//! The process's address space against its limit (RLIMIT_AS, `ulimit -v`: batch schedulers and
//! some containers set one). A pool without a maxSize reserves 64 GiB of address space, and where
//! the OS refuses that, the largest power of two below it that fits (arena.zig initShrinking): under
//! a limit, the first few pools took all of it, and the JavaScript heap's next mapping failed
//! ("RangeError: Out of memory" at a MiB ArrayBuffer, or Bun aborting the process). Reservations
//! of host address space ask `roomFor()` first, which keeps a quarter of the limit for everything
//! else in the process, as arena.zig's process_reserve_max keeps a quarter of the 128 TiB a Linux
//! process has where no limit is set (and map_budget.zig an eighth of the mappings).
const std = @import("std");
const assert = std.debug.assert;
const process_limits = @import("process_limits.zig");

/// Whether reserving `bytes` more of address space leaves a quarter of the process's limit
/// unmapped; true where no limit is set or the process's size cannot be read (the OS decides).
pub fn roomFor(bytes: u64) bool {
    assert(bytes > 0);
    const limit = process_limits.soft(.AS) orelse return true;
    const mapped = mappedBytes() orelse return true;
    return fits(limit, mapped, bytes);
}

/// Whether `bytes` more beside `mapped` stay within the pools' share of `limit` (three quarters).
fn fits(limit: u64, mapped: u64, bytes: u64) bool {
    assert(bytes > 0);
    const usable = process_limits.poolsShare(limit);
    return mapped <= usable and bytes <= usable - mapped;
}

/// The process's mapped address space (VmSize): the first figure of /proc/self/statm, in pages.
fn mappedBytes() ?u64 {
    var buffer: [128]u8 = undefined;
    const text = process_limits.readStart("/proc/self/statm", &buffer) orelse return null;
    const first = std.mem.sliceTo(text, ' ');
    const pages = std.fmt.parseInt(u64, first, 10) catch return null;
    return std.math.mul(u64, pages, std.heap.pageSize()) catch null;
}

test "a reservation fits while three quarters of the limit hold it and what is mapped" {
    const GiB: u64 = 1 << 30;
    try std.testing.expect(fits(80 * GiB, 6 * GiB, 54 * GiB));
    try std.testing.expect(!fits(80 * GiB, 6 * GiB, 54 * GiB + 1));
    try std.testing.expect(!fits(80 * GiB, 70 * GiB, 1)); // mapped past three quarters already
    try std.testing.expect(!fits(80 * GiB, 6 * GiB, 64 * GiB));
}

test "the process's mapped size reads, and without a limit every reservation has room" {
    const mapped = mappedBytes() orelse return error.SkipZigTest;
    try std.testing.expect(mapped > 0);
    if (process_limits.soft(.AS) == null) try std.testing.expect(roomFor(1 << 46));
}
