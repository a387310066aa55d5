//! A tiny redo log, for changes of several words that must become durable together, such as
//! "allocate a block and publish it as a root", "point a root at a new version and free the old" or
//! "write a link to a new block into its parent and make the block an allocation".
//!
//! Protocol: write the entries (file offset, new value) and persist them; commit by storing the
//! count word (one 8-byte word, drained): the entry count, and in its high half a CRC-32 of the
//! entries, so a flipped bit in the word or in a committed entry is refused on open rather than
//! replayed; apply the entries and persist them; clear the word. A crash before the word is durable
//! leaves every target as it was; after it, recovery applies the entries again (applying twice is
//! harmless) and clears the word. The word is cleared without a drain of its own: it becomes
//! durable at the next barrier, before anything later can change the entries' targets. The word
//! is on a cache line of its own, so writing entries never touches it.
const std = @import("std");
const assert = std.debug.assert;
const format = @import("format.zig");
const Media = @import("media.zig").Media;

pub const entries_max = 8;

pub const Entry = extern struct { offset: u64, value: u64 };

pub const Log = extern struct {
    /// 0 (empty), or the count of committed entries | their CRC-32 << 32 (see `countWord`).
    count: u64,
    reserved: [7]u64,
    entries: [entries_max]Entry,
};

comptime {
    assert(@offsetOf(Log, "entries") == 64);
    assert(@sizeOf(Log) <= format.log_bytes);
}

pub fn at(media: *const Media) *Log {
    return @ptrCast(@alignCast(media.base + format.log_offset));
}

/// Where a log entry may write: a record of the table, a root's target word, or a word of the heap
/// (a link from one allocation to another, links.zig), nothing else.
pub const Targets = struct {
    header: *const format.Header,

    pub fn allows(self: Targets, offset: u64) bool {
        if (offset % @sizeOf(u64) != 0) return false;
        const h = self.header;
        const in_table = offset >= h.table_offset and offset < h.table_offset + h.table_capacity * format.record_bytes;
        const in_roots = offset >= h.roots_offset and offset < h.roots_offset + h.root_capacity * format.root_slot_bytes and
            (offset - h.roots_offset) % format.root_slot_bytes == 0; // the target word opens each slot
        const in_heap = offset >= h.heap_offset and offset < h.file_bytes;
        return in_table or in_roots or in_heap;
    }
};

/// The count word that commits `entries`.
fn countWord(entries: []const Entry) u64 {
    assert(entries.len > 0 and entries.len <= entries_max);
    return @as(u64, std.hash.Crc32.hash(std.mem.sliceAsBytes(entries))) << 32 | entries.len;
}

/// Makes every entry durable together. The log must be empty (a pool's lock serialises users).
pub fn commit(media: *Media, entries: []const Entry, targets: Targets) void {
    assert(entries.len > 0 and entries.len <= entries_max);
    if (entries.len == 1) { // one aligned word is failure-atomic on its own: no log needed
        assert(targets.allows(entries[0].offset));
        media.commit(@ptrCast(@alignCast(media.base + entries[0].offset)), entries[0].value, true);
        return;
    }
    const log = at(media);
    assert(Media.load(&log.count) == 0);
    for (entries, log.entries[0..entries.len]) |entry, *slot| {
        assert(targets.allows(entry.offset));
        slot.* = entry;
    }
    media.persist(format.log_offset + @offsetOf(Log, "entries"), entries.len * @sizeOf(Entry));
    media.commit(&log.count, countWord(log.entries[0..entries.len]), true);
    apply(media, entries);
    // Emptied without a barrier of its own: the next barrier (which any later change to the file
    // passes before it is durable) drains it. A crash before then replays entries that nothing
    // has changed since, which leaves them as they are.
    media.commit(&log.count, 0, false);
}

fn apply(media: *Media, entries: []const Entry) void {
    for (entries) |entry| {
        const word: *u64 = @ptrCast(@alignCast(media.base + entry.offset));
        @atomicStore(u64, word, entry.value, .release);
        media.flush(entry.offset, @sizeOf(u64));
    }
    media.drain();
}

/// The entries a crash left committed but perhaps not applied, or null where the log is empty.
/// Reads only: on error.Corrupt `problem` says why and nothing was written.
pub fn pending(media: *const Media, targets: Targets, problem: *format.Problem) error{Corrupt}!?[]const Entry {
    const log = at(media);
    const word = Media.load(&log.count);
    if (word == 0) return null;
    const count: u32 = @truncate(word);
    if (count == 0 or count > entries_max) {
        problem.* = corrupt("its entry count is {d} (word 0x{x:0>16}), 1 to {d} when it holds entries", .{ count, word, entries_max });
        return error.Corrupt;
    }
    const entries = log.entries[0..count];
    if (countWord(entries) != word) {
        problem.* = corrupt("its {d} committed entries fail their check (word 0x{x:0>16}): an entry or the count is damaged", .{ count, word });
        return error.Corrupt;
    }
    for (entries, 0..) |entry, index| {
        if (!targets.allows(entry.offset)) {
            problem.* = corrupt("entry {d} writes to offset {d}, which is neither a record, a root nor a word of the heap", .{ index, entry.offset });
            return error.Corrupt;
        }
    }
    return entries;
}

/// Recovery: applies the committed entries and empties the log.
pub fn replay(media: *Media, entries: []const Entry) void {
    assert(entries.len > 0 and entries.len <= entries_max);
    var copy: [entries_max]Entry = undefined;
    @memcpy(copy[0..entries.len], entries);
    apply(media, copy[0..entries.len]);
    media.commit(&at(media).count, 0, true);
}

fn corrupt(comptime fmt: []const u8, args: anytype) format.Problem {
    var result: format.Problem = .{ .reason = .metadata };
    result.message_len = (std.fmt.bufPrint(&result.message_buffer, "the redo log is damaged: " ++ fmt, args) catch result.message_buffer[0..]).len;
    return result;
}
