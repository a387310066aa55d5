//! Variable-size placement: TLSF (two-level segregated fit, Masmano et al.), allocate and
//! free in O(1) bounded time with immediate coalescing. Sizes are in granules; the block
//! records live out of band (in this struct, not in the memory they describe), so the same
//! code places blocks in host, device and persistent memory, and a user's overrun cannot
//! corrupt the allocator.
//!
//! Invariants: no two free blocks are physical neighbours (they are merged at once); every free
//! block is in exactly the list its size maps to and its bit is set in both bitmaps; every
//! live block is in `live` under its start; the blocks of a region tile it exactly.
const std = @import("std");
const unfilled = @import("../unfilled.zig");
const assert = std.debug.assert;
const OffsetMap = @import("offset_map.zig").OffsetMap;
const MapSlot = @import("offset_map.zig").Slot;
const arena_mod = @import("../arena.zig");
const status = @import("../status.zig");
const Region = arena_mod.Region;

const sl_log2 = 4;
const sl_count = 1 << sl_log2;
const fl_count = 32 - sl_log2 + 1;
const nil: u32 = std.math.maxInt(u32);

const Block = struct {
    start: u32,
    size: u32,
    prev_phys: u32,
    next_phys: u32,
    prev_free: u32,
    next_free: u32, // also links recycled records
    is_free: bool,
    /// A free block no allocation ever started in: a region as added, and what allocations split
    /// off it. A freed block (and what it merges with) is not, and neither is free space that a
    /// reset or a restart left, whose history is not known. A bad free inside an untouched block
    /// is exactly a pointer the pool never gave out (`classify`).
    untouched: bool = false,
    id: u32, // the allocation's id while live (see Pool), 0 while free
    requested_bytes: u64,
};

const Mapping = struct { fl: u32, sl: u32 };

fn mapping(size: u64) Mapping {
    assert(size > 0);
    if (size < sl_count) return .{ .fl = 0, .sl = @intCast(size) };
    const log2 = std.math.log2_int(u64, size);
    return .{ .fl = log2 - sl_log2 + 1, .sl = @intCast((size >> @intCast(log2 - sl_log2)) ^ sl_count) };
}

/// One past the largest size a block of list (`fl`, `sl`) can have (`mapping` in reverse).
fn listCeiling(fl: u32, sl: u32) u64 {
    assert(fl < fl_count and sl < sl_count);
    if (fl == 0) return sl + 1;
    return (@as(u64, sl_count) + sl + 1) << @intCast(fl - 1);
}

/// The list whose every block fits `size`: the size rounded up to the next list boundary.
fn mappingSearch(size: u64) Mapping {
    if (size < sl_count) return mapping(size);
    const log2 = std.math.log2_int(u64, size);
    const rounded = size + (@as(u64, 1) << @intCast(log2 - sl_log2)) - 1;
    return mapping(rounded);
}

/// Granules a free block needs for `alloc(size, alignment)` to be sure to find and use it: room
/// for `size` at any start. The search proper rounds a request up to the next list boundary and
/// would pass over such a block; the walk of the lists below (findInLowerLists) finds it, so growth
/// commits no more than the request needs. Above `region_granules_max`: no block can hold it.
pub fn granulesSureToFit(size: u64, alignment: u32) u64 {
    assert(size > 0 and std.math.isPowerOfTwo(alignment));
    const widest = size + alignment - 1;
    return @min(widest, region_granules_max + 1);
}

/// The largest block the lists can hold (a region's length is a u32 of granules).
pub const region_granules_max: u64 = std.math.maxInt(u32);

pub const FreeResult = union(enum) {
    /// `record`: the placement's record of the block just freed (Tlsf: its block index, the
    /// `liveIndex` it had), so a layer that keyed something by it needs no lookup of its own.
    freed: struct { granules: u32, requested_bytes: u64, id: u32, record: u32 = 0 },
    /// The start of a block the placement knows was freed (a fixed-size slot's freed bit).
    double_free,
    /// Inside free space where blocks were freed: a block freed there, or a place no block ever
    /// started. TLSF merges a freed block with its free neighbours and keeps no record of where
    /// freed blocks started (a bit per 16-byte granule would cost 1/128 of the memory and a store
    /// on every allocation), so it cannot tell the two apart: `failBadFree` says so. (Free space
    /// no allocation ever touched is `unknown_pointer`: Block.untouched.)
    free_space,
    interior_pointer,
    unknown_pointer,
};

/// The error a bad free of granule `g` is, in a pool whose blocks start at multiples of
/// `alignment_granules`: exact where the placement can tell (a freed slot, a live block's
/// interior, free space off the pool's alignment, where no block ever started); free space on it
/// is taken for a double free, the usual way there (a stale pointer), and the message says it may
/// be a pointer the pool never gave out. The one wording of each, for every placement.
pub fn failBadFree(result: FreeResult, g: u32, alignment_granules: u32, pool_name: []const u8) status.Error {
    @branchHint(.cold);
    assert(alignment_granules > 0);
    const at_bytes = @as(u64, g) * arena_mod.granule_bytes;
    return switch (result) {
        .freed => unreachable,
        .double_free => status.fail(error.DoubleFree, "double free: the block at offset {d} of pool '{s}' is already free", .{ at_bytes, pool_name }),
        .free_space => if (g % alignment_granules != 0)
            status.fail(error.InvalidPointer, "pool '{s}' never gave out a block at offset {d}: it is free space, where blocks start at multiples of {d} bytes", .{ pool_name, at_bytes, @as(u64, alignment_granules) * arena_mod.granule_bytes })
        else
            status.fail(error.DoubleFree, "double free: offset {d} of pool '{s}' is free space: a block there was freed already (or the pointer is one the pool never gave out: free space keeps no record of where its blocks started)", .{ at_bytes, pool_name }),
        .interior_pointer => status.fail(error.InvalidPointer, "pointer at offset {d} points inside an allocation of pool '{s}', not at its start", .{ at_bytes, pool_name }),
        .unknown_pointer => status.fail(error.InvalidPointer, "pool '{s}' never gave out a block at offset {d}", .{ pool_name, at_bytes }),
    };
}

pub const Tlsf = struct {
    gpa: std.mem.Allocator,
    blocks: std.ArrayList(Block) = .empty,
    recycled: u32 = nil,
    live: OffsetMap = .{},
    /// The record index of the block `alloc` placed last (its `liveIndex`): a layer told of the
    /// placement (the PMEM table) keys by it without a lookup of its own.
    last_placed: u32 = nil,
    fl_bitmap: u32 = 0,
    sl_bitmap: [fl_count]u32 = @splat(0),
    heads: [fl_count][sl_count]u32 = @splat(@splat(nil)),
    free_granules: u64 = 0,

    pub fn init(gpa: std.mem.Allocator) Tlsf {
        return .{ .gpa = gpa };
    }

    pub fn deinit(self: *Tlsf) void {
        self.blocks.deinit(self.gpa);
        self.live.deinit(self.gpa);
        self.* = undefined;
    }

    pub fn addRegion(self: *Tlsf, region: Region) error{OutOfMemory}!void {
        return self.addFreeRegion(region, true);
    }

    /// `region` as one free block; `untouched` where no allocation was ever made in it.
    fn addFreeRegion(self: *Tlsf, region: Region, untouched: bool) error{OutOfMemory}!void {
        assert(region.committed and region.live_count == 0 and region.len > 0);
        const index = try self.newRecord();
        self.blocks.items[index] = .{
            .start = region.start,
            .size = region.len,
            .prev_phys = nil,
            .next_phys = nil,
            .prev_free = nil,
            .next_free = nil,
            .is_free = true,
            .untouched = untouched,
            .id = 0,
            .requested_bytes = 0,
        };
        self.insertFree(index);
    }

    pub const Restored = struct { start: u32, size: u32, id: u32, requested_bytes: u64 };

    /// Adds a region whose blocks in `live` (sorted by start, disjoint, inside it) are allocated, as
    /// they were before a restart: the gaps between them become free blocks. Persistent pools rebuild
    /// their placement this way from the records in their file. O(live.len). `indices` (as long as
    /// `live`) receives each live block's record index (`liveIndex`).
    pub fn restoreRegion(self: *Tlsf, region: Region, live: []const Restored, indices: []u32) error{OutOfMemory}!void {
        assert(indices.len == live.len);
        assert(region.committed and region.len > 0);
        // Unfilled (unfilled.zig): every record and entry is written below.
        if (self.blocks.capacity == 0) self.blocks = try unfilled.listWithCapacity(self.gpa, Block, 2 * live.len + 1);
        try self.blocks.ensureUnusedCapacity(self.gpa, 2 * live.len + 1);
        try self.live.ensureUnusedCapacity(self.gpa, @intCast(live.len));
        // The live map is filled at the end in one sweep (OffsetMap.putAllAssumeCapacity).
        const entries = try unfilled.alloc(self.gpa, MapSlot, 2 * live.len);
        defer unfilled.free(self.gpa, entries);
        var cursor: u64 = region.start;
        var previous: u32 = nil;
        for (live, entries[0..live.len], indices) |block, *entry, *index| {
            assert(block.start >= cursor and block.size > 0 and block.id != 0);
            assert(@as(u64, block.start) + block.size <= region.end());
            if (block.start > cursor) {
                previous = self.appendPhysical(previous, @intCast(cursor), @intCast(block.start - cursor), true);
            }
            previous = self.appendPhysical(previous, block.start, block.size, false);
            self.blocks.items[previous].id = block.id;
            self.blocks.items[previous].requested_bytes = block.requested_bytes;
            entry.* = .{ .key = block.start, .value = previous };
            index.* = previous;
            cursor = @as(u64, block.start) + block.size;
        }
        if (cursor < region.end()) _ = self.appendPhysical(previous, @intCast(cursor), @intCast(region.end() - cursor), true);
        self.live.putAllAssumeCapacity(entries[0..live.len], entries[live.len..]);
    }

    /// A new block record after `previous` in physical order; a free one goes on its list.
    fn appendPhysical(self: *Tlsf, previous: u32, start: u32, size: u32, is_free: bool) u32 {
        const index = self.newRecordAssumeCapacity();
        self.blocks.items[index] = .{
            .start = start,
            .size = size,
            .prev_phys = previous,
            .next_phys = nil,
            .prev_free = nil,
            .next_free = nil,
            .is_free = is_free,
            .id = 0,
            .requested_bytes = 0,
        };
        if (previous != nil) {
            assert(self.blocks.items[previous].start + self.blocks.items[previous].size == start);
            assert(!(is_free and self.blocks.items[previous].is_free)); // free neighbours are always merged
            self.blocks.items[previous].next_phys = index;
        }
        if (is_free) self.insertFree(index);
        return index;
    }

    /// Whether `region` holds no live block: it is one free block, whole.
    pub fn regionFree(self: *const Tlsf, region: Region) bool {
        const at = mapping(region.len);
        var index = self.heads[at.fl][at.sl];
        while (index != nil) : (index = self.blocks.items[index].next_free) {
            const block = self.blocks.items[index];
            if (block.start == region.start) return block.size == region.len;
        }
        return false;
    }

    /// Takes an empty region's single free block out of the lists, before the region is decommitted.
    pub fn removeRegion(self: *Tlsf, region: Region) void {
        assert(region.live_count == 0);
        const index = self.findFreeBlock(region.start, region.len);
        const block = self.blocks.items[index];
        assert(block.prev_phys == nil and block.next_phys == nil);
        self.removeFree(index);
        self.recycle(index);
    }

    /// Places `size` granules at a multiple of `alignment` granules; null when nothing fits.
    pub fn alloc(self: *Tlsf, size: u32, alignment: u32, id: u32, requested_bytes: u64) error{OutOfMemory}!?u32 {
        assert(size > 0 and std.math.isPowerOfTwo(alignment) and id != 0);
        // Two records may be split off; reserve them first so failure leaves no half-done change.
        try self.blocks.ensureUnusedCapacity(self.gpa, 2);
        try self.live.ensureUnusedCapacity(self.gpa, 1);
        const index = self.findAligned(size, alignment) orelse return null;
        self.removeFree(index);
        var block = &self.blocks.items[index];
        const aligned_start = std.mem.alignForward(u32, block.start, alignment);
        if (aligned_start != block.start) {
            // The gap before the aligned start becomes a free block of its own; its previous
            // neighbour is in use (free neighbours are always merged), so nothing coalesces.
            const gap = aligned_start - block.start;
            const front = self.splitOff(index, gap);
            self.insertFree(front);
            block = &self.blocks.items[index];
        }
        assert(block.start % alignment == 0 and block.size >= size);
        if (block.size > size) {
            const tail = self.splitTail(index, size);
            self.insertFree(tail);
            block = &self.blocks.items[index];
        }
        block.is_free = false;
        block.untouched = false;
        block.id = id;
        block.requested_bytes = requested_bytes;
        self.live.putAssumeCapacity(block.start, index);
        self.last_placed = index;
        assert(block.size == size);
        return block.start;
    }

    pub fn free(self: *Tlsf, start: u32) FreeResult {
        const index = self.live.remove(start) orelse return self.classify(start);
        var block = &self.blocks.items[index];
        assert(!block.is_free and block.start == start);
        const result: FreeResult = .{ .freed = .{ .granules = block.size, .requested_bytes = block.requested_bytes, .id = block.id, .record = index } };
        block.is_free = true;
        block.id = 0;
        var merged = index;
        if (block.prev_phys != nil and self.blocks.items[block.prev_phys].is_free) {
            const prev = block.prev_phys;
            self.removeFree(prev);
            self.absorbNext(prev);
            merged = prev;
        }
        const next = self.blocks.items[merged].next_phys;
        if (next != nil and self.blocks.items[next].is_free) {
            self.removeFree(next);
            self.absorbNext(merged);
        }
        self.blocks.items[merged].untouched = false; // a block started in it
        self.insertFree(merged);
        return result;
    }

    pub const Live = struct { granules: u32, requested_bytes: u64, id: u32 };

    /// The index of the record of the live block at `start` (stable while it is live, below
    /// `recordCount()`), or null where none starts there: owners keep per-block data by it.
    pub fn liveIndex(self: *const Tlsf, start: u32) ?u32 {
        return self.live.get(start);
    }

    /// Block records made so far (live, free and recycled): a bound on every `liveIndex`.
    pub fn recordCount(self: *const Tlsf) usize {
        return self.blocks.items.len;
    }

    /// Records `alloc` may add: the most `recordCount()` grows by in one allocation.
    pub const records_per_alloc_max = 2;

    pub fn lookup(self: *const Tlsf, start: u32) ?Live {
        const index = self.live.get(start) orelse return null;
        const block = self.blocks.items[index];
        assert(!block.is_free);
        return .{ .granules = block.size, .requested_bytes = block.requested_bytes, .id = block.id };
    }

    /// Gives the live block at `start` a new allocation id.
    pub fn setId(self: *Tlsf, start: u32, id: u32) void {
        const index = self.live.get(start).?;
        assert(!self.blocks.items[index].is_free and id != 0);
        self.blocks.items[index].id = id;
    }

    /// Gives the live block at `start` the requested size of its current allocation (the
    /// JavaScript bins hand a block out again with another size: sync/js_bins.zig `leave`).
    pub fn setRequested(self: *Tlsf, start: u32, requested_bytes: u64) void {
        const index = self.live.get(start).?;
        assert(!self.blocks.items[index].is_free and requested_bytes <= @as(u64, self.blocks.items[index].size) * 16);
        self.blocks.items[index].requested_bytes = requested_bytes;
    }

    /// Forgets every block and makes each committed region of `owner` one free block again.
    pub fn reset(self: *Tlsf, regions: []const Region, owner: arena_mod.Owner) error{OutOfMemory}!void {
        return self.resetWhere(regions, owner, {}, everyRegion);
    }

    fn everyRegion(_: void, _: Region) bool {
        return true;
    }

    /// As reset, of the regions `keeps(context, region)` says are this TLSF's (a sharded pool's
    /// shard holds some of the arena's regions, not all).
    pub fn resetWhere(self: *Tlsf, regions: []const Region, owner: arena_mod.Owner, context: anytype, comptime keeps: fn (@TypeOf(context), Region) bool) error{OutOfMemory}!void {
        self.blocks.clearRetainingCapacity();
        self.recycled = nil;
        self.live.clear();
        self.fl_bitmap = 0;
        self.sl_bitmap = @splat(0);
        self.heads = @splat(@splat(nil));
        self.free_granules = 0;
        for (regions) |region| {
            if (!region.committed or region.owner != owner or !keeps(context, region)) continue;
            var empty = region;
            empty.live_count = 0;
            try self.addFreeRegion(empty, false); // its blocks' pointers are stale now, not foreign
        }
    }

    /// The most granules one request aligned to `alignment` granules gets from the free space: a
    /// free block's size less the gap before its first aligned start (alloc splits the gap off).
    /// Every free block's size would overstate it: allocate(largestFreeBlock) of a pool aligned to
    /// 4096 bytes was an OutOfMemoryError. Walks the lists from the largest down, and stops at the
    /// first whose blocks are all too small to beat what it found (with alignment 1: one list).
    pub fn largestFreeGranules(self: *const Tlsf, alignment: u32) u64 {
        assert(std.math.isPowerOfTwo(alignment));
        var largest: u64 = 0;
        var fl_map = self.fl_bitmap;
        while (fl_map != 0) : (fl_map &= ~(@as(u32, 1) << @intCast(31 - @clz(fl_map)))) {
            const fl: u32 = 31 - @clz(fl_map);
            var sl_map = self.sl_bitmap[fl];
            assert(sl_map != 0);
            while (sl_map != 0) : (sl_map &= ~(@as(u32, 1) << @intCast(31 - @clz(sl_map)))) {
                const sl: u32 = 31 - @clz(sl_map);
                if (listCeiling(fl, sl) - 1 <= largest) return largest;
                var index = self.heads[fl][sl];
                while (index != nil) : (index = self.blocks.items[index].next_free) {
                    const block = self.blocks.items[index];
                    const gap = std.mem.alignForward(u64, block.start, alignment) - block.start;
                    largest = @max(largest, block.size -| gap);
                }
            }
        }
        return largest;
    }

    pub fn liveIterator(self: *const Tlsf) OffsetMap.Iterator {
        return self.live.iterator();
    }

    /// A block as tools see it (snapshot.zig): where it is, how large, and whose.
    pub const BlockView = struct { start: u32, granules: u32, is_free: bool, id: u32, requested_bytes: u64 };

    /// Every block, live and free, in address order, for tools rather than hot paths: one pass
    /// over the records finds each region's first block (the one with no physical predecessor),
    /// then each region's blocks follow their physical links. Free it with `deinit`.
    pub fn walk(self: *const Tlsf, gpa: std.mem.Allocator) error{OutOfMemory}!Walk {
        var heads: std.ArrayList(u32) = .empty;
        errdefer heads.deinit(gpa);
        for (self.blocks.items, 0..) |block, index| {
            if (block.size == 0) continue; // a recycled record
            if (block.prev_phys == nil) try heads.append(gpa, @intCast(index));
        }
        const by_start = struct {
            fn lessThan(blocks: []const Block, a: u32, b: u32) bool {
                return blocks[a].start < blocks[b].start;
            }
        }.lessThan;
        std.sort.pdq(u32, heads.items, @as([]const Block, self.blocks.items), by_start);
        return .{ .tlsf = self, .heads = try heads.toOwnedSlice(gpa) };
    }

    pub const Walk = struct {
        tlsf: *const Tlsf,
        heads: []u32,
        next_head: usize = 0,
        current: u32 = nil,
        /// Where the previous block ended: the next one starts there, or a new region begins.
        previous_end: u64 = 0,

        pub fn deinit(self: *Walk, gpa: std.mem.Allocator) void {
            gpa.free(self.heads);
            self.* = undefined;
        }

        pub fn next(self: *Walk) ?BlockView {
            if (self.current == nil) {
                if (self.next_head == self.heads.len) return null;
                self.current = self.heads[self.next_head];
                self.next_head += 1;
                assert(self.tlsf.blocks.items[self.current].start >= self.previous_end); // regions never overlap
            } else {
                assert(self.tlsf.blocks.items[self.current].start == self.previous_end); // blocks tile a region
            }
            const block = self.tlsf.blocks.items[self.current];
            assert(block.size > 0 and (block.is_free == (block.id == 0)));
            self.previous_end = @as(u64, block.start) + block.size;
            self.current = block.next_phys;
            return .{ .start = block.start, .granules = block.size, .is_free = block.is_free, .id = block.id, .requested_bytes = block.requested_bytes };
        }
    };

    // ---- free lists ----

    /// A free block that holds `size` granules at an aligned start. A good fit for `size` is
    /// taken when its start happens to be aligned; only otherwise is the search widened by
    /// `alignment - 1`, so aligned pools do not waste blocks of exactly the size asked for.
    fn findAligned(self: *const Tlsf, size: u32, alignment: u32) ?u32 {
        if (self.findSuitable(size)) |index| {
            if (fitsAligned(self.blocks.items[index], size, alignment)) return index;
        }
        if (alignment != 1) if (self.findSuitable(@as(u64, size) + alignment - 1)) |index| return index;
        return self.findInLowerLists(size, alignment);
    }

    fn fitsAligned(block: Block, size: u32, alignment: u32) bool {
        return std.mem.alignForward(u64, block.start, alignment) + size <= @as(u64, block.start) + block.size;
    }

    /// The last resort before the pool grows or fails: the searches above round the request up to
    /// the next list (so every block they find fits at once), which passes over blocks that fit
    /// but sit in a list whose floor is below the request (a free block of exactly the size asked
    /// for; a pool's whole remaining space). Walks those lists, first fit. Bounded by the blocks in
    /// the few lists between the request's own and the one the widest search starts at.
    fn findInLowerLists(self: *const Tlsf, size: u32, alignment: u32) ?u32 {
        var at = mapping(size);
        const end = mappingSearch(@as(u64, size) + alignment - 1);
        while (at.fl < fl_count and (at.fl < end.fl or (at.fl == end.fl and at.sl < end.sl))) {
            if (self.sl_bitmap[at.fl] & (@as(u32, 1) << @intCast(at.sl)) != 0) {
                var index = self.heads[at.fl][at.sl];
                while (index != nil) : (index = self.blocks.items[index].next_free) {
                    assert(self.blocks.items[index].is_free);
                    if (fitsAligned(self.blocks.items[index], size, alignment)) return index;
                }
            }
            at = if (at.sl + 1 == sl_count) .{ .fl = at.fl + 1, .sl = 0 } else .{ .fl = at.fl, .sl = at.sl + 1 };
        }
        return null;
    }

    fn findSuitable(self: *const Tlsf, size: u64) ?u32 {
        const want = mappingSearch(size);
        if (want.fl >= fl_count) return null;
        var fl = want.fl;
        var sl_map = self.sl_bitmap[fl] & (~@as(u32, 0) << @intCast(want.sl));
        if (sl_map == 0) {
            const shift = fl + 1;
            if (shift >= 32) return null;
            const fl_map = self.fl_bitmap & (~@as(u32, 0) << @intCast(shift));
            if (fl_map == 0) return null;
            fl = @ctz(fl_map);
            sl_map = self.sl_bitmap[fl];
            assert(sl_map != 0);
        }
        const index = self.heads[fl][@ctz(sl_map)];
        assert(index != nil and self.blocks.items[index].size >= size);
        return index;
    }

    fn insertFree(self: *Tlsf, index: u32) void {
        const block = &self.blocks.items[index];
        assert(block.is_free);
        const at = mapping(block.size);
        const head = self.heads[at.fl][at.sl];
        block.prev_free = nil;
        block.next_free = head;
        if (head != nil) self.blocks.items[head].prev_free = index;
        self.heads[at.fl][at.sl] = index;
        self.fl_bitmap |= @as(u32, 1) << @intCast(at.fl);
        self.sl_bitmap[at.fl] |= @as(u32, 1) << @intCast(at.sl);
        self.free_granules += block.size;
    }

    fn removeFree(self: *Tlsf, index: u32) void {
        const block = &self.blocks.items[index];
        assert(block.is_free);
        const at = mapping(block.size);
        if (block.prev_free != nil) {
            self.blocks.items[block.prev_free].next_free = block.next_free;
        } else {
            assert(self.heads[at.fl][at.sl] == index);
            self.heads[at.fl][at.sl] = block.next_free;
            if (block.next_free == nil) {
                self.sl_bitmap[at.fl] &= ~(@as(u32, 1) << @intCast(at.sl));
                if (self.sl_bitmap[at.fl] == 0) self.fl_bitmap &= ~(@as(u32, 1) << @intCast(at.fl));
            }
        }
        if (block.next_free != nil) self.blocks.items[block.next_free].prev_free = block.prev_free;
        assert(self.free_granules >= block.size);
        self.free_granules -= block.size;
    }

    // ---- physical blocks ----

    /// Cuts the first `size` granules of block `index` into a new free record placed before it.
    fn splitOff(self: *Tlsf, index: u32, size: u32) u32 {
        const front = self.newRecordAssumeCapacity();
        const block = &self.blocks.items[index];
        assert(size > 0 and size < block.size);
        self.blocks.items[front] = .{
            .start = block.start,
            .size = size,
            .prev_phys = block.prev_phys,
            .next_phys = index,
            .prev_free = nil,
            .next_free = nil,
            .is_free = true,
            .untouched = block.untouched,
            .id = 0,
            .requested_bytes = 0,
        };
        if (block.prev_phys != nil) self.blocks.items[block.prev_phys].next_phys = front;
        block.prev_phys = front;
        block.start += size;
        block.size -= size;
        return front;
    }

    /// Keeps the first `size` granules in block `index` and returns the rest as a new free record.
    fn splitTail(self: *Tlsf, index: u32, size: u32) u32 {
        const tail = self.newRecordAssumeCapacity();
        const block = &self.blocks.items[index];
        assert(size > 0 and size < block.size);
        self.blocks.items[tail] = .{
            .start = block.start + size,
            .size = block.size - size,
            .prev_phys = index,
            .next_phys = block.next_phys,
            .prev_free = nil,
            .next_free = nil,
            .is_free = true,
            .untouched = block.untouched,
            .id = 0,
            .requested_bytes = 0,
        };
        if (block.next_phys != nil) self.blocks.items[block.next_phys].prev_phys = tail;
        block.next_phys = tail;
        block.size = size;
        return tail;
    }

    /// Merges the physical successor of `index` (which must be out of the free lists) into it.
    fn absorbNext(self: *Tlsf, index: u32) void {
        const block = &self.blocks.items[index];
        const next_index = block.next_phys;
        assert(next_index != nil);
        const next = self.blocks.items[next_index];
        assert(block.start + block.size == next.start);
        block.size += next.size;
        block.untouched = block.untouched and next.untouched;
        block.next_phys = next.next_phys;
        if (next.next_phys != nil) self.blocks.items[next.next_phys].prev_phys = index;
        self.recycle(next_index);
    }

    fn newRecord(self: *Tlsf) error{OutOfMemory}!u32 {
        try self.blocks.ensureUnusedCapacity(self.gpa, 1);
        return self.newRecordAssumeCapacity();
    }

    fn newRecordAssumeCapacity(self: *Tlsf) u32 {
        if (self.recycled != nil) {
            const index = self.recycled;
            self.recycled = self.blocks.items[index].next_free;
            return index;
        }
        assert(self.blocks.items.len < nil);
        const index: u32 = @intCast(self.blocks.items.len);
        self.blocks.appendAssumeCapacity(undefined);
        return index;
    }

    fn recycle(self: *Tlsf, index: u32) void {
        self.blocks.items[index].next_free = self.recycled;
        self.blocks.items[index].size = 0;
        self.recycled = index;
    }

    fn findFreeBlock(self: *const Tlsf, start: u32, size: u32) u32 {
        const at = mapping(size);
        var index = self.heads[at.fl][at.sl];
        while (index != nil) : (index = self.blocks.items[index].next_free) {
            if (self.blocks.items[index].start == start) return index;
        }
        unreachable; // an empty region is always one free block in its list
    }

    /// Why `start` names no live block (or where it lies when it names none): the slow path of
    /// a bad free, so a linear scan is fine.
    pub fn classify(self: *const Tlsf, start: u32) FreeResult {
        for (self.blocks.items) |block| {
            if (block.size == 0) continue; // a recycled record
            if (start < block.start or start >= @as(u64, block.start) + block.size) continue;
            if (block.is_free) return if (block.untouched) .unknown_pointer else .free_space;
            return .interior_pointer;
        }
        return .unknown_pointer;
    }
};

test "mapping rounds up so any block in the found list fits" {
    var size: u64 = 1;
    while (size < 1 << 20) : (size += 7) {
        const at = mappingSearch(size);
        const found = mapping(size);
        try std.testing.expect(at.fl > found.fl or (at.fl == found.fl and at.sl >= found.sl));
    }
}

test "a free block of granulesSureToFit granules is found for the request by the search, one of its size by the walk of the lists below" {
    var prng = std.Random.DefaultPrng.init(11);
    const random = prng.random();
    var missed_exact: usize = 0;
    for (0..2000) |round| {
        const size: u32 = if (round < 64) @intCast(round + 1) else random.intRangeAtMost(u32, 1, 1 << 28);
        const alignment: u32 = @as(u32, 1) << random.intRangeAtMost(u5, 0, 8);
        var tlsf = Tlsf.init(std.testing.allocator);
        defer tlsf.deinit();
        // A region of exactly what the search needs, at an unaligned start in the worst case.
        const region_len: u32 = @intCast(granulesSureToFit(size, alignment));
        try tlsf.addRegion(.{ .start = 1, .len = region_len, .committed = true, .live_count = 0 });
        const g = (try tlsf.alloc(size, alignment, 1, 1)).?;
        try std.testing.expect(g % alignment == 0 and g + size <= 1 + region_len);
        var exact = Tlsf.init(std.testing.allocator);
        defer exact.deinit();
        try exact.addRegion(.{ .start = 0, .len = size, .committed = true, .live_count = 0 });
        if ((try exact.alloc(size, 1, 1, 1)) == null) missed_exact += 1;
    }
    // Without findInLowerLists a region of exactly the request was not found for most sizes
    // (a pool without growth could not serve its whole remaining space).
    try std.testing.expectEqual(@as(usize, 0), missed_exact);
}

test "a block that fits aligned is found in any list from the request's own up, not only at a list's head" {
    var tlsf = Tlsf.init(std.testing.allocator);
    defer tlsf.deinit();
    // Ten blocks of 41 granules from granule 1; every other one freed (live neighbours keep them
    // apart): free blocks at 1, 83, 165, 247, 329, in one list, 329 at its head. Aligned to 8, 37
    // granules fit only at 165 and 247; the searches see only the head, then nothing wider.
    try tlsf.addRegion(.{ .start = 1, .len = 410, .committed = true, .live_count = 0 });
    var taken: [10]u32 = undefined;
    for (&taken, 1..) |*g, id| g.* = (try tlsf.alloc(41, 1, @intCast(id), 1)).?;
    for (taken, 0..) |g, i| if (i % 2 == 0) try std.testing.expect(tlsf.free(g) == .freed);
    const g = (try tlsf.alloc(37, 8, 99, 1)).?;
    try std.testing.expect(g % 8 == 0 and (g == 168 or g == 248));
}

test "an aligned pool uses a free block of exactly the size asked for" {
    var tlsf = Tlsf.init(std.testing.allocator);
    defer tlsf.deinit();
    try tlsf.addRegion(.{ .start = 0, .len = 64, .committed = true, .live_count = 0 });
    var id: u32 = 1;
    while (id <= 4) : (id += 1) _ = (try tlsf.alloc(16, 4, id, 256)).?; // four blocks fill the region exactly
    try std.testing.expectEqual(@as(u64, 0), tlsf.free_granules);
}

test "tlsf splits, coalesces and reports bad frees" {
    var tlsf = Tlsf.init(std.testing.allocator);
    defer tlsf.deinit();
    try tlsf.addRegion(.{ .start = 0, .len = 1024, .committed = true, .live_count = 0 });
    const a = (try tlsf.alloc(10, 1, 1, 160)).?;
    const b = (try tlsf.alloc(20, 4, 2, 320)).?;
    const c = (try tlsf.alloc(5, 1, 3, 80)).?;
    try std.testing.expect(b % 4 == 0);
    try std.testing.expectEqual(@as(u32, 20), tlsf.lookup(b).?.granules);
    try std.testing.expect(tlsf.free(b + 1) == .interior_pointer);
    try std.testing.expect(tlsf.free(b) == .freed);
    try std.testing.expect(tlsf.free(b) == .free_space); // freed: TLSF cannot tell a freed start from other free space
    try std.testing.expect(tlsf.free(b + 3) == .free_space); // inside the freed block: the same
    try std.testing.expect(tlsf.free(c + 100) == .unknown_pointer); // free space no allocation touched
    try std.testing.expect(tlsf.free(5000) == .unknown_pointer);
    try std.testing.expect(tlsf.free(a) == .freed);
    try std.testing.expect(tlsf.free(c) == .freed);
    try std.testing.expectEqual(@as(u64, 1024), tlsf.free_granules);
    try std.testing.expectEqual(@as(u64, 1024), tlsf.largestFreeGranules(1)); // all merged back
    try std.testing.expect((try tlsf.alloc(1025, 1, 4, 0)) == null);
    try std.testing.expectEqual(@as(u32, 0), (try tlsf.alloc(1024, 1, 5, 0)).?);
    try std.testing.expect(tlsf.free(0) == .freed);
    try std.testing.expect(tlsf.free(700) == .free_space); // everything was touched by the whole-region block
    try tlsf.reset(&.{.{ .start = 0, .len = 1024, .committed = true, .live_count = 0 }}, .strategy);
    try std.testing.expect(tlsf.free(700) == .free_space); // a reset leaves stale pointers, not foreign ones
}

test "walk yields every block of every region in address order" {
    const gpa = std.testing.allocator;
    var tlsf = Tlsf.init(gpa);
    defer tlsf.deinit();
    // The later region first: the walk orders regions by address, not by when they were added.
    try tlsf.addRegion(.{ .start = 4096, .len = 64, .committed = true, .live_count = 0 });
    try tlsf.addRegion(.{ .start = 0, .len = 100, .committed = true, .live_count = 0 });
    const a = (try tlsf.alloc(10, 1, 1, 150)).?;
    const b = (try tlsf.alloc(20, 1, 2, 320)).?;
    _ = (try tlsf.alloc(30, 1, 3, 480)).?;
    try std.testing.expect(tlsf.free(a) == .freed);
    var walk = try tlsf.walk(gpa);
    defer walk.deinit(gpa);
    var count: usize = 0;
    var end: u64 = 0;
    var free_granules: u64 = 0;
    var all_granules: u64 = 0;
    while (walk.next()) |block| : (count += 1) {
        try std.testing.expect(block.start >= end);
        end = @as(u64, block.start) + block.granules;
        all_granules += block.granules;
        if (block.is_free) free_granules += block.granules;
        if (block.start == b) try std.testing.expectEqual(@as(u32, 2), block.id);
    }
    try std.testing.expectEqual(tlsf.free_granules, free_granules);
    try std.testing.expectEqual(@as(u64, 4096 + 64), end);
    try std.testing.expectEqual(@as(u64, 164), all_granules); // the blocks tile both regions
    try std.testing.expect(count >= 5); // at least: free a, b, c, the rest of one region, the other region
}

test "tlsf restores a region around its live blocks, and they free and coalesce" {
    var tlsf = Tlsf.init(std.testing.allocator);
    defer tlsf.deinit();
    var indices: [3]u32 = undefined;
    try tlsf.restoreRegion(.{ .start = 100, .len = 1000, .committed = true, .live_count = 0 }, &.{
        .{ .start = 100, .size = 10, .id = 1, .requested_bytes = 150 },
        .{ .start = 200, .size = 50, .id = 2, .requested_bytes = 800 },
        .{ .start = 250, .size = 5, .id = 3, .requested_bytes = 80 },
    }, &indices);
    for ([_]u32{ 100, 200, 250 }, indices) |start, index| try std.testing.expectEqual(index, tlsf.liveIndex(start).?);
    try std.testing.expectEqual(@as(u64, 1000 - 65), tlsf.free_granules);
    try std.testing.expectEqual(@as(u64, 800), tlsf.lookup(200).?.requested_bytes);
    try std.testing.expect(tlsf.free(201) == .interior_pointer);
    try std.testing.expect(tlsf.free(150) == .free_space);
    for ([_]u32{ 250, 100, 200 }) |start| try std.testing.expect(tlsf.free(start) == .freed);
    try std.testing.expectEqual(@as(u64, 1000), tlsf.largestFreeGranules(1));
}

test "the largest free run a request aligned to N granules gets leaves out the gap before the block's aligned start, and alloc takes exactly that" {
    var tlsf = Tlsf.init(std.testing.allocator);
    defer tlsf.deinit();
    // Free [0, 3) and [4, 1003) once a one-granule block at 3 is placed: the large block starts at 4.
    try tlsf.addRegion(.{ .start = 0, .len = 1003, .committed = true, .live_count = 0 });
    try std.testing.expectEqual(@as(?u32, 0), try tlsf.alloc(3, 1, 1, 48));
    try std.testing.expectEqual(@as(?u32, 3), try tlsf.alloc(1, 1, 2, 16));
    try std.testing.expect(tlsf.free(0) == .freed);
    try std.testing.expectEqual(@as(u64, 999), tlsf.largestFreeGranules(1));
    try std.testing.expectEqual(@as(u64, 999), tlsf.largestFreeGranules(4)); // 4 is aligned to 4
    try std.testing.expectEqual(@as(u64, 1003 - 256), tlsf.largestFreeGranules(256)); // from 256
    try std.testing.expectEqual(@as(?u32, null), try tlsf.alloc(1003 - 255, 256, 3, 16));
    try std.testing.expectEqual(@as(?u32, 256), try tlsf.alloc(1003 - 256, 256, 3, 16));
    // What is left: [0, 3), [4, 256): the second, whole at alignment 1, from 8 at alignment 8.
    try std.testing.expectEqual(@as(u64, 252), tlsf.largestFreeGranules(1));
    try std.testing.expectEqual(@as(u64, 248), tlsf.largestFreeGranules(8));
    try std.testing.expectEqual(@as(u64, 3), tlsf.largestFreeGranules(512)); // [0, 3): aligned to anything
}
