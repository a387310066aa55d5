//! Placement: which strategy places a pool's blocks inside its regions. A pool of any backend
//! (host, device, pinned, PMEM) holds one of these; the strategies keep their bookkeeping out of
//! band, so the same code serves memory the CPU cannot write (device) and memory that must
//! survive a crash (PMEM, whose journal rebuilds this placement from its file on open).
const std = @import("std");
const assert = std.debug.assert;
const Fixed = @import("fixed.zig").Fixed;
const Tlsf = @import("tlsf.zig").Tlsf;

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

    /// Free granules, and the most one request can have of them in one piece (a fixed-size
    /// placement serves any request from any free block: all of them).
    pub fn freeSpace(self: *const Placement) struct { u64, u64 } {
        return switch (self.*) {
            .fixed_size => |*fixed| .{ fixed.freeGranules(), fixed.freeGranules() },
            .variable => |*tlsf| .{ tlsf.free_granules, tlsf.largestFreeGranules() },
        };
    }
};

test "a placement of each kind places, finds and frees a block" {
    const Region = @import("../arena.zig").Region;
    for ([_]Kind{ .fixed_size, .variable }) |kind| {
        var placement = Placement.init(std.testing.allocator, kind, 4);
        defer placement.deinit();
        const region: Region = .{ .start = 0, .len = 64, .committed = true, .live_count = 0 };
        const g = switch (placement) {
            .fixed_size => |*fixed| blk: {
                try fixed.addRegion(0, region);
                const One = struct {
                    pub fn regionOf(_: @This(), _: u32) u32 {
                        return 0;
                    }
                };
                break :blk fixed.alloc(One{}, 1, 40).?;
            },
            .variable => |*tlsf| blk: {
                try tlsf.addRegion(region);
                break :blk (try tlsf.alloc(3, 1, 1, 40)).?;
            },
        };
        try std.testing.expectEqual(@as(u64, 40), placement.lookup(0, g).?.requested_bytes);
        const free_granules, const largest = placement.freeSpace();
        try std.testing.expect(free_granules >= 60 and largest <= free_granules);
    }
}
