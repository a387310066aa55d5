//! Placement: which strategy places a pool's blocks inside its regions. A pool of any backend
//! (host, device, pinned, PMEM) holds one of these; the strategies keep their bookkeeping out of
//! band, so the same code serves memory the CPU cannot write (device) and memory that must
//! survive a crash (PMEM, whose journal rebuilds this placement from its file on open).
const std = @import("std");
const assert = std.debug.assert;
const Fixed = @import("fixed.zig").Fixed;
const tlsf_mod = @import("tlsf.zig");
const Tlsf = tlsf_mod.Tlsf;
const OffsetMap = @import("offset_map.zig").OffsetMap;
const arena_mod = @import("../arena.zig");
const Region = arena_mod.Region;
const granule_bytes = arena_mod.granule_bytes;

pub const FreeResult = tlsf_mod.FreeResult;

/// The strategies, as the config record names them (abi.zig describes them to TypeScript).
pub const Kind = enum(u32) { fixed_size = 0, variable = 1 };

pub const Placement = union(Kind) {
    fixed_size: Fixed,
    variable: Tlsf,

    /// An empty placement of `kind`; a fixed-size one hands out blocks of `stride_granules`.
    pub fn init(gpa: std.mem.Allocator, kind: Kind, stride_granules: u32) Placement {
        assert(kind == .variable or stride_granules > 0);
        return switch (kind) {
            .fixed_size => .{ .fixed_size = Fixed.init(gpa, stride_granules) },
            .variable => .{ .variable = Tlsf.init(gpa) },
        };
    }

    pub fn deinit(self: *Placement) void {
        switch (self.*) {
            inline else => |*strategy| strategy.deinit(),
        }
    }

    /// The live block that starts at `g` in region `region_index` (the arena's index), or null.
    pub fn lookup(self: *const Placement, region_index: u32, g: u32) ?Tlsf.Live {
        return switch (self.*) {
            .fixed_size => |*fixed| fixed.lookup(region_index, g),
            .variable => |*tlsf| tlsf.lookup(g),
        };
    }

    /// Blocks of a fixed-size placement that a block of `block_bytes` takes: 1, or a run's length.
    pub inline fn blocksFor(stride: u32, block_bytes: u64) u32 {
        assert(stride > 0);
        const stride_bytes = @as(u64, stride) * granule_bytes;
        if (block_bytes <= stride_bytes) return 1;
        return @intCast(std.math.divCeil(u64, block_bytes, stride_bytes) catch unreachable);
    }

    /// Bytes set aside for a block of `block_bytes`.
    pub inline fn blockBytes(self: *const Placement, block_bytes: u64) u64 {
        return granule_bytes * switch (self.*) {
            .fixed_size => |fixed| @as(u64, fixed.stride) * blocksFor(fixed.stride, block_bytes),
            .variable => arena_mod.granulesFor(block_bytes),
        };
    }

    /// The bytes a new region needs so that a block of `block_bytes` is sure to be placed in it.
    pub fn regionBytesFor(self: *const Placement, block_bytes: u64, alignment_granules: u32) u64 {
        return switch (self.*) {
            .fixed_size => self.blockBytes(block_bytes), // the blocks (or run) themselves: they need no slack
            .variable => granule_bytes * tlsf_mod.granulesSureToFit(arena_mod.granulesFor(block_bytes), alignment_granules),
        };
    }

    /// A block of `block_bytes` for allocation `id` of `requested` bytes, or null where none is
    /// free; `arena` says which region a granule is in. Inline, with the strategies' own code
    /// inlined into it (pool.zig `place` says why).
    pub inline fn place(self: *Placement, arena: anytype, block_bytes: u64, requested: u64, id: u32, alignment_granules: u32) ?u32 {
        // The strategies assert their own invariants: an assert more here costs the hot path.
        return switch (self.*) {
            .fixed_size => |*fixed| if (block_bytes <= @as(u64, fixed.stride) * granule_bytes)
                @call(.always_inline, Fixed.alloc, .{ fixed, arena, id, @as(u32, @intCast(requested)) })
            else
                @call(.never_inline, Fixed.allocRun, .{ fixed, blocksFor(fixed.stride, block_bytes), id, @as(u32, @intCast(requested)) }),
            .variable => |*tlsf| (@call(.always_inline, Tlsf.alloc, .{ tlsf, @as(u32, @intCast(arena_mod.granulesFor(block_bytes))), alignment_granules, id, requested }) catch null),
        };
    }

    /// Gives the block at `g` (in region `region_index`) back. Inline, as `place`.
    pub inline fn free(self: *Placement, region_index: u32, g: u32) FreeResult {
        return switch (self.*) {
            .fixed_size => |*fixed| @call(.always_inline, Fixed.free, .{ fixed, region_index, g }),
            .variable => |*tlsf| @call(.always_inline, Tlsf.free, .{ tlsf, g }),
        };
    }

    /// Gives the live block at `g` (in region `region_index`) allocation id `id`.
    pub fn setId(self: *Placement, region_index: u32, g: u32, id: u32) void {
        switch (self.*) {
            .fixed_size => |*fixed| fixed.setId(region_index, g, id),
            .variable => |*tlsf| tlsf.setId(g, id),
        }
    }

    /// A region the arena committed, `index` its place in the arena's list.
    pub fn addRegion(self: *Placement, index: u32, region: Region) error{OutOfMemory}!void {
        return switch (self.*) {
            .fixed_size => |*fixed| fixed.addRegion(index, region),
            .variable => |*tlsf| tlsf.addRegion(region),
        };
    }

    /// The empty region `index` goes (trim, or growth undone).
    pub fn removeRegion(self: *Placement, index: u32, region: Region) void {
        assert(region.committed and region.live_count == 0);
        switch (self.*) {
            .fixed_size => |*fixed| fixed.removeRegion(index, region),
            .variable => |*tlsf| tlsf.removeRegion(region),
        }
    }

    /// Every block free again; `regions` the arena's, of which those the placement owns are its.
    pub fn reset(self: *Placement, regions: []const Region) error{OutOfMemory}!void {
        switch (self.*) {
            .fixed_size => |*fixed| fixed.reset(),
            .variable => |*tlsf| try tlsf.reset(regions, .strategy),
        }
    }

    /// The live blocks, by their first granule.
    pub const LiveBlocks = union(Kind) {
        fixed_size: Fixed.LiveIterator,
        variable: OffsetMap.Iterator,

        pub fn next(self: *LiveBlocks) ?u32 {
            return switch (self.*) {
                .fixed_size => |*it| it.next(),
                .variable => |*it| if (it.next()) |slot| slot.key else null,
            };
        }
    };

    pub fn liveBlocks(self: *const Placement) LiveBlocks {
        return switch (self.*) {
            .fixed_size => |*fixed| .{ .fixed_size = fixed.liveIterator() },
            .variable => |*tlsf| .{ .variable = tlsf.liveIterator() },
        };
    }

    /// Free granules, and the most one request aligned to `alignment_granules` can have of them in
    /// one piece (a fixed-size placement serves a request over one block from a run of free blocks
    /// in a row, every block aligned).
    pub fn freeSpace(self: *const Placement, alignment_granules: u32) struct { u64, u64 } {
        return switch (self.*) {
            .fixed_size => |*fixed| .{ fixed.freeGranules(), fixed.largestFreeGranules() },
            .variable => |*tlsf| .{ tlsf.free_granules, tlsf.largestFreeGranules(alignment_granules) },
        };
    }
};

test "a placement of each kind places, finds, lists, frees and resets a block through the one interface" {
    const One = struct { // an arena of one region
        pub fn regionOf(_: *const @This(), _: u32) u32 {
            return 0;
        }
    };
    const regions = [_]Region{.{ .start = 0, .len = 64, .committed = true, .live_count = 0 }};
    for ([_]Kind{ .fixed_size, .variable }) |kind| {
        var placement = Placement.init(std.testing.allocator, kind, 4);
        defer placement.deinit();
        try placement.addRegion(0, regions[0]);
        try std.testing.expectEqual(@as(u64, if (kind == .fixed_size) 64 else 48), placement.blockBytes(40)); // a stride of 4 granules, or 3 granules
        if (kind == .fixed_size) try std.testing.expectEqual(@as(u64, 128), placement.blockBytes(100)); // a run of two blocks
        try std.testing.expect(placement.regionBytesFor(40, 1) >= 48);
        const g = placement.place(&One{}, 40, 40, 1, 1).?;
        try std.testing.expectEqual(@as(u64, 40), placement.lookup(0, g).?.requested_bytes);
        var live = placement.liveBlocks();
        try std.testing.expectEqual(g, live.next().?);
        try std.testing.expect(live.next() == null);
        const free_granules, const largest = placement.freeSpace(1);
        try std.testing.expect(free_granules >= 60 and largest <= free_granules);
        placement.setId(0, g, 9);
        try std.testing.expectEqual(@as(u32, 9), placement.lookup(0, g).?.id);
        try std.testing.expect(placement.free(0, g) == .freed);
        try std.testing.expect(placement.free(0, g) != .freed);
        const again = placement.place(&One{}, 40, 40, 2, 1).?;
        try placement.reset(&regions);
        try std.testing.expect(placement.lookup(0, again) == null);
    }
}
