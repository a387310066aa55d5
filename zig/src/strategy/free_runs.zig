//! Runs of free blocks in a row within one region, a word of 64 blocks at a time: the first of a
//! given length (where a request over one block is placed), and the longest (statistics).
//!
//! The longest, for largestFreeBlock:
//! the scan the locked fixed-size placement (fixed.zig, live bits) and the shared one
//! (sync/lockfree_fixed.zig, state words) share. Each hands over its blocks 64 at a time as a word
//! of "in use" bits; the scan steps a word at a time and stops as soon as the rest cannot change
//! the answer, from counts the placement already keeps:
//!   - a run as long as `enough` (the largest request the pool takes) serves every request;
//!   - no run can be longer than the current one plus the free blocks not met yet;
//!   - where the free blocks not met yet are every block not scanned yet, the rest is all free.
//! So an empty pool and a full one cost a few steps, a half-full one what precedes its free end,
//! and only a fragmented one every word.
//!
//! Invariants: `free_left` never exceeds the free blocks the placement counted less those met;
//! `run` counts free blocks in a row up to the scan's position, inside the current region;
//! `longest` is at least every run met.
const std = @import("std");
const assert = std.debug.assert;

pub const Word = u64;
pub const word_blocks: u32 = @bitSizeOf(Word);

/// The blocks of the regions `keys` of `source`, which answers for a region: `regionBlocks(key) u32`,
/// how many blocks it holds; `usedWord(key, slot, valid) Word`, bit i set where block `slot + i`
/// is in use (allocated, or no block), for i < `valid` (1 to 64; higher bits are ignored). Returns
/// the longest run of free blocks in a row inside one region, where it is below `enough`, else
/// some run at least `enough` long. `free_blocks` is how many of the blocks are free (a placement's
/// count): on a pool other threads change meanwhile, counts and blocks are read at different
/// moments, and the answer is a moment's view.
pub fn longestFreeRun(source: anytype, keys: anytype, free_blocks: u64, enough: u64) u64 {
    assert(enough > 0);
    var unscanned: u64 = 0;
    for (keys) |key| unscanned += source.regionBlocks(key);
    var scan: Scan = .{ .free_left = free_blocks };
    for (keys, 0..) |key, index| {
        const blocks = source.regionBlocks(key);
        var slot: u32 = 0;
        while (slot < blocks) {
            if (scan.settled(enough)) return scan.longest;
            if (scan.free_left >= unscanned) { // every block not scanned yet is free (counts that raced may say more)
                var later: u64 = 0;
                for (keys[index + 1 ..]) |after| later = @max(later, source.regionBlocks(after));
                return @max(scan.longest, scan.run + (blocks - slot), later);
            }
            const valid: u7 = @intCast(@min(word_blocks, blocks - slot));
            scan.add(source.usedWord(key, slot, valid), valid);
            unscanned -= valid;
            slot += valid;
        }
        scan.endRegion();
    }
    assert(unscanned == 0);
    return scan.longest;
}

/// The first slot of `count` free blocks in a row in region `key` of `source` (which answers as
/// for `longestFreeRun`), or null where it has none: first fit, a word at a time, so a region of
/// n blocks costs n / 64 words where a block at a time cost n steps.
pub fn firstFreeRun(source: anytype, key: anytype, count: u32) ?u32 {
    assert(count >= 1);
    const blocks = source.regionBlocks(key);
    var run_start: u32 = 0; // free blocks in a row up to `slot`: from `run_start`
    var slot: u32 = 0;
    while (slot < blocks) {
        const valid: u7 = @intCast(@min(word_blocks, blocks - slot));
        const past_end: Word = if (valid == word_blocks) 0 else ~@as(Word, 0) << @intCast(valid);
        const used = source.usedWord(key, slot, valid) | past_end;
        if (slot - run_start + @ctz(used) >= count) return run_start; // the run so far, with the word's low free bits
        if (used != 0 and count < word_blocks) {
            // A run inside the word (after its lowest used bit: the one before it was too short).
            const starts = runStarts(~used, count);
            if (starts != 0) {
                const found = slot + @ctz(starts);
                assert(found + count <= blocks);
                return found;
            }
        }
        if (used != 0) run_start = slot + word_blocks - @clz(used); // the word's high free bits start the next run
        slot += valid;
    }
    return null;
}

/// Bit i set where bits i .. i + count - 1 of `bits` are all set (none past the word's top):
/// runs of `s` bits doubled by shifts until they are `count` long.
fn runStarts(bits: Word, count: u32) Word {
    assert(count >= 1 and count <= word_blocks);
    var starts = bits;
    var have: u32 = 1;
    while (have < count) {
        const step = @min(have, count - have);
        starts &= starts >> @intCast(step);
        have += step;
    }
    return starts;
}

test "run starts: bits where a run of count set bits begins" {
    try std.testing.expectEqual(@as(Word, 0b1), runStarts(0b111, 3));
    try std.testing.expectEqual(@as(Word, 0b1_0000_0011), runStarts(0b1111_0000_1111, 3) & 0x1ff);
    try std.testing.expectEqual(@as(Word, 0), runStarts(0b1101_1011, 3));
    try std.testing.expectEqual(@as(Word, 1), runStarts(~@as(Word, 0), 64));
    try std.testing.expectEqual(@as(Word, 1) << 60, runStarts(@as(Word, 0xf) << 60, 4));
}

const Scan = struct {
    free_left: u64,
    run: u64 = 0,
    longest: u64 = 0,

    /// Whether no block not scanned yet can make a longer run than `longest`, or it is `enough`.
    fn settled(self: *const Scan, enough: u64) bool {
        return self.longest >= enough or self.longest >= self.run + self.free_left;
    }

    /// The next `valid` blocks of the region, bit i of `used` set where block i is in use.
    fn add(self: *Scan, used_bits: Word, valid: u7) void {
        assert(valid >= 1 and valid <= word_blocks);
        const past_end: Word = if (valid == word_blocks) 0 else ~@as(Word, 0) << @intCast(valid);
        const used = used_bits | past_end; // past the region's end: no block
        const free_count = valid - @popCount(used & ~past_end);
        self.free_left -|= free_count;
        if (used == 0) {
            self.run += word_blocks;
            return;
        }
        self.longest = @max(self.longest, self.run + @ctz(used)); // the run ends at the word's lowest used bit
        // Runs between used bits are at most 62 long: looked for only while the longest is shorter.
        if (self.longest < word_blocks - 2) self.longest = @max(self.longest, longestOnes(~used));
        self.run = @clz(used); // the word's high free bits start the next run
        assert(self.run < word_blocks);
    }

    fn endRegion(self: *Scan) void {
        self.longest = @max(self.longest, self.run);
        self.run = 0;
    }
};

/// The most set bits in a row in `bits`: each step clears the lowest bit of every run, so a run
/// of n bits is gone after n steps (steps: the longest run, at most 64).
fn longestOnes(bits: Word) u64 {
    var rest = bits;
    var steps: u64 = 0;
    while (rest != 0) : (steps += 1) rest &= rest >> 1;
    assert(steps <= word_blocks);
    return steps;
}

test "the longest set bits in a row in a word" {
    try std.testing.expectEqual(@as(u64, 0), longestOnes(0));
    try std.testing.expectEqual(@as(u64, 64), longestOnes(~@as(Word, 0)));
    try std.testing.expectEqual(@as(u64, 1), longestOnes(0x5555_5555_5555_5555));
    try std.testing.expectEqual(@as(u64, 5), longestOnes(0b1101_1111_0111));
}

/// Regions of blocks as arrays of bools (true: in use), for the tests.
const BoolRegions = struct {
    pub fn regionBlocks(_: *const BoolRegions, key: []const bool) u32 {
        return @intCast(key.len);
    }
    pub fn usedWord(_: *const BoolRegions, key: []const bool, slot: u32, valid: u7) Word {
        assert(slot + valid <= key.len);
        var word: Word = 0;
        for (key[slot..][0..valid], 0..) |used, bit| word |= @as(Word, @intFromBool(used)) << @intCast(bit);
        return word;
    }
};

/// The longest run of false in one of `regions`, the plain way.
fn longestByBlock(regions: []const []const bool) u64 {
    var longest: u64 = 0;
    for (regions) |region| {
        var run: u64 = 0;
        for (region) |used| {
            run = if (used) 0 else run + 1;
            longest = @max(longest, run);
        }
    }
    return longest;
}

/// The first of `count` false in a row in `region`, the plain way.
fn firstByBlock(region: []const bool, count: u32) ?u32 {
    var run: u32 = 0;
    for (region, 0..) |used, at| {
        run = if (used) 0 else run + 1;
        if (run == count) return @intCast(at + 1 - count);
    }
    return null;
}

fn freeCount(regions: []const []const bool) u64 {
    var count: u64 = 0;
    for (regions) |region| {
        for (region) |used| count += @intFromBool(!used);
    }
    return count;
}

test "the longest free run matches a block-by-block count on random regions, any early stop included" {
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    var storage: [3][300]bool = undefined;
    for (0..500) |_| {
        var regions: [3][]const bool = undefined;
        const density = random.uintLessThan(u32, 101); // percent in use: empty and full pools among them
        for (&storage, &regions) |*blocks, *region| {
            const len = 1 + random.uintLessThan(usize, blocks.len);
            for (blocks[0..len]) |*used| used.* = random.uintLessThan(u32, 100) < density;
            if (random.boolean()) for (blocks[random.uintLessThan(usize, len)..len]) |*used| {
                used.* = false; // a free end: the "rest all free" stop
            };
            region.* = blocks[0..len];
        }
        const source: BoolRegions = .{};
        const expected = longestByBlock(&regions);
        const free = freeCount(&regions);
        try std.testing.expectEqual(expected, longestFreeRun(&source, &regions, free, std.math.maxInt(u64)));
        for (regions) |region| {
            const count = 1 + random.uintLessThan(u32, 80);
            try std.testing.expectEqual(firstByBlock(region, count), firstFreeRun(&source, region, count));
        }
        const enough = 1 + random.uintLessThan(u64, 100);
        const bounded = longestFreeRun(&source, &regions, free, enough);
        if (expected >= enough) try std.testing.expect(bounded >= enough and bounded <= expected) else try std.testing.expectEqual(expected, bounded);
    }
}

test "an empty pool and a full one are settled from the counts before any word is read" {
    const Counting = struct {
        reads: u32 = 0,
        pub fn regionBlocks(_: *const @This(), key: u32) u32 {
            return key;
        }
        pub fn usedWord(self: *@This(), _: u32, _: u32, _: u7) Word {
            self.reads += 1;
            return 0;
        }
    };
    var source: Counting = .{};
    try std.testing.expectEqual(@as(u64, 5000), longestFreeRun(&source, &[_]u32{ 300, 5000, 70 }, 5370, std.math.maxInt(u64)));
    try std.testing.expectEqual(@as(u64, 0), longestFreeRun(&source, &[_]u32{ 300, 5000, 70 }, 0, std.math.maxInt(u64)));
    try std.testing.expectEqual(@as(u32, 0), source.reads);
    try std.testing.expectEqual(@as(u64, 0), longestFreeRun(&source, &[_]u32{}, 0, 1));
}
