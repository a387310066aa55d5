//! Host memory from the OS: a range of address space reserved once (readable, not writable, no
//! swap reservation) and committed or decommitted in place, so an arena never moves and every
//! pointer it hands out stays `base + offset`.
const std = @import("std");
const posix = std.posix;
const assert = std.debug.assert;
const address_limit = @import("address_limit.zig");
const os_refusal = @import("os_refusal.zig");

pub const page_bytes = std.heap.page_size_min;

pub fn reserve(len: u64) ?u64 {
    return reserveAligned(len, page_bytes);
}

/// Reserves `len` bytes starting at a multiple of `alignment` (over-reserves, then gives back
/// the ends), so regions can line up with 2 MiB huge pages.
pub fn reserveAligned(len: u64, alignment: u64) ?u64 {
    assert(len > 0 and len % page_bytes == 0);
    assert(std.math.isPowerOfTwo(alignment) and alignment >= page_bytes);
    const slack = alignment - page_bytes;
    if (!address_limit.roomFor(len + slack)) return null; // under `ulimit -v`: a quarter stays for the rest of the process
    // Readable from the start, as decommitted pages stay (see decommit): a JavaScript window view's
    // buffer spans past the committed memory (twice what its views reach), and whatever reads the
    // whole buffer (structuredClone, postMessage, buffer.slice()) faulted on a PROT_NONE page.
    // Read-only private pages cost nothing until written, and a write still faults.
    const memory = posix.mmap(null, len + slack, posix.PROT.READ, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0) catch |err| {
        os_refusal.noteRefused(err, len + slack);
        return null;
    };
    const start = @intFromPtr(memory.ptr);
    const base = std.mem.alignForward(u64, start, alignment);
    if (base > start) posix.munmap(slice(start, base - start));
    const tail = start + len + slack - (base + len);
    if (tail > 0) posix.munmap(slice(base + len, tail));
    assert(base % alignment == 0);
    return base;
}

/// Asks for transparent huge pages over a range (best effort: where THP is off nothing changes).
pub fn adviseHugePages(address: u64, len: u64) void {
    assert(address % page_bytes == 0 and len % page_bytes == 0);
    posix.madvise(@ptrFromInt(address), len, posix.MADV.HUGEPAGE) catch {};
}

pub fn release(base: u64, len: u64) void {
    assert(base % page_bytes == 0 and len % page_bytes == 0);
    posix.munmap(slice(base, len));
}

pub fn commit(base: u64, offset: u64, len: u64) bool {
    assert((base + offset) % page_bytes == 0 and len % page_bytes == 0);
    posix.mprotect(slice(base + offset, len), posix.PROT.READ | posix.PROT.WRITE) catch |err| {
        os_refusal.noteRefused(err, len);
        return false;
    };
    return true;
}

/// Gives the pages back to the OS; their contents are lost. The range stays readable and
/// writable (it reads as zeros), because a stale JavaScript view may still reach it and
/// touching an inaccessible page would kill the process.
pub fn decommit(base: u64, offset: u64, len: u64) void {
    assert((base + offset) % page_bytes == 0 and len % page_bytes == 0);
    const memory = slice(base + offset, len);
    posix.madvise(memory.ptr, len, posix.MADV.DONTNEED) catch {};
}

/// Makes pages inaccessible while keeping them committed: guard pages.
pub fn protectNone(address: u64, len: u64) bool {
    assert(address % page_bytes == 0 and len % page_bytes == 0);
    posix.mprotect(slice(address, len), posix.PROT.NONE) catch return false;
    return true;
}

fn slice(address: u64, len: u64) []align(page_bytes) u8 {
    const pointer: [*]align(page_bytes) u8 = @ptrFromInt(address);
    return pointer[0..len];
}

test "reserve, commit, write, decommit, release" {
    const len = 4 * page_bytes;
    const base = reserve(len).?;
    const reserved: [*]const volatile u8 = @ptrFromInt(base + 3 * page_bytes);
    try std.testing.expectEqual(@as(u8, 0), reserved[0]); // reserved, never committed: reads as zeros
    try std.testing.expect(commit(base, page_bytes, page_bytes));
    const bytes: [*]u8 = @ptrFromInt(base + page_bytes);
    bytes[0] = 0xAB;
    try std.testing.expectEqual(@as(u8, 0xAB), bytes[0]);
    decommit(base, page_bytes, page_bytes);
    try std.testing.expect(commit(base, page_bytes, page_bytes));
    try std.testing.expectEqual(@as(u8, 0), bytes[0]); // decommitted pages come back zeroed
    release(base, len);
}
