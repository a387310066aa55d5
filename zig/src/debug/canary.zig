//! Canaries: known bytes on both sides of an allocation's user bytes, written when it is
//! allocated and compared when it is freed, checked or its pool destroyed. A write past either
//! end changes them, so the damage is found and named even where no page protection could
//! catch it (the bytes between the end of an allocation and the next granule or page).
//!
//! The value of a canary byte depends on its address (modulo `period_bytes`), so a block copied
//! over its neighbour by a few bytes does not happen to leave the canary intact, and a dump of
//! memory shows where canaries are. Filling and comparing are memcpy and memcmp against a table.
const std = @import("std");
const assert = std.debug.assert;

pub const period_bytes = 16;
/// One period of the pattern; byte `i` guards addresses that are `i` modulo `period_bytes`.
const period: [period_bytes]u8 = blk: {
    var bytes: [period_bytes]u8 = undefined;
    for (&bytes, 0..) |*byte, i| byte.* = @truncate(0xC3 +% i *% 0x35);
    break :blk bytes;
};

/// The pattern repeated over a page and one period more, so any phase can be sliced from it.
const table_bytes = 4096 + period_bytes;
const table: [table_bytes]u8 = blk: {
    @setEvalBranchQuota(table_bytes * 4);
    var bytes: [table_bytes]u8 = undefined;
    for (&bytes, 0..) |*byte, i| byte.* = period[i % period_bytes];
    break :blk bytes;
};

/// The canary byte for `address`.
pub fn byteAt(address: u64) u8 {
    return period[address % period_bytes];
}

/// The pattern as it lies from `address` on, at most `len` bytes of it and one page at most.
fn patternAt(address: u64, len: usize) []const u8 {
    const phase: usize = @intCast(address % period_bytes);
    const take = @min(len, table_bytes - period_bytes);
    assert(phase + take <= table_bytes);
    return table[phase..][0..take];
}

/// Writes canary bytes over `memory`, which starts at `address`.
pub inline fn fill(memory: []u8, address: u64) void {
    if (memory.len >= period_bytes and memory.len <= 2 * period_bytes) {
        // The usual canary (16 to 31 bytes): two overlapping 16-byte stores, no call.
        const pattern = patternAt(address, memory.len);
        memory[0..period_bytes].* = pattern[0..period_bytes].*;
        memory[memory.len - period_bytes ..][0..period_bytes].* = pattern[memory.len - period_bytes ..][0..period_bytes].*;
        return;
    }
    if (memory.len <= table_bytes - period_bytes) {
        @memcpy(memory, patternAt(address, memory.len)); // the usual case: one copy
        return;
    }
    fillLong(memory, address);
}

fn fillLong(memory: []u8, address: u64) void {
    var done: usize = 0;
    while (done < memory.len) {
        const chunk = patternAt(address + done, memory.len - done);
        @memcpy(memory[done..][0..chunk.len], chunk);
        done += chunk.len;
    }
    assert(done == memory.len);
}

/// Whether `memory` holds its canaries intact: the fast check, done on every free.
pub inline fn intact(memory: []const u8, address: u64) bool {
    if (memory.len >= period_bytes and memory.len <= 2 * period_bytes) {
        const pattern = patternAt(address, memory.len);
        const tail = memory.len - period_bytes;
        return load16(memory, 0) == load16(pattern, 0) and load16(memory, tail) == load16(pattern, tail);
    }
    if (memory.len <= table_bytes - period_bytes) return std.mem.eql(u8, memory, patternAt(address, memory.len));
    return firstDamaged(memory, address, .upward) == null;
}

inline fn load16(bytes: []const u8, at: usize) u128 {
    return std.mem.readInt(u128, bytes[at..][0..period_bytes], .little);
}

/// Where the damage is found first: scanning up from the low end (bytes after an allocation,
/// so the first damaged byte is the one nearest its end) or down from the high end (bytes
/// before it, so the damaged byte nearest its start).
pub const Scan = enum { upward, downward };

/// Index of the damaged byte nearest the allocation (see `Scan`), or null when `memory` holds
/// its canaries intact.
pub fn firstDamaged(memory: []const u8, address: u64, scan: Scan) ?usize {
    if (memory.len == 0) return null;
    switch (scan) {
        .upward => {
            var done: usize = 0;
            while (done < memory.len) {
                const chunk = patternAt(address + done, memory.len - done);
                if (std.mem.indexOfDiff(u8, memory[done..][0..chunk.len], chunk)) |at| return done + at;
                done += chunk.len;
            }
            return null;
        },
        .downward => {
            // Cheap test first: most canaries are intact, and memcmp is fast.
            if (firstDamaged(memory, address, .upward) == null) return null;
            var index = memory.len;
            while (index > 0) {
                index -= 1;
                if (memory[index] != byteAt(address + index)) return index;
            }
            unreachable;
        },
    }
}

/// How many bytes of `memory` differ from their canaries: the size of the damage.
pub fn countDamaged(memory: []const u8, address: u64) u64 {
    var count: u64 = 0;
    for (memory, 0..) |byte, i| count += @intFromBool(byte != byteAt(address + i));
    return count;
}

test "fill then check finds nothing; damage is found nearest the allocation" {
    var buffer: [300]u8 = undefined;
    const address: u64 = 0x1000 + 7;
    fill(&buffer, address);
    try std.testing.expect(firstDamaged(&buffer, address, .upward) == null);
    try std.testing.expect(firstDamaged(&buffer, address, .downward) == null);
    try std.testing.expect(intact(&buffer, address));
    buffer[5] ^= 0xff;
    try std.testing.expect(!intact(&buffer, address));
    buffer[200] ^= 0x01;
    try std.testing.expectEqual(@as(?usize, 5), firstDamaged(&buffer, address, .upward));
    try std.testing.expectEqual(@as(?usize, 200), firstDamaged(&buffer, address, .downward));
    try std.testing.expectEqual(@as(u64, 2), countDamaged(&buffer, address));
}

test "canaries of every length from 0 to 40 bytes: filled, intact, and any one damaged byte seen" {
    var buffer: [40]u8 = undefined;
    for (0..41) |len| {
        for (0..period_bytes) |phase| {
            const memory = buffer[0..len];
            fill(memory, phase);
            try std.testing.expect(intact(memory, phase));
            for (0..len) |damaged| {
                memory[damaged] ^= 0x10;
                try std.testing.expect(!intact(memory, phase));
                try std.testing.expectEqual(@as(?usize, damaged), firstDamaged(memory, phase, .upward));
                memory[damaged] ^= 0x10;
            }
        }
    }
}

test "the pattern depends on the address, and spans longer than a page" {
    var buffer: [10000]u8 = undefined;
    fill(&buffer, 3);
    try std.testing.expect(firstDamaged(&buffer, 3, .upward) == null);
    try std.testing.expect(firstDamaged(&buffer, 4, .upward) != null); // shifted by one byte: damaged
    try std.testing.expect(intact(&buffer, 3) and !intact(&buffer, 4));
    for (buffer, 0..) |byte, i| try std.testing.expectEqual(byteAt(3 + i), byte);
}
