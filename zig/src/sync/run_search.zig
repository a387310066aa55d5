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
//! have consecutive numbers, and numbers are sparse over the reservation (which may be far larger
//! than what is committed): lengths are kept in pages of `chunk_blocks` numbers of each committed
//! region, made as the first block of each is seen.
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

/// The numbers of one region's first and last blocks, and where its pages start in `pages`.
const Bounds = struct {
    first: u32,
    last: u32,
    page_base: u32 = 0,

    fn pageOf(self: Bounds, number: u32) usize {
        assert(number >= self.first and number <= self.last);
        return self.page_base + (number >> chunk_shift) - (self.first >> chunk_shift);
    }
};

pub const RunSearch = struct {
    gpa: std.mem.Allocator,
    count: u32,
    /// The committed regions' pages in order (`Bounds.pageOf`); 0 where a number was not seen.
    pages: []?*Page,
    /// The committed regions' numbers, ascending.
    regions: []Bounds,

    /// A search for `count` (at least 2) blocks in a row among the blocks of `regions`, of
    /// `stride` granules each.
    pub fn init(gpa: std.mem.Allocator, count: u32, stride: u32, regions: []const Region) error{OutOfMemory}!RunSearch {
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
        var page_count: u32 = 0;
        for (bounds) |*region| {
            region.page_base = page_count;
            page_count += (region.last >> chunk_shift) - (region.first >> chunk_shift) + 1;
        }
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

    /// Blocks noted in a row in one region: the first's number, how many, and whether the first
    /// starts its region (no block before it may join).
    pub const Interval = struct { first: u32, length: u32, starts_region: bool };

    /// Notes free block `number` (of one of the regions, not noted before); returns the
    /// interval of blocks noted in a row that it is in, where it holds at least `count`.
    pub fn add(self: *RunSearch, number: u32) error{OutOfMemory}!?Interval {
        const region = self.regionOf(number);
        assert(self.lengthAt(region, number) == 0); // each block is drained once
        const before = if (number > region.first) self.lengthAt(region, number - 1) else 0;
        const after = if (number < region.last) self.lengthAt(region, number + 1) else 0;
        const length = before + 1 + after;
        const first = number - before;
        const last = number + after;
        assert(first >= region.first and last <= region.last);
        try self.setLength(region, number, length); // seen (an inner number's length is never read again)
        try self.setLength(region, first, length);
        try self.setLength(region, last, length);
        return if (length >= self.count) .{ .first = first, .length = length, .starts_region = first == region.first } else null;
    }

    /// The lowest-numbered first block of `count` noted in a row, among `noted` (every number
    /// noted, each once), or null where none.
    pub fn lowestRun(self: *const RunSearch, noted: []const u32) ?u32 {
        var lowest: ?u32 = null;
        for (noted) |number| {
            const region = self.regionOf(number);
            if (number > region.first and self.lengthAt(region, number - 1) > 0) continue; // not an interval's first
            if (self.lengthAt(region, number) >= self.count and (lowest == null or number < lowest.?)) lowest = number;
        }
        return lowest;
    }

    /// Orders `noted` (every number noted, each once) for the free stack, less the `count` blocks
    /// from `taken` where a run was taken, in address order (the lowest on top: the next search
    /// meets free blocks as address-ordered first fit would, and a reset pool's equal runs tile
    /// it whole). Returns how many of `noted` are to go back.
    pub fn restack(self: *RunSearch, noted: []u32, taken: ?u32) error{OutOfMemory}!usize {
        if (taken) |first| {
            const region = self.regionOf(first);
            for (first..first + self.count) |number| {
                assert(self.lengthAt(region, @intCast(number)) > 0);
                self.pages[region.pageOf(@intCast(number))].?[number & (chunk_blocks - 1)] = 0; // not to go back
            }
        }
        const Run = struct { first: u32, length: u32 };
        var runs: std.ArrayList(Run) = .empty;
        defer runs.deinit(self.gpa);
        var blocks: usize = 0;
        for (noted) |number| {
            const region = self.regionOf(number);
            if (self.lengthAt(region, number) == 0) continue; // taken
            if (number > region.first and self.lengthAt(region, number - 1) > 0) continue; // not a run's first
            var length: u32 = 1;
            while (number + length <= region.last and self.lengthAt(region, number + length) > 0) length += 1;
            try runs.append(self.gpa, .{ .first = number, .length = length });
            blocks += length;
        }
        assert(blocks == noted.len - @as(usize, if (taken == null) 0 else self.count));
        std.sort.pdq(Run, runs.items, {}, struct {
            fn lowerFirst(_: void, a: Run, b: Run) bool {
                return a.first < b.first;
            }
        }.lowerFirst);
        var at: usize = 0;
        for (runs.items) |run| for (run.first..run.first + run.length) |number| {
            noted[at] = @intCast(number);
            at += 1;
        };
        return at;
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

    fn lengthAt(self: *const RunSearch, region: Bounds, number: u32) u32 {
        const page = self.pages[region.pageOf(number)] orelse return 0;
        return page[number & (chunk_blocks - 1)];
    }

    fn setLength(self: *RunSearch, region: Bounds, number: u32, length: u32) error{OutOfMemory}!void {
        assert(length > 0);
        const slot = &self.pages[region.pageOf(number)];
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
    var search: RunSearch = try .init(std.testing.allocator, 4, 4, &regions);
    defer search.deinit();
    for ([_]u32{ 9, 7, 5, 6 }) |number| try std.testing.expectEqual(@as(?RunSearch.Interval, null), try search.add(number)); // then 5 6 7: three in a row
    try std.testing.expectEqual(RunSearch.Interval{ .first = 5, .length = 5, .starts_region = false }, (try search.add(8)).?); // 5 .. 9
    try std.testing.expectEqual(@as(u32, 5), search.lengthAt(search.regions[0], 5));
    try std.testing.expectEqual(@as(u32, 5), search.lengthAt(search.regions[0], 9));
}

test "a run never joins blocks of two regions, even where the second starts right after the first" {
    // Regions of 3 and 4 blocks of 2 granules, back to back, and one apart over a gap, out of order.
    const regions = [_]Region{
        .{ .start = 6, .len = 8, .committed = true, .live_count = 0 }, // numbers 3 .. 6
        .{ .start = 0, .len = 6, .committed = true, .live_count = 0 }, // numbers 0 .. 2
        .{ .start = 14, .len = 4, .committed = false, .live_count = 0 }, // not committed: no blocks
        .{ .start = 8192 * 2, .len = 8, .committed = true, .live_count = 0 }, // numbers 8192 .. 8195, two pages on
    };
    var search: RunSearch = try .init(std.testing.allocator, 4, 2, &regions);
    try std.testing.expectEqual(@as(usize, 3), search.pages.len); // a page for each region, none for the numbers between
    defer search.deinit();
    for ([_]u32{ 0, 1, 2, 3, 4, 5 }) |number| try std.testing.expectEqual(@as(?RunSearch.Interval, null), try search.add(number));
    try std.testing.expectEqual(RunSearch.Interval{ .first = 3, .length = 4, .starts_region = true }, (try search.add(6)).?); // 3 .. 6, the second region whole
    for ([_]u32{ 8195, 8193, 8192 }) |number| try std.testing.expectEqual(@as(?RunSearch.Interval, null), try search.add(number));
    try std.testing.expectEqual(@as(u32, 8192), (try search.add(8194)).?.first);
}

test "blocks go back to the stack in address order, less the run taken; the lowest run of all noted" {
    const regions = [_]Region{
        .{ .start = 0, .len = 40, .committed = true, .live_count = 0 }, // numbers 0 .. 9
        .{ .start = 40, .len = 40, .committed = true, .live_count = 0 }, // numbers 10 .. 19, right after
    };
    var search: RunSearch = try .init(std.testing.allocator, 3, 4, &regions);
    defer search.deinit();
    var noted = [_]u32{ 9, 2, 11, 6, 10, 8, 15, 3, 4 };
    var found: ?RunSearch.Interval = null;
    for (noted) |number| found = found orelse try search.add(number);
    try std.testing.expectEqual(@as(u32, 2), found.?.first); // 2 3 4, when 4 came
    try std.testing.expectEqual(@as(?u32, 2), search.lowestRun(&noted));
    const back = try search.restack(&noted, 2);
    // 8 9 is not joined to 10 11 across the regions' boundary.
    try std.testing.expectEqualSlices(u32, &.{ 6, 8, 9, 10, 11, 15 }, noted[0..back]);
    try std.testing.expectEqual(@as(?u32, null), search.lowestRun(noted[0..back])); // none of three left
}
