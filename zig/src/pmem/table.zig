//! The allocation table of a PMEM file: one 8-byte record for each possible allocation, what
//! survives a restart. Placement is the pool's own (strategy/placement.zig: TLSF or fixed-size, the
//! same code that serves every pool, its bookkeeping out of band); on open it is rebuilt from the
//! table (`restore`), so free lists never need to be durable. The table is told of each placement
//! and release at the pool's place/release seam (journal.zig) and knows nothing else of the pool.
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
const unfilled = @import("../unfilled.zig");
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const Fixed = @import("../strategy/fixed.zig").Fixed;
const Placement = @import("../strategy/placement.zig").Placement;
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


/// The placement's region of the heap is the arena's first and only: region index 0.
const region_index: u32 = 0;

pub const Table = struct {
    gpa: std.mem.Allocator,
    media: *Media,
    words: []u64, // in the mapping
    kind: format.Strategy,
    heap_start: u32, // granules from the file's start
    heap_end: u32,
    alignment_granules: u32,
    block_bytes: u64, // FixedSize: the most a block holds
    stride: u32, // FixedSize: granules a block takes (Variable: 0)
    /// Variable: slots whose record is 0 (a stack), and the slot of each live block by the index
    /// of its TLSF record (Tlsf.liveIndex): an array, so recovery fills it in order, not a map.
    /// The stack holds only free slots below `fresh_from`: every slot from there on is free and
    /// taken in order, so that recovery writes nothing for the part of the table never used (a
    /// stack of every free slot of a 5 GiB pool was 168 MB written at every open).
    free_slots: std.ArrayList(u32) = .empty,
    fresh_from: usize = 0,
    slot_by_record: std.ArrayList(u32) = .empty,
    /// Variable: slots whose block a publication has claimed (`pin`) before its record is written,
    /// until the block is freed. A pool placed without the lock (pmem/shared_journal.zig) frees an
    /// unpublished block with no journal step, under its shard's lock only: a pinned one's free
    /// waits for the journal's lock instead, so no free slips between a publication's check of
    /// the block and its record. Read and written under the lock the slots are (the shard's).
    pinned: std.DynamicBitSetUnmanaged = .{},

    pub fn init(gpa: std.mem.Allocator, media: *Media, header: *const format.Header) Table {
        const table_words: [*]u64 = @ptrCast(@alignCast(media.base + header.table_offset));
        assert(header.table_capacity > 0 and header.heap_offset % granule_bytes == 0);
        return .{
            .gpa = gpa,
            .media = media,
            .words = table_words[0..header.table_capacity],
            .kind = @enumFromInt(header.layout.strategy),
            .heap_start = @intCast(header.heap_offset / granule_bytes),
            .heap_end = @intCast((header.heap_offset + header.heap_bytes) / granule_bytes),
            .alignment_granules = @intCast(@max(1, header.layout.alignment / granule_bytes)),
            .block_bytes = header.layout.block_bytes,
            .stride = if (header.layout.strategy == @intFromEnum(format.Strategy.fixed_size)) @intCast(header.layout.strideGranules()) else 0,
        };
    }

    pub fn deinit(self: *Table) void {
        self.free_slots.deinit(self.gpa);
        self.slot_by_record.deinit(self.gpa);
        self.pinned.deinit(self.gpa);
        self.* = undefined;
    }

    /// The largest request one allocation can have.
    pub fn sizeMax(self: *const Table) u64 {
        return switch (self.kind) {
            .fixed_size => self.block_bytes,
            .variable => @min(Record.requested_bytes_max, @as(u64, self.heap_end - self.heap_start) * granule_bytes),
        };
    }

    /// The part of the heap placement uses, as the arena's region (granules from the file's start):
    /// the whole heap, or for fixed-size blocks the blocks the table has records for.
    pub fn region(self: *const Table) Region {
        const len = switch (self.kind) {
            .fixed_size => @as(u32, @intCast(self.words.len)) * self.stride,
            .variable => self.heap_end - self.heap_start,
        };
        assert(len > 0 and self.heap_start + len <= self.heap_end);
        return .{ .start = self.heap_start, .len = len, .committed = true, .live_count = 0 };
    }

    // ---- recovery ----

    pub const RestoreError = error{ OutOfMemory, Corrupt };

    /// What recovery learned, for the pool's statistics; `problem` says what is corrupt.
    pub const Restored = struct { live_count: u64 = 0, requested_bytes: u64 = 0, block_bytes: u64 = 0 };

    /// Rebuilds `placement` (empty, of the table's kind) from the table over `heap` (the arena's
    /// region: `region()`). `next_id` numbers the live allocations found. Reads only: on
    /// error.Corrupt, `problem` names the record and nothing was written.
    pub fn restore(self: *Table, placement: *Placement, heap: Region, next_id: *u32, problem: *format.Problem) RestoreError!Restored {
        assert(@intFromEnum(placement.*) == @intFromEnum(self.kind));
        assert(heap.start == self.heap_start and heap.len == self.region().len);
        var restored: Restored = .{};
        switch (placement.*) {
            .fixed_size => |*fixed| {
                assert(fixed.stride == self.stride);
                var records: usize = 0;
                for (self.words) |word| records += @intFromBool(word != 0);
                // Unfilled (unfilled.zig): recovery writes what it reads, and fills nothing twice.
                var live = try unfilled.listWithCapacity(self.gpa, Fixed.Restored, records);
                defer unfilled.free(self.gpa, live.allocatedSlice());
                for (self.words, 0..) |word, slot| {
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
                    live.appendAssumeCapacity(.{ .slot = @intCast(slot), .id = nextId(next_id), .requested_bytes = @intCast(record.requestedBytes()) });
                    restored.live_count += 1;
                    restored.requested_bytes += record.requestedBytes();
                    restored.block_bytes += @as(u64, fixed.stride) * granule_bytes;
                }
                try fixed.restoreRegion(region_index, heap, live.items);
            },
            .variable => |*tlsf| {
                // Sort (offset, slot) pairs packed in one u64: the offset decides the order.
                // Unfilled (unfilled.zig): recovery writes what it reads, and fills nothing twice;
                // room for every slot up to the last record is only reserved, not touched.
                self.fresh_from = usedSlots(self.words);
                var found = try unfilled.listWithCapacity(self.gpa, u64, self.fresh_from);
                defer unfilled.free(self.gpa, found.allocatedSlice());
                if (self.free_slots.capacity == 0) self.free_slots = try unfilled.listWithCapacity(self.gpa, u32, self.words.len);
                if (self.pinned.bit_length == 0) self.pinned = try std.DynamicBitSetUnmanaged.initEmpty(self.gpa, self.words.len);
                try self.free_slots.ensureTotalCapacity(self.gpa, self.words.len);
                var slot = self.fresh_from;
                while (slot > 0) { // pushed in reverse, so low slots are used first
                    slot -= 1;
                    const word = self.words[slot];
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
                    found.appendAssumeCapacity(@as(u64, record.offset) << 32 | slot);
                }
                std.sort.pdq(u64, found.items, {}, std.sort.asc(u64));
                const live = try unfilled.alloc(self.gpa, Tlsf.Restored, found.items.len);
                defer unfilled.free(self.gpa, live);
                const indices = try unfilled.alloc(self.gpa, u32, found.items.len);
                defer unfilled.free(self.gpa, indices);
                var end: u64 = 0;
                for (found.items, live) |pair, *block| {
                    const record_slot: u32 = @truncate(pair);
                    const record = Record.decode(self.words[record_slot]).?;
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
                try tlsf.restoreRegion(heap, live, indices);
                if (self.slot_by_record.capacity == 0) self.slot_by_record = try unfilled.listWithCapacity(self.gpa, u32, tlsf.recordCount());
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

    /// Allocation ids run from 1 to this and wrap: every pool's one id space (placed.zig).
    pub const id_max = @import("../placed.zig").id_max;

    /// The slots up to the last record that is not 0: those after it were never used (or were
    /// freed), and are taken in order from there (`fresh_from`). Reads the table backwards from
    /// its end, 8 words at a time, until a record: a pool's open reads its unused table once.
    fn usedSlots(words: []const u64) usize {
        const lanes = 8;
        var end = words.len;
        while (end % lanes != 0) : (end -= 1) {
            if (words[end - 1] != 0) return end;
        }
        while (end > 0) : (end -= lanes) {
            const group: @Vector(lanes, u64) = words[end - lanes ..][0..lanes].*;
            if (@reduce(.Or, group) != 0) break;
        }
        while (end > 0 and words[end - 1] == 0) end -= 1;
        assert(end == 0 or words[end - 1] != 0);
        return end;
    }

    /// The id after `next_id.*`, stored back there.
    fn nextId(next_id: *u32) u32 {
        assert(next_id.* <= id_max);
        next_id.* = if (next_id.* == id_max) 1 else next_id.* + 1;
        return next_id.*;
    }

    // ---- the place/release seam ----

    pub const ReserveError = error{ OutOfMemory, TableFull };

    /// Before a placement: a record will be there for it (Variable: a free slot, and room to map
    /// it; FixedSize: block i has slot i).
    pub fn reserve(self: *Table, placement: *const Placement) ReserveError!void {
        switch (placement.*) {
            .fixed_size => {},
            .variable => |*tlsf| try self.reserveIn(tlsf),
        }
    }

    /// `reserve` for a Variable table over `tlsf`, the TLSF that is about to place (whichever
    /// holds it: the pool's own, or its home shard, sync/sharded_variable.zig).
    pub fn reserveIn(self: *Table, tlsf: *const Tlsf) ReserveError!void {
        assert(self.kind == .variable);
        if (self.free_slots.items.len == 0 and self.fresh_from == self.words.len) return error.TableFull;
        try self.slot_by_record.ensureTotalCapacity(self.gpa, tlsf.recordCount() + Tlsf.records_per_alloc_max);
    }

    /// After `placement` placed a block at `g` (with `reserve` before it): the block's record slot
    /// is chosen, in DRAM only. The block is unpublished until its record is written.
    pub fn notePlaced(self: *Table, placement: *const Placement, g: u32) void {
        switch (placement.*) {
            .fixed_size => assert(g >= self.heap_start and (g - self.heap_start) % self.stride == 0),
            .variable => |*tlsf| self.notePlacedIn(tlsf, g),
        }
    }

    /// `notePlaced` for a Variable table over `tlsf` (`reserveIn` before it).
    pub fn notePlacedIn(self: *Table, tlsf: *const Tlsf, g: u32) void {
        assert(self.kind == .variable);
        const slot = self.free_slots.pop() orelse fresh: {
            assert(self.fresh_from < self.words.len); // reserve() saw room
            self.fresh_from += 1;
            break :fresh @as(u32, @intCast(self.fresh_from - 1));
        };
        assert(self.words[slot] == 0 and !self.pinned.isSet(slot));
        const index = tlsf.last_placed; // the block at g: placed just now
        assert(tlsf.blocks.items[index].start == g and !tlsf.blocks.items[index].is_free);
        assert(tlsf.recordCount() <= self.slot_by_record.capacity);
        self.slot_by_record.items.len = tlsf.recordCount(); // new records' entries are set as they become live
        self.slot_by_record.items[index] = slot;
    }

    /// The live block that starts at `g` (any offset, a damaged file's included), or null.
    pub fn lookup(self: *const Table, placement: *const Placement, g: u32) ?Tlsf.Live {
        if (g < self.heap_start or g >= self.heap_end) return null;
        return placement.lookup(region_index, g);
    }

    /// The record slot of the live block at `g`, or null where none starts there.
    pub fn slotOf(self: *const Table, placement: *const Placement, g: u32) ?u32 {
        if (g < self.heap_start or g >= self.heap_end) return null;
        switch (placement.*) {
            .fixed_size => |*fixed| return if (fixed.lookup(region_index, g) != null) (g - self.heap_start) / fixed.stride else null,
            .variable => |*tlsf| return self.slotIn(tlsf, g),
        }
    }

    /// `slotOf` for a Variable table over `tlsf`, under the lock that guards both.
    pub fn slotIn(self: *const Table, tlsf: *const Tlsf, g: u32) ?u32 {
        assert(self.kind == .variable);
        if (g < self.heap_start or g >= self.heap_end) return null;
        const index = tlsf.liveIndex(g) orelse return null;
        return self.slot_by_record.items[index];
    }

    /// The slot of the live block whose TLSF record is `record` (Tlsf.liveIndex).
    pub fn slotOfRecord(self: *const Table, record: u32) u32 {
        assert(self.kind == .variable and record < self.slot_by_record.items.len);
        return self.slot_by_record.items[record];
    }

    /// Claims the slot of a live block for a publication about to write its record (see `pinned`).
    pub fn pin(self: *Table, slot: u32) void {
        assert(self.kind == .variable and slot < self.words.len);
        self.pinned.set(slot);
    }

    /// Whether a publication has claimed the block at `slot`, or its record is written.
    pub fn pinnedOrPublished(self: *const Table, slot: u32) bool {
        return self.pinned.isSet(slot) or self.isPublished(slot);
    }

    /// FixedSize: the record slot of the block that starts at `g` (block i's record is slot i),
    /// live or not; null where no block starts there.
    pub fn fixedSlot(self: *const Table, g: u32) ?u32 {
        assert(self.kind == .fixed_size and self.stride > 0);
        if (g < self.heap_start or (g - self.heap_start) % self.stride != 0) return null;
        const slot = (g - self.heap_start) / self.stride;
        return if (slot < self.words.len) slot else null;
    }

    /// After the placement released the live block at `g` (`record`: the placement's record of it,
    /// FreeResult.freed.record): where the block was published, its record is zeroed, durably,
    /// before this returns, and the caller still holds the pool's lock, so no space is ever owned
    /// twice, even across a power failure; an unpublished block's record is already 0 and the
    /// file is not touched. Its slot is free again.
    pub fn released(self: *Table, g: u32, record: u32) void {
        const slot = switch (self.kind) {
            .fixed_size => (g - self.heap_start) / self.stride,
            .variable => self.slot_by_record.items[record],
        };
        assert(slot < self.words.len);
        if (self.isPublished(slot)) self.media.commit(&self.words[slot], 0, true);
        assert(Media.load(&self.words[slot]) == 0);
        switch (self.kind) {
            .fixed_size => {},
            .variable => {
                self.pinned.unset(slot);
                self.free_slots.appendAssumeCapacity(slot);
            },
        }
    }

    // ---- publication ----

    /// Whether the live block whose record is at `slot` is published (its record is durable).
    pub fn isPublished(self: *const Table, slot: u32) bool {
        return Media.load(&self.words[slot]) != 0;
    }

    /// The record that publishes the block at `g` of `requested_bytes`: what the redo log (or
    /// `commitRecord`) writes at `recordOffset(slot)`.
    pub fn recordOf(g: u32, requested_bytes: u64) u64 {
        return Record.of(g, requested_bytes).word();
    }

    /// Publishes the record `word` at `slot` on its own, with one drained store: for code that
    /// keeps its own offsets (no root or link refers to the block). Already published: nothing to do.
    pub fn commitRecord(self: *Table, slot: u32, word: u64) void {
        if (self.isPublished(slot)) return;
        assert(word != 0);
        self.media.commit(&self.words[slot], word, true);
    }

    /// The byte offset in the file of a record: what the redo log names.
    pub fn recordOffset(self: *const Table, slot: u32) u64 {
        assert(slot < self.words.len);
        return @intFromPtr(&self.words[slot]) - @intFromPtr(self.media.base);
    }

    /// Frees everything, durably: every record is zeroed (each flips on its own, so a crash in
    /// the middle leaves each allocation whole or free); the pool resets its placement after.
    pub fn reset(self: *Table) void {
        const table_offset = @intFromPtr(self.words.ptr) - @intFromPtr(self.media.base);
        self.media.zeroPersist(table_offset, self.words.len * @sizeOf(u64));
        switch (self.kind) {
            .fixed_size => {},
            .variable => {
                self.slot_by_record.clearRetainingCapacity();
                self.free_slots.clearRetainingCapacity();
                self.pinned.unsetAll();
                self.fresh_from = 0; // every slot free, taken in order
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

/// A pool's place/release seam in miniature, for the test below: placement plus the table.
const TestPool = struct {
    table: Table,
    placement: Placement,
    last_id: u32 = 0,

    fn place(self: *TestPool, size: u64) !struct { g: u32, slot: u32 } {
        try self.table.reserve(&self.placement);
        const granules: u32 = @intCast(std.math.divCeil(u64, size, granule_bytes) catch unreachable);
        const g = (try self.placement.variable.alloc(granules, 1, Table.nextId(&self.last_id), size)).?;
        self.table.notePlaced(&self.placement, g);
        return .{ .g = g, .slot = self.table.slotOf(&self.placement, g).? };
    }

    fn free(self: *TestPool, g: u32) void {
        const result = self.placement.variable.free(g);
        self.table.released(g, result.freed.record);
    }

    fn commit(self: *TestPool, g: u32, slot: u32) void {
        self.table.commitRecord(slot, Table.recordOf(g, self.placement.lookup(0, g).?.requested_bytes));
    }

    fn deinit(self: *TestPool) void {
        self.placement.deinit();
        self.table.deinit();
    }
};

/// A Variable pool's file of 256 KiB in DRAM, zeroed, for the tests of a table over it.
const TestFile = struct {
    header: format.Header,
    memory: []align(std.heap.page_size_min) u8,
    media: Media,

    fn init() !TestFile {
        const header = format.plan(.{ .strategy = @intFromEnum(format.Strategy.variable), .alignment = 16, .block_bytes = 0 }, 256 * 1024, @splat(1)).?;
        const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(std.heap.page_size_min), header.file_bytes);
        @memset(memory, 0);
        return .{ .header = header, .memory = memory, .media = .{ .base = memory.ptr, .len = memory.len, .is_pmem = false } };
    }

    fn deinit(self: *TestFile) void {
        std.heap.page_allocator.free(self.memory);
    }
};

test "records are written only when a block is published, an unpublished block never reaches the file, and restore finds the rest" {
    _ = @import("libpmem.zig").api() catch return; // msync needs libpmem
    const gpa = std.testing.allocator;
    var file = try TestFile.init();
    defer file.deinit();
    const header = &file.header;
    const memory = file.memory;
    var problem: format.Problem = undefined;

    var pool: TestPool = .{ .table = Table.init(gpa, &file.media, header), .placement = Placement.init(gpa, .variable, 0) };
    _ = try pool.table.restore(&pool.placement, pool.table.region(), &pool.last_id, &problem);
    const kept = try pool.place(100);
    const dropped = try pool.place(200);
    pool.free(dropped.g); // never published: nothing written
    const durable = try pool.place(300);
    const forgotten = try pool.place(400); // never published: free after a restart
    for (pool.table.words) |word| try std.testing.expectEqual(@as(u64, 0), word);
    try std.testing.expect(!pool.table.isPublished(kept.slot));
    pool.commit(kept.g, kept.slot);
    pool.commit(durable.g, durable.slot);
    pool.commit(durable.g, durable.slot); // twice: already published, nothing to do
    try std.testing.expect(pool.table.isPublished(kept.slot) and !pool.table.isPublished(forgotten.slot));
    try std.testing.expectEqual(Record.of(kept.g, 100).word(), pool.table.words[kept.slot]);
    pool.free(durable.g); // a durable record is zeroed
    try std.testing.expectEqual(@as(u64, 0), pool.table.words[durable.slot]);
    pool.deinit();

    pool = .{ .table = Table.init(gpa, &file.media, header), .placement = Placement.init(gpa, .variable, 0) };
    const restored = try pool.table.restore(&pool.placement, pool.table.region(), &pool.last_id, &problem);
    try std.testing.expectEqual(@as(u64, 1), restored.live_count);
    try std.testing.expectEqual(@as(u64, 100), pool.placement.lookup(0, kept.g).?.requested_bytes);
    pool.deinit();

    // A second record over the same block is damage, named as such; nothing is written.
    const spare = (kept.slot + 1) % @as(u32, @intCast(header.table_capacity));
    const words: [*]u64 = @ptrCast(@alignCast(memory.ptr + header.table_offset));
    words[spare] = words[kept.slot];
    pool = .{ .table = Table.init(gpa, &file.media, header), .placement = Placement.init(gpa, .variable, 0) };
    defer pool.deinit();
    try std.testing.expectError(error.Corrupt, pool.table.restore(&pool.placement, pool.table.region(), &pool.last_id, &problem));
    try std.testing.expectEqual(format.Reason.metadata, problem.reason);
    try std.testing.expect(std.mem.indexOf(u8, problem.message(), "two records own the same space") != null);
}

test "the slots a table has used: up to its last record, whatever the length and where the records lie" {
    var words = [_]u64{0} ** 37;
    try std.testing.expectEqual(@as(usize, 0), Table.usedSlots(&words));
    try std.testing.expectEqual(@as(usize, 0), Table.usedSlots(words[0..0]));
    for (0..words.len) |last| {
        @memset(&words, 0);
        words[last] = 1;
        if (last > 3) words[3] = 1; // an earlier record changes nothing
        for (0..words.len + 1) |len| {
            const want: usize = if (last < len) last + 1 else if (last > 3 and len > 3) 4 else 0;
            try std.testing.expectEqual(want, Table.usedSlots(words[0..len]));
        }
    }
}

test "after a restore the free slots below the last record are taken first, lowest first, then those never used, in order, until the table is full" {
    _ = @import("libpmem.zig").api() catch return; // msync needs libpmem
    const gpa = std.testing.allocator;
    var file = try TestFile.init();
    defer file.deinit();
    const header = &file.header;
    var problem: format.Problem = undefined;

    var pool: TestPool = .{ .table = Table.init(gpa, &file.media, header), .placement = Placement.init(gpa, .variable, 0) };
    _ = try pool.table.restore(&pool.placement, pool.table.region(), &pool.last_id, &problem);
    var first: [6]@TypeOf(try pool.place(16)) = undefined;
    for (&first, 0..) |*placed, slot| {
        placed.* = try pool.place(16);
        try std.testing.expectEqual(@as(u32, @intCast(slot)), placed.slot); // a new table: in order
    }
    pool.commit(first[0].g, first[0].slot);
    pool.commit(first[5].g, first[5].slot); // slots 1 to 4 were never published: free after the restart
    pool.deinit();

    pool = .{ .table = Table.init(gpa, &file.media, header), .placement = Placement.init(gpa, .variable, 0) };
    defer pool.deinit();
    _ = try pool.table.restore(&pool.placement, pool.table.region(), &pool.last_id, &problem);
    try std.testing.expectEqual(@as(usize, 6), pool.table.fresh_from);
    for ([_]u32{ 1, 2, 3, 4, 6, 7 }) |slot| try std.testing.expectEqual(slot, (try pool.place(16)).slot);
    var placed: usize = 8;
    var last_g: u32 = 0;
    while (pool.place(16)) |block| : (placed += 1) {
        last_g = block.g;
    } else |err| try std.testing.expectEqual(error.TableFull, err);
    try std.testing.expectEqual(pool.table.words.len, placed); // every slot, none twice
    const slot = pool.table.slotOf(&pool.placement, last_g).?;
    pool.free(last_g);
    try std.testing.expectEqual(slot, (try pool.place(16)).slot); // a slot freed is taken again
}
