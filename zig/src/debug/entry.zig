//! The debug layer's entry points (debug/layer.zig does the work): a pool with a debug switch
//! that acts in the core gets these, between its lock and its placement; a pool without one never
//! runs a line of them (layers.zig `choose`). With sampled guard pages alone, only the sampled
//! allocations (and the frees of their guard regions) leave the plain path.
const std = @import("std");
const assert = std.debug.assert;
const Error = @import("../status.zig").Error;
const Layer = @import("layer.zig").Layer;

/// `Plain` is the statistics and placement the debug layer stands in front of (layers.zig
/// `Placing`, taking no lock of its own); `L` the pool's lock (sync/locking.zig), held around both.
pub fn Debugged(comptime Pool: type, comptime Plain: type, comptime L: type) type {
    return struct {
        pub fn alloc(pool: *Pool, size: u64, stream: Pool.Stream) Error!Pool.Placed {
            L.acquire(pool);
            defer L.release(pool);
            const layer = pool.debugLayer().?;
            if (!layer.plain_unless_guarded) return @call(.never_inline, Layer.alloc, .{ layer, pool.beneath(), size });
            if (layer.sampleGuard()) if (try @call(.never_inline, Layer.allocSampled, .{ layer, pool.beneath(), size })) |placed| return placed;
            return Plain.alloc(pool, size, stream);
        }

        pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!bool {
            L.acquire(pool);
            defer L.release(pool);
            const layer = pool.debugLayer().?;
            if (!layer.plain_unless_guarded) return @call(.never_inline, Layer.free, .{ layer, pool.beneath(), g, expected_id });
            if (pool.inGuardRegion(g)) {
                try @call(.never_inline, Layer.freeSampled, .{ layer, pool.beneath(), g, expected_id });
                return true;
            }
            return Plain.free(pool, g, expected_id);
        }

        pub fn lookup(pool: *Pool, g: u32) ?Pool.Live {
            L.acquire(pool);
            defer L.release(pool);
            return pool.debugLayer().?.lookup(pool.beneath(), g);
        }
    };
}
