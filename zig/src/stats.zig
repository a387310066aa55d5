//! A pool's statistics record: its counters and how they are written out. Kept exact under the
//! pool's lock; timings are sampled (one operation in `timing_sample_period`) so that reading the
//! clock never dominates the hot path. counting.zig is the layer that counts and times.
const std = @import("std");
const assert = std.debug.assert;

pub const timing_sample_period = 256;

/// The order in which `write` lays the figures out; abi.zig describes it to TypeScript, so a new
/// figure is a new tag here (appended) and its value in `write`: src/stats.ts carries every one.
pub const Field = enum(u32) {
    bytes_in_use,
    bytes_allocated,
    peak_bytes_in_use,
    bytes_reserved,
    peak_bytes_reserved,
    address_space_bytes,
    region_count,
    allocation_count,
    free_count,
    failed_allocations,
    live_allocations,
    peak_live_allocations,
    free_bytes,
    largest_free_block,
    fragmentation,
    alloc_time_ns,
    free_time_ns,
    reset_count,
    trim_count,
    bytes_trimmed,
    growth_count,
    // Added after the first release of the record: appended, so older fields keep their places.
    /// Bytes asked for by every allocation so far, and by every free (a reset frees what was live).
    bytes_allocated_total,
    bytes_freed_total,
    /// How many operations the timings above were measured on: 0 means no sample yet.
    alloc_time_samples,
    free_time_samples,
    /// The debug layer's share of the reserved bytes (0 without it): inaccessible guard pages of
    /// live and quarantined blocks, free pages of its guard regions, blocks held in quarantine
    /// (their accessible bytes), and the canaries of live allocations (part of bytes_allocated).
    guard_page_bytes,
    guard_free_bytes,
    quarantined_bytes,
    canary_bytes,
    /// Free blocks held in JavaScript thread caches (sync/js_cache.zig): free, but not for other threads.
    cached_bytes,
};
pub const field_count = @typeInfo(Field).@"enum".fields.len;

var clock_overhead_once = std.once(measureClockOverhead);
var clock_overhead_ns: u64 = 0;

/// What two back-to-back clock reads measure with nothing between them: taken off each sample,
/// so a sampled duration is the operation's and not the clock's.
fn clockOverheadNs() u64 {
    clock_overhead_once.call();
    return clock_overhead_ns;
}

fn measureClockOverhead() void {
    var least: u64 = std.math.maxInt(u64);
    for (0..64) |_| {
        const start = std.time.Instant.now() catch return;
        const end = std.time.Instant.now() catch return;
        least = @min(least, end.since(start));
    }
    clock_overhead_ns = least;
}

pub const Stats = struct {
    enabled: bool,
    bytes_in_use: u64 = 0,
    bytes_allocated: u64 = 0,
    peak_bytes_in_use: u64 = 0,
    peak_bytes_reserved: u64 = 0,
    allocation_count: u64 = 0,
    free_count: u64 = 0,
    failed_allocations: u64 = 0,
    live_allocations: u64 = 0,
    peak_live_allocations: u64 = 0,
    reset_count: u64 = 0,
    trim_count: u64 = 0,
    bytes_trimmed: u64 = 0,
    growth_count: u64 = 0,
    bytes_allocated_total: u64 = 0,
    bytes_freed_total: u64 = 0,
    cached_bytes: u64 = 0,
    alloc_samples: u64 = 0,
    alloc_sample_ns: u64 = 0,
    free_samples: u64 = 0,
    free_sample_ns: u64 = 0,

    pub fn recordAlloc(self: *Stats, requested_bytes: u64, block_bytes: u64) void {
        assert(block_bytes >= requested_bytes);
        self.bytes_in_use += requested_bytes;
        self.bytes_allocated += block_bytes;
        self.bytes_allocated_total += requested_bytes;
        self.live_allocations += 1;
        self.allocation_count += 1;
        if (!self.enabled) return;
        self.peak_bytes_in_use = @max(self.peak_bytes_in_use, self.bytes_in_use);
        self.peak_live_allocations = @max(self.peak_live_allocations, self.live_allocations);
    }

    pub fn recordFree(self: *Stats, requested_bytes: u64, block_bytes: u64) void {
        assert(self.bytes_in_use >= requested_bytes and self.bytes_allocated >= block_bytes);
        assert(self.live_allocations > 0);
        self.bytes_in_use -= requested_bytes;
        self.bytes_allocated -= block_bytes;
        self.bytes_freed_total += requested_bytes;
        self.live_allocations -= 1;
        self.free_count += 1;
    }

    pub fn recordReserved(self: *Stats, committed_bytes: u64) void {
        self.peak_bytes_reserved = @max(self.peak_bytes_reserved, committed_bytes);
    }

    pub fn recordReset(self: *Stats) void {
        self.free_count += self.live_allocations;
        self.bytes_freed_total += self.bytes_in_use;
        self.bytes_in_use = 0;
        self.bytes_allocated = 0;
        self.live_allocations = 0;
        self.reset_count += 1;
    }

    /// Peaks start again from what is live and committed now (a phase of a program measured alone).
    pub fn resetPeaks(self: *Stats, committed_bytes: u64) void {
        self.peak_bytes_in_use = self.bytes_in_use;
        self.peak_live_allocations = self.live_allocations;
        self.peak_bytes_reserved = committed_bytes;
    }

    /// Whether this operation is one whose duration is sampled. Not the first of a pool, which
    /// pays for cold caches and would skew a short run's mean.
    pub inline fn sampleNow(self: *const Stats, count: u64) bool {
        return self.enabled and count % timing_sample_period == timing_sample_period - 1;
    }

    /// The timings measured so far are dropped: from now on the pool is not timed (its
    /// allocations are mostly made where no clock runs: sync/js_bins.zig), and a part would mislead.
    pub fn dropTimings(self: *Stats) void {
        self.alloc_samples = 0;
        self.alloc_sample_ns = 0;
        self.free_samples = 0;
        self.free_sample_ns = 0;
    }

    pub fn recordAllocTime(self: *Stats, ns: u64) void {
        self.alloc_samples += 1;
        self.alloc_sample_ns += ns -| clockOverheadNs();
    }

    pub fn recordFreeTime(self: *Stats, ns: u64) void {
        self.free_samples += 1;
        self.free_sample_ns += ns -| clockOverheadNs();
    }

    /// `largest_free` is the largest piece of free space: a fixed-size pool's is its longest run of
    /// free blocks in a row. `request_max` is the largest request the pool takes at all (sizeMax):
    /// the statistics say the largest request the free space serves, the smaller of the two, and no
    /// fragmentation where that is every request (a PMEM FixedSize pool serves one block, from any).
    /// `request_overhead`: the bytes a block holds besides its request (the debug layer's canaries),
    /// which the largest request the free space serves leaves out, and fragmentation does not count.
    pub const Space = struct { reserved: u64, address_space: u64, regions: u64, free: u64, largest_free: u64, request_max: u64 = std.math.maxInt(u64), request_overhead: u64 = 0, debug: DebugSpace = .{} };

    /// What the debug layer holds of the reserved bytes (see the fields of the same names).
    pub const DebugSpace = struct { guard_page_bytes: u64 = 0, guard_free_bytes: u64 = 0, quarantined_bytes: u64 = 0, canary_bytes: u64 = 0 };

    pub fn write(self: *const Stats, space: Space, out: *[field_count]f64) void {
        assert(space.largest_free <= space.free);
        const f = struct {
            fn of(value: u64) f64 {
                return @floatFromInt(value);
            }
        }.of;
        out.* = @splat(0);
        out[@intFromEnum(Field.bytes_in_use)] = f(self.bytes_in_use);
        out[@intFromEnum(Field.bytes_allocated)] = f(self.bytes_allocated);
        out[@intFromEnum(Field.peak_bytes_in_use)] = f(self.peak_bytes_in_use);
        out[@intFromEnum(Field.bytes_reserved)] = f(space.reserved);
        out[@intFromEnum(Field.peak_bytes_reserved)] = f(@max(self.peak_bytes_reserved, space.reserved));
        out[@intFromEnum(Field.address_space_bytes)] = f(space.address_space);
        out[@intFromEnum(Field.region_count)] = f(space.regions);
        out[@intFromEnum(Field.allocation_count)] = f(self.allocation_count);
        out[@intFromEnum(Field.free_count)] = f(self.free_count);
        out[@intFromEnum(Field.failed_allocations)] = f(self.failed_allocations);
        out[@intFromEnum(Field.live_allocations)] = f(self.live_allocations);
        out[@intFromEnum(Field.peak_live_allocations)] = f(self.peak_live_allocations);
        out[@intFromEnum(Field.free_bytes)] = f(space.free);
        const largest_request = @min(space.largest_free -| space.request_overhead, space.request_max);
        out[@intFromEnum(Field.largest_free_block)] = f(largest_request);
        out[@intFromEnum(Field.fragmentation)] = if (space.free == 0 or largest_request == space.request_max) 0 else 1.0 - f(@min(space.largest_free, space.request_max)) / f(space.free);
        out[@intFromEnum(Field.alloc_time_ns)] = if (self.alloc_samples == 0) 0 else f(self.alloc_sample_ns) / f(self.alloc_samples);
        out[@intFromEnum(Field.free_time_ns)] = if (self.free_samples == 0) 0 else f(self.free_sample_ns) / f(self.free_samples);
        out[@intFromEnum(Field.reset_count)] = f(self.reset_count);
        out[@intFromEnum(Field.trim_count)] = f(self.trim_count);
        out[@intFromEnum(Field.bytes_trimmed)] = f(self.bytes_trimmed);
        out[@intFromEnum(Field.growth_count)] = f(self.growth_count);
        out[@intFromEnum(Field.bytes_allocated_total)] = f(self.bytes_allocated_total);
        out[@intFromEnum(Field.bytes_freed_total)] = f(self.bytes_freed_total);
        out[@intFromEnum(Field.alloc_time_samples)] = f(self.alloc_samples);
        out[@intFromEnum(Field.free_time_samples)] = f(self.free_samples);
        out[@intFromEnum(Field.guard_page_bytes)] = f(space.debug.guard_page_bytes);
        out[@intFromEnum(Field.guard_free_bytes)] = f(space.debug.guard_free_bytes);
        out[@intFromEnum(Field.quarantined_bytes)] = f(space.debug.quarantined_bytes);
        out[@intFromEnum(Field.canary_bytes)] = f(space.debug.canary_bytes);
        out[@intFromEnum(Field.cached_bytes)] = f(self.cached_bytes);
    }
};


test "stats track peaks and fragmentation" {
    var stats: Stats = .{ .enabled = true };
    stats.recordAlloc(100, 112);
    stats.recordAlloc(50, 64);
    stats.recordFree(100, 112);
    var out: [field_count]f64 = undefined;
    stats.write(.{ .reserved = 4096, .address_space = 8192, .regions = 1, .free = 1000, .largest_free = 750 }, &out);
    try std.testing.expectEqual(@as(f64, 50), out[@intFromEnum(Field.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 150), out[@intFromEnum(Field.peak_bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(Field.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 0.25), out[@intFromEnum(Field.fragmentation)]);
    try std.testing.expectEqual(@as(f64, 150), out[@intFromEnum(Field.bytes_allocated_total)]);
    try std.testing.expectEqual(@as(f64, 100), out[@intFromEnum(Field.bytes_freed_total)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(Field.alloc_time_samples)]);
}

test "reset peaks start from what is live; a reset counts the live bytes as freed" {
    var stats: Stats = .{ .enabled = true };
    stats.recordAlloc(100, 112);
    stats.recordAlloc(50, 64);
    stats.recordFree(100, 112);
    stats.resetPeaks(4096);
    try std.testing.expectEqual(@as(u64, 50), stats.peak_bytes_in_use);
    try std.testing.expectEqual(@as(u64, 1), stats.peak_live_allocations);
    stats.recordReset();
    try std.testing.expectEqual(@as(u64, 150), stats.bytes_freed_total);
    try std.testing.expectEqual(stats.bytes_allocated_total, stats.bytes_freed_total);
}

test "the largest free block is the largest request the pool takes, and a pool that serves every request it takes has no fragmentation" {
    var stats: Stats = .{ .enabled = true };
    var out: [field_count]f64 = undefined;
    stats.write(.{ .reserved = 4096, .address_space = 4096, .regions = 1, .free = 4000, .largest_free = 4000, .request_max = 128 }, &out);
    try std.testing.expectEqual(@as(f64, 128), out[@intFromEnum(Field.largest_free_block)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(Field.fragmentation)]);
    stats.write(.{ .reserved = 4096, .address_space = 4096, .regions = 1, .free = 4000, .largest_free = 1000, .request_max = 2000 }, &out);
    try std.testing.expectEqual(@as(f64, 1000), out[@intFromEnum(Field.largest_free_block)]);
    try std.testing.expectEqual(@as(f64, 0.75), out[@intFromEnum(Field.fragmentation)]);
    // Canaries: the largest request leaves out a block's overhead; one piece is still no fragmentation.
    stats.write(.{ .reserved = 4096, .address_space = 4096, .regions = 1, .free = 4000, .largest_free = 4000, .request_max = 8000, .request_overhead = 32 }, &out);
    try std.testing.expectEqual(@as(f64, 3968), out[@intFromEnum(Field.largest_free_block)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(Field.fragmentation)]);
}
