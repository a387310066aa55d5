//! The pool file's format: where each part lies, and the header that says so.
//!
//!   [0, 4 KiB)          header: magic, format version, layout, sizes, CRC-32; written once at creation
//!   [4 KiB, 8 KiB)      redo log (redo_log.zig): multi-word changes such as "allocate and publish a root"
//!   [8 KiB, 12 KiB)     named roots (roots.zig): 64 slots of 64 bytes
//!   [12 KiB, heap)      allocation table (heap.zig): one 8-byte record a possible allocation
//!   [heap, file end)    the heap: what users allocate; page-aligned, so block alignment carries over
//!
//! Everything is little-endian. The header never changes after creation, so its checksum is checked
//! once on open; what changes (table, roots, log) is validated by recovery. Validation only reads:
//! a file that fails it is left untouched.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;

comptime {
    assert(builtin.cpu.arch.endian() == .little); // the format is little-endian and read in place
}

pub const magic = "MPOOLPM\x00".*;
pub const version: u32 = 1;
pub const page_bytes: u64 = 4096;
pub const granule_bytes: u64 = 16;
pub const header_bytes: u64 = page_bytes;
pub const log_offset: u64 = page_bytes;
pub const log_bytes: u64 = page_bytes;
pub const roots_offset: u64 = 2 * page_bytes;
pub const root_slot_bytes: u64 = 64;
pub const root_capacity: u64 = page_bytes / root_slot_bytes;
pub const table_offset: u64 = 3 * page_bytes;
pub const record_bytes: u64 = 8;
/// A Variable pool keeps one record for each this many bytes of heap: the table costs 1/17 of the file.
pub const heap_bytes_per_record: u64 = 128;
/// Offsets are u32 granules from the file's start, so a file spans at most 64 GiB.
pub const file_bytes_max: u64 = (1 << 32) * granule_bytes - page_bytes;
pub const file_bytes_min: u64 = table_offset + 2 * page_bytes;

pub const Strategy = enum(u32) { fixed_size = 0, variable = 1 };

/// What the heap is laid out for: placement strategy, block size and alignment. A file is only
/// opened with the layout it was made with.
pub const Layout = extern struct {
    strategy: u32,
    alignment: u32,
    block_bytes: u64, // FixedSize: bytes a block holds; Variable: 0

    pub fn eql(a: Layout, b: Layout) bool {
        return a.strategy == b.strategy and a.alignment == b.alignment and a.block_bytes == b.block_bytes;
    }

    /// Granules from one block's start to the next (FixedSize).
    pub fn strideGranules(self: Layout) u64 {
        assert(self.strategy == @intFromEnum(Strategy.fixed_size));
        const alignment_granules = @max(1, self.alignment / granule_bytes);
        return std.mem.alignForward(u64, std.math.divCeil(u64, self.block_bytes, granule_bytes) catch unreachable, alignment_granules);
    }
};

pub const Header = extern struct {
    magic: [8]u8,
    version: u32,
    header_bytes: u32,
    layout: Layout,
    file_bytes: u64,
    log_offset: u64,
    roots_offset: u64,
    root_capacity: u64,
    table_offset: u64,
    table_capacity: u64, // records
    heap_offset: u64,
    heap_bytes: u64,
    pool_id: [16]u8, // random, made at creation: tells copies of a pool from other pools in messages
    checksum: u32, // CRC-32 (IEEE) of every byte before it
    reserved: u32,

    pub const checksum_offset = @offsetOf(Header, "checksum");

    pub fn computeChecksum(self: *const Header) u32 {
        const bytes: *const [@sizeOf(Header)]u8 = @ptrCast(self);
        return std.hash.Crc32.hash(bytes[0..checksum_offset]);
    }
};

comptime {
    assert(@sizeOf(Header) == 120);
    assert(@sizeOf(Header) <= header_bytes);
}

/// Why a file is refused; TypeScript names these in PMEMFormatError.reason (src/errors.ts).
pub const Reason = enum(u32) { none = 0, magic, version, checksum, layout, truncated, extended, metadata };

pub const Problem = struct {
    reason: Reason,
    message_buffer: [320]u8 = undefined,
    message_len: usize = 0,

    pub fn message(self: *const Problem) []const u8 {
        return self.message_buffer[0..self.message_len];
    }
};

fn problem(reason: Reason, comptime fmt: []const u8, args: anytype) Problem {
    var result: Problem = .{ .reason = reason };
    result.message_len = (std.fmt.bufPrint(&result.message_buffer, fmt, args) catch result.message_buffer[0..]).len;
    return result;
}

/// The header of a new file of (about) `requested_bytes` with `layout`: the table takes what the
/// layout needs, the heap the rest. Null where the file would be too small to hold one block.
pub fn plan(layout: Layout, requested_bytes: u64, pool_id: [16]u8) ?Header {
    const file_bytes = std.mem.alignForward(u64, @max(requested_bytes, file_bytes_min), page_bytes);
    if (file_bytes > file_bytes_max) return null;
    const room = file_bytes - table_offset; // for the table and the heap together
    // Each record pairs with `per_record` heap bytes; solve for the count, then give the table whole pages.
    const per_record: u64 = switch (@as(Strategy, @enumFromInt(layout.strategy))) {
        .fixed_size => layout.strideGranules() * granule_bytes,
        .variable => heap_bytes_per_record,
    };
    var capacity = room / (per_record + record_bytes);
    const table_bytes = std.mem.alignForward(u64, @max(capacity, 1) * record_bytes, page_bytes);
    if (table_bytes >= room) return null;
    const heap_bytes = room - table_bytes;
    capacity = switch (@as(Strategy, @enumFromInt(layout.strategy))) {
        .fixed_size => @min(heap_bytes / per_record, table_bytes / record_bytes),
        .variable => table_bytes / record_bytes,
    };
    if (capacity == 0 or (layout.strategy == @intFromEnum(Strategy.fixed_size) and heap_bytes < per_record)) return null;
    var header: Header = .{
        .magic = magic,
        .version = version,
        .header_bytes = @sizeOf(Header),
        .layout = layout,
        .file_bytes = file_bytes,
        .log_offset = log_offset,
        .roots_offset = roots_offset,
        .root_capacity = root_capacity,
        .table_offset = table_offset,
        .table_capacity = capacity,
        .heap_offset = table_offset + table_bytes,
        .heap_bytes = heap_bytes,
        .pool_id = pool_id,
        .checksum = 0,
        .reserved = 0,
    };
    header.checksum = header.computeChecksum();
    assert(validateGeometry(&header) == null);
    return header;
}

/// Checks the first bytes of a file of `file_bytes` bytes (`bytes` holds up to one page of them).
/// Returns null where the header is sound and the file has the size it names.
pub fn validate(bytes: []const u8, file_bytes: u64, path: []const u8) ?Problem {
    assert(bytes.len == @min(file_bytes, header_bytes));
    if (bytes.len < magic.len or !std.mem.eql(u8, bytes[0..magic.len], &magic)) {
        if (file_bytes == 0) return problem(.magic, "'{s}' is empty (0 bytes), not a bun-memory-pool PMEM file: delete it to create a pool there", .{path});
        return problem(.magic, "'{s}' is not a bun-memory-pool PMEM file: its first bytes are not the magic \"MPOOLPM\" (wrong path, or another program's file)", .{path});
    }
    if (bytes.len < @sizeOf(Header)) {
        return problem(.truncated, "'{s}' is truncated: {d} bytes, too short for its own header ({d} bytes)", .{ path, file_bytes, @sizeOf(Header) });
    }
    var header: Header = undefined;
    @memcpy(std.mem.asBytes(&header), bytes[0..@sizeOf(Header)]);
    if (header.version != version) {
        return problem(.version, "'{s}' has format version {d}; this library reads version {d} only", .{ path, header.version, version });
    }
    const computed = header.computeChecksum();
    if (header.checksum != computed) {
        return problem(.checksum, "'{s}': the header's checksum is wrong (stored 0x{x:0>8}, computed 0x{x:0>8}): the header is damaged", .{ path, header.checksum, computed });
    }
    if (validateGeometry(&header)) |found| return withPath(found, path);
    if (file_bytes < header.file_bytes) {
        return problem(.truncated, "'{s}' is truncated: {d} bytes, but its header says {d}: the end of the pool is missing", .{ path, file_bytes, header.file_bytes });
    }
    if (file_bytes > header.file_bytes) {
        return problem(.extended, "'{s}' was extended: {d} bytes, but its header says {d}: something appended to or resized the file", .{ path, file_bytes, header.file_bytes });
    }
    return null;
}

fn withPath(found: Problem, path: []const u8) Problem {
    return problem(found.reason, "'{s}': {s}", .{ path, found.message() });
}

/// The layout and the parts it names must be sound and tile the file; the checksum only says the
/// header is what its writer wrote.
fn validateGeometry(header: *const Header) ?Problem {
    const layout = header.layout;
    const strategy = std.meta.intToEnum(Strategy, layout.strategy) catch
        return problem(.layout, "unknown allocator layout {d} (0 is FixedSize, 1 is Variable)", .{layout.strategy});
    if (layout.alignment == 0 or layout.alignment > page_bytes or !std.math.isPowerOfTwo(layout.alignment)) {
        return problem(.layout, "alignment {d} is not a power of two up to {d}", .{ layout.alignment, page_bytes });
    }
    switch (strategy) {
        .fixed_size => if (layout.block_bytes == 0 or layout.block_bytes > header.heap_bytes)
            return problem(.layout, "block size {d} does not fit the heap of {d} bytes", .{ layout.block_bytes, header.heap_bytes }),
        .variable => if (layout.block_bytes != 0) return problem(.layout, "a Variable layout has no block size, found {d}", .{layout.block_bytes}),
    }
    const sound = header.header_bytes == @sizeOf(Header) and
        header.log_offset == log_offset and header.roots_offset == roots_offset and
        header.root_capacity == root_capacity and header.table_offset == table_offset and
        header.table_capacity > 0 and header.table_capacity <= (header.heap_offset - table_offset) / record_bytes and
        header.heap_offset % page_bytes == 0 and header.heap_offset > table_offset and
        header.file_bytes % page_bytes == 0 and header.file_bytes <= file_bytes_max and
        header.heap_bytes > 0 and header.heap_offset + header.heap_bytes == header.file_bytes;
    if (!sound) {
        return problem(.layout, "the parts the header names do not tile the file (table at {d} for {d} records, heap at {d} for {d} bytes, file {d} bytes)", .{ header.table_offset, header.table_capacity, header.heap_offset, header.heap_bytes, header.file_bytes });
    }
    if (strategy == .fixed_size and header.table_capacity > header.heap_bytes / (layout.strideGranules() * granule_bytes)) {
        return problem(.layout, "{d} records for a heap of {d} bytes in {d}-byte blocks", .{ header.table_capacity, header.heap_bytes, layout.block_bytes });
    }
    return null;
}

pub fn strategyName(strategy: u32) []const u8 {
    return switch (std.meta.intToEnum(Strategy, strategy) catch return "unknown") {
        .fixed_size => "FixedSize",
        .variable => "Variable",
    };
}

const test_id: [16]u8 = @splat(7);

fn headerBytes(header: Header) [header_bytes]u8 {
    var page: [header_bytes]u8 = @splat(0);
    @memcpy(page[0..@sizeOf(Header)], std.mem.asBytes(&header));
    return page;
}

test "a planned header validates, and each kind of damage is named" {
    const variable: Layout = .{ .strategy = 1, .alignment = 16, .block_bytes = 0 };
    const header = plan(variable, 1 << 20, test_id).?;
    try std.testing.expectEqual(@as(u64, 1 << 20), header.file_bytes);
    try std.testing.expect(header.table_capacity * heap_bytes_per_record >= header.heap_bytes - page_bytes);
    var page = headerBytes(header);
    try std.testing.expect(validate(&page, header.file_bytes, "p") == null);
    try std.testing.expectEqual(Reason.truncated, validate(&page, header.file_bytes - page_bytes, "p").?.reason);
    try std.testing.expectEqual(Reason.extended, validate(&page, header.file_bytes + 1, "p").?.reason);
    try std.testing.expectEqual(Reason.truncated, validate(page[0..100], 100, "p").?.reason);
    try std.testing.expectEqual(Reason.magic, validate(page[0..0], 0, "p").?.reason);
    page[0] = 'X';
    try std.testing.expectEqual(Reason.magic, validate(&page, header.file_bytes, "p").?.reason);
    page[0] = 'M';
    page[@offsetOf(Header, "version")] = 2;
    try std.testing.expectEqual(Reason.version, validate(&page, header.file_bytes, "p").?.reason);
    page[@offsetOf(Header, "version")] = 1;
    page[@offsetOf(Header, "heap_bytes")] ^= 1;
    try std.testing.expectEqual(Reason.checksum, validate(&page, header.file_bytes, "p").?.reason);
    var bad = header;
    bad.layout.strategy = 9;
    bad.checksum = bad.computeChecksum();
    page = headerBytes(bad);
    const found = validate(&page, header.file_bytes, "p").?;
    try std.testing.expectEqual(Reason.layout, found.reason);
    try std.testing.expect(std.mem.indexOf(u8, found.message(), "unknown allocator layout 9") != null);
}

test "a fixed-size plan has a record for every block" {
    const fixed: Layout = .{ .strategy = 0, .alignment = 64, .block_bytes = 100 };
    const header = plan(fixed, 256 * 1024, test_id).?;
    try std.testing.expectEqual(@as(u64, 128), fixed.strideGranules() * granule_bytes);
    try std.testing.expectEqual(header.heap_bytes / 128, header.table_capacity);
    try std.testing.expect(plan(.{ .strategy = 0, .alignment = 16, .block_bytes = 1 << 20 }, 64 * 1024, test_id) == null);
}
