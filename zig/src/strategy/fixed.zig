//! Fixed-size placement: every block has the same stride, free blocks wait on a stack, so
//! allocate and free are O(1). State is out of band: a live bit and a freed bit per block
//! (a bad free is told apart from a double free without touching the memory), and the size
//! each live block was asked for.
//!
//! A request larger than a block takes a run of contiguous blocks of one region (as foonathan/
//! memory's array pools do): every block of the run is live, the blocks after its first are
//! marked `continued`, and the first holds the request's size and id. A run is found by a scan of
//! the regions' live bits a word of 64 at a time (free_runs.zig), so it costs O(blocks in the pool
//! / 64) where a single block costs O(1). Its blocks' entries stay on the free stack, marked
//! `stale`: a pop drops such an entry as it meets it (the block is live), and a free of the run
//! pushes only the blocks whose entries are gone, so a run costs no pass over the stack and a
//! block never has two entries.
//!
//! Invariants: every free block of a committed region has exactly one entry on the free stack; a
//! live block has one exactly when its `stale` bit is set (`stale_count` of them); `live_count`
//! equals the number of set live bits; a `continued` bit is set only
//! with the live bit, and only where the block before it in the region is live; a region's
//! `run_count` is the number of live runs in it (0: its frees and lookups skip the run checks,
//! so pools that never take runs pay one load for them).
const std = @import("std");
const assert = std.debug.assert;
const Region = @import("../arena.zig").Region;
const stride_walk = @import("stride_walk.zig");
const free_runs = @import("free_runs.zig");

const RegionBlocks = struct {
    start: u32 = 0,
    count: u32 = 0,
    live: std.DynamicBitSetUnmanaged = .{},
    freed: std.DynamicBitSetUnmanaged = .{},
    /// Live blocks of a run after its first.
    continued: std.DynamicBitSetUnmanaged = .{},
    /// Live blocks of a run whose entries are still on the free stack (see the file's comment).
    stale: std.DynamicBitSetUnmanaged = .{},
    /// Live runs in the region: where none are, frees and lookups skip the run checks.
    run_count: u32 = 0,
    requested_bytes: []u32 = &.{},
    ids: []u32 = &.{},
};

pub const FreeResult = @import("tlsf.zig").FreeResult;
pub const Live = @import("tlsf.zig").Tlsf.Live;

pub const Fixed = struct {
    gpa: std.mem.Allocator,
    stride: u32, // granules
    /// ceil(2^64 / stride): divides a u32 by the stride with one multiply (Lemire's fastdiv),
    /// since a hardware divide on every allocate and free is a large part of their cost.
    stride_reciprocal: u128,
    free_stack: std.ArrayList(u32) = .empty,
    regions: std.ArrayList(RegionBlocks) = .empty,
    live_count: u64 = 0,
    /// Blocks in all committed regions: the free stack's capacity, so a free never allocates.
    block_count: u64 = 0,
    /// Entries on the free stack of blocks a run holds (their `stale` bits).
    stale_count: u64 = 0,

    pub fn init(gpa: std.mem.Allocator, stride: u32) Fixed {
        assert(stride > 0);
        const reciprocal: u128 = std.math.divCeil(u128, 1 << 64, stride) catch unreachable;
        return .{ .gpa = gpa, .stride = stride, .stride_reciprocal = reciprocal };
    }

    pub fn deinit(self: *Fixed) void {
        for (self.regions.items) |*blocks| self.freeRegionBlocks(blocks);
        self.regions.deinit(self.gpa);
        self.free_stack.deinit(self.gpa);
        self.* = undefined;
    }

    fn freeRegionBlocks(self: *Fixed, blocks: *RegionBlocks) void {
        blocks.live.deinit(self.gpa);
        blocks.freed.deinit(self.gpa);
        blocks.continued.deinit(self.gpa);
        blocks.stale.deinit(self.gpa);
        self.gpa.free(blocks.requested_bytes);
        self.gpa.free(blocks.ids);
        blocks.* = .{};
    }

    /// Adds the blocks of region `index` (the arena's index: regions the strategy does not own,
    /// such as the debug layer's guard regions, leave empty entries behind).
    pub fn addRegion(self: *Fixed, index: u32, region: Region) error{OutOfMemory}!void {
        assert(region.committed and region.live_count == 0);
        const count = region.len / self.stride;
        assert(count > 0);
        while (index >= self.regions.items.len) try self.regions.append(self.gpa, .{});
        assert(index < self.regions.items.len);
        const blocks = &self.regions.items[index];
        self.freeRegionBlocks(blocks);
        errdefer self.freeRegionBlocks(blocks);
        blocks.start = region.start;
        blocks.count = count;
        blocks.live = try std.DynamicBitSetUnmanaged.initEmpty(self.gpa, count);
        blocks.freed = try std.DynamicBitSetUnmanaged.initEmpty(self.gpa, count);
        blocks.continued = try std.DynamicBitSetUnmanaged.initEmpty(self.gpa, count);
        blocks.stale = try std.DynamicBitSetUnmanaged.initEmpty(self.gpa, count);
        blocks.requested_bytes = try self.gpa.alloc(u32, count);
        blocks.ids = try self.gpa.alloc(u32, count);
        try self.free_stack.ensureTotalCapacity(self.gpa, self.block_count + count);
        self.block_count += count;
        // Pushed in reverse so blocks are handed out in address order.
        var slot = count;
        while (slot > 0) {
            slot -= 1;
            self.free_stack.appendAssumeCapacity(region.start + slot * self.stride);
        }
    }

    /// Takes an empty region's blocks off the free stack, before it is decommitted.
    pub fn removeRegion(self: *Fixed, index: u32, region: Region) void {
        assert(region.live_count == 0);
        const end = region.end();
        var kept: usize = 0;
        for (self.free_stack.items) |g| {
            if (g >= region.start and g < end) continue;
            self.free_stack.items[kept] = g;
            kept += 1;
        }
        assert(self.free_stack.items.len - kept == self.regions.items[index].count);
        self.free_stack.shrinkRetainingCapacity(kept);
        self.block_count -= self.regions.items[index].count;
        self.freeRegionBlocks(&self.regions.items[index]);
    }

    pub const Restored = struct { slot: u32, id: u32, requested_bytes: u32 };

    /// Adds region `index` with the blocks in `live` (distinct slots) already allocated, as they were
    /// before a restart (persistent pools rebuild their placement from the records in their file).
    pub fn restoreRegion(self: *Fixed, index: u32, region: Region, live: []const Restored) error{OutOfMemory}!void {
        try self.addRegion(index, region);
        const blocks = &self.regions.items[index];
        assert(live.len <= blocks.count);
        for (live) |block| {
            assert(block.slot < blocks.count and !blocks.live.isSet(block.slot) and block.id != 0);
            blocks.live.set(block.slot);
            blocks.requested_bytes[block.slot] = block.requested_bytes;
            blocks.ids[block.slot] = block.id;
        }
        self.live_count += live.len;
        // addRegion pushed every block; keep only the free ones on the stack, in the same order.
        var kept: usize = 0;
        for (self.free_stack.items) |g| {
            const slot = if (g >= blocks.start and g < @as(u64, blocks.start) + @as(u64, blocks.count) * self.stride) (g - blocks.start) / self.stride else null;
            if (slot != null and blocks.live.isSet(slot.?)) continue;
            self.free_stack.items[kept] = g;
            kept += 1;
        }
        assert(self.free_stack.items.len - kept == live.len);
        self.free_stack.shrinkRetainingCapacity(kept);
    }

    pub fn alloc(self: *Fixed, region_of: anytype, id: u32, requested_bytes: u32) ?u32 {
        assert(id != 0);
        const g, const blocks, const slot = while (true) {
            const g = self.free_stack.pop() orelse return null;
            const blocks = &self.regions.items[region_of.regionOf(g)];
            const slot = self.divideByStride(g - blocks.start);
            if (!blocks.live.isSet(slot)) break .{ g, blocks, slot };
            self.dropStale(blocks, slot); // a run holds it: its entry goes as it comes
        };
        blocks.live.set(slot);
        blocks.requested_bytes[slot] = requested_bytes;
        blocks.ids[slot] = id;
        self.live_count += 1;
        return g;
    }

    /// Places a run of `count` (2 or more) contiguous blocks in one region: the first such run in
    /// address order of the regions. Null where no region has one.
    pub fn allocRun(self: *Fixed, count: u32, id: u32, requested_bytes: u32) ?u32 {
        assert(count >= 2 and id != 0);
        for (self.regions.items) |*region| {
            if (region.count < count) continue;
            const first = free_runs.firstFreeRun(self, region.*, count) orelse continue;
            assert(first + count <= region.count and !region.live.isSet(first) and !region.live.isSet(first + count - 1));
            region.live.setRangeValue(.{ .start = first, .end = first + count }, true);
            region.continued.setRangeValue(.{ .start = first + 1, .end = first + count }, true);
            region.requested_bytes[first] = requested_bytes;
            region.ids[first] = id;
            region.run_count += 1;
            self.live_count += count;
            // The run's blocks' entries stay on the free stack, dropped as they are popped.
            region.stale.setRangeValue(.{ .start = first, .end = first + count }, true);
            self.stale_count += count;
            assert(self.free_stack.items.len == self.block_count - self.live_count + self.stale_count);
            return region.start + first * self.stride;
        }
        return null;
    }

    /// Takes the stale entry of block `slot` (live, held by a run) that was just popped.
    fn dropStale(self: *Fixed, region: *RegionBlocks, slot: u32) void {
        @branchHint(.cold);
        assert(region.live.isSet(slot) and region.stale.isSet(slot) and self.stale_count > 0);
        region.stale.unset(slot);
        self.stale_count -= 1;
    }

    /// Blocks in the live allocation whose first block is `slot`: 1, or a run's length.
    /// The run ends where the `continued` bits after `slot` stop: read a word of 64 at a time
    /// (bits past the region's blocks are clear).
    fn runBlocks(region: *const RegionBlocks, slot: u32) u32 {
        assert(region.live.isSet(slot) and !region.continued.isSet(slot));
        const word_bits = @bitSizeOf(std.DynamicBitSetUnmanaged.MaskInt);
        var end = slot + 1;
        while (end < region.count) {
            const left_in_word = word_bits - end % word_bits;
            const ones = @ctz(~(region.continued.masks[end / word_bits] >> @intCast(end % word_bits)));
            if (ones < left_in_word) {
                end += ones;
                break;
            }
            end += left_in_word;
        }
        end = @min(end, region.count);
        assert(end == region.count or !region.continued.isSet(end));
        return end - slot;
    }

    pub fn free(self: *Fixed, region_index: u32, g: u32) FreeResult {
        const slot = self.blockSlot(region_index, g) orelse return self.classifyOffBlock(region_index, g);
        const region = &self.regions.items[region_index];
        if (!region.live.isSet(slot)) return if (region.freed.isSet(slot)) .double_free else .unknown_pointer;
        const count = if (region.run_count == 0) 1 else blk: {
            if (region.continued.isSet(slot)) return .interior_pointer; // inside a run
            break :blk runBlocks(region, slot);
        };
        region.live.unset(slot);
        region.freed.set(slot);
        if (count > 1) {
            region.run_count -= 1;
            // The run's later blocks were never given out on their own: a free of one is no double free.
            region.live.setRangeValue(.{ .start = slot + 1, .end = slot + count }, false);
            region.continued.setRangeValue(.{ .start = slot + 1, .end = slot + count }, false);
            region.freed.setRangeValue(.{ .start = slot + 1, .end = slot + count }, false);
        }
        // Capacity for every block of every region was reserved when the region was added.
        assert(self.block_count <= self.free_stack.capacity);
        if (count == 1) self.free_stack.appendAssumeCapacity(g) else self.releaseRunEntries(region, slot, count);
        self.live_count -= count;
        assert(self.free_stack.items.len == self.block_count - self.live_count + self.stale_count);
        return .{ .freed = .{ .granules = count * self.stride, .requested_bytes = region.requested_bytes[slot], .id = region.ids[slot] } };
    }

    /// Gives the blocks `slot` .. `slot + count - 1` of a run just freed their entries: those whose
    /// entries are still on the stack (`stale`) serve again as they are, the others are pushed,
    /// the last first, so the run's blocks are handed out in address order. A word of 64 at a time.
    fn releaseRunEntries(self: *Fixed, region: *RegionBlocks, slot: u32, count: u32) void {
        assert(count >= 2 and slot + count <= region.count);
        const MaskInt = std.DynamicBitSetUnmanaged.MaskInt;
        const word_bits = @bitSizeOf(MaskInt);
        var stale_blocks: u64 = 0;
        var end = slot + count; // blocks from `end` on are done
        while (end > slot) {
            const start = @max(slot, (end - 1) / word_bits * word_bits);
            const width = end - start;
            const range: MaskInt = (if (width == word_bits) ~@as(MaskInt, 0) else (@as(MaskInt, 1) << @intCast(width)) - 1) << @intCast(start % word_bits);
            const word = &region.stale.masks[start / word_bits];
            const stale = word.* & range;
            stale_blocks += @popCount(stale);
            word.* &= ~range;
            var fresh = ~stale & range;
            while (fresh != 0) { // the highest first
                const bit: u32 = word_bits - 1 - @clz(fresh);
                fresh &= ~(@as(MaskInt, 1) << @intCast(bit));
                self.free_stack.appendAssumeCapacity(region.start + (start / word_bits * word_bits + bit) * self.stride);
            }
            end = start;
        }
        assert(stale_blocks <= self.stale_count);
        self.stale_count -= stale_blocks;
    }

    pub fn lookup(self: *const Fixed, region_index: u32, g: u32) ?Live {
        const slot = self.blockSlot(region_index, g) orelse return null;
        const region = &self.regions.items[region_index];
        if (!region.live.isSet(slot)) return null;
        if (region.run_count == 0) return .{ .granules = self.stride, .requested_bytes = region.requested_bytes[slot], .id = region.ids[slot] };
        if (region.continued.isSet(slot)) return null;
        return .{ .granules = runBlocks(region, slot) * self.stride, .requested_bytes = region.requested_bytes[slot], .id = region.ids[slot] };
    }

    /// Gives the live block at `g` a new allocation id.
    pub fn setId(self: *Fixed, region_index: u32, g: u32, id: u32) void {
        const slot = self.blockSlot(region_index, g).?;
        const region = &self.regions.items[region_index];
        assert(region.live.isSet(slot) and id != 0);
        region.ids[slot] = id;
    }

    /// The block index of `g` within its region, or null for an offset that starts no block.
    /// Why `g`, where no block starts, names no live block: inside a live block (a run's too) it is
    /// an allocation's interior; inside a free block, or past the region's blocks, a pointer the pool
    /// never gave out ("inside an allocation" sent the caller looking for one that is not there).
    fn classifyOffBlock(self: *const Fixed, region_index: u32, g: u32) FreeResult {
        if (region_index >= self.regions.items.len) return .unknown_pointer;
        const region = &self.regions.items[region_index];
        if (region.count == 0 or g < region.start) return .unknown_pointer;
        const slot = self.divideByStride(g - region.start);
        assert(slot * self.stride != g - region.start or slot >= region.count);
        return if (slot < region.count and region.live.isSet(slot)) .interior_pointer else .unknown_pointer;
    }

    fn blockSlot(self: *const Fixed, region_index: u32, g: u32) ?u32 {
        if (region_index >= self.regions.items.len) return null;
        const region = &self.regions.items[region_index];
        if (region.count == 0 or g < region.start) return null;
        const delta = g - region.start;
        const slot = self.divideByStride(delta);
        if (slot * self.stride != delta) return null;
        return if (slot < region.count) slot else null;
    }

    /// `x / stride` for any u32 `x`: exact because the reciprocal is rounded up and x < 2^32
    /// (Lemire, Kaser, Kurz 2019); the test below checks it against the hardware divide.
    inline fn divideByStride(self: *const Fixed, x: u32) u32 {
        return @intCast((self.stride_reciprocal * x) >> 64);
    }

    /// Frees every block at once; each previously live block counts as freed (a later free of it is a double free).
    pub fn reset(self: *Fixed) void {
        self.free_stack.clearRetainingCapacity();
        for (self.regions.items) |*region| {
            if (region.count == 0) continue;
            var it = region.live.iterator(.{});
            while (it.next()) |slot| region.freed.setValue(slot, !region.continued.isSet(slot));
            region.live.unsetAll();
            region.continued.unsetAll();
            region.stale.unsetAll();
            region.run_count = 0;
            var slot = region.count;
            while (slot > 0) {
                slot -= 1;
                self.free_stack.appendAssumeCapacity(region.start + slot * self.stride);
            }
        }
        self.live_count = 0;
        self.stale_count = 0;
    }

    pub fn freeGranules(self: *const Fixed) u64 {
        assert(self.free_stack.items.len == self.block_count - self.live_count + self.stale_count);
        return (self.block_count - self.live_count) * self.stride;
    }

    /// The granules of the longest run of free blocks in one region: the largest request a run
    /// could serve without growing (free blocks apart from each other serve one block each).
    /// Reads the live bits a word at a time, and stops where the free count settles the rest
    /// (free_runs.zig): statistics ask for it, not hot paths.
    pub fn largestFreeGranules(self: *const Fixed) u64 {
        const longest = free_runs.longestFreeRun(self, self.regions.items, self.block_count - self.live_count, std.math.maxInt(u64));
        const granules = longest * self.stride;
        assert(granules <= self.freeGranules());
        return granules;
    }

    /// Blocks of a region (free_runs.zig asks these two; an entry the strategy does not own has none).
    pub fn regionBlocks(_: *const Fixed, region: RegionBlocks) u32 {
        return region.count;
    }

    /// The live bits of blocks `slot` .. `slot + valid - 1` of `region`: one word of them.
    pub fn usedWord(_: *const Fixed, region: RegionBlocks, slot: u32, valid: u7) free_runs.Word {
        comptime assert(@bitSizeOf(std.DynamicBitSetUnmanaged.MaskInt) == free_runs.word_blocks);
        assert(slot % free_runs.word_blocks == 0 and slot + valid <= region.count);
        return region.live.masks[slot / free_runs.word_blocks];
    }

    pub const LiveIterator = struct {
        fixed: *const Fixed,
        region: usize = 0,
        bits: ?std.DynamicBitSetUnmanaged.Iterator(.{}) = null,

        pub fn next(self: *LiveIterator) ?u32 {
            while (self.region < self.fixed.regions.items.len) {
                const region = &self.fixed.regions.items[self.region];
                if (self.bits == null) self.bits = region.live.iterator(.{});
                while (self.bits.?.next()) |slot| {
                    if (region.continued.isSet(slot)) continue; // a run is one allocation, at its first block
                    return region.start + @as(u32, @intCast(slot)) * self.fixed.stride;
                }
                self.bits = null;
                self.region += 1;
            }
            return null;
        }
    };

    pub fn liveIterator(self: *const Fixed) LiveIterator {
        return .{ .fixed = self };
    }

    pub const BlockView = stride_walk.BlockView;

    /// Every block, live and free, in address order, for tools rather than hot paths. A region's
    /// tail shorter than a stride holds no block and is not yielded. Free it with `deinit`.
    pub fn walk(self: *const Fixed, gpa: std.mem.Allocator) error{OutOfMemory}!Walk {
        var order: std.ArrayList(u32) = .empty;
        errdefer order.deinit(gpa);
        for (self.regions.items, 0..) |region, index| {
            if (region.count > 0) try order.append(gpa, @intCast(index));
        }
        return Walk.init(gpa, self, &order);
    }

    /// Regions by their index in `regions` (stride_walk.zig asks these three).
    pub const Walk = stride_walk.StrideWalk(Fixed, u32);

    pub fn walkStart(self: *const Fixed, index: u32) u32 {
        return self.regions.items[index].start;
    }

    pub fn walkBlocks(self: *const Fixed, index: u32) u32 {
        return self.regions.items[index].count;
    }

    pub fn walkBlock(self: *const Fixed, index: u32, slot: u32) stride_walk.WalkedBlock {
        const region = &self.regions.items[index];
        assert(slot < region.count);
        const start = region.start + slot * self.stride;
        if (!region.live.isSet(slot)) return .{ .view = .{ .start = start, .granules = self.stride, .is_free = true, .id = 0, .requested_bytes = 0 }, .blocks = 1 };
        assert(region.ids[slot] != 0 and !region.continued.isSet(slot));
        const count = runBlocks(region, slot);
        return .{ .view = .{ .start = start, .granules = count * self.stride, .is_free = false, .id = region.ids[slot], .requested_bytes = region.requested_bytes[slot] }, .blocks = count };
    }
};

const TwoRegions = struct {
    pub fn regionOf(_: TwoRegions, g: u32) u32 {
        return if (g < 16) 0 else 1;
    }
};

test "fixed frees every block of every region without allocating" {
    var fixed = Fixed.init(std.testing.allocator, 4);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 16, .committed = true, .live_count = 0 });
    var blocks: [8]u32 = undefined;
    for (blocks[0..4]) |*g| g.* = fixed.alloc(TwoRegions{}, 7, 1).?;
    try fixed.addRegion(1, .{ .start = 16, .len = 16, .committed = true, .live_count = 0 });
    for (blocks[4..]) |*g| g.* = fixed.alloc(TwoRegions{}, 7, 1).?;
    for (blocks) |g| try std.testing.expect(fixed.free((TwoRegions{}).regionOf(g), g) == .freed);
    try std.testing.expectEqual(@as(u64, 32), fixed.freeGranules());
}

const OneRegion = struct {
    pub fn regionOf(_: OneRegion, _: u32) u32 {
        return 0;
    }
};

test "division by the stride through its reciprocal is exact" {
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    for ([_]u32{ 1, 3, 7, 13, 64, 100, 4097, 65535, 1 << 20 }) |stride| {
        const fixed = Fixed.init(std.testing.allocator, stride);
        for (0..10_000) |_| {
            const x = random.int(u32);
            try std.testing.expectEqual(x / stride, fixed.divideByStride(x));
        }
        try std.testing.expectEqual(std.math.maxInt(u32) / stride, fixed.divideByStride(std.math.maxInt(u32)));
    }
}

test "fixed hands out blocks in order and tells bad frees apart" {
    var fixed = Fixed.init(std.testing.allocator, 4);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 16, .committed = true, .live_count = 0 });
    const a = fixed.alloc(OneRegion{}, 7, 60).?;
    const b = fixed.alloc(OneRegion{}, 7, 64).?;
    try std.testing.expectEqual(@as(u32, 0), a);
    try std.testing.expectEqual(@as(u32, 4), b);
    try std.testing.expect(fixed.free(0, 2) == .interior_pointer);
    try std.testing.expect(fixed.free(0, 8) == .unknown_pointer);
    try std.testing.expect(fixed.free(0, 9) == .unknown_pointer); // inside a block never given out: no allocation's interior
    try std.testing.expect(fixed.free(0, 17) == .unknown_pointer); // past the region's blocks
    try std.testing.expectEqual(@as(u64, 60), fixed.free(0, a).freed.requested_bytes);
    try std.testing.expect(fixed.free(0, a) == .double_free);
    _ = fixed.alloc(OneRegion{}, 7, 1).?;
    _ = fixed.alloc(OneRegion{}, 7, 1).?;
    _ = fixed.alloc(OneRegion{}, 7, 1).?;
    try std.testing.expect(fixed.alloc(OneRegion{}, 7, 1) == null);
    fixed.reset();
    try std.testing.expect(fixed.free(0, b) == .double_free);
    try std.testing.expectEqual(@as(u64, 16), fixed.freeGranules());
}

test "walk yields every block, live and free, in address order" {
    const gpa = std.testing.allocator;
    var fixed = Fixed.init(gpa, 4);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 18, .committed = true, .live_count = 0 }); // 4 blocks and a 2-granule tail
    try fixed.addRegion(1, .{ .start = 32, .len = 8, .committed = true, .live_count = 0 });
    const a = fixed.alloc(TwoRegions{}, 7, 60).?;
    const b = fixed.alloc(TwoRegions{}, 8, 61).?;
    try std.testing.expect(fixed.free((TwoRegions{}).regionOf(a), a) == .freed);
    var walk = try fixed.walk(gpa);
    defer walk.deinit(gpa);
    var starts: [6]u32 = undefined;
    var count: usize = 0;
    while (walk.next()) |block| : (count += 1) {
        starts[count] = block.start;
        try std.testing.expectEqual(block.start != b, block.is_free);
        if (block.start == b) try std.testing.expectEqual(@as(u64, 61), block.requested_bytes);
    }
    try std.testing.expectEqual(@as(usize, 6), count);
    try std.testing.expectEqualSlices(u32, &.{ 0, 4, 8, 12, 32, 36 }, &starts);
}

test "fixed restores a region with some blocks live" {
    var fixed = Fixed.init(std.testing.allocator, 4);
    defer fixed.deinit();
    try fixed.restoreRegion(0, .{ .start = 8, .len = 16, .committed = true, .live_count = 0 }, &.{
        .{ .slot = 1, .id = 5, .requested_bytes = 30 },
        .{ .slot = 3, .id = 6, .requested_bytes = 64 },
    });
    try std.testing.expectEqual(@as(u64, 30), fixed.lookup(0, 12).?.requested_bytes);
    try std.testing.expectEqual(@as(u64, 8), fixed.freeGranules());
    try std.testing.expectEqual(@as(u32, 8), fixed.alloc(OneRegion{}, 7, 1).?);
    try std.testing.expectEqual(@as(u32, 16), fixed.alloc(OneRegion{}, 8, 1).?);
    try std.testing.expect(fixed.alloc(OneRegion{}, 9, 1) == null);
    try std.testing.expect(fixed.free(0, 20) == .freed);
}

test "a run of contiguous blocks: placed in one piece, freed whole, bad frees of it told apart" {
    const gpa = std.testing.allocator;
    var fixed = Fixed.init(gpa, 4);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 40, .committed = true, .live_count = 0 }); // 10 blocks
    const single = fixed.alloc(OneRegion{}, 1, 10).?; // block 0
    const run = fixed.allocRun(3, 2, 40).?; // blocks 1..3
    try std.testing.expectEqual(@as(u32, 4), run);
    try std.testing.expectEqual(@as(u32, 12), fixed.lookup(0, run).?.granules);
    try std.testing.expect(fixed.lookup(0, run + 4) == null);
    try std.testing.expectEqual(@as(u64, 6 * 4), fixed.freeGranules());
    try std.testing.expect(fixed.allocRun(7, 3, 100) == null); // 6 blocks left in a row
    // Single blocks keep coming from the free stack in address order, past the run.
    try std.testing.expectEqual(@as(u32, 16), fixed.alloc(OneRegion{}, 4, 1).?);
    try std.testing.expect(fixed.free(0, run + 4) == .interior_pointer); // a block inside the run
    try std.testing.expect(fixed.free(0, run + 1) == .interior_pointer); // not a block start
    var walk = try fixed.walk(gpa);
    var granules: u64 = 0;
    var allocations: usize = 0;
    while (walk.next()) |block| {
        granules += block.granules;
        allocations += @intFromBool(!block.is_free);
    }
    walk.deinit(gpa);
    try std.testing.expectEqual(@as(u64, 40), granules);
    try std.testing.expectEqual(@as(usize, 3), allocations);
    const freed = fixed.free(0, run).freed;
    try std.testing.expectEqual(@as(u32, 12), freed.granules);
    try std.testing.expectEqual(@as(u64, 40), freed.requested_bytes);
    try std.testing.expect(fixed.free(0, run) == .double_free);
    try std.testing.expect(fixed.free(0, run + 4) == .unknown_pointer); // never given out on its own
    try std.testing.expectEqual(@as(u64, 2), fixed.live_count);
    // The freed run's blocks are single blocks again, and a run again.
    try std.testing.expectEqual(@as(u32, 4), fixed.alloc(OneRegion{}, 5, 1).?);
    try std.testing.expect(fixed.free(0, 4) == .freed);
    try std.testing.expect(fixed.free(0, single) == .freed);
    try std.testing.expectEqual(@as(u32, 0), fixed.allocRun(4, 6, 64).?);
    fixed.reset();
    try std.testing.expect(fixed.free(0, 0) == .double_free);
    try std.testing.expect(fixed.free(0, 4) == .unknown_pointer);
    try std.testing.expectEqual(@as(u32, 0), fixed.allocRun(10, 7, 160).?);
}

/// Makes block `slot` of region `index` live as a run's block does, its entry left on the stack
/// (the state `allocRun` leaves): for tests that place live blocks bit by bit.
fn takeForTest(fixed: *Fixed, index: usize, slot: usize) void {
    const region = &fixed.regions.items[index];
    assert(!region.live.isSet(slot));
    region.live.set(slot);
    region.stale.set(slot);
    fixed.live_count += 1;
    fixed.stale_count += 1;
}

fn freeForTest(fixed: *Fixed, index: usize, slot: usize) void {
    const region = &fixed.regions.items[index];
    assert(region.live.isSet(slot) and region.stale.isSet(slot));
    region.live.unset(slot);
    region.stale.unset(slot);
    fixed.live_count -= 1;
    fixed.stale_count -= 1;
}

test "the longest run of free blocks, across words and inside them, past a region's end not counted" {
    var fixed = Fixed.init(std.testing.allocator, 2);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 400, .committed = true, .live_count = 0 }); // 200 blocks
    try fixed.addRegion(1, .{ .start = 400, .len = 100, .committed = true, .live_count = 0 }); // 50 more, right after
    try std.testing.expectEqual(@as(u64, 400), fixed.largestFreeGranules()); // not joined across regions
    for ([_]usize{ 3, 10, 11, 60, 190 }) |i| takeForTest(&fixed, 0, i);
    try std.testing.expectEqual(@as(u64, 2 * 129), fixed.largestFreeGranules()); // 61..189, across two words
    takeForTest(&fixed, 0, 128);
    try std.testing.expectEqual(@as(u64, 2 * 67), fixed.largestFreeGranules()); // 61..127
    takeForTest(&fixed, 1, 0);
    try std.testing.expectEqual(@as(u64, 2 * 67), fixed.largestFreeGranules());
    for (0..200) |i| if (!fixed.regions.items[0].live.isSet(i)) takeForTest(&fixed, 0, i);
    for (1..50) |i| takeForTest(&fixed, 1, i);
    try std.testing.expectEqual(@as(u64, 0), fixed.largestFreeGranules());
    freeForTest(&fixed, 0, 199);
    freeForTest(&fixed, 0, 64);
    try std.testing.expectEqual(@as(u64, 2), fixed.largestFreeGranules());
    for (20..50) |i| freeForTest(&fixed, 0, i);
    try std.testing.expectEqual(@as(u64, 2 * 30), fixed.largestFreeGranules());
}

test "a run's blocks leave their entries on the stack: popped, they are dropped; freed first, they serve again" {
    var fixed = Fixed.init(std.testing.allocator, 1);
    defer fixed.deinit();
    try fixed.addRegion(0, .{ .start = 0, .len = 8, .committed = true, .live_count = 0 }); // blocks 0 .. 7, 0 on top
    const one = fixed.alloc(OneRegion{}, 1, 1).?; // block 0
    try std.testing.expectEqual(@as(u32, 1), fixed.allocRun(3, 2, 3).?); // blocks 1 .. 3, their entries stay
    try std.testing.expectEqual(@as(u64, 3), fixed.stale_count);
    try std.testing.expectEqual(@as(u64, 4), fixed.freeGranules());
    try std.testing.expectEqual(@as(u32, 4), fixed.alloc(OneRegion{}, 3, 1).?); // entries of 1 .. 3 dropped on the way
    try std.testing.expectEqual(@as(u64, 0), fixed.stale_count);
    try std.testing.expect(fixed.free(0, 1) == .freed); // all three pushed: their entries were gone
    try std.testing.expectEqual(@as(u32, 1), fixed.allocRun(3, 4, 3).?); // blocks 1 .. 3 again (first fit), entries stay
    try std.testing.expectEqual(@as(u64, 3), fixed.stale_count);
    try std.testing.expect(fixed.free(0, 1) == .freed); // entries still there: none pushed again
    try std.testing.expectEqual(@as(u64, 0), fixed.stale_count);
    try std.testing.expect(fixed.free(0, one) == .freed);
    var seen: [8]bool = @splat(false);
    for (0..7) |_| {
        const g = fixed.alloc(OneRegion{}, 5, 1).?;
        try std.testing.expect(!seen[g]); // no block handed out twice
        seen[g] = true;
    }
    try std.testing.expect(fixed.alloc(OneRegion{}, 6, 1) == null); // block 4 is live: 7 of 8 were free
    try std.testing.expect(!seen[4]);
}
