//! Opening a PMEM pool: the pool file is mapped (created where none exists), its header checked
//! against the config's layout, and the one Pool (pool.zig) made over it: the PMEM backend
//! (backend/pmem_file.zig) gives the arena the mapping, the journal (journal.zig) keeps what is
//! durable and rebuilds placement from the file. Everything read is validated first, so a damaged
//! file is refused untouched.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const pool_mod = @import("../pool.zig");
const config_mod = @import("../config.zig");
const arena_mod = @import("../arena.zig");
const PmemFile = @import("../backend/pmem_file.zig").PmemFile;
const libpmem = @import("libpmem.zig");
const crash_points = @import("crash_points.zig");
const format = @import("format.zig");
const file = @import("file.zig");
const dram = @import("dram.zig");
const journal_mod = @import("journal.zig");
const Journal = journal_mod.Journal;

pub const Config = struct {
    base: config_mod.Config,
    path: []const u8,

    fn layout(self: Config) format.Layout {
        return .{
            .strategy = @intFromEnum(@as(format.Strategy, switch (self.base.strategy) {
                .fixed_size => .fixed_size,
                .variable => .variable,
            })),
            .alignment = @intCast(self.base.alignment),
            .block_bytes = if (self.base.strategy == .fixed_size) self.base.block_size else 0,
        };
    }
};

/// Opens (or creates) the pool file `config.path` as pool `name`. The pool's kind is PMEM, its
/// initialSize the file's size; it never grows.
pub fn open(gpa: std.mem.Allocator, name: []const u8, config: Config) Error!*pool_mod.Pool {
    assert(name.len > 0);
    journal_mod.last_reason = .none;
    _ = libpmem.api() catch return status.fail(error.PmemUnavailable, "PMEM pools need libpmem: {s}", .{libpmem.unavailableReason()});
    crash_points.init();
    if (config.path.len == 0 or config.path.len > file.path_bytes_max or std.mem.indexOfScalar(u8, config.path, 0) != null) {
        return status.failConfig("pmemPoolPath", "pmemPoolPath must name a file (1 to {d} bytes, no NUL), got {d} bytes", .{ file.path_bytes_max, config.path.len });
    }
    // A trailing '/' names a directory: the kernel would refuse the file, and the directory the
    // file is created in (the part before the last '/') would be the path itself.
    if (config.path[config.path.len - 1] == '/') {
        return status.failConfig("pmemPoolPath", "pmemPoolPath must name a file, not a directory: '{s}' ends in '/'", .{config.path});
    }
    const owned_path = gpa.dupeZ(u8, config.path) catch return outOfMemory();
    var path_owned = true;
    defer if (path_owned) gpa.free(owned_path);

    const layout = config.layout();
    var pool_id: [16]u8 = undefined;
    std.crypto.random.bytes(&pool_id);
    const planned = format.plan(layout, config.base.initial_size, pool_id);
    var failure: file.Failure = undefined;
    const opened = file.openOrCreate(owned_path, if (planned) |*header| header else null, &failure) orelse {
        if (failure.kind == .format) journal_mod.last_reason = failure.reason;
        return switch (failure.kind) {
            .file => status.fail(error.PmemFile, "{s}", .{failure.message()}),
            .format => status.fail(error.PmemFormat, "{s}", .{failure.message()}),
            .config => status.failConfig("initialSize", "{s}", .{failure.message()}), // file.zig: the only config failure
        };
    };
    var mapped = opened.mapped;
    var header: format.Header = undefined;
    @memcpy(std.mem.asBytes(&header), mapped.base[0..@sizeOf(format.Header)]);
    if (!header.layout.eql(layout)) {
        mapped.close();
        journal_mod.last_reason = .layout;
        return status.fail(error.PmemFormat, "'{s}' was made for a {f} pool; this config asks for a {f} pool: open it with the layout it was made with", .{ owned_path, header.layout, layout });
    }
    if (header.file_bytes > arena_mod.reserve_bytes_max) {
        mapped.close();
        return status.failConfig("initialSize", "'{s}' holds {d} bytes; a pool's memory is at most {d} bytes", .{ owned_path, header.file_bytes, arena_mod.reserve_bytes_max });
    }
    const backing = PmemFile.create(gpa, mapped, owned_path, opened.created) orelse {
        mapped.close();
        return outOfMemory();
    };
    path_owned = false; // the backing frees it
    const journal = Journal.create(gpa, dram.allocator, backing, header) orelse {
        backing.destroy();
        return outOfMemory();
    };
    var pool_config = config.base;
    pool_config.kind = .pmem;
    pool_config.initial_size = header.file_bytes;
    pool_config.max_size = 0;
    pool_config.growth = 0;
    return pool_mod.Pool.createOver(gpa, name, pool_config, .{ .pmem = backing }, journal);
}

fn outOfMemory() Error {
    return status.fail(error.OutOfMemory, "no memory for a PMEM pool's bookkeeping", .{});
}

test "a PMEM pool is the one pool: it allocates, frees, resets and reopens with what was published" {
    _ = libpmem.api() catch return; // no libpmem here: nothing to open
    const path = "/dev/shm/memory-pool-zig-open-test.pool";
    std.fs.deleteFileAbsolute(path) catch {};
    defer std.fs.deleteFileAbsolute(path) catch {};
    var base = config_mod.testConfig(.variable);
    base.initial_size = 1024 * 1024;
    const config: Config = .{ .base = base, .path = path };
    {
        const pool = try open(std.testing.allocator, "pmem-open-test", config);
        defer pool.destroy();
        try std.testing.expectEqual(@as(u32, 1), @as(u32, @intCast(pool.regionList().len)));
        const kept = try pool.alloc(100, null);
        const dropped = try pool.alloc(200, null);
        try pool.journalOf().?.setRoot(pool, "kept", kept.g, kept.id, false);
        try std.testing.expectError(error.PmemRoot, pool.free(kept.g, kept.id)); // a root publishes it
        _ = try pool.free(dropped.g, dropped.id);
        try std.testing.expectError(error.DoubleFree, pool.free(dropped.g, dropped.id));
        _ = try pool.alloc(300, null); // never published: free after a restart
        try std.testing.expectEqual(@as(u64, 2), pool.statsRecord().live_allocations);
    }
    {
        const pool = try open(std.testing.allocator, "pmem-open-test", config);
        defer pool.destroy();
        try std.testing.expectEqual(@as(u64, 1), pool.statsRecord().live_allocations);
        const kept = try pool.journalOf().?.getRoot(pool, "kept");
        try std.testing.expectEqual(@as(u64, 100), pool.lookup(kept).?.requested_bytes);
        try pool.reset();
        try std.testing.expect(pool.lookup(kept) == null);
        try std.testing.expectEqual(@as(u32, 0), try pool.journalOf().?.getRoot(pool, "kept"));
    }
    // Another layout is refused, and the file is left as it was.
    var fixed = config;
    fixed.base = config_mod.testConfig(.fixed_size);
    try std.testing.expectError(error.PmemFormat, open(std.testing.allocator, "pmem-open-test", fixed));
    try std.testing.expectEqual(format.Reason.layout, journal_mod.last_reason);
}
