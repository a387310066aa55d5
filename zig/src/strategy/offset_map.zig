//! A hash map from a block's granule offset to its record: how a strategy whose bookkeeping
//! lives out of band finds the block a pointer names. Open addressing with linear probing and
//! backward-shift deletion (no tombstones), so lookups stay short after any mix of operations.
//!
//! Invariants: capacity is a power of two; count <= capacity * 1/2; every key sits between
//! its home slot and the first empty slot after it.
const std = @import("std");
const unfilled = @import("../unfilled.zig");
const assert = std.debug.assert;

pub const empty_key: u32 = std.math.maxInt(u32);
pub const Slot = struct { key: u32, value: u32 };
const capacity_min = 64;

pub const OffsetMap = struct {
    slots: []Slot = &.{},
    count: u32 = 0,
    shift: u5 = 0,

    pub fn deinit(self: *OffsetMap, gpa: std.mem.Allocator) void {
        gpa.free(self.slots);
        self.* = undefined;
    }

    pub fn clear(self: *OffsetMap) void {
        for (self.slots) |*slot| slot.key = empty_key;
        self.count = 0;
    }

    inline fn home(self: *const OffsetMap, key: u32) usize {
        // Fibonacci hashing: the high bits of the product spread consecutive offsets.
        return @as(u32, key *% 0x9E37_79B9) >> self.shift;
    }

    pub fn get(self: *const OffsetMap, key: u32) ?u32 {
        assert(key != empty_key);
        if (self.slots.len == 0) return null;
        const mask = self.slots.len - 1;
        var index = self.home(key);
        while (true) : (index = (index + 1) & mask) {
            const slot = self.slots[index];
            if (slot.key == key) return slot.value;
            if (slot.key == empty_key) return null;
        }
    }

    pub fn put(self: *OffsetMap, gpa: std.mem.Allocator, key: u32, value: u32) error{OutOfMemory}!void {
        try self.ensureUnusedCapacity(gpa, 1);
        self.putAssumeCapacity(key, value);
    }

    /// Makes room for `additional` more keys, so the puts that follow cannot fail.
    pub fn ensureUnusedCapacity(self: *OffsetMap, gpa: std.mem.Allocator, additional: u32) error{OutOfMemory}!void {
        const needed = (@as(usize, self.count) + additional) * 2;
        if (needed <= self.slots.len) return;
        try self.resize(gpa, @max(capacity_min, std.math.ceilPowerOfTwoAssert(usize, needed)));
    }

    pub fn putAssumeCapacity(self: *OffsetMap, key: u32, value: u32) void {
        assert(key != empty_key and (self.count + 1) * 2 <= self.slots.len);
        const mask = self.slots.len - 1;
        var index = self.home(key);
        while (self.slots[index].key != empty_key) : (index = (index + 1) & mask) {
            assert(self.slots[index].key != key); // a key is put once
        }
        self.slots[index] = .{ .key = key, .value = value };
        self.count += 1;
    }

    /// Puts every key of `entries` (none already in the map, each once), as `putAssumeCapacity`
    /// would, but in the order of their home slots: the writes then sweep the table once instead
    /// of landing at random (a cache miss each), which is what rebuilding a map of 10^6 blocks
    /// costs. `entries` is reordered; `scratch` is as long.
    pub fn putAllAssumeCapacity(self: *OffsetMap, entries: []Slot, scratch: []Slot) void {
        assert(scratch.len == entries.len and (self.count + entries.len) * 2 <= self.slots.len);
        // LSD radix sort by home, 11 bits a pass (a home has at most 32 bits).
        const digit_bits = 11;
        const home_bits: u6 = @intCast(32 - @as(u32, self.shift));
        var from = entries;
        var to = scratch;
        var low: u6 = 0;
        while (low < home_bits) : (low += digit_bits) {
            var counts: [1 << digit_bits]u32 = @splat(0);
            for (from) |entry| counts[self.digit(entry.key, low)] += 1;
            var total: u32 = 0;
            for (&counts) |*count| {
                const here = count.*;
                count.* = total;
                total += here;
            }
            for (from) |entry| {
                const bucket = &counts[self.digit(entry.key, low)];
                to[bucket.*] = entry;
                bucket.* += 1;
            }
            std.mem.swap([]Slot, &from, &to);
        }
        for (from) |entry| self.putAssumeCapacity(entry.key, entry.value);
    }

    inline fn digit(self: *const OffsetMap, key: u32, low: u6) usize {
        return @intCast((@as(u64, self.home(key)) >> low) & ((1 << 11) - 1));
    }

    /// Removes `key` and returns its value, or null where it is absent.
    pub inline fn remove(self: *OffsetMap, key: u32) ?u32 {
        assert(key != empty_key);
        if (self.slots.len == 0) return null;
        const mask = self.slots.len - 1;
        var index = self.home(key);
        while (self.slots[index].key != key) : (index = (index + 1) & mask) {
            if (self.slots[index].key == empty_key) return null;
        }
        const value = self.slots[index].value;
        // Shift later members of the probe run back so no lookup stops early at the hole.
        var hole = index;
        var next = (hole + 1) & mask;
        while (self.slots[next].key != empty_key) : (next = (next + 1) & mask) {
            const want = self.home(self.slots[next].key);
            const distance_to_hole = (hole -% want) & mask;
            const distance_to_next = (next -% want) & mask;
            if (distance_to_hole < distance_to_next) {
                self.slots[hole] = self.slots[next];
                hole = next;
            }
        }
        self.slots[hole].key = empty_key;
        self.count -= 1;
        return value;
    }

    fn resize(self: *OffsetMap, gpa: std.mem.Allocator, capacity: usize) error{OutOfMemory}!void {
        assert(std.math.isPowerOfTwo(capacity) and capacity >= self.count * 2);
        const old = self.slots;
        self.slots = try unfilled.alloc(gpa, Slot, capacity); // every slot is written just below
        for (self.slots) |*slot| slot.key = empty_key;
        self.shift = @intCast(32 - std.math.log2_int(usize, capacity));
        self.count = 0;
        for (old) |slot| if (slot.key != empty_key) self.putAssumeCapacity(slot.key, slot.value);
        unfilled.free(gpa, old);
    }

    pub const Iterator = struct {
        map: *const OffsetMap,
        index: usize = 0,
        pub fn next(self: *Iterator) ?Slot {
            while (self.index < self.map.slots.len) {
                const slot = self.map.slots[self.index];
                self.index += 1;
                if (slot.key != empty_key) return slot;
            }
            return null;
        }
    };

    pub fn iterator(self: *const OffsetMap) Iterator {
        return .{ .map = self };
    }
};

test "putAllAssumeCapacity puts what one put at a time would, at any table size" {
    const gpa = std.testing.allocator;
    var prng = std.Random.DefaultPrng.init(7);
    for ([_]usize{ 1, 100, 5000, 70_000 }) |count| {
        var map: OffsetMap = .{};
        defer map.deinit(gpa);
        try map.put(gpa, 0x7777_7777, 1); // one key there before
        try map.ensureUnusedCapacity(gpa, @intCast(count));
        const entries = try gpa.alloc(Slot, count);
        defer gpa.free(entries);
        const scratch = try gpa.alloc(Slot, count);
        defer gpa.free(scratch);
        for (entries, 0..) |*entry, index| entry.* = .{ .key = @intCast(index * 4 + 16), .value = prng.random().int(u32) };
        const expected = try gpa.dupe(Slot, entries);
        defer gpa.free(expected);
        map.putAllAssumeCapacity(entries, scratch);
        try std.testing.expectEqual(@as(u32, @intCast(count + 1)), map.count);
        for (expected) |entry| try std.testing.expectEqual(entry.value, map.get(entry.key).?);
        try std.testing.expectEqual(@as(u32, 1), map.get(0x7777_7777).?);
        try std.testing.expect(map.get(8) == null);
    }
}

test "offset map agrees with a reference under random puts and removes" {
    const gpa = std.testing.allocator;
    var map: OffsetMap = .{};
    defer map.deinit(gpa);
    var reference = std.AutoHashMap(u32, u32).init(gpa);
    defer reference.deinit();
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    for (0..50_000) |step| {
        const key = random.uintLessThan(u32, 4096);
        if (reference.contains(key)) {
            try std.testing.expectEqual(reference.fetchRemove(key).?.value, map.remove(key).?);
        } else {
            try map.put(gpa, key, @intCast(step));
            try reference.put(key, @intCast(step));
        }
        try std.testing.expectEqual(reference.count(), map.count);
    }
    var it = reference.iterator();
    while (it.next()) |entry| try std.testing.expectEqual(entry.value_ptr.*, map.get(entry.key_ptr.*).?);
    try std.testing.expect(map.get(5000) == null);
}
