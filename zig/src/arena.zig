//! An arena is one reserved range of address space, carved into regions that are committed
//! when the pool grows and decommitted by trim. Everything inside is addressed by granule
//! offset (16 bytes) from the arena's base, a u32: that is what crosses the FFI boundary.
//!
//! Invariants: regions never overlap, each starts on a unit boundary and spans whole units;
//! `unit_region[u]` names the region holding unit `u` (or none); `committed_bytes` is the sum of
//! the lengths of committed regions.
const std = @import("std");
const assert = std.debug.assert;
const Backend = @import("backend.zig").Backend;

pub const granule_bytes: u64 = 16;

/// Granules that hold `bytes`.
pub inline fn granulesFor(bytes: u64) u64 {
    return std.math.divCeil(u64, bytes, granule_bytes) catch unreachable;
}
/// Regions are made of whole units, so a region is found from an offset with one array lookup.
pub const unit_bytes: u64 = 64 * 1024;
pub const unit_granules: u32 = @intCast(unit_bytes / granule_bytes);
/// The most address space one arena may reserve: its granule offsets stay below the error codes.
/// (Less a 2 MiB device granule, so a reservation rounded to one still fits.)
pub const reserve_bytes_max: u64 = 64 * 1024 * 1024 * 1024 - 2 * 1024 * 1024;
pub const none: u32 = std.math.maxInt(u32);
/// The most address space all arenas of the process reserve together: three quarters of the 128 TiB
/// a Linux process has, so the rest of the process (the JavaScript heap, libraries, threads'
/// stacks) always finds room, however many pools there are.
pub const process_reserve_max: u64 = 96 << 40;
/// Address space the arenas of the process hold now.
var process_reserved = std.atomic.Value(u64).init(0);

/// Who places blocks in a region: the pool's strategy, or the debug layer's allocator of
/// guarded pages (zig/src/debug/guard.zig). A region has one owner while it is committed.
pub const Owner = enum(u8) { strategy, guard };

pub const Region = struct {
    start: u32, // granules from the base
    len: u32, // granules
    committed: bool,
    live_count: u32,
    owner: Owner = .strategy,

    pub fn end(self: Region) u64 {
        return @as(u64, self.start) + self.len;
    }
};

pub const Arena = struct {
    gpa: std.mem.Allocator,
    backend: Backend,
    base: u64,
    reserved_bytes: u64,
    regions: std.ArrayList(Region) = .empty,
    unit_region: std.ArrayList(u32) = .empty,
    committed_bytes: u64 = 0,
    /// The bytes from the base that regions may hand out (`limitUsable`: a pool's maxSize), at
    /// most `reserved_bytes`. Regions commit whole units past it, but a region's `len` ends at it:
    /// what a placement sees of a region (its blocks, its free space) never passes the limit.
    usable_bytes: u64,
    /// Set by `retireMapped`: the used range stays mapped for views in other threads.
    retired: bool = false,

    pub fn init(gpa: std.mem.Allocator, backend: Backend, reserved_bytes: u64) ?Arena {
        assert(reserved_bytes > 0 and reserved_bytes <= reserve_bytes_max);
        assert(reserved_bytes % backend.granularity() == 0);
        if (process_reserved.fetchAdd(reserved_bytes, .monotonic) + reserved_bytes > process_reserve_max) {
            _ = process_reserved.fetchSub(reserved_bytes, .monotonic);
            return null;
        }
        const base = backend.reserve(reserved_bytes) orelse {
            _ = process_reserved.fetchSub(reserved_bytes, .monotonic);
            return null;
        };
        return .{ .gpa = gpa, .backend = backend, .base = base, .reserved_bytes = reserved_bytes, .usable_bytes = reserved_bytes };
    }

    /// Like `init` with `wanted_bytes`, but where the process's address space is too short for it
    /// (1,500 pools of 64 GiB each reach `process_reserve_max`) takes the largest power of two
    /// below it that fits, down to `least_bytes`.
    pub fn initShrinking(gpa: std.mem.Allocator, backend: Backend, wanted_bytes: u64, least_bytes: u64) ?Arena {
        assert(least_bytes > 0 and least_bytes <= wanted_bytes);
        if (init(gpa, backend, wanted_bytes)) |arena| return arena;
        var len = std.math.floorPowerOfTwo(u64, wanted_bytes - 1);
        while (len >= least_bytes and len % backend.granularity() == 0) : (len /= 2) {
            if (init(gpa, backend, len)) |arena| return arena;
        }
        return null;
    }

    /// Regions hand out no byte at or past `bytes` from the base (whole granules; less than one
    /// commit unit below the reservation's end, so that only the region that reaches the end is
    /// cut short). Before the first region.
    pub fn limitUsable(self: *Arena, bytes: u64) void {
        assert(self.regions.items.len == 0 and bytes > 0 and bytes <= self.reserved_bytes);
        assert(self.reserved_bytes - bytes < self.backend.granularity());
        self.usable_bytes = bytes / granule_bytes * granule_bytes;
    }

    /// The granules region `region` has committed: its `len`, or for the one cut short at
    /// `usable_bytes`, the rest of the reservation (see `usable_bytes`).
    fn committedGranules(self: *const Arena, region: Region) u64 {
        assert(region.committed);
        // Ending at `usable_bytes` is not enough: where that is a unit's start, a region of whole
        // units may end there uncut (no unit past it is committed). The cut one's units go on.
        const cut = self.usable_bytes < self.reserved_bytes and region.end() * granule_bytes == self.usable_bytes and
            @as(u64, self.unit_region.items.len) * unit_granules > region.end();
        return if (cut) self.reserved_bytes / granule_bytes - region.start else region.len;
    }

    /// The committed bytes regions hand out: `committed_bytes` less what the region cut short at
    /// `usable_bytes` commits past it.
    pub fn placeableBytes(self: *const Arena) u64 {
        if (self.usable_bytes == self.reserved_bytes or @as(u64, self.unit_region.items.len) * unit_bytes < self.reserved_bytes) return self.committed_bytes;
        const last = self.regions.items[self.unit_region.items[self.unit_region.items.len - 1]];
        assert(last.committed and last.end() * granule_bytes == self.usable_bytes); // a range at the end goes back to the reservation
        return self.committed_bytes - (self.reserved_bytes - self.usable_bytes);
    }

    pub fn deinit(self: *Arena) void {
        // Each committed region is decommitted first: device memory and pinned registrations
        // belong to the region, not to the reservation.
        for (self.regions.items) |region| {
            if (region.committed) self.backend.decommit(self.base, @as(u64, region.start) * granule_bytes, self.committedGranules(region) * granule_bytes);
        }
        if (!self.retired) {
            self.backend.release(self.base, self.reserved_bytes);
            _ = process_reserved.fetchSub(self.reserved_bytes, .monotonic);
        }
        self.backend.deinit();
        self.regions.deinit(self.gpa);
        self.unit_region.deinit(self.gpa);
        self.* = undefined;
    }

    /// For a host or pinned arena that JavaScript views in other threads may still reach (the destroying
    /// thread cannot detach them): `deinit` will give the memory back (MADV_DONTNEED, pages stay
    /// readable and writable and read as zeros) but keep the used range mapped, so a stale view
    /// reads zeros instead of killing the process. Only the never-used tail is unmapped now; the
    /// used range's address space (not memory) stays taken for the life of the process.
    pub fn retireMapped(self: *Arena) void {
        assert(self.backend.hostAccessible() and !self.retired);
        // A mapped file's last unit may pass its end: the file is all there is.
        const used_bytes = @min(@as(u64, self.unit_region.items.len) * unit_bytes, self.reserved_bytes);
        self.backend.retire(self.base, used_bytes, self.reserved_bytes);
        _ = process_reserved.fetchSub(self.reserved_bytes - used_bytes, .monotonic); // the used range stays taken
        self.retired = true;
    }

    /// The region that holds granule `g`, or `none` where no committed region does.
    pub inline fn regionOf(self: *const Arena, g: u32) u32 {
        const unit = g / unit_granules;
        if (unit >= self.unit_region.items.len) return none;
        return self.unit_region.items[unit];
    }

    /// Commits a region of `len_bytes` (whole units), in the smallest decommitted range that holds
    /// it before fresh address space (a larger range is split: only `len_bytes` are committed, the
    /// rest stays decommitted for later). Returns its index, or null when the reservation is full,
    /// the OS refuses or no memory is left for the bookkeeping, having committed nothing. The
    /// region's owner is the strategy until the caller says otherwise.
    pub fn grow(self: *Arena, len_bytes: u64) ?u32 {
        assert(len_bytes > 0 and len_bytes % self.backend.granularity() == 0);
        if (self.smallestDecommitted(len_bytes)) |index| return self.recommit(index, len_bytes);
        const start_bytes = @as(u64, self.unit_region.items.len) * unit_bytes;
        // At or past `usable_bytes` a region would hand out no granule (a maxSize that ends on a
        // unit's start leaves units of the reservation beyond it): the pool is at its maxSize.
        if (start_bytes + len_bytes > self.reserved_bytes or start_bytes >= self.usable_bytes) return null;
        const index = self.emptySlot() orelse return null;
        const units = len_bytes / unit_bytes;
        self.unit_region.ensureUnusedCapacity(self.gpa, units) catch return null;
        if (!self.backend.commit(self.base, start_bytes, len_bytes)) return null;
        self.unit_region.appendNTimesAssumeCapacity(index, units);
        self.regions.items[index] = .{
            .start = @intCast(start_bytes / granule_bytes),
            .len = @intCast((@min(start_bytes + len_bytes, self.usable_bytes) - start_bytes) / granule_bytes),
            .committed = true,
            .live_count = 0,
        };
        self.committed_bytes += len_bytes;
        assert(self.regions.items[index].len > 0);
        assert(self.unit_region.items.len * unit_bytes <= self.reserved_bytes);
        return index;
    }

    /// A region record no range uses (one that trim merged away or handed back to the
    /// reservation: a tombstone, no unit names it), or a new one; null where no memory is left.
    fn emptySlot(self: *Arena) ?u32 {
        for (self.regions.items, 0..) |region, index| {
            if (!region.committed and region.len == 0) return @intCast(index);
        }
        self.regions.ensureUnusedCapacity(self.gpa, 1) catch return null;
        self.regions.appendAssumeCapacity(.{ .start = 0, .len = 0, .committed = false, .live_count = 0 });
        return @intCast(self.regions.items.len - 1);
    }

    /// The decommitted region of at least `len_bytes` with the fewest bytes to spare, or null.
    fn smallestDecommitted(self: *const Arena, len_bytes: u64) ?u32 {
        var best: ?u32 = null;
        for (self.regions.items, 0..) |region, index| {
            if (region.committed or @as(u64, region.len) * granule_bytes < len_bytes) continue;
            if (best == null or region.len < self.regions.items[best.?].len) best = @intCast(index);
        }
        return best;
    }

    /// Commits the first `len_bytes` of decommitted region `index`; a rest past them becomes a
    /// decommitted region of its own (in a tombstone's slot where there is one).
    fn recommit(self: *Arena, index: u32, len_bytes: u64) ?u32 {
        const len: u32 = @intCast(len_bytes / granule_bytes);
        assert(!self.regions.items[index].committed and self.regions.items[index].len >= len);
        assert(self.regions.items[index].live_count == 0);
        const rest = if (self.regions.items[index].len > len) self.split(index, len) orelse return null else null;
        const region = &self.regions.items[index];
        if (!self.backend.commit(self.base, @as(u64, region.start) * granule_bytes, len_bytes)) {
            if (rest) |rest_index| self.absorb(index, rest_index);
            return null;
        }
        region.committed = true;
        region.owner = .strategy;
        self.committed_bytes += len_bytes;
        return index;
    }

    /// Cuts decommitted region `index` after its first `len` granules; returns the index of the
    /// rest, or null where no memory is left for its record.
    fn split(self: *Arena, index: u32, len: u32) ?u32 {
        assert(len % unit_granules == 0 and len < self.regions.items[index].len);
        const slot = self.emptySlot() orelse return null;
        assert(slot != index);
        const region = &self.regions.items[index];
        const rest: Region = .{ .start = region.start + len, .len = region.len - len, .committed = false, .live_count = 0 };
        region.len = len;
        self.regions.items[slot] = rest;
        for (self.unit_region.items[rest.start / unit_granules .. @intCast(rest.end() / unit_granules)]) |*owner| owner.* = slot;
        return slot;
    }

    /// Takes the range [start_bytes, start_bytes + len_bytes) of a backend whose memory is there
    /// already (a mapped file: `Backend.mappedBytes`) as the arena's first and only region; its
    /// index is 0. Units before it name no region; the unit it starts in names it even where it
    /// starts inside that unit (offsets there before its start are no block of its strategy).
    pub fn adopt(self: *Arena, start_bytes: u64, len_bytes: u64) error{OutOfMemory}!u32 {
        assert(self.regions.items.len == 0 and self.backend.mappedBytes() != null);
        assert(start_bytes % granule_bytes == 0 and len_bytes % granule_bytes == 0 and len_bytes > 0);
        assert(start_bytes + len_bytes <= self.reserved_bytes);
        const first_unit = start_bytes / unit_bytes;
        const end_unit = std.math.divCeil(u64, start_bytes + len_bytes, unit_bytes) catch unreachable;
        try self.regions.ensureUnusedCapacity(self.gpa, 1);
        try self.unit_region.appendNTimes(self.gpa, none, first_unit);
        try self.unit_region.appendNTimes(self.gpa, 0, end_unit - first_unit);
        self.regions.appendAssumeCapacity(.{
            .start = @intCast(start_bytes / granule_bytes),
            .len = @intCast(len_bytes / granule_bytes),
            .committed = true,
            .live_count = 0,
        });
        self.committed_bytes = len_bytes;
        return 0;
    }

    /// Gives a committed region's memory back; its address range stays reserved for reuse, merged
    /// with decommitted neighbours (so a later, larger region fits there), and handed back to
    /// the end of the reservation where it borders it.
    pub fn shrink(self: *Arena, index: u32) void {
        const region = &self.regions.items[index];
        assert(region.committed and region.live_count == 0);
        region.len = @intCast(self.committedGranules(region.*)); // a region cut short: its range is whole again
        const len_bytes = @as(u64, region.len) * granule_bytes;
        self.backend.decommit(self.base, @as(u64, region.start) * granule_bytes, len_bytes);
        region.committed = false;
        assert(self.committed_bytes >= len_bytes);
        self.committed_bytes -= len_bytes;
        var merged = index;
        if (self.neighbour(index, .before)) |before| {
            if (!self.regions.items[before].committed) {
                self.absorb(before, index);
                merged = before;
            }
        }
        if (self.neighbour(merged, .after)) |after| {
            if (!self.regions.items[after].committed) self.absorb(merged, after);
        }
        const last = &self.regions.items[merged];
        if (last.end() == self.unit_region.items.len * unit_granules) {
            self.unit_region.shrinkRetainingCapacity(last.start / unit_granules);
            last.len = 0; // a tombstone: no request fits it, and its range is the reservation's again
        }
    }

    const Side = enum { before, after };

    /// The region whose range touches region `index`'s on `side`, skipping tombstones.
    fn neighbour(self: *const Arena, index: u32, side: Side) ?u32 {
        const region = self.regions.items[index];
        const unit: u64 = switch (side) {
            .before => if (region.start == 0) return null else region.start / unit_granules - 1,
            .after => region.end() / unit_granules,
        };
        if (unit >= self.unit_region.items.len) return null;
        return self.unit_region.items[@intCast(unit)];
    }

    /// Merges decommitted region `absorbed` into `kept`, the one just before it in address order.
    fn absorb(self: *Arena, kept: u32, absorbed: u32) void {
        const into = &self.regions.items[kept];
        const from = &self.regions.items[absorbed];
        assert(!into.committed and !from.committed and into.end() == from.start);
        for (self.unit_region.items[from.start / unit_granules .. @intCast(from.end() / unit_granules)]) |*owner| owner.* = kept;
        into.len += from.len;
        from.len = 0;
    }

    /// The longest range one new region could take (`grow`) were every committed region but the
    /// first that holds no live block (`empty(context, index, region)`) given back (`shrink`):
    /// decommitted ranges, those regions and the reservation's unused tail, where they lie side by
    /// side. Walks the regions once.
    pub fn longestRangeFreeOfLive(self: *const Arena, context: anytype, comptime empty: fn (@TypeOf(context), u32, Region) bool) u64 {
        return self.longestFreeRange(context, empty, true);
    }

    /// The same, among the ranges regions have taken so far: without the reservation's unused tail.
    pub fn longestRangeFreeOfLiveWithin(self: *const Arena, context: anytype, comptime empty: fn (@TypeOf(context), u32, Region) bool) u64 {
        return self.longestFreeRange(context, empty, false);
    }

    fn longestFreeRange(self: *const Arena, context: anytype, comptime empty: fn (@TypeOf(context), u32, Region) bool, with_tail: bool) u64 {
        var longest: u64 = 0;
        var run: u64 = 0; // the free range that ends where the walk is
        var unit: u64 = 0;
        while (unit < self.unit_region.items.len) {
            const index = self.unit_region.items[@intCast(unit)];
            if (index == none) { // before an adopted region: no range to grow in
                run = 0;
                unit += 1;
                continue;
            }
            const region = self.regions.items[index];
            // The units a region takes: for the one cut short at `usable_bytes`, those it commits
            // past its `len` too (a cut at a unit's start leaves it whole units beyond its end).
            const span = if (region.committed) self.committedGranules(region) else region.len;
            const next = std.math.divCeil(u64, region.start + span, unit_granules) catch unreachable;
            assert(region.len > 0 and next > unit);
            const free = !region.committed or (index != 0 and empty(context, index, region));
            run = if (free) run + (next - unit) * unit_bytes else 0;
            longest = @max(longest, run);
            unit = next;
        }
        if (!with_tail) return longest;
        const used_bytes = @min(@as(u64, self.unit_region.items.len) * unit_bytes, self.reserved_bytes);
        return @max(longest, run + (self.reserved_bytes - used_bytes));
    }

    pub fn regionBytes(self: *const Arena, index: u32) u64 {
        return @as(u64, self.regions.items[index].len) * granule_bytes;
    }

    /// The bytes of the largest committed region (the first region stays, so there is one).
    pub fn largestCommittedBytes(self: *const Arena) u64 {
        var largest: u32 = 0;
        for (self.regions.items) |region| {
            if (region.committed) largest = @max(largest, region.len);
        }
        assert(largest > 0);
        return @as(u64, largest) * granule_bytes;
    }

    pub fn address(self: *const Arena, g: u32) u64 {
        assert(@as(u64, g) * granule_bytes < self.reserved_bytes);
        return self.base + @as(u64, g) * granule_bytes;
    }
};

test "grow commits whole units and finds regions by offset" {
    var arena = Arena.init(std.testing.allocator, .host, 8 * unit_bytes).?;
    defer arena.deinit();
    try std.testing.expectEqual(@as(u32, 0), arena.grow(unit_bytes).?);
    try std.testing.expectEqual(@as(u32, 1), arena.grow(2 * unit_bytes).?);
    try std.testing.expectEqual(@as(u32, 0), arena.regionOf(0));
    try std.testing.expectEqual(@as(u32, 1), arena.regionOf(unit_granules));
    try std.testing.expectEqual(@as(u32, 1), arena.regionOf(3 * unit_granules - 1));
    try std.testing.expectEqual(none, arena.regionOf(3 * unit_granules));
    try std.testing.expectEqual(3 * unit_bytes, arena.committed_bytes);
    try std.testing.expect(arena.grow(6 * unit_bytes) == null); // past the reservation
    arena.shrink(1);
    try std.testing.expectEqual(unit_bytes, arena.committed_bytes);
    // Region 1 bordered the end: its range went back to the reservation, and a larger region fits
    // (in region 1's record: no range uses it now).
    try std.testing.expectEqual(@as(u32, 1), arena.grow(7 * unit_bytes).?);
    try std.testing.expectEqual(@as(u32, 1), arena.regionOf(unit_granules));
    try std.testing.expectEqual(@as(usize, 2), arena.regions.items.len);
}

test "decommitted neighbours merge so a larger region fits between committed ones" {
    var arena = Arena.init(std.testing.allocator, .host, 8 * unit_bytes).?;
    defer arena.deinit();
    for (0..4) |_| _ = arena.grow(unit_bytes).?;
    _ = arena.grow(4 * unit_bytes).?; // regions 0..3 one unit each, region 4 the last four units
    arena.shrink(1);
    arena.shrink(2);
    try std.testing.expect(arena.grow(3 * unit_bytes) == null); // two units free in the middle, none at the end
    try std.testing.expectEqual(@as(u32, 1), arena.grow(2 * unit_bytes).?); // the merged pair
    try std.testing.expectEqual(@as(u32, 1), arena.regionOf(2 * unit_granules));
}

test "a region grown in a larger decommitted range commits only its length; the rest stays for later" {
    var arena = Arena.init(std.testing.allocator, .host, 16 * unit_bytes).?;
    defer arena.deinit();
    _ = arena.grow(unit_bytes).?;
    _ = arena.grow(8 * unit_bytes).?;
    _ = arena.grow(unit_bytes).?; // regions: 1 unit, 8 units, 1 unit
    arena.shrink(1);
    try std.testing.expectEqual(2 * unit_bytes, arena.committed_bytes);
    const first = arena.grow(2 * unit_bytes).?;
    try std.testing.expectEqual(@as(u32, 1), first); // in the freed range, not past the last region
    try std.testing.expectEqual(4 * unit_bytes, arena.committed_bytes);
    try std.testing.expectEqual(2 * unit_bytes, arena.regionBytes(first));
    const rest = arena.regionOf(3 * unit_granules);
    try std.testing.expect(rest != first and !arena.regions.items[rest].committed);
    try std.testing.expectEqual(6 * unit_bytes, arena.regionBytes(rest));
    const second = arena.grow(6 * unit_bytes).?; // the rest, whole
    try std.testing.expectEqual(rest, second);
    try std.testing.expectEqual(10 * unit_bytes, arena.committed_bytes);
    // Given back, the two merge again, and the record of the merged-away one is the next split's.
    arena.shrink(first);
    arena.shrink(second);
    const records = arena.regions.items.len;
    try std.testing.expectEqual(@as(u32, 0), arena.regions.items[second].len);
    try std.testing.expectEqual(first, arena.grow(3 * unit_bytes).?);
    try std.testing.expectEqual(second, arena.regionOf(4 * unit_granules));
    try std.testing.expectEqual(records, arena.regions.items.len);
    try std.testing.expectEqual(5 * unit_bytes, arena.committed_bytes);
}

test "the longest range free of live blocks joins decommitted ranges, empty regions but the first, and the unused tail" {
    var arena = Arena.init(std.testing.allocator, .host, 10 * unit_bytes).?;
    defer arena.deinit();
    for ([_]u64{ 1, 2, 1, 3, 1 }) |units| _ = arena.grow(units * unit_bytes).?; // regions 0 .. 4 in units 0 .. 7; units 8, 9 unused
    try std.testing.expectEqual(9 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone)); // every region but the first, and the tail
    try std.testing.expectEqual(7 * unit_bytes, arena.longestRangeFreeOfLiveWithin({}, holdsNone)); // ... without the tail
    for (arena.regions.items) |*region| region.live_count = 1;
    try std.testing.expectEqual(2 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone)); // the tail alone
    try std.testing.expectEqual(0, arena.longestRangeFreeOfLiveWithin({}, holdsNone));
    arena.regions.items[2].live_count = 0;
    arena.regions.items[3].live_count = 0;
    arena.shrink(3); // its 3 units decommitted, beside region 2 (empty): 4 units in a row
    try std.testing.expectEqual(4 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone));
    arena.regions.items[1].live_count = 0;
    try std.testing.expectEqual(6 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone));
    arena.regions.items[4].live_count = 0;
    arena.regions.items[0].live_count = 0; // the first region stays: it never joins
    try std.testing.expectEqual(9 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone));
}

fn holdsNone(_: void, _: u32, region: Region) bool {
    return region.live_count == 0;
}

test "a region that reaches past the usable limit commits whole units but ends at the limit, and goes back whole" {
    var arena = Arena.init(std.testing.allocator, .host, 2 * unit_bytes).?;
    defer arena.deinit();
    arena.limitUsable(unit_bytes + 16_000);
    try std.testing.expectEqual(@as(u32, 0), arena.grow(unit_bytes).?);
    try std.testing.expectEqual(unit_bytes, arena.regionBytes(0)); // below the limit: whole
    try std.testing.expectEqual(@as(u32, 1), arena.grow(unit_bytes).?);
    try std.testing.expectEqual(@as(u64, 16_000), arena.regionBytes(1)); // cut at the limit
    try std.testing.expectEqual(2 * unit_bytes, arena.committed_bytes);
    try std.testing.expectEqual(unit_bytes + 16_000, arena.placeableBytes());
    arena.shrink(1); // its whole unit goes back, to the reservation's end
    try std.testing.expectEqual(unit_bytes, arena.committed_bytes);
    try std.testing.expectEqual(unit_bytes, arena.placeableBytes());
    try std.testing.expectEqual(@as(usize, 1), arena.unit_region.items.len);
    try std.testing.expectEqual(@as(u32, 1), arena.grow(unit_bytes).?);
    try std.testing.expectEqual(@as(u64, 16_000), arena.regionBytes(1));
}

test "a limit on a unit's start: no region starts at it, an uncut region that ends at it goes back alone, a cut one's units count" {
    var arena = Arena.init(std.testing.allocator, .host, 4 * unit_bytes).?;
    defer arena.deinit();
    arena.limitUsable(3 * unit_bytes + 1); // whole granules end at unit 3; the reservation at unit 4
    for (0..3) |_| _ = arena.grow(unit_bytes).?; // region 2 ends at the limit, uncut
    try std.testing.expect(arena.grow(unit_bytes) == null); // it would start at the limit: nothing to hand out
    try std.testing.expectEqual(3 * unit_bytes, arena.placeableBytes());
    arena.shrink(1);
    arena.shrink(2); // its one unit goes back (not the uncommitted one past it), merged with region 1's
    try std.testing.expectEqual(unit_bytes, arena.committed_bytes);
    try std.testing.expectEqual(@as(usize, 1), arena.unit_region.items.len);
    // One region of three units from unit 1, cut at the limit: the walk counts all three.
    const cut = arena.grow(3 * unit_bytes).?;
    try std.testing.expectEqual(2 * unit_bytes, arena.regionBytes(cut));
    try std.testing.expectEqual(3 * unit_bytes, arena.longestRangeFreeOfLive({}, holdsNone));
    arena.shrink(cut);
    try std.testing.expectEqual(unit_bytes, arena.committed_bytes);
}

test "the smallest decommitted range that holds a region is the one taken" {
    var arena = Arena.init(std.testing.allocator, .host, 16 * unit_bytes).?;
    defer arena.deinit();
    for ([_]u64{ 1, 4, 1, 2, 1 }) |units| _ = arena.grow(units * unit_bytes).?;
    arena.shrink(1); // 4 units free at unit 1
    arena.shrink(3); // 2 units free at unit 6
    try std.testing.expectEqual(@as(u32, 3), arena.grow(2 * unit_bytes).?);
    try std.testing.expectEqual(@as(u32, 1), arena.grow(3 * unit_bytes).?);
}
