//! The pool file's format: where each part lies, and the header that says so.
//!
//!   [0, 4 KiB)          header: magic, format version, layout, sizes, CRC-32; written once at creation
//!   [4 KiB, 8 KiB)      redo log (redo_log.zig): multi-word changes such as "publish a block as a root"
//!   [8 KiB, 12 KiB)     named roots (roots.zig): 64 slots of 64 bytes
//!   [12 KiB, heap)      allocation table (table.zig): one 8-byte record a possible allocation
//!   [heap, file end)    the heap: what users allocate; page-aligned, so block alignment carries over
//!
//! Everything is little-endian. The header never changes after creation, so its checksum (over the
//! whole header page) is checked once on open. What changes is changed one 8-byte word at a time,
//! so each word that means something carries its own check, written in the same store: a table
//! record has a parity bit, a root's target word a CRC-32 of its slot, the redo log's count word a
//! CRC-32 of its entries. A flipped bit anywhere in the header or in a word in use is refused, and
//! recovery validates what the checks cannot (offsets, overlaps, liveness). Validation only reads:
//! a file that fails it is left untouched.
//!
//! Version 2 added the page-wide header checksum and the per-word checks. Version 3 writes an
//! allocation's record only when the allocation is published (a root, a link, or an explicit
//! commit: table.zig), and its redo log may write link words in the heap (links.zig): a version 2
//! reader would refuse such a log, and read a version 2 file's unpublished allocations as
//! published. Other versions are refused as such.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;

comptime {
    assert(builtin.cpu.arch.endian() == .little); // the format is little-endian and read in place
}

pub const magic = "MPOOLPM\x00".*;
pub const version: u32 = 3;
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

    /// "Variable, alignment 16" or "FixedSize, alignment 64, blocks of 100 bytes", for messages.
    pub fn format(self: Layout, writer: *std.Io.Writer) std.Io.Writer.Error!void {
        try writer.print("{s}, alignment {d}", .{ strategyName(self.strategy), self.alignment });
        if (self.block_bytes != 0) try writer.print(", blocks of {d} bytes", .{self.block_bytes});
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
    reserved: u32, // 0
    checksum: u32, // see pageChecksum

    pub const checksum_offset = @offsetOf(Header, "checksum");

    /// The checksum of the header page this header makes (the rest of the page is zero).
    pub fn computeChecksum(self: *const Header) u32 {
        var page: [header_bytes]u8 = @splat(0);
        @memcpy(page[0..@sizeOf(Header)], std.mem.asBytes(self));
        return pageChecksum(&page);
    }
};

/// CRC-32 (IEEE) of the whole header page, its checksum field read as zero: a flip of any bit of
/// the page, used or not, is caught.
pub fn pageChecksum(page: *const [header_bytes]u8) u32 {
    var crc = std.hash.Crc32.init();
    crc.update(page[0..Header.checksum_offset]);
    crc.update(&[_]u8{0} ** @sizeOf(u32));
    crc.update(page[Header.checksum_offset + @sizeOf(u32) ..]);
    return crc.final();
}

comptime {
    assert(@sizeOf(Header) == 120 and Header.checksum_offset == 116);
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
    assert(header.heap_offset + header.heap_bytes == header.file_bytes and header.table_capacity * record_bytes <= table_bytes);
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
    if (bytes.len >= @offsetOf(Header, "version") + @sizeOf(u32)) {
        const found = std.mem.readInt(u32, bytes[@offsetOf(Header, "version")..][0..4], .little);
        if (found != version) return problem(.version, "'{s}' has format version {d}; this library reads version {d} only", .{ path, found, version });
    }
    if (bytes.len < header_bytes) {
        return problem(.truncated, "'{s}' is truncated: {d} bytes, too short for its own header ({d} bytes)", .{ path, file_bytes, header_bytes });
    }
    var header: Header = undefined;
    @memcpy(std.mem.asBytes(&header), bytes[0..@sizeOf(Header)]);
    const computed = pageChecksum(bytes[0..header_bytes]);
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
    if (header.reserved != 0) return problem(.layout, "the reserved field is {d}, not 0", .{header.reserved});
    // Each part is compared with its bounds before anything is computed from it: no sum or
    // difference below can wrap (every operand is at most file_bytes_max by then).
    const sound = header.header_bytes == @sizeOf(Header) and
        header.log_offset == log_offset and header.roots_offset == roots_offset and
        header.root_capacity == root_capacity and header.table_offset == table_offset and
        header.file_bytes % page_bytes == 0 and header.file_bytes <= file_bytes_max and
        header.heap_offset % page_bytes == 0 and header.heap_offset > table_offset and header.heap_offset < header.file_bytes and
        header.heap_bytes > 0 and header.heap_bytes == header.file_bytes - header.heap_offset and
        header.table_capacity > 0 and header.table_capacity <= (header.heap_offset - table_offset) / record_bytes;
    if (!sound) {
        return problem(.layout, "the parts the header names do not tile the file (table at {d} for {d} records, heap at {d} for {d} bytes, file {d} bytes)", .{ header.table_offset, header.table_capacity, header.heap_offset, header.heap_bytes, header.file_bytes });
    }
    switch (strategy) {
        .fixed_size => if (layout.block_bytes == 0 or layout.block_bytes > header.heap_bytes)
            return problem(.layout, "block size {d} does not fit the heap of {d} bytes", .{ layout.block_bytes, header.heap_bytes }),
        .variable => if (layout.block_bytes != 0) return problem(.layout, "a Variable layout has no block size, found {d}", .{layout.block_bytes}),
    }
    if (strategy == .fixed_size and header.table_capacity > header.heap_bytes / (layout.strideGranules() * granule_bytes)) {
        return problem(.layout, "{d} records for a heap of {d} bytes in {d}-byte blocks", .{ header.table_capacity, header.heap_bytes, layout.block_bytes });
    }
    // The parts are a function of the layout and the file's size (`plan`): a header that tiles
    // the file some other way (a smaller table, say) was not written by this format.
    const planned = plan(layout, header.file_bytes, header.pool_id) orelse
        return problem(.layout, "a {f} pool cannot be {d} bytes", .{ layout, header.file_bytes });
    if (planned.table_capacity != header.table_capacity or planned.heap_offset != header.heap_offset) {
        return problem(.layout, "a table of {d} records and a heap at {d}, where a {f} file of {d} bytes has {d} records and its heap at {d}", .{ header.table_capacity, header.heap_offset, layout, header.file_bytes, planned.table_capacity, planned.heap_offset });
    }
    assert(planned.heap_bytes == header.heap_bytes);
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
    for ([_]u8{ 1, 2, 4 }) |other| {
        page[@offsetOf(Header, "version")] = other;
        try std.testing.expectEqual(Reason.version, validate(&page, header.file_bytes, "p").?.reason);
    }
    page[@offsetOf(Header, "version")] = version;
    page[@offsetOf(Header, "heap_bytes")] ^= 1;
    try std.testing.expectEqual(Reason.checksum, validate(&page, header.file_bytes, "p").?.reason);
    page[@offsetOf(Header, "heap_bytes")] ^= 1;
    page[header_bytes - 1] ^= 0x80; // past the header's fields: still covered
    try std.testing.expectEqual(Reason.checksum, validate(&page, header.file_bytes, "p").?.reason);
    var bad = header;
    bad.layout.strategy = 9;
    bad.checksum = bad.computeChecksum();
    page = headerBytes(bad);
    const found = validate(&page, header.file_bytes, "p").?;
    try std.testing.expectEqual(Reason.layout, found.reason);
    try std.testing.expect(std.mem.indexOf(u8, found.message(), "unknown allocator layout 9") != null);
}

test "hostile sizes with a valid checksum are refused as layout, without wrapping arithmetic" {
    const variable: Layout = .{ .strategy = 1, .alignment = 16, .block_bytes = 0 };
    const header = plan(variable, 1 << 20, test_id).?;
    const Case = struct { field: []const u8, value: u64 };
    const max = std.math.maxInt(u64);
    const cases = [_]Case{
        .{ .field = "heap_offset", .value = 0 }, // below the table's start
        .{ .field = "heap_offset", .value = table_offset - page_bytes },
        .{ .field = "heap_offset", .value = max - page_bytes + 1 },
        .{ .field = "file_bytes", .value = max - page_bytes + 1 },
        .{ .field = "table_capacity", .value = max },
        .{ .field = "table_capacity", .value = header.table_capacity - 1 }, // tiles the file, but not as planned
        .{ .field = "heap_bytes", .value = 0 },
    };
    for (cases) |case| {
        var bad = header;
        inline for (.{ "heap_offset", "heap_bytes", "file_bytes", "table_capacity" }) |name| {
            if (std.mem.eql(u8, case.field, name)) @field(bad, name) = case.value;
        }
        bad.checksum = bad.computeChecksum();
        const page = headerBytes(bad);
        try std.testing.expectEqual(Reason.layout, validate(&page, header.file_bytes, "p").?.reason);
    }
    // A heap that starts past the end and wraps around to it: heap_offset + heap_bytes overflows to file_bytes.
    var wrapping = header;
    wrapping.heap_offset = max - page_bytes + 1;
    wrapping.heap_bytes = header.file_bytes + page_bytes;
    wrapping.checksum = wrapping.computeChecksum();
    try std.testing.expectEqual(Reason.layout, validate(&headerBytes(wrapping), header.file_bytes, "p").?.reason);
    var fixed_header = plan(.{ .strategy = 0, .alignment = 16, .block_bytes = 64 }, 1 << 20, test_id).?;
    fixed_header.layout.block_bytes = max;
    fixed_header.checksum = fixed_header.computeChecksum();
    const page = headerBytes(fixed_header);
    try std.testing.expectEqual(Reason.layout, validate(&page, fixed_header.file_bytes, "p").?.reason);
}

test "a fixed-size plan has a record for every block" {
    const fixed: Layout = .{ .strategy = 0, .alignment = 64, .block_bytes = 100 };
    const header = plan(fixed, 256 * 1024, test_id).?;
    try std.testing.expectEqual(@as(u64, 128), fixed.strideGranules() * granule_bytes);
    try std.testing.expectEqual(header.heap_bytes / 128, header.table_capacity);
    try std.testing.expect(plan(.{ .strategy = 0, .alignment = 16, .block_bytes = 1 << 20 }, 64 * 1024, test_id) == null);
}
