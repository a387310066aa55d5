//! Named roots: how a new process finds what an earlier one stored. A root is a name and the
//! offset of a live allocation, in one of 64 slots of 64 bytes (one cache line each).
//!
//! A slot's first word is its target: 0 is an empty slot (whatever name it holds is stale), else the
//! allocation's offset in granules (low half) and a CRC-32 of the slot's name bytes and that offset
//! (high half), so a flipped bit in a root's name, offset or check is refused on open. Publishing a
//! new name writes the name (zero-padded) into an empty slot and persists it, then commits the
//! target word: one 8-byte store. Re-pointing or removing a root is one store too. Changes that
//! must go with an allocation or a free use the redo log instead (with `targetWord`).
//! The targets are mirrored in DRAM, so a free can refuse a published block without reading the file.
const std = @import("std");
const assert = std.debug.assert;
const format = @import("format.zig");
const Media = @import("media.zig").Media;

pub const name_bytes_max = 55;
pub const capacity: usize = @intCast(format.root_capacity);

pub const Slot = extern struct {
    /// 0, or the target's granule offset | check << 32 (see `targetWord`).
    target: u64,
    name_len: u8,
    name: [name_bytes_max]u8,

    pub fn nameSlice(self: *const Slot) []const u8 {
        return self.name[0..@min(self.name_len, name_bytes_max)];
    }

    /// The target word that points this slot (with the name it holds) at `g`; 0 for no target.
    pub fn targetWord(self: *const Slot, g: u32) u64 {
        if (g == 0) return 0;
        var crc = std.hash.Crc32.init();
        crc.update(std.mem.asBytes(self)[@sizeOf(u64)..]);
        crc.update(std.mem.asBytes(&g));
        return @as(u64, crc.final()) << 32 | g;
    }
};

comptime {
    assert(@sizeOf(Slot) == format.root_slot_bytes);
}

pub const Roots = struct {
    slots: *[capacity]Slot, // in the mapping
    /// DRAM mirror of each slot's target (0: empty).
    targets: [capacity]u32 = @splat(0),
    count: u32 = 0,

    pub fn init(media: *const Media) Roots {
        return .{ .slots = @ptrCast(@alignCast(media.base + format.roots_offset)) };
    }

    /// Reads the slots after a restart; `isLive` says whether an offset starts a live allocation.
    /// On error.Corrupt `problem` names the slot; nothing was written.
    pub fn load(self: *Roots, is_live: anytype, problem: *format.Problem) error{Corrupt}!void {
        self.count = 0;
        for (self.slots, 0..) |*slot, index| {
            const stored = Media.load(&slot.target);
            self.targets[index] = 0;
            if (stored == 0) continue;
            const g: u32 = @truncate(stored);
            if (g == 0 or slot.targetWord(g) != stored) {
                problem.* = corrupt("root slot {d} fails its check (target word 0x{x:0>16}): its name or target is damaged", .{ index, stored });
                return error.Corrupt;
            }
            if (slot.name_len == 0 or slot.name_len > name_bytes_max or !is_live.check(g)) {
                problem.* = corrupt("root slot {d} ('{s}') points at offset {d}, where no allocation starts", .{ index, slot.nameSlice(), @as(u64, g) * format.granule_bytes });
                return error.Corrupt;
            }
            for (self.slots[0..index], self.targets[0..index]) |*earlier, earlier_target| {
                if (earlier_target != 0 and std.mem.eql(u8, earlier.nameSlice(), slot.nameSlice())) {
                    problem.* = corrupt("the name '{s}' is in root slots {d} and {d}", .{ slot.nameSlice(), index, self.indexOfSlot(earlier) });
                    return error.Corrupt;
                }
            }
            self.targets[index] = g;
            self.count += 1;
        }
    }

    fn indexOfSlot(self: *const Roots, slot: *const Slot) usize {
        return (@intFromPtr(slot) - @intFromPtr(self.slots)) / @sizeOf(Slot);
    }

    fn corrupt(comptime fmt: []const u8, args: anytype) format.Problem {
        var result: format.Problem = .{ .reason = .metadata };
        result.message_len = (std.fmt.bufPrint(&result.message_buffer, "the roots are damaged: " ++ fmt, args) catch result.message_buffer[0..]).len;
        return result;
    }

    pub fn find(self: *const Roots, wanted: []const u8) ?usize {
        if (self.count == 0) return null;
        for (self.slots, self.targets, 0..) |*slot, slot_target, index| {
            if (slot_target != 0 and std.mem.eql(u8, slot.nameSlice(), wanted)) return index;
        }
        return null;
    }

    /// Whether a root publishes the block at `g` (a free of it is refused); its slot if so.
    pub fn publishing(self: *const Roots, g: u32) ?usize {
        if (self.count == 0) return null;
        return std.mem.indexOfScalar(u32, &self.targets, g);
    }

    pub fn target(self: *const Roots, index: usize) u32 {
        return self.targets[index];
    }

    pub fn name(self: *const Roots, index: usize) []const u8 {
        return self.slots[index].nameSlice();
    }

    /// The file offset of a slot's target word: what the redo log names.
    pub fn targetOffset(_: *const Roots, index: usize) u64 {
        assert(index < capacity);
        return format.roots_offset + index * format.root_slot_bytes;
    }

    /// The word that points slot `index` at `g` (0: empties it): what the redo log writes there.
    pub fn targetWord(self: *const Roots, index: usize, g: u32) u64 {
        return self.slots[index].targetWord(g);
    }

    /// Writes `name` into an empty slot and makes it durable; the slot stays empty until its target
    /// is committed (`commitTarget`, or the redo log and then `noteTarget`). Null when all are taken.
    pub fn prepare(self: *Roots, media: *Media, name_bytes: []const u8) ?usize {
        assert(name_bytes.len > 0 and name_bytes.len <= name_bytes_max);
        const index = std.mem.indexOfScalar(u32, &self.targets, 0) orelse return null;
        const slot = &self.slots[index];
        assert(Media.load(&slot.target) == 0);
        slot.name_len = @intCast(name_bytes.len);
        slot.name = @splat(0); // the check covers every name byte: none is left stale
        @memcpy(slot.name[0..name_bytes.len], name_bytes);
        media.persist(self.targetOffset(index) + @sizeOf(u64), @sizeOf(Slot) - @sizeOf(u64));
        return index;
    }

    /// Points slot `index` at `g` (0: removes the root) with one drained store.
    pub fn commitTarget(self: *Roots, media: *Media, index: usize, g: u32) void {
        media.commit(&self.slots[index].target, self.targetWord(index, g), true);
        self.noteTarget(index, g);
    }

    /// Updates the DRAM mirror after the redo log changed a target.
    pub fn noteTarget(self: *Roots, index: usize, g: u32) void {
        assert(Media.load(&self.slots[index].target) == self.targetWord(index, g));
        if (self.targets[index] == 0 and g != 0) self.count += 1;
        if (self.targets[index] != 0 and g == 0) self.count -= 1;
        self.targets[index] = g;
    }

    /// Empties every slot, durably.
    pub fn clear(self: *Roots, media: *Media) void {
        for (self.slots, 0..) |*slot, index| {
            if (self.targets[index] == 0) continue;
            @atomicStore(u64, &slot.target, 0, .release);
            media.flush(self.targetOffset(index), @sizeOf(u64));
            self.targets[index] = 0;
        }
        media.drain();
        self.count = 0;
    }
};
