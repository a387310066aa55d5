//! Links: 8-byte words inside one allocation that name another, written through the pool so that a
//! new block is published in the same crash-atomic step as the link to it (pool.zig `link`).
//!
//! A link word is the target's offset in granules (low half) and a check of that offset (high
//! half, never 0), so 0 is "no link", a damaged link is refused rather than followed, and a word of
//! user data is taken for a link only where its high half happens to be the check of its low half
//! (one chance in 2^32 for arbitrary data). The reachability walk (`unreachable`) follows exactly
//! these words from the roots: what it does not reach, no root reaches through links.
const std = @import("std");
const assert = std.debug.assert;
const format = @import("format.zig");

const granule_bytes = format.granule_bytes;
pub const word_bytes = @sizeOf(u64);

/// The high half of the link word to `g`: one u32, or a vector of them (the scan checks 8 words at once).
fn check(g: anytype) @TypeOf(g) {
    const T = @TypeOf(g);
    comptime assert(T == u32 or @typeInfo(T).vector.child == u32);
    const Shift = if (T == u32) u5 else @Vector(@typeInfo(T).vector.len, u5);
    const Each = struct {
        fn c(value: u32) T {
            return if (T == u32) value else @splat(value);
        }
        fn by(bits: u5) Shift {
            return if (T == u32) bits else @splat(bits);
        }
    };
    const c = Each.c;
    const by = Each.by;
    // A 32-bit mix (lowbias32) with a tag, so a link differs from a root's target word and from a record.
    var x: T = g ^ c(0x4C49_4E4B); // "LINK"
    x ^= x >> by(16);
    x *%= c(0x7FEB_352D);
    x ^= x >> by(15);
    x *%= c(0x846C_A68B);
    x ^= x >> by(16);
    return x | c(1); // never 0: a link word is never 0
}

/// The word that links to the block at `g` (0: no link).
pub fn word(g: u32) u64 {
    if (g == 0) return 0;
    return @as(u64, check(g)) << 32 | g;
}

/// What a word links to: 0 for no link, the target's offset, or null where the word is not a link.
pub fn decode(stored: u64) ?u32 {
    if (stored == 0) return 0;
    const g: u32 = @truncate(stored);
    if (g == 0 or @as(u32, @truncate(stored >> 32)) != check(g)) return null;
    return g;
}

/// The granules a link word found by a scan may name: a pool's heap, [start, end), never granule 0.
pub const Targets = struct { start: u32, end: u32 };

/// The index of the first word of `words` that is a link to a granule in `heap`, or null where
/// none is: what a persist of bytes written from outside the pool looks for (journal.zig
/// noteWrittenLinks). It runs on every persist, so ordinary data must cost next to nothing: 8
/// words at a time, a word is first tested by what every such link word passes, its low half
/// inside the heap and its high half odd (the check's low bit is set), in three vector operations;
/// only a group with a word that passes is hashed (in vector too). Zeros, integers below 2^32,
/// and most pointers and random words (their low half outside the heap) fail the first test.
pub fn firstLinkInto(words: []const u64, heap: Targets) ?usize {
    assert(heap.start > 0 and heap.start <= heap.end);
    const lanes = 8;
    const Words = @Vector(lanes, u64);
    const Halves = @Vector(lanes, u32);
    const start: Halves = @splat(heap.start);
    const span: Halves = @splat(heap.end - heap.start);
    const odd: Halves = @splat(1);
    var index: usize = 0;
    while (index + lanes <= words.len) : (index += lanes) {
        const group: Words = words[index..][0..lanes].*;
        const low: Halves = @truncate(group);
        const high: Halves = @truncate(group >> @splat(32));
        // Unsigned: a low half below the heap's start wraps far above its size.
        const inside = ((low -% start) < span) & ((high & odd) == odd);
        if (!@reduce(.Or, inside)) continue;
        if (std.simd.firstTrue(inside & (high == check(low)))) |lane| return index + lane;
    }
    for (words[index..], index..) |stored, at| {
        const g: u32 = @truncate(stored);
        if (g >= heap.start and g < heap.end and @as(u32, @truncate(stored >> 32)) == check(g)) return at;
    }
    return null;
}

/// The link words into `heap` among `words`, each once, in order: what a free clears in its block
/// (journal.zig dropLinkWords) and what a persist notes (journal.zig noteLinksLocked), one walk
/// for both. `next` gives a word's index in `words`; each step is firstLinkInto over the rest.
pub const LinkWords = struct {
    words: []const u64,
    heap: Targets,
    at: usize = 0,

    pub fn next(self: *LinkWords) ?usize {
        assert(self.at <= self.words.len);
        const found = firstLinkInto(self.words[self.at..], self.heap) orelse {
            self.at = self.words.len;
            return null;
        };
        const index = self.at + found;
        self.at = index + 1;
        return index;
    }
};

pub fn linkWords(words: []const u64, heap: Targets) LinkWords {
    return .{ .words = words, .heap = heap };
}

/// Which pages of the heap may hold a link word, in DRAM: what bounds a free's clearing of its
/// block's link words (journal.zig dropLinkWords) by the pages that may hold one, not by the
/// block's size. A clear bit is exact for the words the pool knows of: a page is marked where
/// link() writes a word, where a persist, memcpyPersist, copy() or checkpoint found one (or will:
/// a small range left for later, links.zig Unscanned, is marked whole), and every page of a file
/// that was opened, not made (its bytes are unknown until read). A bit is cleared only by a free
/// whose block holds the whole page, after it cleared the page's words. A word written through a
/// view and never persisted is not known (as in `Named`): a free leaves it, as any byte.
pub const Pages = struct {
    pub const page_bytes = 4096;
    /// Bit i is the page at byte `first_byte + i * page_bytes` of the file.
    bits: std.DynamicBitSetUnmanaged = .{},
    first_byte: usize = 0,

    /// Pages over the `heap_bytes` at byte `heap_start` of the file (page-aligned); every page
    /// marked where `all` (a file opened, whose bytes are unknown), none for a file just made.
    pub fn init(gpa: std.mem.Allocator, heap_start: usize, heap_bytes: usize, all: bool) error{OutOfMemory}!Pages {
        const first = std.mem.alignBackward(usize, heap_start, page_bytes);
        const count = (std.mem.alignForward(usize, heap_start + heap_bytes, page_bytes) - first) / page_bytes;
        const bits = if (all) try std.DynamicBitSetUnmanaged.initFull(gpa, count) else try std.DynamicBitSetUnmanaged.initEmpty(gpa, count);
        return .{ .bits = bits, .first_byte = first };
    }

    pub fn deinit(self: *Pages, gpa: std.mem.Allocator) void {
        self.bits.deinit(gpa);
    }

    fn pageOf(self: *const Pages, byte: usize) usize {
        assert(byte >= self.first_byte);
        const page = (byte - self.first_byte) / page_bytes;
        assert(page < self.bits.bit_length);
        return page;
    }

    /// The `bytes` at byte `start` of the file may hold link words.
    pub fn mark(self: *Pages, start: usize, bytes: usize) void {
        if (bytes == 0) return;
        const first = self.pageOf(start);
        const last = self.pageOf(start + bytes - 1);
        // One page (every persist of a small block): one bit, as a persist's hot path wants.
        if (first == last) return self.bits.set(first);
        self.bits.setRangeValue(.{ .start = first, .end = last + 1 }, true);
    }

    /// Whether a page the `bytes` at `start` touch is marked, read without the lock that marks
    /// them: what a free that takes no lock asks (pmem/shared_journal.zig). A page marked meanwhile
    /// is a link written into the block being freed: the caller's race. Atomic loads of the set's words.
    pub fn anyMarked(self: *const Pages, start: usize, bytes: usize) bool {
        if (bytes == 0) return false;
        var page = self.pageOf(start);
        const last = self.pageOf(start + bytes - 1);
        while (page <= last) {
            const bits = @atomicLoad(usize, &self.bits.masks[page / 64], .monotonic);
            const mask = bits >> @intCast(page % 64);
            if (mask != 0) return page + @ctz(mask) <= last;
            page = (page / 64 + 1) * 64;
        }
        return false;
    }

    /// The parts of a range that lie in marked pages, in order: each is one page's part.
    pub const Marked = struct {
        pages: *const Pages,
        start: usize,
        end: usize,
        /// The next page to look at, and the last page of the range + 1.
        page: usize,
        page_end: usize,

        pub fn next(self: *Marked) ?struct { usize, usize } {
            const masks = self.pages.bits.masks;
            while (self.page < self.page_end) {
                // A word of the bit set at a time: 64 clear pages (256 KiB) cost one load.
                const mask = masks[self.page / 64] >> @intCast(self.page % 64);
                if (mask == 0) {
                    self.page = (self.page / 64 + 1) * 64;
                    continue;
                }
                const page = self.page + @ctz(mask);
                if (page >= self.page_end) break;
                self.page = page + 1;
                const page_start = self.pages.first_byte + page * page_bytes;
                const from = @max(page_start, self.start);
                const to = @min(page_start + page_bytes, self.end);
                assert(from < to);
                return .{ from, to };
            }
            self.page = self.page_end;
            return null;
        }
    };

    /// The marked parts of [start, start + bytes): a bit a page is read (a 64th of a byte per KiB),
    /// and only the marked pages' words are for the caller to read.
    pub fn marked(self: *const Pages, start: usize, bytes: usize) Marked {
        assert(bytes > 0);
        return .{ .pages = self, .start = start, .end = start + bytes, .page = self.pageOf(start), .page_end = self.pageOf(start + bytes - 1) + 1 };
    }

    /// The pages that lie whole inside [start, start + bytes) hold no link word any more.
    pub fn clearInside(self: *Pages, start: usize, bytes: usize) void {
        const first_whole = std.mem.alignForward(usize, start - self.first_byte, page_bytes) / page_bytes;
        const end_whole = (start + bytes - self.first_byte) / page_bytes;
        if (end_whole > first_whole) self.bits.setRangeValue(.{ .start = first_whole, .end = end_whole }, false);
    }
};

/// Marks, in `reached` (one bit per table slot), every live block reachable from `roots` through
/// link words in reached blocks' bytes. Bounded: each block is scanned at most once. `heap`
/// answers `lookup(g)` (the live block at `g`, or null), `slotOf(g)` (its record slot) and
/// `isPublished(g)` (its record is in the file).
///
/// A link is followed only to a published block. link() publishes what it links to, so a word
/// naming an unpublished block is dangling: its target was freed without unlinking and the block
/// taken since by an allocation nothing published, which a crash or close loses. Followed, it made
/// that allocation "reachable": missing from the unreachable list and the leak report, though lost.
pub fn markReachable(gpa: std.mem.Allocator, heap: anytype, base: [*]const u8, roots: []const u32, reached: *std.DynamicBitSetUnmanaged) error{OutOfMemory}!void {
    var queue: std.ArrayList(u32) = .empty;
    defer queue.deinit(gpa);
    for (roots) |g| {
        if (g != 0) try visit(gpa, heap, g, reached, &queue);
    }
    while (queue.pop()) |g| {
        const live = heap.lookup(g).?;
        const start = @as(usize, g) * granule_bytes;
        const words = live.requested_bytes / word_bytes;
        const block: [*]const u64 = @ptrCast(@alignCast(base + start));
        for (block[0..words]) |stored| {
            const target = decode(stored) orelse continue;
            if (target != 0 and heap.lookup(target) != null and heap.isPublished(target)) try visit(gpa, heap, target, reached, &queue);
        }
    }
}

fn visit(gpa: std.mem.Allocator, heap: anytype, g: u32, reached: *std.DynamicBitSetUnmanaged, queue: *std.ArrayList(u32)) error{OutOfMemory}!void {
    const slot = heap.slotOf(g).?;
    assert(slot < reached.bit_length);
    if (reached.isSet(slot)) return;
    reached.set(slot);
    try queue.append(gpa, g);
}

test "a link word names its target, and damage or data is not taken for a link" {
    try std.testing.expectEqual(@as(u64, 0), word(0));
    try std.testing.expectEqual(@as(?u32, 0), decode(0));
    for ([_]u32{ 1, 256, 0x1234_5678, std.math.maxInt(u32) }) |g| {
        const linked = word(g);
        try std.testing.expectEqual(@as(?u32, g), decode(linked));
        for (0..64) |bit| { // one flipped bit is never another valid link
            try std.testing.expectEqual(@as(?u32, null), decode(linked ^ (@as(u64, 1) << @intCast(bit))));
        }
    }
    try std.testing.expectEqual(@as(?u32, null), decode(0x0000_0000_0000_1000)); // an offset without its check
    try std.testing.expectEqual(@as(?u32, null), decode(0xFFFF_FFFF_0000_0000));
}

/// Which blocks a link word may name, by record slot, in DRAM: what lets a free refuse a block a
/// link still names (journal.zig) without reading the heap at every free. A set bit may be stale
/// (the word was overwritten since): the journal then reads the heap to be sure, and clears it.
/// A clear bit is exact once `known`: link words are written by link() (which notes its child),
/// copied from words that named the block already (whose bit is then set), or come from outside
/// the pool through a persist, memcpyPersist, copy() or checkpoint (journal.zig noteWrittenLinks
/// notes what they name, or a small persisted range waits in `Unscanned` until the set is next
/// read); the words written before the file was opened were found by one scan when the set was
/// started. A word written through a view and never persisted is not noted.
pub const Named = struct {
    bits: std.DynamicBitSetUnmanaged = .{},
    /// Whether the scan of the blocks found at open was made: until then nothing is noted.
    known: bool = false,

    pub fn start(self: *Named, gpa: std.mem.Allocator, slots: usize) error{OutOfMemory}!void {
        assert(!self.known);
        self.bits = try std.DynamicBitSetUnmanaged.initEmpty(gpa, slots);
        self.known = true;
    }

    /// A link to the block at record `slot` is being written. Before `start` the scan will find it.
    pub fn note(self: *Named, slot: u32) void {
        if (self.known) self.bits.set(slot);
    }

    pub fn noteKnown(self: *Named, slot: u32) void {
        assert(self.known);
        self.bits.set(slot);
    }

    pub fn may(self: *const Named, slot: u32) bool {
        assert(self.known);
        return self.bits.isSet(slot);
    }

    pub fn clear(self: *Named, slot: u32) void {
        self.bits.unset(slot);
    }

    /// Every block was freed (a reset): none is named, and the next need scans again.
    pub fn forget(self: *Named, gpa: std.mem.Allocator) void {
        self.deinit(gpa);
        self.* = .{};
    }

    pub fn deinit(self: *Named, gpa: std.mem.Allocator) void {
        if (self.known) self.bits.deinit(gpa);
    }
};

/// The ranges of the file persisted or flushed since `Named` was last read, whose link words are
/// not noted yet: the journal scans them (as they are then) before it next reads the set, so a
/// persist reads none of its bytes. Reading them there cost a persist of 64 bytes half its time
/// (the previous persist's flush had evicted the line: a read from memory) and was wasted for the
/// ranges freed, or persisted again, before any free of a published block asked. Scanning the
/// bytes as they are at the need, not at the persist, is what the check of a free does already
/// (journal.zig wordNaming reads every live block as it is). Only small ranges wait: a large one
/// is scanned at its persist, on the cores that flush it, while its bytes are in the cache.
pub const Unscanned = struct {
    pub const capacity = 32;
    /// Larger ranges are scanned at their persist.
    pub const range_bytes_max = 4096;

    starts: [capacity]usize = undefined,
    lens: [capacity]u32 = undefined,
    len: usize = 0,

    /// Adds the `bytes` at byte `start` of the file; false where the list is full (the caller
    /// scans what it holds, empties it, and adds again). A range inside the last one added is
    /// held already: a block persisted over and over takes one place.
    pub fn add(self: *Unscanned, start: usize, bytes: usize) bool {
        assert(bytes <= range_bytes_max and self.len <= capacity);
        if (self.len > 0) {
            const last = self.len - 1;
            if (start >= self.starts[last] and start + bytes <= self.starts[last] + self.lens[last]) return true;
        }
        if (self.len == capacity) return false;
        self.starts[self.len] = start;
        self.lens[self.len] = @intCast(bytes);
        self.len += 1;
        return true;
    }

    /// The `index`-th range held: its start and length in bytes.
    pub fn range(self: *const Unscanned, index: usize) struct { usize, usize } {
        assert(index < self.len);
        return .{ self.starts[index], self.lens[index] };
    }

    pub fn clear(self: *Unscanned) void {
        self.len = 0;
    }
};

/// The byte range [first, end) of the 8-byte words that the `bytes` at `start` touch (a word of
/// which the range holds only a part too: a link word can be made durable by persists that each
/// hold part of it) and that begin in [from, to), a part of the range; the range's first part
/// (from = start) also takes the word the range starts inside. Parts of the range, however it is
/// split, each take every touched word once. Empty (end <= first) where the part takes none.
pub fn wordsOfPart(start: usize, bytes: usize, from: usize, to: usize) struct { usize, usize } {
    assert(start <= from and from <= to and to <= start + bytes);
    if (bytes == 0) return .{ start, start };
    const first = if (from == start) std.mem.alignBackward(usize, start, word_bytes) else std.mem.alignForward(usize, from, word_bytes);
    return .{ first, std.mem.alignForward(usize, to, word_bytes) };
}

test "the words a range touches, in parts: every word with a byte in the range once, whatever the split" {
    for (0..3 * word_bytes) |start| {
        for (0..4 * word_bytes) |bytes| {
            // Touched words: those with a byte in [start, start + bytes).
            const want_first = std.mem.alignBackward(usize, start, word_bytes);
            const want_end = if (bytes == 0) want_first else std.mem.alignForward(usize, start + bytes, word_bytes);
            const whole_first, const whole_end = wordsOfPart(start, bytes, start, start + bytes);
            if (bytes == 0) {
                try std.testing.expect(whole_end <= whole_first);
                continue;
            }
            try std.testing.expectEqual(want_first, whole_first);
            try std.testing.expectEqual(want_end, whole_end);
            // Split at every cut: the two parts take the words in a row, none twice, none missed.
            for (start + 1..start + bytes) |cut| {
                const a_first, const a_end = wordsOfPart(start, bytes, start, cut);
                const b_first, const b_end = wordsOfPart(start, bytes, cut, start + bytes);
                try std.testing.expectEqual(want_first, a_first);
                try std.testing.expectEqual(want_end, b_end);
                // The second part starts where the first ends (one of them may be empty).
                if (b_end > b_first) try std.testing.expectEqual(a_end, b_first) else try std.testing.expectEqual(want_end, a_end);
            }
        }
    }
    // The case found by attack11: a word at 8 persisted as bytes 8-11 and then 12-15.
    try std.testing.expectEqual(.{ @as(usize, 8), @as(usize, 16) }, wordsOfPart(8, 4, 8, 12));
    try std.testing.expectEqual(.{ @as(usize, 8), @as(usize, 16) }, wordsOfPart(12, 4, 12, 16));
}

test "unscanned ranges: one place for a range inside the last, full at capacity, empty after clear" {
    var list: Unscanned = .{};
    try std.testing.expect(list.add(4096, 64));
    try std.testing.expect(list.add(4096, 64));
    try std.testing.expect(list.add(4096 + 8, 16)); // inside the last
    try std.testing.expectEqual(@as(usize, 1), list.len);
    try std.testing.expect(list.add(4096, 128)); // larger: a place of its own
    try std.testing.expectEqual(@as(usize, 2), list.len);
    for (2..Unscanned.capacity) |i| try std.testing.expect(list.add(i * 8192, Unscanned.range_bytes_max));
    try std.testing.expect(!list.add(1 << 30, 8));
    try std.testing.expect(list.add(Unscanned.capacity * 8192 - 8192 + 8, 8)); // inside the last: held already
    const start, const bytes = list.range(1);
    try std.testing.expectEqual(@as(usize, 4096), start);
    try std.testing.expectEqual(@as(usize, 128), bytes);
    list.clear();
    try std.testing.expectEqual(@as(usize, 0), list.len);
}

test "a block is named once noted, until cleared; nothing is noted before the set is started" {
    var named: Named = .{};
    defer named.deinit(std.testing.allocator);
    named.note(3); // not started: the scan will find it
    try named.start(std.testing.allocator, 8);
    try std.testing.expect(!named.may(3));
    named.note(3);
    try std.testing.expect(named.may(3) and !named.may(4));
    named.clear(3);
    try std.testing.expect(!named.may(3));
    named.forget(std.testing.allocator);
    try std.testing.expect(!named.known);
}

test "the walk follows a link only to a published block: an unpublished one there took a freed target's block" {
    const gpa = std.testing.allocator;
    // Blocks of 16 bytes at granules 1, 2 and 3 (slots 0, 1, 2); block 1 links to 2 and 3, and
    // block 3 is unpublished: the allocation block 1 linked to there was freed, and a new one placed.
    var memory = [_]u64{0} ** 8;
    memory[2 * 1] = word(2);
    memory[2 * 1 + 1] = word(3);
    const Heap = struct {
        const Live = struct { requested_bytes: u64 };
        pub fn lookup(_: @This(), g: u32) ?Live {
            return if (g >= 1 and g <= 3) .{ .requested_bytes = 16 } else null;
        }
        pub fn slotOf(_: @This(), g: u32) ?u32 {
            return if (g >= 1 and g <= 3) g - 1 else null;
        }
        pub fn isPublished(_: @This(), g: u32) bool {
            return g != 3;
        }
    };
    comptime assert(granule_bytes == 16);
    var reached = try std.DynamicBitSetUnmanaged.initEmpty(gpa, 3);
    defer reached.deinit(gpa);
    try markReachable(gpa, Heap{}, @ptrCast(&memory), &.{1}, &reached);
    try std.testing.expect(reached.isSet(0) and reached.isSet(1));
    try std.testing.expect(!reached.isSet(2));
}

test "the scan finds a link word into the heap at every place in a group and in the tail" {
    const heap: Targets = .{ .start = 1024, .end = 1024 + 4096 };
    var words = [_]u64{0} ** 21; // two groups of 8 and a tail of 5
    try std.testing.expectEqual(@as(?usize, null), firstLinkInto(&words, heap));
    for (0..words.len) |at| {
        for ([_]u32{ heap.start, heap.start + 77, heap.end - 1 }) |g| {
            words[at] = word(g);
            try std.testing.expectEqual(@as(?usize, at), firstLinkInto(&words, heap));
            try std.testing.expectEqual(@as(?usize, null), firstLinkInto(words[at + 1 ..], heap));
            words[at] = 0;
        }
    }
    words[3] = word(heap.start + 5);
    words[17] = word(heap.start + 9);
    try std.testing.expectEqual(@as(?usize, 3), firstLinkInto(&words, heap));
    try std.testing.expectEqual(@as(?usize, 13), firstLinkInto(words[4..], heap));
}

test "the scan passes over data: zeros, integers, pointers, links outside the heap, damaged links" {
    const heap: Targets = .{ .start = 1024, .end = 1024 + (1 << 22) }; // a 64 MiB heap
    var words: [64]u64 = undefined;
    const patterns = [_]*const fn (usize) u64{
        struct {
            fn f(_: usize) u64 {
                return 0;
            }
        }.f,
        struct { // small integers, and u32 pairs counting up (high halves odd, low halves in the heap)
            fn f(i: usize) u64 {
                return @as(u64, 2 * i + 2049) << 32 | (2 * i + 2048);
            }
        }.f,
        struct { // pointers into a 48-bit address space, some with a low half in the heap
            fn f(i: usize) u64 {
                return 0x0000_7F01_0000_0000 + i * 0x1_0000_0000 + 4096 + i * 16;
            }
        }.f,
        struct { // links to granules just outside the heap
            fn f(i: usize) u64 {
                return word(if (i % 2 == 0) 1023 else 1024 + (1 << 22));
            }
        }.f,
        struct { // links into the heap with one bit of the check flipped
            fn f(i: usize) u64 {
                return word(@intCast(1024 + i * 1000)) ^ (@as(u64, 1) << @intCast(33 + i % 31));
            }
        }.f,
        struct {
            fn f(i: usize) u64 {
                return @as(u64, @bitCast(@as(f64, @floatFromInt(i)) * 1.25 + 0.1));
            }
        }.f,
    };
    for (patterns) |pattern| {
        for (&words, 0..) |*stored, i| stored.* = pattern(i);
        for (0..words.len) |skip| try std.testing.expectEqual(@as(?usize, null), firstLinkInto(words[skip..], heap));
    }
}

test "the scan finds exactly the words that decode as links into the heap, in random data" {
    const heap: Targets = .{ .start = 4096, .end = 4096 + (1 << 20) };
    var prng = std.Random.DefaultPrng.init(0x5EED_1);
    const random = prng.random();
    var words: [203]u64 = undefined;
    for (0..200) |_| {
        for (&words) |*stored| {
            stored.* = switch (random.uintLessThan(u8, 4)) {
                0 => random.int(u64),
                1 => word(random.intRangeLessThan(u32, 1, heap.end + 4096)), // links in and around the heap
                2 => @as(u64, random.int(u32) | 1) << 32 | random.intRangeLessThan(u32, heap.start, heap.end), // passes the first test only
                else => 0,
            };
        }
        var expected: ?usize = null;
        for (words, 0..) |stored, at| {
            const target = decode(stored) orelse continue;
            if (target >= heap.start and target < heap.end) {
                expected = at;
                break;
            }
        }
        try std.testing.expectEqual(expected, firstLinkInto(&words, heap));
    }
}

test "the link words of a range, each once and in order, among data that is not a link" {
    const heap: Targets = .{ .start = 16, .end = 1 << 20 };
    var words = [_]u64{0} ** 40;
    for (&words, 0..) |*stored, i| stored.* = i * 0x1_0000_0001; // data: not links
    const at = [_]usize{ 0, 7, 8, 9, 31, 39 };
    for (at) |i| words[i] = word(@intCast(100 + i));
    words[20] = word(8); // a link below the heap: not one of the heap's
    var found = linkWords(&words, heap);
    for (at) |i| try std.testing.expectEqual(@as(?usize, i), found.next());
    try std.testing.expectEqual(@as(?usize, null), found.next());
    try std.testing.expectEqual(@as(?usize, null), found.next());
    var none = linkWords(words[1..7], heap);
    try std.testing.expectEqual(@as(?usize, null), none.next());
}

test "pages that may hold a link word: marked by range, walked in the parts a range has in them, cleared only whole" {
    const page = Pages.page_bytes;
    const heap_start = 3 * page + 512; // the heap need not start on a page
    var pages = try Pages.init(std.testing.allocator, heap_start, 300 * page, false);
    defer pages.deinit(std.testing.allocator);
    var none = pages.marked(heap_start, 200 * page);
    try std.testing.expectEqual(@as(?struct { usize, usize }, null), none.next());

    pages.mark(13 * page + 8, 8); // page 13 of the file
    pages.mark(103 * page - 16, 32); // across pages 102 and 103
    pages.mark(253 * page, 8); // past the range below
    var parts = pages.marked(heap_start, 200 * page);
    const want = [_]struct { usize, usize }{
        .{ 13 * page, 14 * page },
        .{ 102 * page, 103 * page },
        .{ 103 * page, 104 * page },
    };
    for (want) |part| try std.testing.expectEqual(@as(?struct { usize, usize }, part), parts.next());
    try std.testing.expectEqual(@as(?struct { usize, usize }, null), parts.next());
    // A range starting inside a marked page gets only its own part of it.
    var inside = pages.marked(13 * page + 100, 50);
    try std.testing.expectEqual(@as(?struct { usize, usize }, .{ 13 * page + 100, 13 * page + 150 }), inside.next());
    try std.testing.expectEqual(@as(?struct { usize, usize }, null), inside.next());

    // Cleared only where the range holds the whole page: 102 is cut, 103 is whole.
    pages.clearInside(102 * page + 8, 2 * page - 8);
    var after = pages.marked(100 * page, 10 * page);
    try std.testing.expectEqual(@as(?struct { usize, usize }, .{ 102 * page, 103 * page }), after.next());
    try std.testing.expectEqual(@as(?struct { usize, usize }, null), after.next());

    var opened = try Pages.init(std.testing.allocator, heap_start, 300 * page, true);
    defer opened.deinit(std.testing.allocator);
    var count: usize = 0;
    var all = opened.marked(heap_start, 300 * page);
    while (all.next()) |_| count += 1;
    try std.testing.expectEqual(@as(usize, 301), count); // the heap's 300 pages touch 301
}
