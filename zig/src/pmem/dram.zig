//! DRAM for a PMEM pool's placement (the strategy's records, its maps, recovery's temporaries):
//! blocks of 2 MiB and more are mapped on their own, aligned to 2 MiB, with transparent huge pages
//! advised; smaller ones come from the C allocator.
//!
//! Why: recovering a pool of 10^6 allocations writes about 150 MB of fresh DRAM, and in 4 KiB pages
//! that is ~40,000 page faults, which were most of its time (measured on the dev machine: 320 ms in
//! 4 KiB pages, 140 ms with huge pages, under load). Huge pages also shorten the TLB misses of the
//! placement maps afterwards. Where the kernel gives no huge pages the mapping works as any other.
const std = @import("std");
const assert = std.debug.assert;
const c = std.c;

const huge_bytes: usize = 2 * 1024 * 1024;
const small = std.heap.c_allocator;

pub const allocator: std.mem.Allocator = .{ .ptr = undefined, .vtable = &vtable };

const vtable: std.mem.Allocator.VTable = .{ .alloc = alloc, .resize = resize, .remap = remap, .free = free };

fn isLarge(len: usize) bool {
    return len >= huge_bytes;
}

fn mappedBytes(len: usize) usize {
    return std.mem.alignForward(usize, len, huge_bytes);
}

fn alloc(_: *anyopaque, len: usize, alignment: std.mem.Alignment, ret_addr: usize) ?[*]u8 {
    if (!isLarge(len)) return small.rawAlloc(len, alignment, ret_addr);
    assert(alignment.toByteUnits() <= huge_bytes);
    const bytes = mappedBytes(len);
    // Map 2 MiB more, then trim the ends, so the block starts on a huge page boundary.
    const raw = c.mmap(null, bytes + huge_bytes, c.PROT.READ | c.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0);
    if (raw == c.MAP_FAILED) return null;
    const start = @intFromPtr(raw);
    const aligned = std.mem.alignForward(usize, start, huge_bytes);
    if (aligned > start) _ = c.munmap(@ptrFromInt(start), aligned - start);
    const end = start + bytes + huge_bytes;
    if (end > aligned + bytes) _ = c.munmap(@ptrFromInt(aligned + bytes), end - (aligned + bytes));
    _ = c.madvise(@ptrFromInt(aligned), bytes, std.os.linux.MADV.HUGEPAGE); // advice: refused is fine
    return @ptrFromInt(aligned);
}

/// In place only where the block stays on the same side of 2 MiB and, when large, in its mapping:
/// otherwise the caller moves it (alloc, copy, free), so each block is freed by what made it.
fn resize(_: *anyopaque, memory: []u8, alignment: std.mem.Alignment, new_len: usize, ret_addr: usize) bool {
    if (!isLarge(memory.len) and !isLarge(new_len)) return small.rawResize(memory, alignment, new_len, ret_addr);
    return isLarge(memory.len) and isLarge(new_len) and mappedBytes(memory.len) == mappedBytes(new_len);
}

fn remap(context: *anyopaque, memory: []u8, alignment: std.mem.Alignment, new_len: usize, ret_addr: usize) ?[*]u8 {
    if (!isLarge(memory.len) and !isLarge(new_len)) return small.rawRemap(memory, alignment, new_len, ret_addr);
    return if (resize(context, memory, alignment, new_len, ret_addr)) memory.ptr else null;
}

fn free(_: *anyopaque, memory: []u8, alignment: std.mem.Alignment, ret_addr: usize) void {
    if (!isLarge(memory.len)) return small.rawFree(memory, alignment, ret_addr);
    assert(@intFromPtr(memory.ptr) % huge_bytes == 0);
    _ = c.munmap(@ptrCast(@alignCast(memory.ptr)), mappedBytes(memory.len));
}

test "small and large blocks, grown and shrunk across 2 MiB, keep their bytes and are freed by what made them" {
    var list: std.ArrayList(u64) = .empty;
    defer list.deinit(allocator);
    for (0..1_000_000) |index| try list.append(allocator, index); // grows from small to large (8 MB)
    for (list.items, 0..) |value, index| try std.testing.expectEqual(@as(u64, index), value);
    try std.testing.expect(@intFromPtr(list.items.ptr) % huge_bytes == 0);
    list.shrinkAndFree(allocator, 1000); // back below 2 MiB: moved to the C allocator
    try std.testing.expectEqual(@as(u64, 999), list.items[999]);
    const large = try allocator.alloc(u8, 3 * huge_bytes + 5);
    @memset(large, 0xAB);
    try std.testing.expect(allocator.resize(large, 3 * huge_bytes + 100)); // same mapping
    try std.testing.expect(!allocator.resize(large, 100)); // crosses 2 MiB: the caller moves it
    allocator.free(large);
}
