//! Stream-ordered frees: a block freed "on stream S" stays owned until the work queued on S at
//! the time of the free is done, which a CUDA event recorded on S tells. Until then only an
//! allocation on S itself may take it (stream order runs that work after the old), so a kernel
//! still reading the old contents never sees another stream's writes: the reuse bug RMM and CUB
//! users meet.
//!
//! Invariants: each pending entry owns one recorded event; idle events wait in `spare` for reuse
//! (creating an event costs microseconds); entries leave in any order but are scanned oldest first.
//! A pending block keeps its place in the pool with `pending_id` for its id, so no free, by handle
//! or by pointer, takes it twice.
//!
//! The pool (pool.zig) is handed in, and only what it offers every layer is used: its device, its
//! lock, the live block at an offset, setting a live block's id and freeing it under the lock.
//! pool_gpu.zig, the pool's GPU side, holds these with the pool's NVTX annotations and reclaims.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const Device = device_mod.Device;
const status = @import("../status.zig");
const Error = status.Error;
const granule_bytes = @import("../arena.zig").granule_bytes;

/// The id a block carries while its stream-ordered free waits; no allocation gets it.
pub const pending_id: u32 = std.math.maxInt(u32);

const Pending = struct { g: u32, stream: driver.Stream, event: driver.Event };
/// An allocation looks at no more than this many pending entries unless it must wait.
const scan_max = 8;

pub const StreamFrees = struct {
    pending: std.ArrayList(Pending) = .empty,
    spare: std.ArrayList(driver.Event) = .empty,

    pub fn deinit(self: *StreamFrees, device: ?*Device) void {
        if (device) |dev| {
            if (dev.enter()) |api| {
                for (self.pending.items) |entry| {
                    _ = api.cuEventSynchronize(entry.event);
                    _ = api.cuEventDestroy_v2(entry.event);
                }
                for (self.spare.items) |event| _ = api.cuEventDestroy_v2(event);
            } else |_| {}
        }
        self.pending.deinit(std.heap.c_allocator);
        self.spare.deinit(std.heap.c_allocator);
    }

    /// Whether any block waits for its stream (the pool's frees then check every id).
    pub inline fn any(self: *const StreamFrees) bool {
        return self.pending.items.len > 0;
    }

    /// DoubleFree where `live_id` is a block's whose free waits for its stream.
    pub fn checkNotPending(live_id: u32, g: u32, pool_name: []const u8) Error!void {
        if (live_id == pending_id) {
            return status.fail(error.DoubleFree, "double free: the block at offset {d} of pool '{s}' was already freed on a stream", .{ @as(u64, g) * granule_bytes, pool_name });
        }
    }

    /// Frees the block at `g` of `pool` once the work queued on `stream` so far is done: until then
    /// it goes to no allocation on another stream (an allocation on the same stream may take it at once).
    pub fn freeOnStream(self: *StreamFrees, pool: anytype, g: u32, expected_id: u32, stream: driver.Stream) Error!void {
        const dev = pool.device() orelse return status.fail(error.InvalidPointer, "pool '{s}' is not a GPU pool: free without a stream", .{pool.poolName()});
        pool.lock();
        defer pool.unlock();
        const live_id = if (pool.liveLocked(g)) |block| block.id else 0;
        if (live_id == 0) return status.fail(error.InvalidPointer, "pool '{s}' has no live block at offset {d}", .{ pool.poolName(), @as(u64, g) * granule_bytes });
        if (live_id == pending_id or (expected_id != 0 and live_id != expected_id)) {
            return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed", .{ expected_id, @as(u64, g) * granule_bytes, pool.poolName() });
        }
        try self.add(dev, g, stream);
        pool.setIdLocked(g, pending_id);
    }

    fn add(self: *StreamFrees, device: *Device, g: u32, stream: driver.Stream) Error!void {
        const api = try device.enter();
        try self.pending.ensureUnusedCapacity(std.heap.c_allocator, 1);
        // Room in `spare` for every event, so takeReady can always put one back.
        try self.spare.ensureTotalCapacity(std.heap.c_allocator, self.spare.items.len + self.pending.items.len + 1);
        var event: driver.Event = self.spare.pop() orelse null;
        if (event == null) try device_mod.check(api, api.cuEventCreate(&event, driver.event_disable_timing), "cuEventCreate");
        device_mod.check(api, api.cuEventRecord(event, stream), "cuEventRecord") catch |err| {
            self.spare.appendAssumeCapacity(event);
            return err;
        };
        self.pending.appendAssumeCapacity(.{ .g = g, .stream = stream, .event = event });
    }

    /// A pending block that may be reused now by work on `stream`, or null. With `wait`, waits
    /// for the oldest entry instead of passing it by.
    pub fn takeReady(self: *StreamFrees, device: *Device, stream: driver.Stream, wait: bool) ?u32 {
        const api = device.enter() catch return null;
        const limit = if (wait) self.pending.items.len else @min(scan_max, self.pending.items.len);
        for (self.pending.items[0..limit], 0..) |entry, index| {
            const ready = (stream != null and entry.stream == stream) or
                (if (wait) api.cuEventSynchronize(entry.event) == driver.success else api.cuEventQuery(entry.event) == driver.success);
            if (!ready) continue;
            _ = self.pending.orderedRemove(index);
            assert(self.spare.items.len < self.spare.capacity);
            self.spare.appendAssumeCapacity(entry.event);
            return entry.g;
        }
        return null;
    }
};
