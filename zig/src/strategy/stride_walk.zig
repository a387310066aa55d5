//! A walk over the blocks of fixed-size regions in address order, for tools (snapshot.zig) rather
//! than hot paths: the shape the locked fixed-size placement (fixed.zig) and the lock-free one
//! (sync/lockfree_fixed.zig) share. Each names its regions by a key of its own and reads a block
//! its own way; the walk orders the regions and steps through their blocks, a run as one.
const std = @import("std");
const assert = std.debug.assert;

pub const BlockView = @import("tlsf.zig").Tlsf.BlockView;

/// One block as its placement reads it: what tools see, and how many blocks it spans (a live
/// run spans several; a free block, one).
pub const WalkedBlock = struct { view: BlockView, blocks: u32 };

/// `Source` answers, for a region named by `Key`: `walkStart(key) u32`, the region's first
/// granule; `walkBlocks(key) u32`, how many blocks it holds; `walkBlock(key, slot) WalkedBlock`,
/// the block at `slot`, which spans no block past the region's last.
pub fn StrideWalk(comptime Source: type, comptime Key: type) type {
    return struct {
        const Self = @This();

        source: *const Source,
        /// The regions to walk, by first granule.
        order: []Key,
        next_region: usize = 0,
        slot: u32 = 0,

        /// A walk of the regions in `keys` (its items taken over where this succeeds). Free it with `deinit`.
        pub fn init(gpa: std.mem.Allocator, source: *const Source, keys: *std.ArrayList(Key)) error{OutOfMemory}!Self {
            std.sort.pdq(Key, keys.items, source, byStart);
            return .{ .source = source, .order = try keys.toOwnedSlice(gpa) };
        }

        fn byStart(source: *const Source, a: Key, b: Key) bool {
            return source.walkStart(a) < source.walkStart(b);
        }

        pub fn deinit(self: *Self, gpa: std.mem.Allocator) void {
            gpa.free(self.order);
            self.* = undefined;
        }

        pub fn next(self: *Self) ?BlockView {
            while (self.next_region < self.order.len) {
                const key = self.order[self.next_region];
                const blocks = self.source.walkBlocks(key);
                if (self.slot == blocks) {
                    self.next_region += 1;
                    self.slot = 0;
                    continue;
                }
                assert(self.slot < blocks);
                const block = self.source.walkBlock(key, self.slot);
                assert(block.blocks >= 1 and self.slot + block.blocks <= blocks);
                assert(!block.view.is_free or block.view.id == 0);
                self.slot += block.blocks;
                return block.view;
            }
            return null;
        }
    };
}

test "a stride walk goes through regions in address order, a run as one block" {
    // Two regions of 4 blocks of 2 granules, given out of order; the second holds a run of 3.
    const Source = struct {
        const starts = [2]u32{ 100, 0 };
        pub fn walkStart(_: *const @This(), key: u8) u32 {
            return starts[key];
        }
        pub fn walkBlocks(_: *const @This(), _: u8) u32 {
            return 4;
        }
        pub fn walkBlock(_: *const @This(), key: u8, slot: u32) WalkedBlock {
            const start = starts[key] + slot * 2;
            if (key == 0 and slot == 1) return .{ .view = .{ .start = start, .granules = 6, .is_free = false, .id = 7, .requested_bytes = 90 }, .blocks = 3 };
            return .{ .view = .{ .start = start, .granules = 2, .is_free = true, .id = 0, .requested_bytes = 0 }, .blocks = 1 };
        }
    };
    const source: Source = .{};
    var keys: std.ArrayList(u8) = .empty;
    try keys.appendSlice(std.testing.allocator, &.{ 0, 1 });
    var walk = try StrideWalk(Source, u8).init(std.testing.allocator, &source, &keys);
    defer walk.deinit(std.testing.allocator);
    for ([_]u32{ 0, 2, 4, 6, 100 }) |start| try std.testing.expectEqual(start, walk.next().?.start);
    const run = walk.next().?;
    try std.testing.expectEqual(@as(u32, 102), run.start);
    try std.testing.expectEqual(@as(u32, 6), run.granules);
    try std.testing.expect(walk.next() == null);
}
