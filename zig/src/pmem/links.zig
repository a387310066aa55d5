//! Links: 8-byte words inside one allocation that name another, written through the pool so that a
//! new block is published in the same crash-atomic step as the link to it (pool.zig `link`).
//!
//! A link word is the target's offset in granules (low half) and a check of that offset (high
//! half, never 0), so 0 is "no link", a damaged link is refused rather than followed, and a word of
//! user data is taken for a link only where its high half happens to be the check of its low half
//! (one chance in 2^32 for arbitrary data). The reachability walk (`unreachable`) follows exactly
//! these words from the roots: what it does not reach, no root reaches through links.
const std = @import("std");
const assert = std.debug.assert;
const format = @import("format.zig");

const granule_bytes = format.granule_bytes;
pub const word_bytes = @sizeOf(u64);

fn check(g: u32) u32 {
    // A 32-bit mix (lowbias32) with a tag, so a link differs from a root's target word and from a record.
    var x: u32 = g ^ 0x4C49_4E4B; // "LINK"
    x ^= x >> 16;
    x *%= 0x7FEB_352D;
    x ^= x >> 15;
    x *%= 0x846C_A68B;
    x ^= x >> 16;
    return x | 1; // never 0: a link word is never 0
}

/// The word that links to the block at `g` (0: no link).
pub fn word(g: u32) u64 {
    if (g == 0) return 0;
    return @as(u64, check(g)) << 32 | g;
}

/// What a word links to: 0 for no link, the target's offset, or null where the word is not a link.
pub fn decode(stored: u64) ?u32 {
    if (stored == 0) return 0;
    const g: u32 = @truncate(stored);
    if (g == 0 or @as(u32, @truncate(stored >> 32)) != check(g)) return null;
    return g;
}

/// Marks, in `reached` (one bit per table slot), every live block reachable from `roots` through
/// link words in reached blocks' bytes. Bounded: each block is scanned at most once. `heap`
/// answers `lookup(g)` (the live block at `g`, or null), `slotOf(g)` (its record slot) and
/// `isPublished(g)` (its record is in the file).
///
/// A link is followed only to a published block. link() publishes what it links to, so a word
/// naming an unpublished block is dangling: its target was freed without unlinking and the block
/// taken since by an allocation nothing published, which a crash or close loses. Followed, it made
/// that allocation "reachable": missing from the unreachable list and the leak report, though lost.
pub fn markReachable(gpa: std.mem.Allocator, heap: anytype, base: [*]const u8, roots: []const u32, reached: *std.DynamicBitSetUnmanaged) error{OutOfMemory}!void {
    var queue: std.ArrayList(u32) = .empty;
    defer queue.deinit(gpa);
    for (roots) |g| {
        if (g != 0) try visit(gpa, heap, g, reached, &queue);
    }
    while (queue.pop()) |g| {
        const live = heap.lookup(g).?;
        const start = @as(usize, g) * granule_bytes;
        const words = live.requested_bytes / word_bytes;
        const block: [*]const u64 = @ptrCast(@alignCast(base + start));
        for (block[0..words]) |stored| {
            const target = decode(stored) orelse continue;
            if (target != 0 and heap.lookup(target) != null and heap.isPublished(target)) try visit(gpa, heap, target, reached, &queue);
        }
    }
}

fn visit(gpa: std.mem.Allocator, heap: anytype, g: u32, reached: *std.DynamicBitSetUnmanaged, queue: *std.ArrayList(u32)) error{OutOfMemory}!void {
    const slot = heap.slotOf(g).?;
    assert(slot < reached.bit_length);
    if (reached.isSet(slot)) return;
    reached.set(slot);
    try queue.append(gpa, g);
}

test "a link word names its target, and damage or data is not taken for a link" {
    try std.testing.expectEqual(@as(u64, 0), word(0));
    try std.testing.expectEqual(@as(?u32, 0), decode(0));
    for ([_]u32{ 1, 256, 0x1234_5678, std.math.maxInt(u32) }) |g| {
        const linked = word(g);
        try std.testing.expectEqual(@as(?u32, g), decode(linked));
        for (0..64) |bit| { // one flipped bit is never another valid link
            try std.testing.expectEqual(@as(?u32, null), decode(linked ^ (@as(u64, 1) << @intCast(bit))));
        }
    }
    try std.testing.expectEqual(@as(?u32, null), decode(0x0000_0000_0000_1000)); // an offset without its check
    try std.testing.expectEqual(@as(?u32, null), decode(0xFFFF_FFFF_0000_0000));
}

/// Which blocks a link word may name, by record slot, in DRAM: what lets a free refuse a block a
/// link still names (journal.zig) without reading the heap at every free. A set bit may be stale
/// (the word was overwritten since): the journal then reads the heap to be sure, and clears it.
/// A clear bit is exact once `known`: link words are written by link() (which notes its child),
/// copied from words that named the block already (whose bit is then set), or come from outside
/// the pool through a persist, memcpyPersist, copy() or checkpoint (journal.zig noteWrittenLinks
/// notes what they name); the words written before the file was opened were found by one scan
/// when the set was started. A word written through a view and never persisted is not noted.
pub const Named = struct {
    bits: std.DynamicBitSetUnmanaged = .{},
    /// Whether the scan of the blocks found at open was made: until then nothing is noted.
    known: bool = false,

    pub fn start(self: *Named, gpa: std.mem.Allocator, slots: usize) error{OutOfMemory}!void {
        assert(!self.known);
        self.bits = try std.DynamicBitSetUnmanaged.initEmpty(gpa, slots);
        self.known = true;
    }

    /// A link to the block at record `slot` is being written. Before `start` the scan will find it.
    pub fn note(self: *Named, slot: u32) void {
        if (self.known) self.bits.set(slot);
    }

    pub fn noteKnown(self: *Named, slot: u32) void {
        assert(self.known);
        self.bits.set(slot);
    }

    pub fn may(self: *const Named, slot: u32) bool {
        assert(self.known);
        return self.bits.isSet(slot);
    }

    pub fn clear(self: *Named, slot: u32) void {
        self.bits.unset(slot);
    }

    /// Every block was freed (a reset): none is named, and the next need scans again.
    pub fn forget(self: *Named, gpa: std.mem.Allocator) void {
        self.deinit(gpa);
        self.* = .{};
    }

    pub fn deinit(self: *Named, gpa: std.mem.Allocator) void {
        if (self.known) self.bits.deinit(gpa);
    }
};

test "a block is named once noted, until cleared; nothing is noted before the set is started" {
    var named: Named = .{};
    defer named.deinit(std.testing.allocator);
    named.note(3); // not started: the scan will find it
    try named.start(std.testing.allocator, 8);
    try std.testing.expect(!named.may(3));
    named.note(3);
    try std.testing.expect(named.may(3) and !named.may(4));
    named.clear(3);
    try std.testing.expect(!named.may(3));
    named.forget(std.testing.allocator);
    try std.testing.expect(!named.known);
}

test "the walk follows a link only to a published block: an unpublished one there took a freed target's block" {
    const gpa = std.testing.allocator;
    // Blocks of 16 bytes at granules 1, 2 and 3 (slots 0, 1, 2); block 1 links to 2 and 3, and
    // block 3 is unpublished: the allocation block 1 linked to there was freed, and a new one placed.
    var memory = [_]u64{0} ** 8;
    memory[2 * 1] = word(2);
    memory[2 * 1 + 1] = word(3);
    const Heap = struct {
        const Live = struct { requested_bytes: u64 };
        pub fn lookup(_: @This(), g: u32) ?Live {
            return if (g >= 1 and g <= 3) .{ .requested_bytes = 16 } else null;
        }
        pub fn slotOf(_: @This(), g: u32) ?u32 {
            return if (g >= 1 and g <= 3) g - 1 else null;
        }
        pub fn isPublished(_: @This(), g: u32) bool {
            return g != 3;
        }
    };
    comptime assert(granule_bytes == 16);
    var reached = try std.DynamicBitSetUnmanaged.initEmpty(gpa, 3);
    defer reached.deinit(gpa);
    try markReachable(gpa, Heap{}, @ptrCast(&memory), &.{1}, &reached);
    try std.testing.expect(reached.isSet(0) and reached.isSet(1));
    try std.testing.expect(!reached.isSet(2));
}
