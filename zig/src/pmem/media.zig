//! How stores to a mapped pool file become durable. On persistent memory (real, or forced with
//! PMEM_IS_PMEM_FORCE=1) a range is durable once its cache lines are flushed and drained
//! (pmem_persist); on anything else, once msync'd (pmem_msync). Every drain is a persist barrier
//! the crash test mode counts (crash_points.zig).
//!
//! Commits are single 8-byte words. On x86-64 they are written with a non-temporal store, which
//! bypasses the cache: draining it costs about half of flushing a dirty line (measured here), and a
//! later store to the same line does not wait for an earlier flush. A commit may be left undrained
//! ("deferred"): it becomes durable at the next barrier of the same thread, as every later barrier
//! drains every earlier store. In msync mode the deferred words' range is remembered and synced then.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const libpmem = @import("libpmem.zig");
const parallel = @import("../parallel.zig");
const crash_points = @import("crash_points.zig");
const host_copy = @import("../host_copy.zig");

const page_bytes = std.heap.page_size_min;
const use_nontemporal = builtin.cpu.arch == .x86_64;

pub const Media = struct {
    base: [*]u8,
    len: usize,
    /// Cache flushes make stores durable (real or forced PMEM); otherwise msync does.
    is_pmem: bool,
    /// msync mode: the byte range of deferred commits not yet synced (start >= end: none).
    deferred_start: usize = std.math.maxInt(usize),
    deferred_end: usize = 0,

    fn address(self: *const Media, offset: usize) usize {
        return @intFromPtr(self.base) + offset;
    }

    /// Makes [offset, offset + len) durable: a barrier.
    pub fn persist(self: *Media, offset: usize, len: usize) void {
        self.persistVisiting(offset, len, {}, visitNothing);
    }

    fn visitNothing(_: void, _: usize, _: usize) void {}

    /// As persist, calling `visit(context, part_offset, part_len)` on each part of the range just
    /// before that part is flushed, on the thread that flushes it: work that reads the bytes (the
    /// journal's link scan) finds them still in the cache, and a large range's reads are split
    /// across the cores as its flushes are. The parts tile the range; they may run at once.
    pub fn persistVisiting(self: *Media, offset: usize, len: usize, context: anytype, comptime visit: fn (@TypeOf(context), usize, usize) void) void {
        assert(offset <= self.len and len <= self.len - offset);
        const start = self.address(offset);
        crash_points.noteFlush(start, len);
        crash_points.barrier();
        if (!self.is_pmem) {
            visit(context, offset, len);
            self.syncDeferred();
            self.sync(start, len);
        } else if (len < parallel_persist_bytes) {
            visit(context, offset, len);
            libpmem.loaded().pmem_persist(@ptrFromInt(start), len);
        } else {
            const Parts = struct {
                media: *const Media,
                offset: usize,
                context: @TypeOf(context),
                // Each thread flushes and drains its own part: a drain orders only its own thread's flushes.
                fn part(parts: *const @This(), at: usize, part_len: usize) void {
                    visit(parts.context, parts.offset + at, part_len);
                    libpmem.loaded().pmem_persist(@ptrFromInt(parts.media.address(parts.offset + at)), part_len);
                }
            };
            parallel.forSlices(len, 2 * 1024 * 1024, &Parts{ .media = self, .offset = offset, .context = context }, Parts.part);
        }
        crash_points.noteDrain();
    }

    /// Starts writing [offset, offset + len) back without waiting: durable after the next drain.
    pub fn flush(self: *Media, offset: usize, len: usize) void {
        assert(offset <= self.len and len <= self.len - offset);
        const start = self.address(offset);
        crash_points.noteFlush(start, len);
        if (self.is_pmem) {
            libpmem.loaded().pmem_flush(@ptrFromInt(start), len);
        } else {
            self.sync(start, len); // msync cannot start a write-back without waiting for it
        }
    }

    /// Waits until every flush so far is durable: a barrier.
    pub fn drain(self: *Media) void {
        crash_points.barrier();
        if (self.is_pmem) libpmem.loaded().pmem_drain() else self.syncDeferred();
        crash_points.noteDrain();
    }

    /// Copies `source` to `offset` and makes it durable: a barrier. `source` may overlap the
    /// destination (JavaScript hands in views of the pool's own memory): it is copied as memmove does.
    pub fn memcpyPersist(self: *Media, offset: usize, source: []const u8) void {
        assert(offset <= self.len and source.len <= self.len - offset);
        const start = self.address(offset);
        crash_points.noteFlush(start, source.len);
        crash_points.barrier();
        if (self.is_pmem) {
            _ = libpmem.loaded().pmem_memmove_persist(@ptrFromInt(start), source.ptr, source.len);
        } else {
            // libc's memmove (host_copy.zig): compiler-rt's, which @memmove binds to here, is slower from 4 KiB.
            if (source.len > 0) host_copy.copy(self.base + offset, source.ptr, source.len);
            self.syncDeferred();
            self.sync(start, source.len);
        }
        crash_points.noteDrain();
    }

    /// Fills [offset, offset + len) with zeros and makes them durable: a barrier.
    pub fn zeroPersist(self: *Media, offset: usize, len: usize) void {
        assert(offset <= self.len and len <= self.len - offset);
        const start = self.address(offset);
        crash_points.noteFlush(start, len);
        crash_points.barrier();
        if (self.is_pmem) {
            _ = libpmem.loaded().pmem_memset_persist(@ptrFromInt(start), 0, len);
        } else {
            @memset(self.base[offset..][0..len], 0);
            self.syncDeferred();
            self.sync(start, len);
        }
        crash_points.noteDrain();
    }

    /// Writes one word that commits a change. `drained`: durable when this returns (a barrier);
    /// otherwise at the next barrier of this thread. An aligned 8-byte store is failure-atomic.
    pub fn commit(self: *Media, word: *u64, value: u64, drained: bool) void {
        const at = @intFromPtr(word);
        assert(at % @sizeOf(u64) == 0 and at >= @intFromPtr(self.base) and at + @sizeOf(u64) <= @intFromPtr(self.base) + self.len);
        crash_points.noteFlush(at, @sizeOf(u64));
        if (self.is_pmem) {
            if (use_nontemporal) {
                asm volatile ("movnti %[value], (%[word])"
                    :
                    : [value] "r" (value),
                      [word] "r" (word),
                    : .{ .memory = true });
            } else {
                @atomicStore(u64, word, value, .release);
                libpmem.loaded().pmem_flush(word, @sizeOf(u64));
            }
            if (!drained) return;
            crash_points.barrier();
            libpmem.loaded().pmem_drain();
        } else {
            @atomicStore(u64, word, value, .release);
            self.deferred_start = @min(self.deferred_start, at);
            self.deferred_end = @max(self.deferred_end, at + @sizeOf(u64));
            if (!drained) return;
            crash_points.barrier();
            self.syncDeferred();
        }
        crash_points.noteDrain();
    }

    fn syncDeferred(self: *Media) void {
        if (self.deferred_start >= self.deferred_end) return;
        self.sync(self.deferred_start, self.deferred_end - self.deferred_start);
        self.deferred_start = std.math.maxInt(usize);
        self.deferred_end = 0;
    }

    fn sync(_: *const Media, start: usize, len: usize) void {
        if (len == 0) return;
        // pmem_msync rounds to pages itself; it fails only for ranges that are not mapped.
        const result = libpmem.loaded().pmem_msync(@ptrFromInt(start), len);
        assert(result == 0);
    }

    /// Reads a word another thread or an earlier process may have committed.
    pub fn load(word: *const u64) u64 {
        return @atomicLoad(u64, word, .acquire);
    }
};

test "commits and persists reach the bytes, drained or deferred, in both modes" {
    _ = libpmem.api() catch return; // without libpmem there is nothing to test
    const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(page_bytes), 2 * page_bytes);
    defer std.heap.page_allocator.free(memory);
    @memset(memory, 0);
    for ([_]bool{ true, false }) |is_pmem| {
        var media: Media = .{ .base = memory.ptr, .len = memory.len, .is_pmem = is_pmem };
        const words: [*]u64 = @ptrCast(@alignCast(memory.ptr));
        media.commit(&words[1], 0xABCD, false);
        media.commit(&words[2], 0x1234, true);
        try std.testing.expectEqual(@as(u64, 0xABCD), Media.load(&words[1]));
        try std.testing.expectEqual(@as(u64, 0x1234), Media.load(&words[2]));
        media.memcpyPersist(page_bytes, "persisted");
        try std.testing.expectEqualStrings("persisted", memory[page_bytes..][0..9]);
        media.zeroPersist(page_bytes, 4);
        try std.testing.expectEqualStrings("\x00\x00\x00\x00isted", memory[page_bytes..][0..9]);
        media.flush(0, 64);
        media.drain();
        media.persist(8, 100);
    }
}

test "memcpyPersist copies a source that overlaps its destination as memmove does, in both modes" {
    _ = libpmem.api() catch return;
    const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(page_bytes), page_bytes);
    defer std.heap.page_allocator.free(memory);
    for ([_]bool{ true, false }) |is_pmem| {
        var media: Media = .{ .base = memory.ptr, .len = memory.len, .is_pmem = is_pmem };
        for (memory[0..256], 0..) |*byte, i| byte.* = @intCast(i);
        media.memcpyPersist(16, memory[0..200]); // forwards over itself
        for (memory[16..216], 0..) |byte, i| try std.testing.expectEqual(@as(u8, @intCast(i)), byte);
        for (memory[0..256], 0..) |*byte, i| byte.* = @intCast(i);
        media.memcpyPersist(0, memory[16..216]); // backwards over itself
        for (memory[0..200], 16..) |byte, i| try std.testing.expectEqual(@as(u8, @intCast(i)), byte);
    }
}

/// Above this a persist is split across the spare cores: flushing cache lines one by one is what
/// bounds it (a GPU checkpoint of a gigabyte lands at DMA speed, then waits on the flushes).
const parallel_persist_bytes: usize = 16 * 1024 * 1024;

test "a visited persist visits parts that tile the range once, in both modes and above the parallel size" {
    _ = libpmem.api() catch return;
    const len = parallel_persist_bytes + 3 * page_bytes;
    const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(page_bytes), len + page_bytes);
    defer std.heap.page_allocator.free(memory);
    const Seen = struct {
        bytes: std.atomic.Value(usize) = .init(0),
        low: std.atomic.Value(usize) = .init(std.math.maxInt(usize)),
        high: std.atomic.Value(usize) = .init(0),
        fn visit(seen: *@This(), offset: usize, part_len: usize) void {
            _ = seen.bytes.fetchAdd(part_len, .monotonic);
            _ = seen.low.fetchMin(offset, .monotonic);
            _ = seen.high.fetchMax(offset + part_len, .monotonic);
        }
    };
    for ([_]bool{ true, false }) |is_pmem| {
        var media: Media = .{ .base = memory.ptr, .len = memory.len, .is_pmem = is_pmem };
        for ([_]usize{ 100, len }) |range| {
            var seen: Seen = .{};
            media.persistVisiting(24, range, &seen, Seen.visit);
            try std.testing.expectEqual(range, seen.bytes.load(.monotonic));
            try std.testing.expectEqual(@as(usize, 24), seen.low.load(.monotonic));
            try std.testing.expectEqual(24 + range, seen.high.load(.monotonic));
        }
    }
}
