//! Why a pool refused, as the typed errors its callers get (status.zig): no place for a request,
//! a pointer outside its regions, a free of an allocation already freed or of no block. Cold
//! paths: the hot ones test a result and call here only on failure. Asks the pool (pool.zig)
//! through its methods only.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const Error = status.Error;
const FreeResult = @import("strategy/placement.zig").FreeResult;
const tlsf_mod = @import("strategy/tlsf.zig");
const granule_bytes = @import("arena.zig").granule_bytes;
const os_refusal = @import("backend/os_refusal.zig");

pub fn PoolFailures(comptime Pool: type) type {
    return struct {
        /// Why `size` bytes found no place (the statistics layer counts the failure).
        pub fn failPlace(pool: *const Pool, size: u64) Error {
            if (failRefused(pool, size)) |refused| return refused;
            return status.fail(error.OutOfMemory, "pool '{s}' cannot place {d} bytes: {d} of at most {d} bytes reserved, none free in one piece", .{ pool.poolName(), size, pool.committedBytes(), reservableBytes(pool) });
        }

        /// Where the OS refused this thread's growth of the pool (`Pool.growFor` forgets older
        /// refusals), why, as the error for a request of `size` bytes; else null: the pool's own
        /// room ran out, and its caller says so.
        pub fn failRefused(pool: *const Pool, size: u64) ?Error {
            const refusal = os_refusal.lastRefusal() orelse return null;
            return failOsRefused(pool.poolName(), size, pool.committedBytes(), refusal);
        }

        /// The most bytes the pool may ever hold, for out-of-memory messages: its address space, or
        /// what it holds now where it never grows (growth 0: its reservation is no promise of room).
        pub fn reservableBytes(pool: *const Pool) u64 {
            assert(pool.committedBytes() <= pool.addressSpaceBytes());
            return if (pool.settings().growth == 0) pool.committedBytes() else pool.addressSpaceBytes();
        }

        /// Why the free of `g` freed nothing (`result` is not `.freed`).
        pub fn failBadFree(pool: *const Pool, result: FreeResult, g: u32) Error {
            @branchHint(.cold);
            assert(result != .freed);
            return tlsf_mod.failBadFree(result, g, pool.alignmentGranules(), pool.poolName());
        }

        pub fn failOutside(pool: *const Pool, g: u32) Error {
            assert(pool.regionOf(g) == @import("arena.zig").none);
            return status.fail(error.InvalidPointer, "pointer at offset {d} is not in any region of pool '{s}'", .{ @as(u64, g) * granule_bytes, pool.poolName() });
        }

        /// A handle freed allocation `expected_id`, but the block at `g` holds `live_id` (0: none).
        pub fn failStaleId(pool: *const Pool, g: u32, expected_id: u32, live_id: u32) Error {
            assert(expected_id != live_id);
            if (live_id == 0) return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed", .{ expected_id, @as(u64, g) * granule_bytes, pool.poolName() });
            return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed, and the block now holds allocation #{d}", .{ expected_id, @as(u64, g) * granule_bytes, pool.poolName(), live_id });
        }
    };
}

/// A request of `size` bytes for pool `name` (which holds `committed` bytes) that the OS refused:
/// at its limit on mappings (vm.max_map_count), or out of memory it will commit, or for another reason.
pub fn failOsRefused(name: []const u8, size: u64, committed: u64, refusal: os_refusal.Refusal) Error {
    @branchHint(.cold);
    assert(refusal.bytes > 0);
    if (refusal.atMapLimit()) return status.fail(error.OutOfMemory, "pool '{s}' cannot place {d} bytes: the OS refused it {d} more bytes because the process has {d} memory mappings, the kernel's limit (vm.max_map_count = {d}); raise the limit (sysctl -w vm.max_map_count=1048576), or make fewer mappings (fewer pools, guardPages on fewer of them)", .{ name, size, refusal.bytes, refusal.mappings, refusal.limit });
    if (refusal.err == error.OutOfMemory) return status.fail(error.OutOfMemory, "pool '{s}' cannot place {d} bytes: the OS refused it {d} more bytes ({d} committed): the system is out of the memory it will commit (vm.overcommit_memory and its commit limit, or the process's address-space limit, ulimit -v); free memory elsewhere or give pools a smaller maxSize", .{ name, size, refusal.bytes, committed });
    return status.fail(error.OutOfMemory, "pool '{s}' cannot place {d} bytes: the OS refused it {d} more bytes ({d} committed) with {s}", .{ name, size, refusal.bytes, committed, @errorName(refusal.err) });
}

test "an OS refusal is said as what it is: the limit on mappings, memory it will not commit, another error" {
    const name = "refused";
    try std.testing.expectEqual(error.OutOfMemory, failOsRefused(name, 100, 65536, .{ .err = error.OutOfMemory, .bytes = 131072, .mappings = 65530, .limit = 65530 }));
    try std.testing.expectEqualStrings("pool 'refused' cannot place 100 bytes: the OS refused it 131072 more bytes because the process has 65530 memory mappings, the kernel's limit (vm.max_map_count = 65530); raise the limit (sysctl -w vm.max_map_count=1048576), or make fewer mappings (fewer pools, guardPages on fewer of them)", status.lastMessage());
    try std.testing.expectEqual(error.OutOfMemory, failOsRefused(name, 100, 65536, .{ .err = error.OutOfMemory, .bytes = 131072, .mappings = 900, .limit = 65530 }));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "out of the memory it will commit") != null);
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "one piece") == null);
    try std.testing.expectEqual(error.OutOfMemory, failOsRefused(name, 100, 65536, .{ .err = error.AccessDenied, .bytes = 131072, .mappings = 65530, .limit = 65530 }));
    try std.testing.expect(std.mem.endsWith(u8, status.lastMessage(), "with AccessDenied"));
}

test "a pool's failures say what was refused: a place at most its reservation (what it holds, with growth off), a pointer outside, a stale id" {
    for ([_]f64{ 0, 1 }) |growth| {
        var config = config_mod.testConfig(.variable);
        config.growth = growth;
        const pool = try pool_mod.Pool.create(std.testing.allocator, "failing", config);
        defer pool.destroy();
        const Failures = PoolFailures(pool_mod.Pool);
        try std.testing.expectEqual(if (growth == 0) pool.committedBytes() else pool.addressSpaceBytes(), Failures.reservableBytes(pool));
        os_refusal.forgetRefusal(); // as growFor does: no refusal of the OS, so the pool's room ran out
        try std.testing.expectEqual(error.OutOfMemory, Failures.failPlace(pool, 1000));
        const expected = try std.fmt.allocPrint(std.testing.allocator, "pool 'failing' cannot place 1000 bytes: 65536 of at most {d} bytes reserved", .{Failures.reservableBytes(pool)});
        defer std.testing.allocator.free(expected);
        try std.testing.expect(std.mem.startsWith(u8, status.lastMessage(), expected));
    }
    const pool = try pool_mod.Pool.create(std.testing.allocator, "failing", config_mod.testConfig(.variable));
    defer pool.destroy();
    try std.testing.expectError(error.InvalidPointer, pool.free(@intCast(pool.addressSpaceBytes() / granule_bytes - 1), 0));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "not in any region of pool 'failing'") != null);
    const placed = try pool.alloc(100, null);
    _ = try pool.free(placed.g, placed.id);
    try std.testing.expectError(error.DoubleFree, pool.free(placed.g, placed.id));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "already freed") != null);
    const again = try pool.alloc(100, null);
    try std.testing.expectEqual(placed.g, again.g);
    try std.testing.expectError(error.DoubleFree, pool.free(placed.g, placed.id));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "now holds allocation") != null);
}

const pool_mod = @import("pool.zig"); // the tests make real pools
const config_mod = @import("config.zig");
