//! A pool's counters for pools used by many threads without one lock: each thread adds to one
//! of `stripe_count` cache-line-sized stripes (its own, while there are no more threads than
//! stripes), so counting costs an uncontended atomic add. A read sums the stripes.
//!
//! Exact: every operation is counted once, atomically; a read taken while operations are in
//! flight sees each of them either counted or not. Peaks are not exact: they are the largest
//! totals seen at reads and at every `peak_period`-th allocation of a thread (a lower bound).
const std = @import("std");
const assert = std.debug.assert;
const stats_mod = @import("../stats.zig");

pub const stripe_count = 16;
const peak_period = 64;

const Stripe = struct {
    allocations: std.atomic.Value(u64) align(std.atomic.cache_line) = .init(0),
    frees: std.atomic.Value(u64) = .init(0),
    /// Bytes asked for by allocations counted here, and by frees counted here: each only grows
    /// (a stripe may free what another allocated), so the sums are the pool's cumulative bytes.
    allocated_bytes: std.atomic.Value(u64) = .init(0),
    freed_bytes: std.atomic.Value(u64) = .init(0),
    failed: std.atomic.Value(u64) = .init(0),
};

var next_stripe: std.atomic.Value(u32) = .init(0);
threadlocal var my_stripe: ?u32 = null;
threadlocal var allocations_since_peak: u32 = 0;

pub const Totals = struct {
    allocations: u64,
    frees: u64,
    failed: u64,
    /// Bytes asked for by live allocations: allocated_bytes - freed_bytes, as read.
    requested_bytes: u64,
    allocated_bytes: u64,
    freed_bytes: u64,

    pub fn live(self: Totals) u64 {
        assert(self.allocations >= self.frees);
        return self.allocations - self.frees;
    }
};

pub const StripedCounters = struct {
    stripes: [stripe_count]Stripe = @splat(.{}),
    peak_live: std.atomic.Value(u64) = .init(0),
    peak_requested_bytes: std.atomic.Value(u64) = .init(0),

    inline fn mine(self: *StripedCounters) *Stripe {
        const index = my_stripe orelse blk: {
            const assigned = next_stripe.fetchAdd(1, .monotonic) % stripe_count;
            my_stripe = assigned;
            break :blk assigned;
        };
        return &self.stripes[index];
    }

    /// The count before the bytes (see `readUnclamped`).
    pub fn recordAlloc(self: *StripedCounters, requested_bytes: u64) void {
        const stripe = self.mine();
        _ = stripe.allocations.fetchAdd(1, .monotonic);
        _ = stripe.allocated_bytes.fetchAdd(requested_bytes, .release);
        allocations_since_peak += 1;
        if (allocations_since_peak >= peak_period) {
            allocations_since_peak = 0;
            self.notePeaks(self.read());
        }
    }

    /// Counts the free before the block can be reused, so a read never sees more frees than
    /// allocations; the bytes before the count (see `readUnclamped`).
    pub fn recordFree(self: *StripedCounters, requested_bytes: u64) void {
        const stripe = self.mine();
        _ = stripe.freed_bytes.fetchAdd(requested_bytes, .monotonic);
        _ = stripe.frees.fetchAdd(1, .release);
    }

    /// `count` allocations of `requested_bytes` in all at once (a PMEM pool's blocks found live at open).
    pub fn recordAllocs(self: *StripedCounters, count: u64, requested_bytes: u64) void {
        const stripe = self.mine();
        _ = stripe.allocations.fetchAdd(count, .monotonic);
        _ = stripe.allocated_bytes.fetchAdd(requested_bytes, .release);
    }

    /// `count` frees of `requested_bytes` in all at once (a pool's reset).
    pub fn recordFrees(self: *StripedCounters, count: u64, requested_bytes: u64) void {
        const stripe = self.mine();
        _ = stripe.freed_bytes.fetchAdd(requested_bytes, .monotonic);
        _ = stripe.frees.fetchAdd(count, .release);
    }

    pub fn recordFailure(self: *StripedCounters) void {
        _ = self.mine().failed.fetchAdd(1, .monotonic);
    }

    pub fn read(self: *StripedCounters) Totals {
        var totals = self.readUnclamped();
        if (totals.frees > totals.allocations) totals.frees = totals.allocations; // see readUnclamped: cannot happen, kept safe
        return totals;
    }

    /// The sums as counted. On their own the frees never exceed the allocations (see below); where
    /// other counters add to them (a pool's JavaScript caches: a block allocated there may be freed
    /// here), only the caller's sum of both balances, so it clamps that sum instead.
    pub fn readUnclamped(self: *StripedCounters) Totals {
        var totals: Totals = .{ .allocations = 0, .frees = 0, .failed = 0, .requested_bytes = 0, .allocated_bytes = 0, .freed_bytes = 0 };
        // Frees first: an allocation counted after its free was read would be read too, so
        // allocations >= frees holds even mid-flight (a block is allocated before it is freed). A
        // free's bytes are added before its count, an allocation's after: read in the other
        // order, the bytes of the frees read are all there, and the bytes of the allocations read
        // no more than theirs.
        for (&self.stripes) |*stripe| {
            totals.frees += stripe.frees.load(.acquire);
            totals.freed_bytes += stripe.freed_bytes.load(.monotonic);
        }
        for (&self.stripes) |*stripe| {
            totals.allocated_bytes += stripe.allocated_bytes.load(.acquire);
            totals.allocations += stripe.allocations.load(.acquire);
            totals.failed += stripe.failed.load(.monotonic);
        }
        // Mid-flight a free's bytes may be read before its allocation's: the difference then wraps.
        totals.requested_bytes = totals.allocated_bytes -% totals.freed_bytes;
        return totals;
    }

    pub fn notePeaks(self: *StripedCounters, totals: Totals) void {
        _ = self.peak_live.fetchMax(totals.live(), .monotonic);
        // Mid-flight the byte sum may be off by the operations in flight; a wrapped (negative) one is skipped.
        if (totals.requested_bytes < 1 << 62) _ = self.peak_requested_bytes.fetchMax(totals.requested_bytes, .monotonic);
    }

    /// Peaks start again from the totals now.
    pub fn resetPeaks(self: *StripedCounters) void {
        const totals = self.read();
        self.peak_live.store(totals.live(), .monotonic);
        self.peak_requested_bytes.store(if (totals.requested_bytes < 1 << 62) totals.requested_bytes else 0, .monotonic);
    }

    /// Writes the counts and peaks into `stats` (a copy of the pool's); returns the live count.
    /// Counts are exact once operations in flight finish; peaks are lower bounds.
    pub fn writeInto(self: *StripedCounters, stats: *stats_mod.Stats) u64 {
        const totals = self.read();
        self.notePeaks(totals);
        const live = totals.live();
        stats.allocation_count = totals.allocations;
        stats.free_count = totals.frees;
        stats.failed_allocations = totals.failed;
        stats.live_allocations = live;
        stats.bytes_in_use = totals.requested_bytes;
        stats.bytes_allocated_total = totals.allocated_bytes;
        stats.bytes_freed_total = totals.freed_bytes;
        stats.peak_live_allocations = @max(live, self.peak_live.load(.monotonic));
        stats.peak_bytes_in_use = @max(totals.requested_bytes, self.peak_requested_bytes.load(.monotonic));
        return live;
    }
};

test "striped counters add up across threads" {
    var counters: StripedCounters = .{};
    const Run = struct {
        fn run(c: *StripedCounters) void {
            for (0..10_000) |_| c.recordAlloc(10);
            for (0..5_000) |_| c.recordFree(10);
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads) |*t| t.* = try std.Thread.spawn(.{}, Run.run, .{&counters});
    for (threads) |t| t.join();
    const totals = counters.read();
    try std.testing.expectEqual(@as(u64, 40_000), totals.allocations);
    try std.testing.expectEqual(@as(u64, 20_000), totals.live());
    try std.testing.expectEqual(@as(u64, 200_000), totals.requested_bytes);
    try std.testing.expectEqual(@as(u64, 400_000), totals.allocated_bytes);
    try std.testing.expectEqual(@as(u64, 200_000), totals.freed_bytes);
    counters.resetPeaks();
    try std.testing.expectEqual(@as(u64, 20_000), counters.peak_live.load(.monotonic));
}
