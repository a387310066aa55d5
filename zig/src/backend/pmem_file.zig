//! The PMEM backend: a pool file mapped with libpmem (pmem/file.zig), which gives the arena its
//! address space all at once. Its size is the file's: there is no growth, commit and decommit have
//! nothing to do, and the memory is host memory. What is durable, and how, is the journal's
//! business (pmem/journal.zig); this file only holds the mapping and lets it go.
const std = @import("std");
const assert = std.debug.assert;
const file = @import("../pmem/file.zig");
const Media = @import("../pmem/media.zig").Media;

pub const PmemFile = struct {
    gpa: std.mem.Allocator,
    mapped: file.Mapped,
    /// How stores to the mapping are made durable (the journal writes through it).
    media: Media,
    /// The file, as opened (an absolute path from TypeScript).
    path: [:0]u8,
    /// Whether opening made the file (false: it existed and was recovered).
    created: bool,
    /// Whether the mapping is still held (until `close` or `retire`).
    mapped_now: bool = true,

    /// Takes over `mapped` and `path` (freed by `destroy`); null where no memory is left.
    pub fn create(gpa: std.mem.Allocator, mapped: file.Mapped, path: [:0]u8, created: bool) ?*PmemFile {
        assert(mapped.len > 0 and path.len > 0);
        const self = gpa.create(PmemFile) catch return null;
        self.* = .{
            .gpa = gpa,
            .mapped = mapped,
            .media = .{ .base = mapped.base, .len = mapped.len, .is_pmem = mapped.is_pmem },
            .path = path,
            .created = created,
        };
        return self;
    }

    /// Whether the file was found cut short under the mapping (truncated or overwritten while
    /// open: pmem/truncation.zig); the pages past its new end are private zero pages since.
    pub fn lost(self: *const PmemFile) bool {
        return self.mapped.watch.lost();
    }

    /// Frees the record, and lets the mapping go where neither `close` nor `retire` did (a pool
    /// whose arena was never made).
    pub fn destroy(self: *PmemFile) void {
        if (self.mapped_now) self.mapped.close();
        const gpa = self.gpa;
        gpa.free(self.path);
        gpa.destroy(self);
    }

    /// The arena's reservation: the mapping, which is there already. `len` is the file's.
    pub fn reserve(self: *PmemFile, len: u64) ?u64 {
        if (len != self.mapped.len) return null;
        return @intFromPtr(self.mapped.base);
    }

    /// Unmaps the file and lets it (and its lock) go.
    pub fn close(self: *PmemFile, base: u64, len: u64) void {
        assert(self.mapped_now and base == @intFromPtr(self.mapped.base) and len == self.mapped.len);
        self.mapped.close();
        self.mapped_now = false;
    }

    /// Lets the file go but keeps its range mapped as zero pages, for views in other threads
    /// (file.zig Mapped.retire).
    pub fn retire(self: *PmemFile) void {
        assert(self.mapped_now);
        self.mapped.retire();
        self.mapped_now = false;
    }
};

test "a mapping is the reservation of its own length only" {
    var memory: [4096]u8 align(std.heap.page_size_min) = undefined;
    const path = try std.testing.allocator.dupeZ(u8, "/nowhere");
    const mapped: file.Mapped = .{ .fd = -1, .identity = undefined, .base = &memory, .len = memory.len, .is_pmem = false };
    const backing = PmemFile.create(std.testing.allocator, mapped, path, true).?;
    backing.mapped_now = false; // not a real mapping: nothing to unmap
    defer backing.destroy();
    try std.testing.expectEqual(@as(?u64, @intFromPtr(&memory)), backing.reserve(memory.len));
    try std.testing.expectEqual(@as(?u64, null), backing.reserve(2 * memory.len));
}
