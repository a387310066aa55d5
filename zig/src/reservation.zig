//! How much address space a pool reserves when it is made (pool.zig createOver): its maxSize,
//! or the most an arena may take (arena.reserve_bytes_max) where it has none, as the backend
//! trims it; and the least it accepts where the process's address space runs short. Decided
//! from the pool's settings and backend alone, before anything is reserved.
const std = @import("std");
const assert = std.debug.assert;
const arena_mod = @import("arena.zig");
const Backend = @import("backend.zig").Backend;
const Config = @import("config.zig").Config;

const granule_bytes = arena_mod.granule_bytes;

pub const Reservation = struct {
    /// The bytes to reserve.
    bytes: u64,
    /// The least the pool takes where the OS grants less (Arena.initShrinking).
    least_bytes: u64,
};

/// The reservation of a pool with `config` over `backend`, whose GPU allocations hold
/// `device_canary_bytes` of canary on each side (pool.zig deviceCanaryBytes). A mapped file
/// (PMEM) is taken whole.
pub fn plan(config: Config, backend: Backend, device_canary_bytes: u64) Reservation {
    if (backend.mappedBytes()) |mapped| return .{ .bytes = mapped, .least_bytes = mapped };
    const granularity = backend.granularity();
    assert(granularity > 0 and std.math.isPowerOfTwo(config.alignment));
    const wanted_bytes = if (config.max_size == 0)
        arena_mod.reserve_bytes_max
    else
        @min(arena_mod.reserve_bytes_max, std.mem.alignForward(u64, config.max_size, granularity));
    // At least the first region (below): a fixed-size block, with device canaries, may pass initialSize.
    const first_region_bound = std.mem.alignForward(u64, @max(config.initial_size, config.block_size + 2 * device_canary_bytes + @max(config.alignment, granule_bytes)), granularity);
    const reserve_bytes = backend.reservationBytes(wanted_bytes, first_region_bound, config.growth != 0, config.max_size != 0);
    // A pool with a maxSize reserves just that; one without takes 64 GiB, or less where the
    // process's address space runs short, but never less than its first region.
    const least_bytes = if (config.max_size == 0) std.mem.alignForward(u64, config.initial_size, granularity) else reserve_bytes;
    assert(least_bytes <= reserve_bytes);
    return .{ .bytes = reserve_bytes, .least_bytes = least_bytes };
}

test "a pool reserves its maxSize in whole commit units, and takes no less; without one, the most an arena may, and takes its first region at least" {
    const testConfig = @import("config.zig").testConfig;
    var config = testConfig(.variable);
    config.max_size = 200 * 1024; // rounded up to 64 KiB units
    try std.testing.expectEqual(Reservation{ .bytes = 256 * 1024, .least_bytes = 256 * 1024 }, plan(config, .host, 64));
    config.max_size = 0;
    config.initial_size = 100 * 1024;
    try std.testing.expectEqual(Reservation{ .bytes = arena_mod.reserve_bytes_max, .least_bytes = 128 * 1024 }, plan(config, .host, 64));
    config.max_size = 1 << 50; // past what an arena may reserve
    try std.testing.expectEqual(arena_mod.reserve_bytes_max, plan(config, .host, 64).bytes);
}
