//! The pool side of a fixed-size pool that many threads use without the pool's lock: `lockFree`
//! pools and pools with `threadLocalCache`. Placement is lockfree_fixed.zig (its free stack under
//! a mutex for "mutex" pools), optionally behind per-thread magazines (thread_cache.zig);
//! counting is striped_counters.zig. Growth, the one rare and slow step, is serialised by
//! `growth_mutex`; a thread that finds no free block takes it, looks again, and grows.
//!
//! A request over one block is a run of blocks (as in strategy/fixed.zig), but blocks on a lock-free
//! stack and in thread magazines cannot be gathered into a contiguous run: runs are placed by a
//! TLSF of their own, in whole blocks, in regions of their own, under `growth_mutex` and
//! `runs_mutex` (the slow path the README states). A free that the blocks do not know goes there.
//!
//! Invariants: the arena, its regions and the pool's growth figures change only under
//! `growth_mutex` (taken before `runs_mutex` where both are held); a run region is in `runs` only; every block is exactly one of: live (state word holds its id), on the shared
//! stack, or in one thread's magazine (both free: state word flagged freed).
const std = @import("std");
const assert = std.debug.assert;
const lockfree_fixed = @import("lockfree_fixed.zig");
const LockFreeFixed = lockfree_fixed.LockFreeFixed;
const freed_flag = lockfree_fixed.freed_flag;
const StripedCounters = @import("striped_counters.zig").StripedCounters;
const thread_cache = @import("thread_cache.zig");
const stats_mod = @import("../stats.zig");
const tlsf_mod = @import("../strategy/tlsf.zig");
const Tlsf = tlsf_mod.Tlsf;
const AdaptiveMutex = @import("adaptive_mutex.zig").AdaptiveMutex;
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
    /// Runs of blocks: placement, and what they hold (under `runs_mutex`).
    runs: Tlsf,
    runs_mutex: AdaptiveMutex = .{},
    runs_last_id: u32 = 0,
    runs_live: u64 = 0,
    runs_granules: u64 = 0,
    /// Set under `growth_mutex` while a region is grown for runs: `addRegion` gives it to them.
    growing_runs: bool = false,

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
            .runs = Tlsf.init(gpa),
        };
        return self;
    }

    pub fn destroy(self: *SharedFixed) void {
        self.runs.deinit();
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

    /// Adds a newly committed region (under the growth lock): to the runs while growing for them.
    pub fn addRegion(self: *SharedFixed, region: @import("../arena.zig").Region) error{OutOfMemory}!void {
        if (!self.growing_runs) return self.fixed.addRegion(region);
        self.runs_mutex.lock();
        defer self.runs_mutex.unlock();
        return self.runs.addRegion(region);
    }

    /// A run of blocks for `requested_bytes`, over one block: the slow, locked path.
    fn allocRun(self: *SharedFixed, pool: anytype, requested_bytes: u32) Error!Placed {
        @branchHint(.unlikely);
        const granules: u32 = @intCast((std.math.divCeil(u64, requested_bytes, self.stride_bytes) catch unreachable) * self.fixed.stride);
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        const g = try self.placeRun(granules, pool.alignment_granules, requested_bytes) orelse blk: {
            self.growing_runs = true;
            const grown = pool.growFor(tlsf_mod.granulesSureToFit(granules, pool.alignment_granules) * (self.stride_bytes / self.fixed.stride));
            self.growing_runs = false;
            if (grown == null) break :blk null;
            break :blk try self.placeRun(granules, pool.alignment_granules, requested_bytes);
        } orelse {
            self.counters.recordFailure();
            return status.fail(error.OutOfMemory, "pool '{s}' cannot place a run of {d} bytes and cannot grow: {d} of at most {d} bytes reserved", .{ pool.name, requested_bytes, pool.arena.committed_bytes, pool.arena.reserved_bytes });
        };
        self.counters.recordAlloc(requested_bytes);
        return .{ .g = g, .id = self.runs_last_id };
    }

    fn placeRun(self: *SharedFixed, granules: u32, alignment_granules: u32, requested_bytes: u32) Error!?u32 {
        self.runs_mutex.lock();
        defer self.runs_mutex.unlock();
        const id = if (self.runs_last_id >= freed_flag - 1) 1 else self.runs_last_id + 1;
        const g = (self.runs.alloc(granules, alignment_granules, id, requested_bytes) catch
            return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{})) orelse return null;
        self.runs_last_id = id;
        self.runs_live += 1;
        self.runs_granules += granules;
        return g;
    }

    /// The live run at `g`, or null.
    pub fn lookupRun(self: *SharedFixed, g: u32) ?Tlsf.Live {
        self.runs_mutex.lock();
        defer self.runs_mutex.unlock();
        return self.runs.lookup(g);
    }

    /// Frees the run at `g`, where the blocks know no block at `g`; null where no run is there either.
    fn freeRun(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, at_bytes: u64) ?Error!void {
        self.runs_mutex.lock();
        defer self.runs_mutex.unlock();
        if (self.runs.lookup(g)) |live| {
            if (expected_id != 0 and live.id != expected_id) return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed, and the run now holds allocation #{d}", .{ expected_id, at_bytes, pool_name, live.id });
        }
        switch (self.runs.free(g)) {
            .freed => |freed| {
                self.runs_live -= 1;
                self.runs_granules -= freed.granules;
                self.counters.recordFree(freed.requested_bytes);
                return {};
            },
            .double_free => return status.fail(error.DoubleFree, "double free: the run at offset {d} of pool '{s}' is already free", .{ at_bytes, pool_name }),
            .interior_pointer => return status.fail(error.InvalidPointer, "pointer at offset {d} points inside a run of pool '{s}', not at its start", .{ at_bytes, pool_name }),
            .unknown_pointer => return null,
        }
    }

    /// Frees the block at `g` (with `expected_id` not 0, only while it holds that allocation).
    pub fn free(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, granule_bytes: u64) Error!void {
        var number: u32 = undefined;
        const at_bytes = @as(u64, g) * granule_bytes;
        const result = self.fixed.markFreed(g, expected_id, &number);
        if (result == .unknown_pointer) if (self.freeRun(pool_name, g, expected_id, at_bytes)) |freed_run| return freed_run;
        switch (result) {
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
    pub fn figures(self: *SharedFixed, stats: *stats_mod.Stats) struct { free: u64, largest: u64 } {
        const live = self.counters.writeInto(stats);
        self.runs_mutex.lock();
        defer self.runs_mutex.unlock();
        const granule_bytes = self.stride_bytes / self.fixed.stride;
        const live_blocks = live -| self.runs_live;
        stats.bytes_allocated = live_blocks * self.stride_bytes + self.runs_granules * granule_bytes;
        const blocks = self.fixed.block_count.load(.monotonic);
        const free_blocks_bytes = (blocks -| live_blocks) * self.stride_bytes;
        return .{ .free = free_blocks_bytes + self.runs.free_granules * granule_bytes, .largest = @max(@min(free_blocks_bytes, self.stride_bytes), self.runs.largestFreeGranules() * granule_bytes) };
    }
};
