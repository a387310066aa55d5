//! The persistent allocator. Placement is the DRAM strategies' (TLSF or fixed-size, the same code
//! that serves CPU pools: their bookkeeping is out of band); what survives a restart is the
//! allocation table in the file, one 8-byte record for each possible allocation. On open the
//! strategy is rebuilt from the table (`restore`), so free lists never need to be durable.
//!
//! Commit protocol: an allocation is placed in DRAM only ("unpublished": its record in the file
//! stays 0), and becomes durable only when something durable refers to it: the pool writes its
//! record in the same crash-atomic step as the root or link that publishes it (the redo log), or,
//! for code that keeps its own offsets, in one drained store when asked to (`commitRecord`). A
//! crash before publication leaves the block free after recovery, so nothing leaks; a block
//! freed before publication never touches the file at all. A free of a durable allocation is
//! drained before it returns and before its space can be placed again, so no space is ever owned
//! twice, even across a power failure. Whether a live block is published is its record: 0 or not.
//!
//! Records: 0 is free; otherwise {offset in granules from the file's start, size in granules, pad,
//! parity} with the size asked for = granules * 16 - pad, and the parity bit making the count of
//! set bits even, so any one flipped bit of any record, free or live, is refused on open. Variable pools keep records in any free slot (a
//! DRAM stack of free slots and a map from offset to slot are rebuilt on open); fixed-size pools
//! keep block i's record in slot i.
const std = @import("std");
const assert = std.debug.assert;
const format = @import("format.zig");
const Media = @import("media.zig").Media;
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const Fixed = @import("../strategy/fixed.zig").Fixed;
const FreeResult = @import("../strategy/tlsf.zig").FreeResult;
const Region = @import("../arena.zig").Region;

const granule_bytes = format.granule_bytes;

pub const Record = packed struct(u64) {
    offset: u32, // granules from the file's start
    granules: u27, // ceil(requested / 16), never 0: a live record is never 0
    pad: u4, // granules * 16 - requested
    parity: u1, // makes the word's count of set bits even

    pub const requested_bytes_max: u64 = (std.math.maxInt(u27)) * granule_bytes;

    pub fn of(offset: u32, requested_bytes: u64) Record {
        assert(requested_bytes > 0 and requested_bytes <= requested_bytes_max);
        const granules = std.math.divCeil(u64, requested_bytes, granule_bytes) catch unreachable;
        var record: Record = .{ .offset = offset, .granules = @intCast(granules), .pad = @intCast(granules * granule_bytes - requested_bytes), .parity = 0 };
        record.parity = @intCast(@popCount(record.word()) & 1);
        assert(record.sound());
        return record;
    }

    /// What the table's word says, or null where no record could be that word: a bit flipped (the
    /// parity is odd), or a size of 0 granules. Says nothing of where the block lies.
    pub fn decode(stored: u64) ?Record {
        if (@popCount(stored) & 1 != 0) return null;
        const record: Record = @bitCast(stored);
        return if (record.sound()) record else null;
    }

    fn sound(self: Record) bool {
        return self.granules != 0; // then granules * 16 > pad: the size is at least 1
    }

    pub fn requestedBytes(self: Record) u64 {
        assert(self.sound());
        return @as(u64, self.granules) * granule_bytes - self.pad;
    }

    pub fn word(self: Record) u64 {
        return @bitCast(self);
    }
};

/// A placement, unpublished until its record is written: where, and which record will say so.
pub const Placed = struct { g: u32, slot: u32, record: Record };

/// The live block that starts at an offset: what a lookup finds.
pub const Live = Tlsf.Live;

const Strategy = union(format.Strategy) { fixed_size: Fixed, variable: Tlsf };

/// One region (the heap) for Fixed, which asks its caller which region an offset lies in.
const SingleRegion = struct {
    pub fn regionOf(_: SingleRegion, _: u32) u32 {
        return 0;
    }
};

pub const Heap = struct {
    gpa: std.mem.Allocator,
    media: *Media,
    table: []u64, // in the mapping
    heap_start: u32, // granules from the file's start
    heap_end: u32,
    alignment_granules: u32,
    block_bytes: u64, // FixedSize: the most a block holds
    strategy: Strategy,
    /// Variable: slots whose record is 0 (a stack), and the slot of each live block by the index
    /// of its TLSF record (Tlsf.liveIndex): an array, so recovery fills it in order, not a map.
    free_slots: std.ArrayList(u32) = .empty,
    slot_by_record: std.ArrayList(u32) = .empty,

    pub fn init(gpa: std.mem.Allocator, media: *Media, header: *const format.Header) Heap {
        const table_words: [*]u64 = @ptrCast(@alignCast(media.base + header.table_offset));
        const strategy_kind: format.Strategy = @enumFromInt(header.layout.strategy);
        return .{
            .gpa = gpa,
            .media = media,
            .table = table_words[0..header.table_capacity],
            .heap_start = @intCast(header.heap_offset / granule_bytes),
            .heap_end = @intCast((header.heap_offset + header.heap_bytes) / granule_bytes),
            .alignment_granules = @intCast(@max(1, header.layout.alignment / granule_bytes)),
            .block_bytes = header.layout.block_bytes,
            .strategy = switch (strategy_kind) {
                .fixed_size => .{ .fixed_size = Fixed.init(gpa, @intCast(header.layout.strideGranules())) },
                .variable => .{ .variable = Tlsf.init(gpa) },
            },
        };
    }

    pub fn deinit(self: *Heap) void {
        switch (self.strategy) {
            inline else => |*strategy| strategy.deinit(),
        }
        self.free_slots.deinit(self.gpa);
        self.slot_by_record.deinit(self.gpa);
        self.* = undefined;
    }

    /// The largest request one allocation can have.
    pub fn sizeMax(self: *const Heap) u64 {
        return switch (self.strategy) {
            .fixed_size => self.block_bytes,
            .variable => @min(Record.requested_bytes_max, @as(u64, self.heap_end - self.heap_start) * granule_bytes),
        };
    }

    fn region(self: *const Heap) Region {
        const len = switch (self.strategy) {
            .fixed_size => |fixed| @as(u32, @intCast(self.table.len)) * fixed.stride,
            .variable => self.heap_end - self.heap_start,
        };
        return .{ .start = self.heap_start, .len = len, .committed = true, .live_count = 0 };
    }

    // ---- recovery ----

    pub const RestoreError = error{ OutOfMemory, Corrupt };

    /// What recovery learned, for the pool's statistics; `problem` says what is corrupt.
    pub const Restored = struct { live_count: u64 = 0, requested_bytes: u64 = 0, block_bytes: u64 = 0 };

    /// Rebuilds placement from the table. `next_id` numbers the live allocations found. Reads only:
    /// on error.Corrupt, `problem` names the record and nothing was written.
    pub fn restore(self: *Heap, next_id: *u32, problem: *format.Problem) RestoreError!Restored {
        var restored: Restored = .{};
        switch (self.strategy) {
            .fixed_size => |*fixed| {
                var live: std.ArrayList(Fixed.Restored) = .empty;
                defer live.deinit(self.gpa);
                for (self.table, 0..) |word, slot| {
                    if (word == 0) continue;
                    const record = Record.decode(word) orelse {
                        problem.* = unsound(slot, word);
                        return error.Corrupt;
                    };
                    const expected_offset = self.heap_start + @as(u64, slot) * fixed.stride;
                    if (record.offset != expected_offset or record.requestedBytes() > self.block_bytes) {
                        problem.* = corrupt("record {d} (0x{x:0>16}) does not describe block {d} (offset {d}, at most {d} bytes)", .{ slot, word, slot, expected_offset * granule_bytes, self.block_bytes });
                        return error.Corrupt;
                    }
                    try live.append(self.gpa, .{ .slot = @intCast(slot), .id = nextId(next_id), .requested_bytes = @intCast(record.requestedBytes()) });
                    restored.live_count += 1;
                    restored.requested_bytes += record.requestedBytes();
                    restored.block_bytes += @as(u64, fixed.stride) * granule_bytes;
                }
                try fixed.restoreRegion(0, self.region(), live.items);
            },
            .variable => |*tlsf| {
                // Sort (offset, slot) pairs packed in one u64: the offset decides the order.
                var found: std.ArrayList(u64) = .empty;
                defer found.deinit(self.gpa);
                var records: usize = 0;
                for (self.table) |word| records += @intFromBool(word != 0);
                try found.ensureTotalCapacityPrecise(self.gpa, records);
                try self.free_slots.ensureTotalCapacity(self.gpa, self.table.len);
                var slot = self.table.len;
                while (slot > 0) { // pushed in reverse, so low slots are used first
                    slot -= 1;
                    const word = self.table[slot];
                    if (word == 0) {
                        self.free_slots.appendAssumeCapacity(@intCast(slot));
                        continue;
                    }
                    const record = Record.decode(word) orelse {
                        problem.* = unsound(slot, word);
                        return error.Corrupt;
                    };
                    if (record.offset < self.heap_start or @as(u64, record.offset) + record.granules > self.heap_end or record.offset % self.alignment_granules != 0) {
                        problem.* = corrupt("record {d} (0x{x:0>16}) names a block outside the heap or misaligned", .{ slot, word });
                        return error.Corrupt;
                    }
                    try found.append(self.gpa, @as(u64, record.offset) << 32 | slot);
                }
                std.sort.pdq(u64, found.items, {}, std.sort.asc(u64));
                const live = try self.gpa.alloc(Tlsf.Restored, found.items.len);
                defer self.gpa.free(live);
                const indices = try self.gpa.alloc(u32, found.items.len);
                defer self.gpa.free(indices);
                var end: u64 = 0;
                for (found.items, live) |pair, *block| {
                    const record_slot: u32 = @truncate(pair);
                    const record = Record.decode(self.table[record_slot]).?;
                    if (record.offset < end) {
                        problem.* = corrupt("record {d} claims offset {d}, inside another allocation: two records own the same space", .{ record_slot, @as(u64, record.offset) * granule_bytes });
                        return error.Corrupt;
                    }
                    end = @as(u64, record.offset) + record.granules;
                    block.* = .{ .start = record.offset, .size = record.granules, .id = nextId(next_id), .requested_bytes = record.requestedBytes() };
                    restored.live_count += 1;
                    restored.requested_bytes += record.requestedBytes();
                    restored.block_bytes += @as(u64, record.granules) * granule_bytes;
                }
                try tlsf.restoreRegion(self.region(), live, indices);
                try self.slot_by_record.resize(self.gpa, tlsf.recordCount());
                for (found.items, indices) |pair, index| self.slot_by_record.items[index] = @truncate(pair);
            },
        }
        return restored;
    }

    fn unsound(slot: usize, word: u64) format.Problem {
        if (@popCount(word) & 1 != 0) return corrupt("record {d} (0x{x:0>16}) fails its parity check: a bit of it flipped", .{ slot, word });
        return corrupt("record {d} (0x{x:0>16}) is neither free nor an allocation (a size of 0 granules)", .{ slot, word });
    }

    fn corrupt(comptime fmt: []const u8, args: anytype) format.Problem {
        var result: format.Problem = .{ .reason = .metadata };
        result.message_len = (std.fmt.bufPrint(&result.message_buffer, "the allocation table is damaged: " ++ fmt, args) catch result.message_buffer[0..]).len;
        return result;
    }

    /// Allocation ids run from 1 to this and wrap, as host pools' do (pool.zig Pool.id_max):
    /// TypeScript keeps the top bit for a flag, and the core's statuses lie above.
    pub const id_max: u32 = std.math.maxInt(u31);

    /// The id after `next_id.*`, stored back there.
    pub fn nextId(next_id: *u32) u32 {
        assert(next_id.* <= id_max);
        next_id.* = if (next_id.* == id_max) 1 else next_id.* + 1;
        return next_id.*;
    }

    // ---- allocation ----

    pub const PlaceError = error{ OutOfMemory, NoRoom, TableFull };

    /// Chooses a block and a record for `size` bytes, in DRAM only: an unpublished allocation,
    /// durable once its record is written (by the pool's redo log, or `commitRecord`).
    pub fn place(self: *Heap, size: u64, id: u32) PlaceError!Placed {
        assert(size > 0 and size <= self.sizeMax() and id != 0);
        switch (self.strategy) {
            .fixed_size => |*fixed| {
                const g = fixed.alloc(SingleRegion{}, id, @intCast(size)) orelse return error.NoRoom;
                const slot = (g - self.heap_start) / fixed.stride;
                return .{ .g = g, .slot = slot, .record = Record.of(g, size) };
            },
            .variable => |*tlsf| {
                if (self.free_slots.items.len == 0) return error.TableFull;
                try self.slot_by_record.ensureTotalCapacity(self.gpa, tlsf.recordCount() + Tlsf.records_per_alloc_max);
                const granules: u32 = @intCast(std.math.divCeil(u64, size, granule_bytes) catch unreachable);
                const g = (try tlsf.alloc(granules, self.alignment_granules, id, size)) orelse return error.NoRoom;
                const slot = self.free_slots.pop().?;
                assert(self.table[slot] == 0);
                const index = tlsf.liveIndex(g).?;
                assert(tlsf.recordCount() <= self.slot_by_record.capacity);
                self.slot_by_record.items.len = tlsf.recordCount(); // new records' entries are set as they become live
                self.slot_by_record.items[index] = slot;
                return .{ .g = g, .slot = slot, .record = Record.of(g, size) };
            },
        }
    }

    /// Whether the live block whose record is at `slot` is published (its record is durable).
    pub fn isPublished(self: *const Heap, slot: u32) bool {
        return Media.load(&self.table[slot]) != 0;
    }

    /// The record that publishes the live, unpublished block at `g`: what the redo log (or
    /// `commitRecord`) writes at `recordOffset(slot)`.
    pub fn recordOf(self: *const Heap, g: u32, slot: u32) u64 {
        assert(!self.isPublished(slot));
        const live = self.lookup(g).?;
        return Record.of(g, live.requested_bytes).word();
    }

    /// Publishes the live block at `g` on its own, with one drained store: for code that keeps its
    /// own offsets (no root or link refers to the block). Already published: nothing to do.
    pub fn commitRecord(self: *Heap, g: u32, slot: u32) void {
        if (self.isPublished(slot)) return;
        self.media.commit(&self.table[slot], self.recordOf(g, slot), true);
    }

    /// The byte offset in the file of a record: what the redo log names.
    pub fn recordOffset(self: *const Heap, slot: u32) u64 {
        assert(slot < self.table.len);
        return @intFromPtr(&self.table[slot]) - @intFromPtr(self.media.base);
    }

    /// The record slot of the live block at `g`, or null where none starts there.
    pub fn slotOf(self: *const Heap, g: u32) ?u32 {
        return switch (self.strategy) {
            .fixed_size => |*fixed| if (fixed.lookup(0, g) != null) (g - self.heap_start) / fixed.stride else null,
            .variable => |*tlsf| self.slot_by_record.items[tlsf.liveIndex(g) orelse return null],
        };
    }

    /// Frees the block at `g`: durable when this returns (an unpublished block's record is already
    /// 0: the file is not touched). A bad offset changes nothing and says why.
    pub fn free(self: *Heap, g: u32) FreeResult {
        const slot = self.slotOf(g) orelse return self.classify(g);
        if (self.isPublished(slot)) self.media.commit(&self.table[slot], 0, true);
        return self.releaseDram(g, slot);
    }

    /// The DRAM half of a free whose record is already 0 (or was never written).
    pub fn releaseDram(self: *Heap, g: u32, slot: u32) FreeResult {
        switch (self.strategy) {
            .fixed_size => |*fixed| return fixed.free(0, g),
            .variable => |*tlsf| {
                assert(slot < self.table.len and Media.load(&self.table[slot]) == 0);
                const result = tlsf.free(g);
                assert(result == .freed);
                self.free_slots.appendAssumeCapacity(slot);
                return result;
            },
        }
    }

    fn classify(self: *Heap, g: u32) FreeResult {
        if (g < self.heap_start or g >= self.heap_end) return .unknown_pointer;
        return switch (self.strategy) {
            .fixed_size => |*fixed| fixed.free(0, g), // not live: only classifies
            .variable => |*tlsf| tlsf.free(g), // not live: only classifies
        };
    }

    pub fn lookup(self: *const Heap, g: u32) ?Live {
        if (g < self.heap_start or g >= self.heap_end) return null;
        return switch (self.strategy) {
            .fixed_size => |*fixed| fixed.lookup(0, g),
            .variable => |*tlsf| tlsf.lookup(g),
        };
    }

    /// Offsets of every live block, in no particular order.
    pub fn liveOffsets(self: *const Heap, out: []u32) usize {
        var count: usize = 0;
        switch (self.strategy) {
            .fixed_size => |*fixed| {
                var it = fixed.liveIterator();
                while (it.next()) |g| : (count += 1) {
                    if (count < out.len) out[count] = g;
                }
            },
            .variable => |*tlsf| {
                var it = tlsf.liveIterator();
                while (it.next()) |entry| : (count += 1) {
                    if (count < out.len) out[count] = entry.key;
                }
            },
        }
        return count;
    }

    pub fn freeGranules(self: *const Heap) u64 {
        return switch (self.strategy) {
            .fixed_size => |*fixed| fixed.freeGranules(),
            .variable => |*tlsf| tlsf.free_granules,
        };
    }

    /// The largest request the free space serves in one piece, as stats.zig counts it: a fixed-size
    /// heap serves any request from any free block, so all of its free space (0 fragmentation, as
    /// a fixed-size CPU pool reads).
    pub fn largestFreeGranules(self: *const Heap) u64 {
        return switch (self.strategy) {
            .fixed_size => |*fixed| fixed.freeGranules(),
            .variable => |*tlsf| tlsf.largestFreeGranules(),
        };
    }

    /// Frees everything: every record is zeroed and made durable (each one flips on its own, so a
    /// crash in the middle leaves each allocation whole or free), then placement starts over.
    pub fn reset(self: *Heap) error{OutOfMemory}!void {
        const table_offset = @intFromPtr(self.table.ptr) - @intFromPtr(self.media.base);
        self.media.zeroPersist(table_offset, self.table.len * @sizeOf(u64));
        switch (self.strategy) {
            .fixed_size => |*fixed| fixed.reset(),
            .variable => |*tlsf| {
                try tlsf.reset(&.{self.region()}, .strategy);
                self.slot_by_record.clearRetainingCapacity();
                self.free_slots.clearRetainingCapacity();
                var slot = self.table.len;
                while (slot > 0) {
                    slot -= 1;
                    self.free_slots.appendAssumeCapacity(@intCast(slot));
                }
            },
        }
    }
};

test "records pack offset and size into one word that is never 0, and any flipped bit is caught" {
    const record = Record.of(0x1234, 1);
    try std.testing.expectEqual(@as(u64, 1), record.requestedBytes());
    try std.testing.expect(record.word() != 0);
    for (0..64) |bit| {
        try std.testing.expect(Record.decode(record.word() ^ (@as(u64, 1) << @intCast(bit))) == null);
        try std.testing.expect(Record.decode(@as(u64, 1) << @intCast(bit)) == null); // a flip in a free record
    }
    // No granules but a pad, with even parity: the overflow of issue 11, refused as a record.
    const empty: Record = .{ .offset = 0x1234, .granules = 0, .pad = 1, .parity = 0 };
    try std.testing.expect(@popCount(empty.word()) & 1 == 0);
    try std.testing.expect(Record.decode(empty.word()) == null);
    try std.testing.expectEqual(@as(u64, 17), Record.of(5, 17).requestedBytes());
    try std.testing.expectEqual(Record.requested_bytes_max, Record.of(0, Record.requested_bytes_max).requestedBytes());
    const round: Record = @bitCast(Record.of(7, 1000).word());
    try std.testing.expectEqual(@as(u32, 7), round.offset);
    try std.testing.expectEqual(@as(u64, 1000), round.requestedBytes());
}

test "records are written only when a block is published, an unpublished block never reaches the file, and restore finds the rest" {
    _ = @import("libpmem.zig").api() catch return; // msync needs libpmem
    const gpa = std.testing.allocator;
    const header = format.plan(.{ .strategy = @intFromEnum(format.Strategy.variable), .alignment = 16, .block_bytes = 0 }, 256 * 1024, @splat(1)).?;
    const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(std.heap.page_size_min), header.file_bytes);
    defer std.heap.page_allocator.free(memory);
    @memset(memory, 0);
    var media: Media = .{ .base = memory.ptr, .len = memory.len, .is_pmem = false };
    var next_id: u32 = 0;
    var problem: format.Problem = undefined;

    var heap = Heap.init(gpa, &media, &header);
    _ = try heap.restore(&next_id, &problem);
    const kept = try heap.place(100, 1);
    const dropped = try heap.place(200, 2);
    try std.testing.expect(heap.free(dropped.g) == .freed); // never published: nothing written
    const durable = try heap.place(300, 3);
    const forgotten = try heap.place(400, 4); // never published: free after a restart
    for (heap.table) |word| try std.testing.expectEqual(@as(u64, 0), word);
    try std.testing.expect(!heap.isPublished(kept.slot));
    try std.testing.expectEqual(kept.record.word(), heap.recordOf(kept.g, kept.slot));
    heap.commitRecord(kept.g, kept.slot);
    heap.commitRecord(durable.g, durable.slot);
    heap.commitRecord(durable.g, durable.slot); // twice: already published, nothing to do
    try std.testing.expect(heap.isPublished(kept.slot) and !heap.isPublished(forgotten.slot));
    try std.testing.expectEqual(kept.record.word(), heap.table[kept.slot]);
    try std.testing.expect(heap.free(durable.g) == .freed); // a durable record is zeroed
    try std.testing.expectEqual(@as(u64, 0), heap.table[durable.slot]);
    heap.deinit();

    heap = Heap.init(gpa, &media, &header);
    const restored = try heap.restore(&next_id, &problem);
    try std.testing.expectEqual(@as(u64, 1), restored.live_count);
    try std.testing.expectEqual(@as(u64, 100), heap.lookup(kept.g).?.requested_bytes);
    heap.deinit();

    // A second record over the same block is damage, named as such; nothing is written.
    const spare = (kept.slot + 1) % @as(u32, @intCast(header.table_capacity));
    const table: [*]u64 = @ptrCast(@alignCast(memory.ptr + header.table_offset));
    table[spare] = table[kept.slot];
    heap = Heap.init(gpa, &media, &header);
    defer heap.deinit();
    try std.testing.expectError(error.Corrupt, heap.restore(&next_id, &problem));
    try std.testing.expectEqual(format.Reason.metadata, problem.reason);
    try std.testing.expect(std.mem.indexOf(u8, problem.message(), "two records own the same space") != null);
}
