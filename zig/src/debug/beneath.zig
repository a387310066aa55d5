//! What the debug layer may use of the pool it stands in front of (debug/layer.zig is handed
//! this, never the pool): the arena, whose regions hold its guarded pages; the placement
//! beneath it and the counting of what it places and frees; the pool's failure messages. It
//! asks the pool (pool.zig) through the pool's methods only.
const assert = @import("std").debug.assert;
const Error = @import("../status.zig").Error;
const FreeResult = @import("../strategy/placement.zig").FreeResult;

pub fn Beneath(comptime Pool: type) type {
    return struct {
        pool: *Pool,

        const Self = @This();

        pub inline fn arena(self: Self) @TypeOf(self.pool.arenaHeld()) {
            return self.pool.arenaHeld();
        }
        pub inline fn name(self: Self) []const u8 {
            return self.pool.poolName();
        }
        pub inline fn nextId(self: Self) u32 {
            return self.pool.nextId();
        }
        pub inline fn place(self: Self, block_bytes: u64, requested: u64, id: u32) ?u32 {
            assert(block_bytes >= requested and id != 0);
            return self.pool.place(block_bytes, requested, id);
        }
        pub inline fn blockBytes(self: Self, block_bytes: u64) u64 {
            return self.pool.blockBytes(block_bytes);
        }
        /// Counts a block the layer placed, in its region and the statistics.
        pub inline fn notePlaced(self: Self, block_g: u32, size: u64, block_bytes: u64) void {
            assert(block_bytes >= size);
            self.pool.notePlacedIn(block_g);
            self.pool.statsRecord().recordAlloc(size, block_bytes);
        }
        pub inline fn release(self: Self, region_index: u32, g: u32) FreeResult {
            return self.pool.release(false, region_index, g); // no JavaScript bins in front of a debug layer (pool_bins.zig openBins)
        }
        /// Counts a free the layer made (the placement's release does not count).
        pub inline fn noteFreed(self: Self, requested_bytes: u64, block_bytes: u64) void {
            assert(block_bytes >= requested_bytes);
            self.pool.statsRecord().recordFree(requested_bytes, block_bytes);
        }
        pub inline fn lookup(self: Self, region_index: u32, g: u32) ?Pool.Live {
            return self.pool.lookupLocked(false, region_index, g);
        }
        pub inline fn liveBlocks(self: Self) Pool.LiveBlocks {
            return self.pool.liveBlocks();
        }
        pub inline fn failUnlessFreed(self: Self, result: FreeResult, g: u32) Error!Pool.Freed {
            return self.pool.failUnlessFreed(result, g);
        }
        /// Counts the failure and says why.
        pub fn failPlace(self: Self, size: u64) Error {
            self.pool.statsRecord().failed_allocations += 1;
            return self.pool.failPlace(size);
        }
        pub fn failOutside(self: Self, g: u32) Error {
            return self.pool.failOutside(g);
        }
        pub fn failStaleId(self: Self, g: u32, expected_id: u32, live_id: u32) Error {
            assert(expected_id != live_id);
            return self.pool.failStaleId(g, expected_id, live_id);
        }
    };
}
