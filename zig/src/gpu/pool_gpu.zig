//! What a pool does for the GPU beside placing blocks, in one place: NVTX annotations of its
//! regions and allocations (nvtx.zig, for compute-sanitizer) and its stream-ordered frees
//! (stream_frees.zig). A CPU or PMEM pool holds an inert one: no annotation is enabled and no free
//! is pending, so each hook is a test of a flag.
//!
//! The pool (pool.zig) calls these hooks where regions come and go and at reset; it knows
//! neither NVTX nor events. The pool is handed in to `reclaim` and `freeOnStream` and only what it
//! offers every layer is used (stream_frees.zig says what).
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const nvtx = @import("nvtx.zig");
const stream_frees_mod = @import("stream_frees.zig");
const StreamFrees = stream_frees_mod.StreamFrees;
const Device = @import("device.zig").Device;
const Error = @import("../status.zig").Error;

/// The id a block carries while its stream-ordered free waits; no allocation gets it.
pub const pending_id = stream_frees_mod.pending_id;

pub const PoolGpu = struct {
    annotations: nvtx.PoolAnnotations = .{},
    stream_frees: StreamFrees = .{},

    /// `device_visible`: kernels reach the pool's memory (GPU and pinned pools); `whole`: the
    /// pool's address range where it is one allocation (nvtx.zig PoolAnnotations.init).
    pub fn init(gpa: std.mem.Allocator, pool_name: []const u8, device_visible: bool, whole: ?nvtx.PoolAnnotations.Extent) PoolGpu {
        assert(pool_name.len > 0);
        return .{ .annotations = nvtx.PoolAnnotations.init(gpa, pool_name, device_visible, whole) };
    }

    /// Waits for the pool's pending stream frees, on `device`, and lets their events go (the pool's
    /// end, before its memory goes); its blocks stay placed.
    pub fn endStreams(self: *PoolGpu, device: ?*Device) void {
        self.stream_frees.deinit(device);
        self.stream_frees = .{};
    }

    /// Unregisters what the pool registered (after `endStreams`, or where it never had a stream free).
    pub fn deinit(self: *PoolGpu) void {
        assert(!self.stream_frees.any());
        self.annotations.deinit();
    }

    /// A region of `len` bytes at `base` was committed.
    pub inline fn regionAdded(self: *PoolGpu, base: u64, len: u64) void {
        self.annotations.regionAdded(base, len);
    }

    /// The region at `base` is about to be decommitted (trim).
    pub inline fn regionRemoved(self: *PoolGpu, base: u64) void {
        self.annotations.regionRemoved(base);
    }

    /// Every allocation was freed at once (the pool's reset).
    pub inline fn reset(self: *PoolGpu) void {
        assert(!self.stream_frees.any()); // reclaimed first: a pending block is live
        self.annotations.reset();
    }

    /// A block of `size` bytes at `address` was handed out as allocation `id`.
    pub inline fn allocated(self: *PoolGpu, address: u64, size: u64, id: u32) void {
        self.annotations.allocated(address, size, id);
    }

    /// The allocation at `address` was freed.
    pub inline fn freed(self: *const PoolGpu, address: u64) void {
        self.annotations.freed(address);
    }

    /// Whether an NVTX tool (compute-sanitizer) checks the pool's allocations one by one: then
    /// every allocation and free must reach the core, which tells the tool (no JavaScript bins).
    pub inline fn watchedByTool(self: *const PoolGpu) bool {
        return self.annotations.active;
    }

    /// A range named `message` around one of the pool's operations, where ranges are on.
    pub inline fn range(self: *const PoolGpu, comptime message: [:0]const u8) nvtx.Range {
        return self.annotations.range(message);
    }

    /// Whether any block waits for its stream (the pool's frees then check every id).
    pub inline fn pending(self: *const PoolGpu) bool {
        return self.stream_frees.any();
    }

    /// DoubleFree where `live_id` is a block's whose free waits for its stream.
    pub const checkNotPending = StreamFrees.checkNotPending;

    /// Frees the block at `g` of `pool` once the work queued on `stream` so far is done.
    pub fn freeOnStream(self: *PoolGpu, pool: anytype, g: u32, expected_id: u32, stream: driver.Stream) Error!void {
        return self.stream_frees.freeOnStream(pool, g, expected_id, stream);
    }

    /// Frees the pending blocks of `pool` that work on `stream` may take now (all of them, with
    /// `wait`). The caller holds the pool's lock.
    pub fn reclaim(self: *PoolGpu, pool: anytype, stream: driver.Stream, wait: bool) void {
        if (!self.stream_frees.any()) return;
        const dev = pool.device().?;
        while (self.stream_frees.takeReady(dev, stream, wait)) |g| {
            pool.setIdLocked(g, 1); // any id: it is freed at once
            // Only now is the block unregistered: work queued before its free may still touch it.
            self.annotations.freed(pool.address(g));
            pool.freeLockedAt(g) catch unreachable; // a pending block is live
        }
    }
};

/// A pool's GPU entry points beside placing (pool.zig keeps their names): a free on a stream, the
/// frees that work on a stream allows, and the tests' stand-in of a GPU pool. The pool is asked
/// through its methods only.
pub fn PoolDevice(comptime Pool: type) type {
    return struct {
        /// Frees the block at `g` once the work queued on `stream` so far is done (stream_frees.zig).
        /// The block's NVTX region goes when the pool reclaims it (`reclaim`), not here.
        pub fn freeOnStream(pool: *Pool, g: u32, expected_id: u32, stream: driver.Stream) Error!void {
            const side = pool.gpuSide();
            const range = side.range("memory-pool: free on stream");
            defer range.end();
            return side.freeOnStream(pool, g, expected_id, stream);
        }

        /// Frees the blocks whose stream-ordered frees work on `stream` allows now; the caller holds the lock.
        pub fn reclaimStreamFrees(pool: *Pool, stream: driver.Stream) void {
            assert(pool.streamFreesPending());
            pool.gpuSide().reclaim(pool, stream, false);
        }

        /// Tests: a CPU pool stands in for a GPU one where no device is: it gets the annotations a GPU
        /// or pinned pool gets when it is made, with what it committed as its first region.
        pub fn annotateAsDeviceVisible(pool: *Pool) void {
            assert(@import("builtin").is_test and pool.memoryKind() == .cpu);
            const side = pool.gpuSide();
            side.* = PoolGpu.init(pool.allocator(), pool.poolName(), true, null);
            side.regionAdded(pool.base(), pool.committedBytes());
        }
    };
}

test "a CPU pool's GPU side is inert: no range, no pending free, hooks that do nothing" {
    var side = PoolGpu.init(std.testing.allocator, "cpu", false, null);
    try std.testing.expect(!side.pending());
    side.regionAdded(0x10000, 4096);
    side.allocated(0x10000, 64, 1);
    side.freed(0x10000);
    side.reset();
    side.regionRemoved(0x10000);
    const r = side.range("memory-pool: test");
    try std.testing.expect(!r.open);
    r.end();
    try std.testing.expectError(error.DoubleFree, PoolGpu.checkNotPending(pending_id, 4, "cpu"));
    try PoolGpu.checkNotPending(7, 4, "cpu");
    side.endStreams(null);
    side.deinit();
}
