//! Quarantine: freed blocks wait here, oldest first, before their memory can be handed out
//! again, so a use after free touches memory that belongs to nobody yet (poisoned, or with
//! guard pages inaccessible) instead of someone else's live data. Bounded by bytes and by count.
//!
//! Invariants: `len <= ring.len`; entries from `head` on, wrapping, are in the order they were
//! freed; `index` maps each entry's user offset to its sequence number, and only those;
//! `bytes_held` is the sum of the entries' `held_bytes`, and it is what `bytes_max` bounds and
//! what the statistics report (quarantinedBytes), so the figure and the limit count the same.
const std = @import("std");
const assert = std.debug.assert;
const OffsetMap = @import("../strategy/offset_map.zig").OffsetMap;

/// The most freed blocks held at once, whatever their size: bounds the bookkeeping.
pub const count_max = 1 << 16;

pub const Entry = struct {
    user_g: u32,
    id: u32,
    size: u64,
    /// The bytes of the block held back that a program could reach: a strategy block whole
    /// (canaries included), a guarded block's data pages (its guard page is guard_page_bytes).
    held_bytes: u64,
    guarded: bool,
};

pub const Quarantine = struct {
    gpa: std.mem.Allocator,
    bytes_max: u64,
    ring: []Entry = &.{},
    head: usize = 0,
    len: usize = 0,
    /// Sequence number of the entry at `head`; entry `s` lies `s - head_seq` after it.
    head_seq: u32 = 0,
    index: OffsetMap = .{},
    bytes_held: u64 = 0,

    pub fn init(gpa: std.mem.Allocator, bytes_max: u64) Quarantine {
        assert(bytes_max > 0);
        return .{ .gpa = gpa, .bytes_max = bytes_max };
    }

    pub fn deinit(self: *Quarantine) void {
        self.gpa.free(self.ring);
        self.index.deinit(self.gpa);
        self.* = undefined;
    }

    pub fn clear(self: *Quarantine) void {
        self.head = 0;
        self.len = 0;
        self.index.clear();
        self.bytes_held = 0;
    }

    /// Makes room for one more entry, so that the push that follows cannot fail.
    pub fn reserve(self: *Quarantine) error{OutOfMemory}!void {
        try self.index.ensureUnusedCapacity(self.gpa, 1);
        if (self.len < self.ring.len) return;
        const capacity = @max(64, self.ring.len * 2);
        const ring = try self.gpa.alloc(Entry, capacity);
        for (0..self.len) |i| ring[i] = self.ring[(self.head + i) % self.ring.len];
        self.gpa.free(self.ring);
        self.ring = ring;
        self.head = 0;
    }

    /// Adds a freed block as the newest entry (after `reserve`).
    pub fn push(self: *Quarantine, entry: Entry) void {
        assert(self.len < self.ring.len and self.index.get(entry.user_g) == null);
        const seq = self.head_seq +% @as(u32, @intCast(self.len));
        self.ring[(self.head + self.len) % self.ring.len] = entry;
        self.len += 1;
        self.index.putAssumeCapacity(entry.user_g, seq);
        self.bytes_held += entry.held_bytes;
    }

    /// Whether the oldest entries must leave to bring the quarantine back within its bounds.
    pub fn overfull(self: *const Quarantine) bool {
        return self.len > 0 and (self.bytes_held > self.bytes_max or self.len > count_max);
    }

    pub fn popOldest(self: *Quarantine) ?Entry {
        if (self.len == 0) return null;
        const entry = self.ring[self.head];
        assert(self.index.remove(entry.user_g).? == self.head_seq);
        self.head = (self.head + 1) % self.ring.len;
        self.len -= 1;
        self.head_seq +%= 1;
        assert(self.bytes_held >= entry.held_bytes);
        self.bytes_held -= entry.held_bytes;
        return entry;
    }

    /// The entry for a block freed at `user_g` and still held, or null.
    pub fn find(self: *const Quarantine, user_g: u32) ?Entry {
        const seq = self.index.get(user_g) orelse return null;
        const distance = seq -% self.head_seq;
        assert(distance < self.len);
        const entry = self.ring[(self.head + distance) % self.ring.len];
        assert(entry.user_g == user_g);
        return entry;
    }

    /// The entries, oldest first.
    pub fn at(self: *const Quarantine, position: usize) Entry {
        assert(position < self.len);
        return self.ring[(self.head + position) % self.ring.len];
    }
};

test "entries leave oldest first once the bytes are over the bound" {
    var quarantine = Quarantine.init(std.testing.allocator, 100);
    defer quarantine.deinit();
    for (0..200) |i| {
        try quarantine.reserve();
        quarantine.push(.{ .user_g = @intCast(i * 4), .id = @intCast(i + 1), .size = 30, .held_bytes = 32, .guarded = false });
        while (quarantine.overfull()) _ = quarantine.popOldest().?;
        try std.testing.expect(quarantine.bytes_held <= 100);
    }
    try std.testing.expectEqual(@as(usize, 3), quarantine.len);
    try std.testing.expectEqual(@as(u32, 198), quarantine.at(0).id);
    try std.testing.expectEqual(@as(u32, 200), quarantine.find(199 * 4).?.id);
    try std.testing.expect(quarantine.find(0) == null);
    quarantine.clear();
    try std.testing.expect(quarantine.find(199 * 4) == null);
}
