//! A pool's layout at one moment, for tools: its committed regions and every block in them,
//! live or free, in address order, with the pool's statistics taken under the same lock, so
//! the figures and the blocks agree. src/snapshot.ts turns the records into plain data and
//! src/memory_map.ts into a picture. A cold path: it walks the strategy's own bookkeeping and
//! adds nothing to allocate or free. Every pool (pool.zig), PMEM pools included, writes its
//! snapshot here: the same strategies place their blocks.
//!
//! The caller provides the buffers. Where they are too small the header still holds the counts,
//! so the caller retries with room; records past the capacities are counted, not written.
//!
//! Invariants of what is written: regions in address order, never overlapping; blocks in address
//! order, each inside the region it names, never overlapping; a free block has id 0.
const std = @import("std");
const assert = std.debug.assert;
const arena_mod = @import("arena.zig");
const Region = arena_mod.Region;
const stats_mod = @import("stats.zig");
const Tlsf = @import("strategy/tlsf.zig").Tlsf;
const BlockView = Tlsf.BlockView;
const guard_mod = @import("debug/guard.zig");
const js_bins = @import("sync/js_bins.zig");
const pool_gpu = @import("gpu/pool_gpu.zig");
const status = @import("status.zig");
const debug_layer_built = @import("build_options").debug_layer;

/// What a block holds. abi.zig describes the values to src/snapshot.ts. `guard` and `quarantined` belong to
/// the debug layer (guard pages; freed blocks held back from reuse): the values are fixed here
/// so the TypeScript side and the picture know them before the layer reports them. `guard_free`:
/// free pages of a guard region, which only guarded allocations use (counted apart from `free`,
/// as the statistics count them).
pub const BlockState = enum(u32) { free = 0, live = 1, pending = 2, guard = 3, quarantined = 4, guard_free = 5 };

pub const Header = extern struct {
    region_count: u32,
    block_count: u32,
    /// The id of the pool's latest allocation: a live block's age, in allocations, is the
    /// distance from its id to this one, counting up from 1 and wrapping after `id_max`.
    last_id: u32,
    id_max: u32,
};

pub const RegionRecord = extern struct {
    /// The pool's index for the region.
    index: u32,
    start: u32, // granules from the pool's base
    granules: u32,
};

pub const BlockRecord = extern struct {
    start: u32, // granules from the pool's base
    granules: u32,
    id: u32, // the allocation's id; 0 for a free block and a pending one
    state: u32, // a BlockState
    requested_bytes: f64, // what the allocation asked for; 0 for a free block
};

comptime {
    // The layouts abi.zig describes to src/snapshot.ts: packed, no padding to copy.
    assert(@sizeOf(Header) == 16 and @sizeOf(RegionRecord) == 12 and @sizeOf(BlockRecord) == 24);
    assert(@offsetOf(BlockRecord, "requested_bytes") == 16);
}

pub const Output = struct {
    header: *Header,
    regions: []RegionRecord,
    blocks: []BlockRecord,
    stats: *[stats_mod.field_count]f64,
};

/// What a pool tells the walk besides its regions and strategy.
pub const Ids = struct {
    last: u32,
    max: u32,
    /// The id a block carries while a stream-ordered free waits (GPU pools); null where none can.
    pending: ?u32,
};

/// What the debug layer adds to a pool's picture, as the pool hands it over (only this: the walk
/// knows nothing else of the layer): its allocator of guarded pages, and which strategy blocks
/// wait in quarantine.
pub const DebugView = struct {
    guard: ?*const guard_mod.Guard = null,
    /// Whether the strategy block starting at a granule waits in quarantine (null: none do).
    in_quarantine: ?struct {
        context: *const anyopaque,
        holds: *const fn (context: *const anyopaque, block_g: u32) bool,
    } = null,

    fn holdsInQuarantine(self: DebugView, block_g: u32) bool {
        const quarantine = self.in_quarantine orelse return false;
        return quarantine.holds(quarantine.context, block_g);
    }
};

/// The snapshot of `pool` (a *Pool, pool.zig) whose own placement places under its lock (layers.zig
/// `Locked`), under that lock: its regions, its placement's blocks as JavaScript's bins see them
/// (a binned block free, one handed out again its current allocation), the debug layer's guarded
/// blocks and quarantine, and its figures taken under the same lock. Whether every record fit.
pub fn writePlaced(pool: anytype, out: Output) status.Error!bool {
    const ids: Ids = .{ .last = pool.lastId(), .max = @TypeOf(pool.*).id_max, .pending = pool_gpu.pending_id };
    assert(ids.last <= ids.max);
    const debug: DebugView = if (debug_layer_built) (if (pool.debugLayer()) |layer| layer.snapshotView() else .{}) else .{};
    const placement = js_bins.Placement.of(pool.placementLocked(), pool.binsOpened());
    const fit = write(pool.allocator(), pool.regionList(), &placement, ids, debug, out) catch
        return status.fail(error.OutOfMemory, "no memory to walk the blocks of pool '{s}'", .{pool.poolName()});
    pool.writeStatsLocked(out.stats);
    return fit;
}

/// Writes the offsets of the live allocations of `pool` (a *Pool, pool.zig) whose own placement
/// places under its lock (layers.zig `Locked`; or a PMEM pool placed without it, whose journal
/// lists them), into `out`, as many as fit; returns how many there are. A block JavaScript's bins
/// hold is free; the debug layer lists its own (its blocks' first granules are not the user's).
pub fn listLivePlaced(pool: anytype, out: []u32) u32 {
    if ((pool.sharedFixed() != null or pool.shardedVariable() != null) and pool.journalOf() != null) return pool.layerEntry().listLive(pool, out); // pmem/shared_journal.zig
    assert(!pool.placesWithoutLock()); // their placements list their own (layers.zig)
    if (debug_layer_built) if (pool.debugLayer()) |layer| return layer.listLive(pool.beneath(), out);
    const bins = pool.binsOpened();
    var count: u32 = 0;
    var blocks = pool.liveBlocks();
    while (blocks.next()) |g| {
        if (bins) |held| if (held.find(g) == .binned) continue; // free, in the JavaScript bins
        if (count < out.len) out[count] = g;
        count += 1;
    }
    return count;
}

/// Writes `regions` (the committed ones, in any order) and every block of `strategy` (a pointer
/// to a union of the strategies, strategy/placement.zig) into `out`, with the
/// debug layer's guarded blocks and quarantine where the pool has one; the caller holds the
/// pool's lock and writes `out.stats`. Returns whether every record fit.
pub fn write(gpa: std.mem.Allocator, regions: []const Region, strategy: anytype, ids: Ids, debug: DebugView, out: Output) error{OutOfMemory}!bool {
    var order: std.ArrayList(u32) = .empty;
    defer order.deinit(gpa);
    for (regions, 0..) |region, index| {
        if (region.committed) try order.append(gpa, @intCast(index));
    }
    const by_start = struct {
        fn lessThan(all: []const Region, a: u32, b: u32) bool {
            return all[a].start < all[b].start;
        }
    }.lessThan;
    std.sort.pdq(u32, order.items, regions, by_start);
    for (order.items, 0..) |index, n| {
        const region = regions[index];
        assert(region.len > 0);
        if (n > 0) assert(region.start >= regions[order.items[n - 1]].end());
        if (n < out.regions.len) out.regions[n] = .{ .index = index, .start = region.start, .granules = region.len };
    }

    // Blocks come in address order, as regions do: one cursor finds each block's region. The
    // strategy's blocks and the guard allocator's (in regions of their own) are merged by address.
    var emit: Emitter = .{ .regions = regions, .order = order.items, .out = out.blocks };
    var guarded = try GuardedBlocks.init(gpa, debug);
    defer guarded.deinit(gpa);
    switch (strategy.*) {
        inline else => |*placement| {
            var walk = try placement.walk(gpa);
            defer walk.deinit(gpa);
            while (walk.next()) |block| {
                while (guarded.peek()) |next| {
                    if (next.start > block.start) break;
                    guarded.emitNext(&emit);
                }
                emit.add(record(block, ids.pending, debug));
            }
        },
    }
    while (guarded.peek() != null) guarded.emitNext(&emit);
    const block_count = emit.count;
    out.header.* = .{
        .region_count = @intCast(order.items.len),
        .block_count = @intCast(block_count),
        .last_id = ids.last,
        .id_max = ids.max,
    };
    return order.items.len <= out.regions.len and block_count <= out.blocks.len;
}

/// Appends records in address order, each inside a committed region, none overlapping.
const Emitter = struct {
    regions: []const Region,
    order: []const u32,
    out: []BlockRecord,
    count: usize = 0,
    end: u64 = 0,
    current: usize = 0,

    fn add(self: *Emitter, block: BlockRecord) void {
        while (self.current < self.order.len and block.start >= self.regions[self.order[self.current]].end()) self.current += 1;
        assert(self.current < self.order.len); // every block lies in a committed region
        const region = self.regions[self.order[self.current]];
        assert(block.start >= region.start and @as(u64, block.start) + block.granules <= region.end());
        assert(block.start >= self.end);
        self.end = @as(u64, block.start) + block.granules;
        if (self.count < self.out.len) self.out[self.count] = block;
        self.count += 1;
    }
};

/// The debug layer's guarded blocks, in address order: free pages, and for each allocation its
/// data pages (live, or quarantined) and its guard page.
const GuardedBlocks = struct {
    guard: ?*const guard_mod.Guard = null,
    walk: ?Tlsf.Walk = null,
    next: ?BlockView = null,
    /// Block start to record index, for the allocated blocks.
    by_block: std.AutoHashMapUnmanaged(u32, u32) = .empty,

    fn init(gpa: std.mem.Allocator, debug: DebugView) error{OutOfMemory}!GuardedBlocks {
        const guard = debug.guard orelse return .{};
        var self: GuardedBlocks = .{ .guard = guard };
        errdefer self.deinit(gpa);
        for (guard.records.items, 0..) |guarded, index| {
            if (guarded.state != .vacant) try self.by_block.put(gpa, guarded.block_g, @intCast(index));
        }
        self.walk = try guard.pages.walk(gpa);
        self.next = self.walk.?.next();
        return self;
    }

    fn deinit(self: *GuardedBlocks, gpa: std.mem.Allocator) void {
        if (self.walk) |*walk| walk.deinit(gpa);
        self.by_block.deinit(gpa);
    }

    fn peek(self: *const GuardedBlocks) ?BlockView {
        return self.next;
    }

    fn emitNext(self: *GuardedBlocks, emit: *Emitter) void {
        const block = self.next.?;
        self.next = self.walk.?.next();
        const index = if (block.is_free) null else self.by_block.get(block.start);
        const guarded = self.guard.?.records.items[index orelse {
            // Free pages, or a block whose pages could not be sealed and is never reused.
            const state: BlockState = if (block.is_free) .guard_free else .guard;
            emit.add(.{ .start = block.start, .granules = block.granules, .id = 0, .state = @intFromEnum(state), .requested_bytes = 0 });
            return;
        }];
        assert(guarded.block_g == block.start and guarded.block_granules == block.granules);
        const page_granules: u32 = @intCast(guard_mod.page_bytes / arena_mod.granule_bytes);
        const data: BlockRecord = .{
            .start = @intCast(guarded.dataStart() / arena_mod.granule_bytes),
            .granules = block.granules - page_granules,
            .id = guarded.id,
            .state = @intFromEnum(if (guarded.state == .quarantined) BlockState.quarantined else BlockState.live),
            .requested_bytes = @floatFromInt(guarded.size),
        };
        const guard_page_start = if (guarded.position == .after) data.start + data.granules else block.start;
        const guard_page: BlockRecord = .{ .start = guard_page_start, .granules = page_granules, .id = 0, .state = @intFromEnum(BlockState.guard), .requested_bytes = 0 };
        if (guarded.position == .after) {
            emit.add(data);
            emit.add(guard_page);
        } else {
            emit.add(guard_page);
            emit.add(data);
        }
    }
};

fn record(block: BlockView, pending_id: ?u32, debug: DebugView) BlockRecord {
    assert(block.is_free == (block.id == 0));
    const pending = pending_id != null and block.id == pending_id.?;
    const state: BlockState = if (block.is_free)
        .free
    else if (pending)
        .pending
    else if (debug.holdsInQuarantine(block.start))
        .quarantined
    else
        .live;
    return .{
        .start = block.start,
        .granules = block.granules,
        .id = if (pending) 0 else block.id,
        .state = @intFromEnum(state),
        .requested_bytes = @floatFromInt(block.requested_bytes),
    };
}

test "a variable pool's snapshot tiles its regions with its live and free blocks" {
    const pool = try testPool(.variable, 0);
    defer pool.destroy();
    const a = try pool.alloc(100, null);
    const b = try pool.alloc(60 * 1024, null);
    const c = try pool.alloc(4000, null); // does not fit beside b: the pool grows a second region
    _ = try pool.free(a.g, a.id);
    var buffers: Buffers = .{};
    try std.testing.expect(try pool.writeSnapshot(buffers.output(8, 64)));
    const header = buffers.header;
    try std.testing.expectEqual(@as(u32, 2), header.region_count);
    try std.testing.expectEqual(c.id, header.last_id);
    try std.testing.expectEqual(Pool.id_max, header.id_max);
    var granules: u64 = 0;
    var live: usize = 0;
    for (buffers.blocks[0..header.block_count]) |block| {
        granules += block.granules;
        if (block.state == @intFromEnum(BlockState.live)) live += 1;
        if (block.start == b.g) try std.testing.expectEqual(@as(f64, 60 * 1024), block.requested_bytes);
        if (block.start == a.g) try std.testing.expectEqual(@as(u32, @intFromEnum(BlockState.free)), block.state);
    }
    try std.testing.expectEqual(@as(usize, 2), live);
    try std.testing.expectEqual(@as(u64, buffers.regions[0].granules) + buffers.regions[1].granules, granules);
    try std.testing.expectEqual(@as(f64, 2), buffers.stats[@intFromEnum(stats_mod.Field.live_allocations)]);
}

test "a snapshot into buffers that are too small reports the counts it needs" {
    const pool = try testPool(.fixed_size, 1024);
    defer pool.destroy();
    for (0..3) |_| _ = try pool.alloc(1000, null);
    var buffers: Buffers = .{};
    try std.testing.expect(!try pool.writeSnapshot(buffers.output(1, 2)));
    try std.testing.expectEqual(@as(u32, 64), buffers.header.block_count); // 64 KiB of 1 KiB blocks
    try std.testing.expectEqual(@as(u32, 1), buffers.header.region_count);
    try std.testing.expectEqual(@as(u32, 1), buffers.blocks[0].id);
    try std.testing.expectEqual(@as(u32, 2), buffers.blocks[1].id);
}

test "with the debug layer: guarded blocks as data and guard page, quarantined blocks, address order" {
    var config = config_mod.testConfig(.variable);
    config.max_size = 0;
    config.debug = .{ .guard = .after, .guard_sample_period = 2, .canaries = true, .quarantine_bytes = 1 << 20 };
    const pool = try Pool.create(std.testing.allocator, "snapshot-debug", config);
    defer pool.destroy();
    var placed: [8]Pool.Placed = undefined;
    for (&placed, 0..) |*p, i| p.* = try pool.alloc(100 + i, null);
    _ = try pool.free(placed[0].g, placed[0].id);
    _ = try pool.free(placed[1].g, placed[1].id);
    var buffers: Buffers = .{};
    try std.testing.expect(try pool.writeSnapshot(buffers.output(8, 64)));
    const blocks = buffers.blocks[0..buffers.header.block_count];
    var count: [@typeInfo(BlockState).@"enum".fields.len]u32 = @splat(0);
    var bytes_by_state: [count.len]u64 = @splat(0);
    var previous_end: u64 = 0;
    for (blocks) |block| {
        count[block.state] += 1;
        bytes_by_state[block.state] += @as(u64, block.granules) * arena_mod.granule_bytes;
        try std.testing.expect(block.start >= previous_end);
        previous_end = @as(u64, block.start) + block.granules;
        if (block.state == @intFromEnum(BlockState.guard)) try std.testing.expectEqual(@as(u32, 256), block.granules);
    }
    const guarded = blk: {
        var n: u32 = 0;
        for (placed) |p| n += @intFromBool(p.flags == Pool.flag_guarded);
        break :blk n;
    };
    try std.testing.expectEqual(@as(u32, 6), count[@intFromEnum(BlockState.live)]);
    try std.testing.expectEqual(@as(u32, 2), count[@intFromEnum(BlockState.quarantined)]);
    // Every guarded allocation, live or quarantined, has its guard page.
    try std.testing.expectEqual(guarded, count[@intFromEnum(BlockState.guard)]);
    // The statistics split the reserved bytes as the blocks do (src/stats.ts reservedParts).
    const stat = struct {
        fn of(out: *const [stats_mod.field_count]f64, field: stats_mod.Field) u64 {
            return @intFromFloat(out[@intFromEnum(field)]);
        }
    }.of;
    const figures = &buffers.stats;
    try std.testing.expectEqual(bytes_by_state[@intFromEnum(BlockState.live)], stat(figures, .bytes_allocated));
    try std.testing.expectEqual(bytes_by_state[@intFromEnum(BlockState.free)], stat(figures, .free_bytes));
    try std.testing.expectEqual(bytes_by_state[@intFromEnum(BlockState.guard)], stat(figures, .guard_page_bytes));
    try std.testing.expectEqual(bytes_by_state[@intFromEnum(BlockState.guard_free)], stat(figures, .guard_free_bytes));
    try std.testing.expectEqual(bytes_by_state[@intFromEnum(BlockState.quarantined)], stat(figures, .quarantined_bytes));
    try std.testing.expect(stat(figures, .canary_bytes) > 0);
}

const pool_mod = @import("pool.zig"); // the tests make real pools
const config_mod = @import("config.zig");
const Pool = pool_mod.Pool;

fn testPool(strategy: config_mod.StrategyKind, block_size: u64) !*Pool {
    var config = config_mod.testConfig(strategy);
    config.block_size = block_size;
    return Pool.create(std.testing.allocator, "snapshot", config);
}

const Buffers = struct {
    header: Header = undefined,
    regions: [8]RegionRecord = undefined,
    blocks: [64]BlockRecord = undefined,
    stats: [stats_mod.field_count]f64 = undefined,

    fn output(self: *Buffers, region_capacity: usize, block_capacity: usize) Output {
        return .{ .header = &self.header, .regions = self.regions[0..region_capacity], .blocks = self.blocks[0..block_capacity], .stats = &self.stats };
    }
};

test "a pool's live list: the live allocations' offsets in address order, counted past what fits, none once freed" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        const pool = try testPool(strategy, 64);
        defer pool.destroy();
        var placed: [3]Pool.Placed = undefined;
        for (&placed) |*block| block.* = try pool.alloc(48, null);
        _ = try pool.free(placed[1].g, placed[1].id);
        var out: [4]u32 = undefined;
        try std.testing.expectEqual(@as(u32, 2), pool.listLive(&out));
        try std.testing.expectEqualSlices(u32, &.{ @min(placed[0].g, placed[2].g), @max(placed[0].g, placed[2].g) }, out[0..2]);
        try std.testing.expectEqual(@as(u32, 2), pool.listLive(out[0..1])); // counts past what fits
        try pool.reset();
        try std.testing.expectEqual(@as(u32, 0), pool.listLive(&out));
    }
}
