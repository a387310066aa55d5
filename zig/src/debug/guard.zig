//! Guarded allocations, in the manner of Electric Fence and GWP-ASan: each one gets whole pages
//! of its own, its user bytes pushed against an inaccessible page (after its end, or before its
//! start for underflows), so a native access past that edge faults at the very instruction that
//! makes it. The bytes between the user bytes and the page edges (alignment slack, the start of
//! the first page) are canaries (canary.zig), so overruns too small to reach the page are found
//! on free and check().
//!
//! Guarded blocks live in regions of the arena that the debug layer owns (Owner.guard), placed by
//! a TLSF of their own in page-aligned, page-sized blocks. Every page of a guard region that is not
//! the data of a live allocation is inaccessible: free pages, guard pages, and the pages of blocks
//! in quarantine, whose physical memory is also given back. So a use after free faults as well.
//!
//! Invariants: a record is live or quarantined exactly while its block is allocated in `pages`;
//! `by_user` maps the user offset of every such record to its index; a live record's data pages
//! are accessible and nothing else of its block is.
const std = @import("std");
const assert = std.debug.assert;
const arena_mod = @import("../arena.zig");
const Arena = arena_mod.Arena;
const Region = arena_mod.Region;
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const OffsetMap = @import("../strategy/offset_map.zig").OffsetMap;
const canary = @import("canary.zig");
const map_budget = @import("../backend/map_budget.zig");

const granule_bytes = arena_mod.granule_bytes;
pub const page_bytes: u64 = 4096;
const page_granules: u32 = @intCast(page_bytes / granule_bytes);
/// The smallest guard region: address space is cheap, and one region serves many allocations.
const region_bytes_min: u64 = 1024 * 1024;
/// The most stack text kept for one allocation's fault report.
pub const stack_bytes_max = 4096;

/// Where the inaccessible page lies: right after the user bytes (overflows fault) or right
/// before them (underflows fault).
pub const Position = enum(u32) { after = 1, before = 2 };

pub const State = enum(u8) { vacant, live, quarantined };

/// Which stack of an allocation a record keeps (abi.zig describes it to src/debug/tracker.ts).
pub const StackKind = enum(u32) { allocation = 0, free = 1 };
const stack_kinds = @typeInfo(StackKind).@"enum".fields.len;

pub const Record = struct {
    user_g: u32,
    block_g: u32,
    block_granules: u32,
    size: u64,
    id: u32,
    state: State,
    position: Position,
    /// The JavaScript stacks of the allocation and of its free, where TypeScript passed them
    /// down (trackHistory).
    stacks: [stack_kinds]([]u8) = .{ &.{}, &.{} },

    /// The accessible pages of the block, in bytes from the pool's base.
    pub fn dataStart(self: Record) u64 {
        const start = @as(u64, self.block_g) * granule_bytes;
        return if (self.position == .before) start + page_bytes else start;
    }

    pub fn dataBytes(self: Record) u64 {
        return @as(u64, self.block_granules) * granule_bytes - page_bytes;
    }

    pub fn userStart(self: Record) u64 {
        return @as(u64, self.user_g) * granule_bytes;
    }

    pub fn blockBytes(self: Record) u64 {
        return @as(u64, self.block_granules) * granule_bytes;
    }

    /// The canary bytes before the user bytes (inside the data pages), as offsets from the base.
    pub fn frontCanary(self: Record) struct { start: u64, len: u64 } {
        return .{ .start = self.dataStart(), .len = self.userStart() - self.dataStart() };
    }

    pub fn backCanary(self: Record) struct { start: u64, len: u64 } {
        const user_end = self.userStart() + self.size;
        return .{ .start = user_end, .len = self.dataStart() + self.dataBytes() - user_end };
    }

    pub fn contains(self: Record, g: u64) bool {
        return g >= self.block_g and g < @as(u64, self.block_g) + self.block_granules;
    }
};

pub const Options = struct {
    position: Position,
    /// One allocation in this many gets guard pages (on average); 1: every one.
    sample_period: u32,
    /// Every user pointer is a multiple of this (at least a granule).
    alignment_bytes: u64,
    /// Canary bytes the layer wants before and after the user bytes, beyond what slack gives.
    front_canary_bytes: u64,
    back_canary_bytes: u64,
    seed: u64,
};

pub const Granted = struct { user_g: u32, block_g: u32, block_bytes: u64 };

pub const Guard = struct {
    gpa: std.mem.Allocator,
    options: Options,
    pages: Tlsf,
    records: std.ArrayList(Record) = .empty,
    vacant: std.ArrayList(u32) = .empty,
    by_user: OffsetMap = .{},
    countdown: u64,
    prng: std.Random.DefaultPrng,

    pub fn init(gpa: std.mem.Allocator, options: Options) Guard {
        assert(options.sample_period >= 1);
        assert(std.math.isPowerOfTwo(options.alignment_bytes) and options.alignment_bytes >= granule_bytes and options.alignment_bytes <= page_bytes);
        var self: Guard = .{ .gpa = gpa, .options = options, .pages = Tlsf.init(gpa), .countdown = 1, .prng = .init(options.seed) };
        self.countdown = self.nextCountdown();
        return self;
    }

    pub fn deinit(self: *Guard) void {
        for (self.records.items) |*record| freeStacks(self.gpa, record);
        self.records.deinit(self.gpa);
        self.vacant.deinit(self.gpa);
        self.by_user.deinit(self.gpa);
        self.pages.deinit();
        self.* = undefined;
    }

    fn nextCountdown(self: *Guard) u64 {
        const period: u64 = self.options.sample_period;
        if (period == 1) return 1;
        // Uniform over 1 .. 2N-1: one allocation in N on average, and no pattern to dodge.
        return 1 + self.prng.random().uintLessThan(u64, 2 * period - 1);
    }

    /// Whether the next allocation is one of the sampled ones that get guard pages.
    pub inline fn sample(self: *Guard) bool {
        assert(self.countdown >= 1);
        self.countdown -= 1;
        if (self.countdown != 0) return false;
        self.countdown = self.nextCountdown();
        return true;
    }

    const Layout = struct { block_granules: u32, user_offset_bytes: u64 };

    /// Pages for `size` user bytes and the canaries asked for, and where the user bytes start.
    fn layout(self: *const Guard, size: u64) ?Layout {
        const user_span = std.mem.alignForward(u64, size, self.options.alignment_bytes);
        const data_bytes = switch (self.options.position) {
            .after => std.mem.alignForward(u64, self.options.front_canary_bytes + user_span, page_bytes),
            .before => std.mem.alignForward(u64, size + self.options.back_canary_bytes, page_bytes),
        };
        const block_bytes = data_bytes + page_bytes;
        if (block_bytes / granule_bytes > std.math.maxInt(u32) / 2) return null;
        return .{
            .block_granules = @intCast(block_bytes / granule_bytes),
            .user_offset_bytes = switch (self.options.position) {
                .after => data_bytes - user_span,
                .before => page_bytes,
            },
        };
    }

    /// A guarded block for `size` bytes, or null where none can be made (no address space left,
    /// the OS refuses to split the mapping further, or the process nears its limit on mappings:
    /// backend/map_budget.zig): the caller places the allocation
    /// unguarded instead. Fills the canaries; the user bytes are left as they are.
    pub fn alloc(self: *Guard, arena: *Arena, size: u64, id: u32) error{OutOfMemory}!?Granted {
        assert(size > 0 and id != 0);
        const shape = self.layout(size) orelse return null;
        // Near the process's limit on mappings, which a guarded block splits: unguarded, before the runtime runs out.
        if (!map_budget.roomForMore()) return null;
        try self.records.ensureUnusedCapacity(self.gpa, 1);
        // Room to list every record as vacant, so forgetting one never allocates.
        try self.vacant.ensureTotalCapacity(self.gpa, self.records.items.len + 1);
        try self.by_user.ensureUnusedCapacity(self.gpa, 1);
        const block_g = try self.place(arena, shape.block_granules, id, size) orelse return null;
        var record: Record = .{
            .user_g = @intCast(block_g + shape.user_offset_bytes / granule_bytes),
            .block_g = block_g,
            .block_granules = shape.block_granules,
            .size = size,
            .id = id,
            .state = .live,
            .position = self.options.position,
        };
        assert(record.userStart() % self.options.alignment_bytes == 0);
        if (!arena.backend.commit(arena.base, record.dataStart(), record.dataBytes())) {
            const undone = self.pages.free(block_g); // its pages are still inaccessible
            assert(undone == .freed);
            return null;
        }
        const front = record.frontCanary();
        canary.fill(bytesAt(arena, front.start, front.len), arena.base + front.start);
        const back = record.backCanary();
        canary.fill(bytesAt(arena, back.start, back.len), arena.base + back.start);
        const index: u32 = if (self.vacant.pop()) |reused| reused else blk: {
            self.records.appendAssumeCapacity(undefined);
            break :blk @intCast(self.records.items.len - 1);
        };
        self.records.items[index] = record;
        self.by_user.putAssumeCapacity(record.user_g, index);
        return .{ .user_g = record.user_g, .block_g = block_g, .block_bytes = record.blockBytes() };
    }

    /// Places a block in the guard regions, adding a region when none has room.
    fn place(self: *Guard, arena: *Arena, granules: u32, id: u32, size: u64) error{OutOfMemory}!?u32 {
        if (try self.pages.alloc(granules, page_granules, id, size)) |g| return g;
        const wanted = std.mem.alignForward(u64, @max(region_bytes_min, 2 * @as(u64, granules) * granule_bytes), arena_mod.unit_bytes);
        const index = arena.grow(wanted) orelse return null;
        const region = &arena.regions.items[index];
        region.owner = .guard;
        const region_bytes = @as(u64, region.len) * granule_bytes;
        if (!arena.backend.protectNone(arena.base, @as(u64, region.start) * granule_bytes, region_bytes)) {
            arena.shrink(index);
            return null;
        }
        self.pages.addRegion(region.*) catch |err| {
            arena.shrink(index);
            return err;
        };
        return try self.pages.alloc(granules, page_granules, id, size);
    }

    pub fn find(self: *Guard, user_g: u32) ?*Record {
        const index = self.by_user.get(user_g) orelse return null;
        const record = &self.records.items[index];
        assert(record.user_g == user_g and record.state != .vacant);
        return record;
    }

    /// Makes a freed block's data inaccessible; false where the OS refused (the block must then
    /// never be reused: its pages may still be accessible).
    pub fn seal(self: *Guard, arena: *Arena, record: *Record) bool {
        _ = self;
        assert(record.state == .live);
        return arena.backend.protectNone(arena.base, record.dataStart(), record.dataBytes());
    }

    /// Gives a sealed block's physical memory back: for blocks that stay unused a while
    /// (quarantine) or are large. A small block reused soon keeps its pages, which saves a
    /// system call now and a page fault at its next use.
    pub fn discard(self: *Guard, arena: *Arena, record: *const Record) void {
        _ = self;
        assert(record.state != .vacant);
        arena.backend.decommit(arena.base, record.dataStart(), record.dataBytes());
    }

    /// Returns a sealed block's pages to the free guard pages and forgets its record.
    pub fn release(self: *Guard, record: *Record) void {
        assert(record.state != .vacant);
        const freed = self.pages.free(record.block_g);
        assert(freed == .freed);
        self.forget(record);
    }

    /// Forgets a record whose block stays allocated for good (its pages could not be sealed).
    pub fn forget(self: *Guard, record: *Record) void {
        const index = self.by_user.remove(record.user_g).?;
        assert(&self.records.items[index] == record);
        freeStacks(self.gpa, record);
        record.* = .{ .user_g = 0, .block_g = 0, .block_granules = 0, .size = 0, .id = 0, .state = .vacant, .position = record.position };
        self.vacant.appendAssumeCapacity(index); // capacity for every record was reserved in alloc
    }

    /// Keeps a copy of a JavaScript stack of the allocation for the fault report (at most a page).
    pub fn setStack(self: *Guard, record: *Record, kind: StackKind, stack: []const u8) error{OutOfMemory}!void {
        assert(record.state != .vacant);
        const kept = try self.gpa.dupe(u8, stack[0..@min(stack.len, stack_bytes_max)]);
        const slot = &record.stacks[@intFromEnum(kind)];
        self.gpa.free(slot.*);
        slot.* = kept;
    }

    /// Forgets every guarded block: every page of every guard region is inaccessible again.
    pub fn reset(self: *Guard, arena: *Arena) error{OutOfMemory}!void {
        for (self.records.items) |*record| freeStacks(self.gpa, record);
        self.records.clearRetainingCapacity();
        self.vacant.clearRetainingCapacity();
        self.by_user.clear();
        for (arena.regions.items) |region| {
            if (!region.committed or region.owner != .guard) continue;
            const start = @as(u64, region.start) * granule_bytes;
            const len = @as(u64, region.len) * granule_bytes;
            _ = arena.backend.protectNone(arena.base, start, len);
            arena.backend.decommit(arena.base, start, len);
        }
        try self.pages.reset(arena.regions.items, .guard);
    }

    /// Takes an empty guard region out of placement, before it is decommitted.
    pub fn removeRegion(self: *Guard, region: Region) void {
        assert(region.owner == .guard and region.live_count == 0);
        self.pages.removeRegion(region);
    }

    /// The record whose block holds granule `g`, live or in quarantine; a linear scan, for the
    /// slow paths (bad frees, fault reports).
    pub fn containing(self: *const Guard, g: u64) ?*const Record {
        for (self.records.items) |*record| {
            if (record.state != .vacant and record.contains(g)) return record;
        }
        return null;
    }
};

fn freeStacks(gpa: std.mem.Allocator, record: *Record) void {
    for (&record.stacks) |*stack| {
        gpa.free(stack.*);
        stack.* = &.{};
    }
}

fn bytesAt(arena: *const Arena, offset: u64, len: u64) []u8 {
    const pointer: [*]u8 = @ptrFromInt(arena.base + offset);
    return pointer[0..len];
}

test "guarded blocks: user bytes against the page edge, canaries in the slack, records found" {
    var arena = Arena.init(std.testing.allocator, .host, 64 * arena_mod.unit_bytes).?;
    defer arena.deinit();
    _ = arena.grow(arena_mod.unit_bytes).?; // a strategy region first, as a pool has
    var guard = Guard.init(std.testing.allocator, .{ .position = .after, .sample_period = 1, .alignment_bytes = 16, .front_canary_bytes = 16, .back_canary_bytes = 16, .seed = 1 });
    defer guard.deinit();
    const granted = (try guard.alloc(&arena, 100, 1)).?;
    const record = guard.find(granted.user_g).?;
    try std.testing.expectEqual(arena_mod.Owner.guard, arena.regions.items[arena.regionOf(granted.block_g)].owner);
    try std.testing.expectEqual(@as(u64, 2 * page_bytes), granted.block_bytes);
    // 100 bytes round to 112: the user bytes end 12 bytes before the guard page.
    try std.testing.expectEqual(record.dataStart() + page_bytes - 112, record.userStart());
    try std.testing.expectEqual(@as(u64, 12), record.backCanary().len);
    const user: [*]u8 = @ptrFromInt(arena.base + record.userStart());
    @memset(user[0..100], 0xAB);
    const back = record.backCanary();
    try std.testing.expect(canary.firstDamaged(bytesAt(&arena, back.start, back.len), arena.base + back.start, .upward) == null);
    user[100] = 0; // one byte past the end: inside the slack, so a canary finds it
    try std.testing.expectEqual(@as(?usize, 0), canary.firstDamaged(bytesAt(&arena, back.start, back.len), arena.base + back.start, .upward));
    try std.testing.expect(guard.containing(granted.block_g + page_granules) == record); // the guard page
    try std.testing.expect(guard.seal(&arena, record));
    guard.discard(&arena, record);
    guard.release(record);
    try std.testing.expect(guard.find(granted.user_g) == null);
    try std.testing.expect(guard.containing(granted.block_g) == null);
}

test "underflow mode puts the user bytes right after the guard page" {
    var arena = Arena.init(std.testing.allocator, .host, 64 * arena_mod.unit_bytes).?;
    defer arena.deinit();
    var guard = Guard.init(std.testing.allocator, .{ .position = .before, .sample_period = 1, .alignment_bytes = 16, .front_canary_bytes = 0, .back_canary_bytes = 0, .seed = 1 });
    defer guard.deinit();
    const granted = (try guard.alloc(&arena, 4096, 1)).?;
    try std.testing.expectEqual(granted.block_g + page_granules, granted.user_g);
    try std.testing.expectEqual(@as(u64, 2 * page_bytes), granted.block_bytes);
}

test "sampling guards about one allocation in N" {
    var guard = Guard.init(std.testing.allocator, .{ .position = .after, .sample_period = 50, .alignment_bytes = 16, .front_canary_bytes = 0, .back_canary_bytes = 0, .seed = 42 });
    defer guard.deinit();
    var sampled: u32 = 0;
    for (0..100_000) |_| sampled += @intFromBool(guard.sample());
    try std.testing.expect(sampled > 1600 and sampled < 2400);
}
