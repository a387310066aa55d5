//! The pool side of a fixed-size pool that many threads use without the pool's lock: `lockFree`
//! pools and pools with `threadLocalCache`. Placement is lockfree_fixed.zig (its free stack under
//! a mutex for "mutex" pools), optionally behind per-thread magazines (thread_cache.zig);
//! counting is striped_counters.zig. Growth, the one rare and slow step, is serialised by
//! `growth_mutex`; a thread that finds no free block takes it, looks again, and grows.
//!
//! Invariants: the arena, its regions and the pool's growth figures change only under
//! `growth_mutex`; every block is exactly one of: live (state word holds its id), on the shared
//! stack, or in one thread's magazine (both free: state word flagged freed).
const std = @import("std");
const assert = std.debug.assert;
const LockFreeFixed = @import("lockfree_fixed.zig").LockFreeFixed;
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

    /// Frees the block at `g` (with `expected_id` not 0, only while it holds that allocation).
    pub fn free(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, granule_bytes: u64) Error!void {
        var number: u32 = undefined;
        const at_bytes = @as(u64, g) * granule_bytes;
        switch (self.fixed.markFreed(g, expected_id, &number)) {
            .freed => |freed| {
                self.counters.recordFree(freed.requested_bytes);
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

    /// Fills in the counters of `stats` (a copy of the pool's, which holds the growth figures).
    /// Counts are exact once operations in flight finish; peaks are lower bounds (striped_counters.zig).
    pub fn figures(self: *SharedFixed, stats: *stats_mod.Stats) u64 {
        const live = self.counters.writeInto(stats);
        stats.bytes_allocated = live * self.stride_bytes;
        const blocks = self.fixed.block_count.load(.monotonic);
        return (blocks -| live) * self.stride_bytes;
    }
};
