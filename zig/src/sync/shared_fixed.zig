//! The pool side of a fixed-size pool that many threads use without the pool's lock: `lockFree`
//! pools and pools with `threadLocalCache`. Placement is lockfree_fixed.zig (its free stack under
//! a mutex for "mutex" pools), optionally behind per-thread magazines (thread_cache.zig);
//! counting is striped_counters.zig. Growth, the one rare and slow step, is serialised by
//! `growth_mutex`; a thread that finds no free block takes it, looks again, and grows.
//!
//! A request over one block is a run of contiguous blocks (as in strategy/fixed.zig), gathered on a
//! slow, locked path: under `growth_mutex` the free stack is drained, sorted, searched for the
//! blocks in a row, and given back without them (growing once where no run is found). Blocks in
//! thread magazines are not seen meanwhile; threads that find the stack empty wait on the growth lock.
//!
//! Invariants: the arena, its regions and the pool's growth figures change only under
//! `growth_mutex`; `run_blocks` counts the blocks live runs hold beyond their first; every block is exactly one of: live (state word holds its id), on the shared
//! stack, or in one thread's magazine (both free: state word flagged freed).
const std = @import("std");
const assert = std.debug.assert;
const lockfree_fixed = @import("lockfree_fixed.zig");
const LockFreeFixed = lockfree_fixed.LockFreeFixed;
const StripedCounters = @import("striped_counters.zig").StripedCounters;
const thread_cache = @import("thread_cache.zig");
const stats_mod = @import("../stats.zig");
const status = @import("../status.zig");
const Error = status.Error;

var next_serial: std.atomic.Value(u64) = .init(1);

pub const SharedFixed = struct {
    gpa: std.mem.Allocator,
    fixed: LockFreeFixed,
    cached: bool,
    stride_bytes: u64,
    /// Names this pool for the thread caches' lifetime; never reused.
    serial: u64,
    /// Set once the registry publishes the pool (thread caches find it again by handle).
    handle: i32 = -1,
    growth_mutex: std.Thread.Mutex = .{},
    counters: StripedCounters = .{},
    /// Blocks held by live runs beyond their first blocks (the counters count a run once).
    run_blocks: std.atomic.Value(u64) = .init(0),

    pub fn create(gpa: std.mem.Allocator, stride_granules: u32, granule_bytes: u64, reserved_bytes: u64, lock_free: bool, cached: bool) Error!*SharedFixed {
        const self = gpa.create(SharedFixed) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        errdefer gpa.destroy(self);
        self.* = .{
            .gpa = gpa,
            .fixed = LockFreeFixed.init(gpa, stride_granules, reserved_bytes / granule_bytes, lock_free) catch
                return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{}),
            .cached = cached,
            .stride_bytes = stride_granules * granule_bytes,
            .serial = next_serial.fetchAdd(1, .monotonic),
        };
        return self;
    }

    pub fn destroy(self: *SharedFixed) void {
        self.fixed.deinit();
        self.gpa.destroy(self);
    }

    fn owner(self: *const SharedFixed) thread_cache.Owner {
        assert(self.handle >= 0);
        return .{ .handle = self.handle, .serial = self.serial };
    }

    pub const Placed = struct { g: u32, id: u32 };

    /// A block for `requested_bytes`; `pool.growFor(bytes)` adds a region (under the growth lock).
    pub fn alloc(self: *SharedFixed, pool: anytype, requested_bytes: u32) Error!Placed {
        if (requested_bytes > self.stride_bytes) return self.allocRun(pool, requested_bytes);
        const number = self.take() orelse self.growAndTake(pool) orelse {
            self.counters.recordFailure();
            return status.fail(error.OutOfMemory, "pool '{s}' has no free block of {d} bytes and cannot grow: {d} of at most {d} bytes reserved", .{ pool.name, self.stride_bytes, pool.arena.committed_bytes, pool.arena.reserved_bytes });
        };
        const placed = self.fixed.claim(number, requested_bytes);
        self.counters.recordAlloc(requested_bytes);
        return .{ .g = placed.g, .id = placed.id };
    }

    inline fn take(self: *SharedFixed) ?u32 {
        if (self.cached and self.handle >= 0) return thread_cache.take(self.owner(), &self.fixed);
        return self.fixed.pop();
    }

    fn growAndTake(self: *SharedFixed, pool: anytype) ?u32 {
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        // Another thread may have grown the pool, or given blocks back, while this one waited.
        if (self.take()) |number| return number;
        if (pool.growFor(self.stride_bytes) == null) return null;
        return self.take();
    }

    /// Blocks an allocation of `requested_bytes` holds: 1, or a run's length.
    pub fn blocksFor(self: *const SharedFixed, requested_bytes: u64) u32 {
        if (requested_bytes <= self.stride_bytes) return 1;
        return @intCast(std.math.divCeil(u64, requested_bytes, self.stride_bytes) catch unreachable);
    }

    /// A run of blocks for `requested_bytes`, over one block: the slow, locked path.
    fn allocRun(self: *SharedFixed, pool: anytype, requested_bytes: u32) Error!Placed {
        @branchHint(.unlikely);
        const count = self.blocksFor(requested_bytes);
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        var drained: std.ArrayList(u32) = .empty;
        defer drained.deinit(self.gpa);
        var grown = false;
        var cache_returned = false;
        while (true) {
            const first = try self.gatherRun(&drained, count);
            if (first) |number| {
                const placed = self.fixed.claimRun(number, count, requested_bytes);
                _ = self.run_blocks.fetchAdd(count - 1, .monotonic);
                self.counters.recordAlloc(requested_bytes);
                return .{ .g = placed.g, .id = placed.id };
            }
            // A run is gathered from the shared stack only: the blocks this thread's cache holds
            // may be the ones that complete it (a thread that freed the whole pool holds a
            // magazine of it). Give them back before growing or failing.
            if (!cache_returned and self.cached and self.handle >= 0) {
                cache_returned = true;
                if (thread_cache.giveBack(self.owner(), &self.fixed) > 0) continue;
            }
            if (grown or pool.growFor(@as(u64, count) * self.stride_bytes) == null) break;
            grown = true;
        }
        self.counters.recordFailure();
        return status.fail(error.OutOfMemory, "pool '{s}' has no run of {d} free blocks for {d} bytes and cannot grow: {d} of at most {d} bytes reserved", .{ pool.name, count, requested_bytes, pool.arena.committed_bytes, pool.arena.reserved_bytes });
    }

    /// Drains the free stack, takes `count` blocks in a row off it (the first such in address
    /// order) and pushes the rest back in address order; returns the first block's number, or
    /// null (everything pushed back) where there is no such run. Under the growth lock.
    fn gatherRun(self: *SharedFixed, drained: *std.ArrayList(u32), count: u32) Error!?u32 {
        drained.clearRetainingCapacity();
        defer if (drained.items.len > 0) self.fixed.pushBatch(drained.items);
        var batch: [256]u32 = undefined;
        while (true) {
            const taken = self.fixed.popBatch(&batch);
            drained.appendSlice(self.gpa, batch[0..taken]) catch
                return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
            if (taken < batch.len) break;
        }
        // Numbers grow with addresses, so sorted numbers are blocks in address order.
        std.sort.pdq(u32, drained.items, {}, std.sort.asc(u32));
        var run_start: usize = 0;
        for (drained.items, 0..) |number, index| {
            const contiguous = index > run_start and number == drained.items[index - 1] + 1 and
                self.fixed.offsetOf(number).? == self.fixed.offsetOf(number - 1).? + self.fixed.stride;
            if (!contiguous) run_start = index;
            if (index + 1 - run_start == count) {
                const first = drained.items[run_start];
                // The rest go back; the run's blocks do not.
                std.mem.copyForwards(u32, drained.items[run_start..], drained.items[index + 1 ..]);
                drained.shrinkRetainingCapacity(drained.items.len - count);
                return first;
            }
        }
        return null;
    }

    /// Frees the block at `g` (with `expected_id` not 0, only while it holds that allocation).
    pub fn free(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, granule_bytes: u64) Error!void {
        var number: u32 = undefined;
        const at_bytes = @as(u64, g) * granule_bytes;
        switch (self.fixed.markFreed(g, expected_id, &number)) {
            .freed => |freed| {
                self.counters.recordFree(freed.requested_bytes);
                const count = self.blocksFor(freed.requested_bytes);
                if (count > 1) return self.freeRun(number, count);
                if (self.cached and self.handle >= 0) thread_cache.give(self.owner(), &self.fixed, number) else self.fixed.push(number);
            },
            .double_free => return if (expected_id != 0)
                status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed", .{ expected_id, at_bytes, pool_name })
            else
                status.fail(error.DoubleFree, "double free: the block at offset {d} of pool '{s}' is already free", .{ at_bytes, pool_name }),
            .reused => |live_id| return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed, and the block now holds allocation #{d}", .{ expected_id, at_bytes, pool_name, live_id }),
            .interior_pointer => return status.fail(error.InvalidPointer, "pointer at offset {d} points inside an allocation of pool '{s}', not at its start", .{ at_bytes, pool_name }),
            .unknown_pointer => return status.fail(error.InvalidPointer, "pool '{s}' never gave out a block at offset {d}", .{ pool_name, at_bytes }),
        }
    }

    /// Gives back the blocks of the run whose first block, `first`, was just marked freed.
    fn freeRun(self: *SharedFixed, first: u32, count: u32) void {
        @branchHint(.unlikely);
        self.fixed.releaseContinued(first, count);
        _ = self.run_blocks.fetchSub(count - 1, .monotonic);
        var numbers: [64]u32 = undefined;
        var next = first;
        while (next < first + count) { // pushed in address order, in chains of up to 64
            const chain: u32 = @min(numbers.len, first + count - next);
            for (numbers[0..chain], next..) |*number, value| number.* = @intCast(value);
            self.fixed.pushBatch(numbers[0..chain]);
            next += chain;
        }
    }

    /// Fills in the counters of `stats` (a copy of the pool's, which holds the growth figures).
    /// Counts are exact once operations in flight finish; peaks are lower bounds (striped_counters.zig).
    pub fn figures(self: *SharedFixed, stats: *stats_mod.Stats) u64 {
        const live_blocks = self.counters.writeInto(stats) + self.run_blocks.load(.monotonic);
        stats.bytes_allocated = live_blocks * self.stride_bytes;
        const blocks = self.fixed.block_count.load(.monotonic);
        return (blocks -| live_blocks) * self.stride_bytes;
    }
};
