//! The search for a run of `count` free blocks in a row, fed one free block number at a time (as
//! shared_fixed.zig drains them off the free stack), stopping at the first run complete.
//!
//! Blocks seen so far form intervals of consecutive numbers; each interval's length is kept at
//! both of its ends, so a new block joins the interval ending just before it and the one starting
//! just after it in O(1) (the union of intervals as in the "longest consecutive run" problem): no
//! sort, no rescan, and the search costs what it drains, not what the pool holds. An interval never
//! joins across a region's end: a block is inside one region for everything that reads regions
//! (snapshot.zig writes blocks region by region), even where the next region lies right after.
//!
//! Numbers are a block's offset over the stride (lockfree_fixed.zig), so the blocks of one region
//! have consecutive numbers, and numbers are sparse over the reservation: lengths are kept in pages
//! of `chunk_blocks` numbers (as the chunks are), made as the first block of each is seen.
//!
//! Invariants: a number seen holds a length above 0; the two ends of an interval hold its length;
//! an interval lies inside one region. Single-threaded: the caller holds the growth lock.
const std = @import("std");
const assert = std.debug.assert;
const Region = @import("../arena.zig").Region;
const lockfree_fixed = @import("lockfree_fixed.zig");
const chunk_shift = lockfree_fixed.chunk_shift;
const chunk_blocks = lockfree_fixed.chunk_blocks;

const Page = [chunk_blocks]u32;

/// The numbers of one region's first and last blocks.
const Bounds = struct { first: u32, last: u32 };

pub const RunSearch = struct {
    gpa: std.mem.Allocator,
    count: u32,
    /// Indexed by `number >> chunk_shift`; 0 where a number was not seen.
    pages: []?*Page,
    /// The committed regions' numbers, ascending.
    regions: []Bounds,

    /// A search for `count` (at least 2) blocks in a row among the blocks of `regions`, of
    /// `stride` granules each, whose numbers lie below `page_count << chunk_shift`.
    pub fn init(gpa: std.mem.Allocator, count: u32, stride: u32, regions: []const Region, page_count: usize) error{OutOfMemory}!RunSearch {
        assert(count >= 2 and stride > 0);
        var committed: usize = 0;
        for (regions) |region| committed += @intFromBool(region.committed);
        const bounds = try gpa.alloc(Bounds, committed);
        errdefer gpa.free(bounds);
        var at: usize = 0;
        for (regions) |region| if (region.committed) {
            assert(region.len >= stride);
            const first = region.start / stride;
            bounds[at] = .{ .first = first, .last = first + region.len / stride - 1 };
            at += 1;
        };
        std.sort.pdq(Bounds, bounds, {}, struct {
            fn lessThan(_: void, a: Bounds, b: Bounds) bool {
                return a.first < b.first;
            }
        }.lessThan);
        for (bounds[0..bounds.len -| 1], bounds[@min(1, bounds.len)..]) |before, after| assert(before.last < after.first); // regions never overlap
        const pages = try gpa.alloc(?*Page, page_count);
        @memset(pages, null);
        return .{ .gpa = gpa, .count = count, .pages = pages, .regions = bounds };
    }

    pub fn deinit(self: *RunSearch) void {
        for (self.pages) |page| if (page) |made| self.gpa.destroy(made);
        self.gpa.free(self.pages);
        self.gpa.free(self.regions);
        self.* = undefined;
    }

    /// Notes free block `number` (of one of the regions, not noted before); returns the first
    /// block of `count` noted in a row, in one region, where this one completes such a run.
    pub fn add(self: *RunSearch, number: u32) error{OutOfMemory}!?u32 {
        const region = self.regionOf(number);
        assert(self.lengthAt(number) == 0); // each block is drained once
        const before = if (number > region.first) self.lengthAt(number - 1) else 0;
        const after = if (number < region.last) self.lengthAt(number + 1) else 0;
        const length = before + 1 + after;
        const first = number - before;
        const last = number + after;
        assert(first >= region.first and last <= region.last);
        try self.setLength(number, length); // seen (an inner number's length is never read again)
        try self.setLength(first, length);
        try self.setLength(last, length);
        return if (length >= self.count) first else null;
    }

    fn regionOf(self: *const RunSearch, number: u32) Bounds {
        var low: usize = 0;
        var high: usize = self.regions.len;
        while (high - low > 1) { // the last region whose first block is at most `number`
            const middle = low + (high - low) / 2;
            if (self.regions[middle].first <= number) low = middle else high = middle;
        }
        const region = self.regions[low];
        assert(region.first <= number and number <= region.last); // a block of one of the regions
        return region;
    }

    fn lengthAt(self: *const RunSearch, number: u32) u32 {
        const page = self.pages[number >> chunk_shift] orelse return 0;
        return page[number & (chunk_blocks - 1)];
    }

    fn setLength(self: *RunSearch, number: u32, length: u32) error{OutOfMemory}!void {
        assert(length > 0);
        const slot = &self.pages[number >> chunk_shift];
        if (slot.* == null) {
            const page = try self.gpa.create(Page);
            @memset(page, 0);
            slot.* = page;
        }
        slot.*.?[number & (chunk_blocks - 1)] = length;
    }
};

test "blocks join the runs before and after them in any order, and a run is found as its last block comes" {
    // One region of 10 blocks of 4 granules at granule 8: numbers 2 .. 11.
    const regions = [_]Region{.{ .start = 8, .len = 40, .committed = true, .live_count = 0 }};
    var search: RunSearch = try .init(std.testing.allocator, 4, 4, &regions, 1);
    defer search.deinit();
    try std.testing.expectEqual(@as(?u32, null), try search.add(9));
    try std.testing.expectEqual(@as(?u32, null), try search.add(7));
    try std.testing.expectEqual(@as(?u32, null), try search.add(5));
    try std.testing.expectEqual(@as(?u32, null), try search.add(6)); // 5 6 7: three in a row
    try std.testing.expectEqual(@as(?u32, 5), try search.add(8)); // 5 .. 9
    try std.testing.expectEqual(@as(u32, 5), search.lengthAt(5));
    try std.testing.expectEqual(@as(u32, 5), search.lengthAt(9));
}

test "a run never joins blocks of two regions, even where the second starts right after the first" {
    // Regions of 3 and 4 blocks of 2 granules, back to back, and one apart over a gap, out of order.
    const regions = [_]Region{
        .{ .start = 6, .len = 8, .committed = true, .live_count = 0 }, // numbers 3 .. 6
        .{ .start = 0, .len = 6, .committed = true, .live_count = 0 }, // numbers 0 .. 2
        .{ .start = 14, .len = 4, .committed = false, .live_count = 0 }, // not committed: no blocks
        .{ .start = 8192 * 2, .len = 8, .committed = true, .live_count = 0 }, // numbers 8192 .. 8195, two pages on
    };
    var search: RunSearch = try .init(std.testing.allocator, 4, 2, &regions, 3);
    defer search.deinit();
    for ([_]u32{ 0, 1, 2, 3, 4, 5 }) |number| try std.testing.expectEqual(@as(?u32, null), try search.add(number));
    try std.testing.expectEqual(@as(?u32, 3), try search.add(6)); // 3 .. 6, the second region whole
    for ([_]u32{ 8195, 8193, 8192 }) |number| try std.testing.expectEqual(@as(?u32, null), try search.add(number));
    try std.testing.expectEqual(@as(?u32, 8192), try search.add(8194));
    try std.testing.expect(search.pages[1] == null); // pages only where blocks were seen
}
