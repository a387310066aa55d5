//! The core's half of a Variable pool's JavaScript bins (src/size_bins.ts): for a pool only its
//! creating thread may touch (threadSafety "none", no debug layer, not sharded), a table in memory
//! both sides read, with a slot per block the bins manage. JavaScript keeps bins of freed blocks'
//! slots (size classes: each size up to 256 B, then 16 a power of two, up to 64 MiB) and hands a binned block out again, or
//! bins a freed one, with no FFI call; a miss is one core call that places a block of the bin's
//! capacity and registers it here.
//!
//! A registered block is placed (allocated) in the pool's TLSF from its registration to its
//! release, with the id and requested size of its first allocation in the TLSF's record. The
//! slot holds its truth: the current allocation's id (state > 0), or the binned flag (free, held
//! for this thread: cached bytes, apart from bytes in use). The pool's readers ask here first
//! (`Pool.lookupLocked`, `listLive`, snapshots, and the statistics layer through the placement's
//! `correctFigures`/`correctPeaks`, layers.zig), so a binned block is not live and a
//! block handed out again has its new id and size. Where a block leaves the bins' management while
//! live (a PMEM root or link publishes it, a GPU stream frees it), `leave` writes its current id
//! and size into the TLSF's record and the pool's statistics: from then on it is an ordinary block,
//! whose free goes to the core (and the PMEM journal).
//!
//! Statistics: the pool's counters count a registered block as one allocation of its first size
//! from registration to release; `correct` turns them into the allocations JavaScript made, from
//! the counters JavaScript keeps in `Header` and the differences kept here. Peaks are kept here,
//! exact: between two calls of the pool's owner into the core only JavaScript changes the
//! allocations, and only the bins' part of them (a hit raises it), so JavaScript keeps the highest
//! that part reached (`live_requested_high`, `cached_blocks_low`) and the core folds it over the
//! rest of the pool's figures, which no hit changes, as the owner enters (`foldPeaks`).
//!
//! Invariants: only the pool's thread reads or writes the table (no atomics); every slot in the
//! hash is in use and its block placed; a binned slot's state has `binned_flag` set; `count`
//! slots are in use, `cached_blocks` of them binned.
const std = @import("std");
const assert = std.debug.assert;
const stats_mod = @import("../stats.zig");
const placement_mod = @import("../strategy/placement.zig");
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const Fixed = @import("../strategy/fixed.zig").Fixed;
const unfilled = @import("../unfilled.zig");

/// Slots: blocks the bins manage at once (misses past it take the core's plain path).
pub const slot_capacity: u32 = 1 << 15;
/// The hash has twice as many entries as slots: probes stay short.
pub const hash_bits: u32 = 16;
const hash_entries: u32 = 1 << hash_bits;
/// A binned slot's state: the flag over the last id (an Int32Array reads it negative).
pub const binned_flag: u32 = 0x8000_0000;
/// Fibonacci hashing of a granule offset: (g * multiplier) >> (32 - hash_bits).
pub const hash_multiplier: u32 = 0x9E37_79B1;
/// The least cap on binned bytes; above it, a quarter of the pool's committed bytes.
pub const cap_bytes_min: u64 = 8 << 20;

/// Tables kept past their pools' end for the JavaScript views of them (`Bins.retire`), linked by
/// `next_orphan`; pools of any thread are destroyed, and views let go, under `orphans_lock`.
var orphans: ?*Bins = null;
var orphans_lock: std.Thread.Mutex = .{};

/// What JavaScript views: counters it keeps (it writes them on hits and frees, the core on misses
/// and releases), then the slots and the hash. Layout is ABI (src/size_bins.ts mirrors it).
pub const Header = extern struct {
    /// Allocations JavaScript made from the bins, frees it made into them, and their bytes asked for.
    /// Only `correct` reads them (the statistics): JavaScript keeps them in its own fields and
    /// writes them here (SizeBins.publish) before it asks for the pool's figures or a snapshot.
    /// The rest it writes on every hit and free: the core folds them into the peaks at each of
    /// the owner's calls.
    allocations: f64 = 0,
    frees: f64 = 0,
    allocated_bytes: f64 = 0,
    freed_bytes: f64 = 0,
    /// The bytes asked for by the live allocations of registered blocks.
    live_requested_bytes: f64 = 0,
    /// Binned blocks and their bytes (each block's capacity).
    cached_bytes: f64 = 0,
    cached_blocks: f64 = 0,
    /// The most bytes the bins may hold (set by the core at each miss: a share of the pool).
    cap_bytes: f64 = 0,
    /// The address of the pool's last id (a u32): JavaScript counts ids on it.
    ids_address: f64 = 0,
    slot_capacity: u32 = slot_capacity,
    hash_bits: u32 = hash_bits,
    /// The most bytes the live allocations of registered blocks asked for, and the fewest binned
    /// blocks, since the core last folded them into the peaks (`foldPeaks`): JavaScript lowers and
    /// raises them on each hit.
    live_requested_high: f64 = 0,
    cached_blocks_low: f64 = 0,
};

pub const Slot = extern struct { g: u32 = 0, granules: u32 = 0, requested: u32 = 0, state: u32 = 0 };

pub const Shared = extern struct {
    header: Header = .{},
    slots: [slot_capacity]Slot,
    /// A slot's index + 1 by its block's offset; 0: empty. Linear probing, deletion by backward shift.
    hash: [hash_entries]u32,
};

comptime {
    assert(@sizeOf(Header) == 96);
    assert(@offsetOf(Shared, "slots") == 96 and @offsetOf(Shared, "hash") == 96 + 16 * slot_capacity);
}

/// What the bins know of the block at an offset.
pub const Found = union(enum) { none, binned: u32, live: u32 };

/// A registered block holding a given granule: its start, and whether it is binned (free).
pub const Holder = struct { g: u32, binned: bool };

pub const Bins = struct {
    shared: *Shared,
    /// Each slot's requested size as the TLSF's record holds it (its first allocation's).
    recorded: []u32,
    /// Unused slots: a stack of indices.
    unused: []u32,
    unused_count: u32,
    /// Slots in use.
    count: u32 = 0,
    /// A JavaScript cache views the table (mp_bins_open gives it once).
    viewed: bool = false,
    /// No slot at or past it was ever used (slots are taken lowest first at the start).
    high: u32 = 0,
    /// The next table kept past its pool's end (`retire`), in the list of them.
    next_orphan: ?*Bins = null,
    /// The sum of `recorded` over slots in use: the pool's counters hold it as bytes in use.
    recorded_bytes: u64 = 0,
    /// Binned blocks given back to the placement: the pool's counters count each as a free.
    flushed_blocks: u64 = 0,
    /// What the pool's freed-bytes total holds beyond what was freed: its releases count a
    /// block's first size, the allocation freed had another (or none, for a binned block).
    freed_surplus: i64 = 0,
    /// The peaks of the allocations made (the pool's own count binned blocks as in use, at their
    /// first size), up to the core's last `foldPeaks`.
    peak_bytes: u64 = 0,
    peak_live: u64 = 0,

    /// Bins for a pool whose figures are `stats` (peaks from its own: no block is binned yet).
    pub fn create(ids_address: usize, stats: *const stats_mod.Stats) ?*Bins {
        const page = std.heap.page_allocator;
        const self = page.create(Bins) catch return null;
        // Fresh pages from the OS are zero (the slots and hash start empty) and are committed as
        // they are touched; unfilled.zig skips the fill a safe build would write over all of them.
        const shared_bytes = unfilled.alloc(page, Shared, 1) catch {
            page.destroy(self);
            return null;
        };
        const shared = &shared_bytes[0];
        shared.header = .{ .ids_address = @floatFromInt(ids_address), .cap_bytes = @floatFromInt(cap_bytes_min) };
        const recorded = page.alloc(u32, slot_capacity) catch {
            unfilled.free(page, shared_bytes);
            page.destroy(self);
            return null;
        };
        const unused = page.alloc(u32, slot_capacity) catch {
            page.free(recorded);
            unfilled.free(page, shared_bytes);
            page.destroy(self);
            return null;
        };
        for (unused, 0..) |*index, i| index.* = slot_capacity - 1 - @as(u32, @intCast(i));
        self.* = .{ .shared = shared, .recorded = recorded, .unused = unused, .unused_count = slot_capacity, .peak_bytes = stats.peak_bytes_in_use, .peak_live = stats.peak_live_allocations };
        return self;
    }

    pub fn destroy(self: *Bins) void {
        const page = std.heap.page_allocator;
        page.free(self.unused);
        page.free(self.recorded);
        unfilled.free(page, @as([*]Shared, @ptrCast(self.shared))[0..1]);
        page.destroy(self);
    }

    /// The pool is destroyed. Where JavaScript views the table, the view may be read after the
    /// pool's end (a second copy of the library in the thread destroyed it, unseen by the first):
    /// the table stays mapped, emptied (no slot binned or live: every lookup there misses and takes
    /// the core's path, which says the pool is gone), until JavaScript lets go of it
    /// (`releaseOrphan`). Else it goes now.
    pub fn retire(self: *Bins) void {
        if (!self.viewed) return self.destroy();
        for (self.shared.slots[0..self.high]) |*slot| slot.* = .{};
        @memset(&self.shared.hash, 0);
        const header = &self.shared.header;
        header.cached_bytes = 0;
        header.cached_blocks = 0;
        header.live_requested_bytes = 0;
        header.ids_address = 0;
        const page = std.heap.page_allocator;
        page.free(self.unused);
        page.free(self.recorded);
        self.unused = &.{};
        self.recorded = &.{};
        orphans_lock.lock();
        defer orphans_lock.unlock();
        self.next_orphan = orphans;
        orphans = self;
    }

    /// JavaScript lets go of the table at `address`, whose pool is gone: where it was kept past
    /// the pool's end (`retire`), it goes now. A table of no such pool is left alone.
    pub fn releaseOrphan(address: usize) void {
        const found = found: {
            orphans_lock.lock();
            defer orphans_lock.unlock();
            var link = &orphans;
            while (link.*) |bins| : (link = &bins.next_orphan) {
                if (@intFromPtr(bins.shared) != address) continue;
                link.* = bins.next_orphan;
                break :found bins;
            }
            return;
        };
        assert(found.viewed and found.unused.len == 0);
        found.destroy();
    }

    inline fn home(g: u32) u32 {
        return (g *% hash_multiplier) >> @intCast(32 - hash_bits);
    }

    fn indexOf(self: *const Bins, g: u32) ?u32 {
        var at = home(g);
        while (true) : (at = (at + 1) & (hash_entries - 1)) {
            const entry = self.shared.hash[at];
            if (entry == 0) return null;
            if (self.shared.slots[entry - 1].g == g) return at;
        }
    }

    /// What the bins know of the block at `g` (a cheap test where they manage none).
    pub inline fn find(self: *const Bins, g: u32) Found {
        if (self.count == 0) return .none;
        const at = self.indexOf(g) orelse return .none;
        const slot = self.shared.hash[at] - 1;
        return if (self.shared.slots[slot].state & binned_flag != 0) .{ .binned = slot } else .{ .live = slot };
    }

    /// Registers a block just placed at `g` (capacity `granules`) for allocation `id` of `requested`
    /// bytes; false where every slot is in use (the block stays an ordinary one).
    pub fn register(self: *Bins, g: u32, granules: u32, requested: u32, id: u32) bool {
        assert(id != 0 and id & binned_flag == 0 and granules > 0 and @as(u64, requested) <= @as(u64, granules) * 16);
        assert(self.indexOf(g) == null);
        if (self.unused_count == 0) return false;
        self.unused_count -= 1;
        const slot = self.unused[self.unused_count];
        self.high = @max(self.high, slot + 1);
        self.shared.slots[slot] = .{ .g = g, .granules = granules, .requested = requested, .state = id };
        var at = home(g);
        while (self.shared.hash[at] != 0) at = (at + 1) & (hash_entries - 1);
        self.shared.hash[at] = slot + 1;
        self.recorded[slot] = requested;
        self.recorded_bytes += requested;
        self.count += 1;
        self.shared.header.live_requested_bytes += @floatFromInt(requested);
        return true;
    }

    /// Takes the slot of the block at `g` out of the table (backward-shift deletion: no tombstones,
    /// so JavaScript's probes end at the first empty entry).
    fn unregister(self: *Bins, g: u32) u32 {
        var at = self.indexOf(g).?;
        const slot = self.shared.hash[at] - 1;
        var next = (at + 1) & (hash_entries - 1);
        while (self.shared.hash[next] != 0) : (next = (next + 1) & (hash_entries - 1)) {
            const wanted = home(self.shared.slots[self.shared.hash[next] - 1].g);
            // The entry at `next` may move back to `at` where its home is not in (at, next].
            const stays = if (at <= next) (wanted > at and wanted <= next) else (wanted > at or wanted <= next);
            if (stays) continue;
            self.shared.hash[at] = self.shared.hash[next];
            at = next;
        }
        self.shared.hash[at] = 0;
        self.recorded_bytes -= self.recorded[slot];
        self.shared.slots[slot] = .{};
        self.unused[self.unused_count] = slot;
        self.unused_count += 1;
        self.count -= 1;
        return slot;
    }

    /// The pool released the live registered block in `slot` (a free through the core): it leaves
    /// the table; the pool's counters count its first size freed, the allocation had its own.
    pub fn releasedLive(self: *Bins, slot: u32) void {
        const live = self.shared.slots[slot];
        assert(live.state != 0 and live.state & binned_flag == 0);
        self.freed_surplus += @as(i64, self.recorded[slot]) - @as(i64, live.requested);
        self.shared.header.live_requested_bytes -= @floatFromInt(live.requested);
        _ = self.unregister(live.g);
    }

    /// Takes the binned block in `slot` out of the table for the pool to release (a flush): the
    /// pool's counters will count a free that JavaScript already counted.
    pub fn takeBinned(self: *Bins, slot: u32) u32 {
        const binned = self.shared.slots[slot];
        assert(binned.state & binned_flag != 0);
        self.flushed_blocks += 1;
        self.freed_surplus += self.recorded[slot];
        self.shared.header.cached_bytes -= @floatFromInt(@as(u64, binned.granules) * 16);
        self.shared.header.cached_blocks -= 1;
        _ = self.unregister(binned.g);
        return binned.g;
    }

    /// The live block in `slot` becomes an ordinary block (published, or freed on a stream): its
    /// current id and size, which the caller writes into the placement's record; returns the
    /// change of bytes in use the pool's counters must take (current size less the recorded one).
    pub fn leave(self: *Bins, slot: u32) struct { id: u32, requested: u32, bytes_in_use_change: i64 } {
        const live = self.shared.slots[slot];
        assert(live.state != 0 and live.state & binned_flag == 0);
        const change = @as(i64, live.requested) - @as(i64, self.recorded[slot]);
        self.shared.header.live_requested_bytes -= @floatFromInt(live.requested);
        _ = self.unregister(live.g);
        return .{ .id = live.state, .requested = live.requested, .bytes_in_use_change = change };
    }

    /// The registered block whose bytes hold granule `g`, or null: a walk of the slots used, for
    /// the rare caller that knows a granule inside a block, not its start.
    pub fn holding(self: *const Bins, g: u32) ?Holder {
        for (self.shared.slots[0..self.high]) |slot| {
            if (slot.state == 0) continue;
            if (g >= slot.g and g - slot.g < slot.granules) return .{ .g = slot.g, .binned = slot.state & binned_flag != 0 };
        }
        return null;
    }

    /// The first binned slot from `from` on, or null (a flush walks them: `nextBinned(slot + 1)`).
    pub fn nextBinned(self: *const Bins, from: u32) ?u32 {
        if (self.shared.header.cached_blocks == 0) return null;
        var index = from;
        while (index < self.high) : (index += 1) {
            if (self.shared.slots[index].state & binned_flag != 0) return index;
        }
        return null;
    }

    /// The pool freed everything at once (reset): its counters count every registered block as
    /// freed at its recorded size, binned ones too; the table empties.
    pub fn reset(self: *Bins) void {
        const header = &self.shared.header;
        self.flushed_blocks += counted(header.cached_blocks);
        self.freed_surplus += @as(i64, @intCast(self.recorded_bytes)) - @as(i64, @intCast(counted(header.live_requested_bytes)));
        for (self.shared.slots[0..self.high]) |*slot| slot.* = .{};
        self.high = 0;
        @memset(&self.shared.hash, 0);
        for (self.unused, 0..) |*index, i| index.* = slot_capacity - 1 - @as(u32, @intCast(i));
        self.unused_count = slot_capacity;
        self.count = 0;
        self.recorded_bytes = 0;
        header.live_requested_bytes = 0;
        header.cached_bytes = 0;
        header.cached_blocks = 0;
        header.live_requested_high = 0;
        header.cached_blocks_low = 0;
    }

    /// Sets the cap on binned bytes from the pool's committed bytes.
    /// Whether any block is binned (JavaScript reads the same word: SizeBins.holdsBlocks).
    pub fn holdsBlocks(self: *const Bins) bool {
        return self.shared.header.cached_blocks > 0;
    }

    pub fn setCap(self: *Bins, committed_bytes: u64) void {
        self.shared.header.cap_bytes = @floatFromInt(@max(cap_bytes_min, committed_bytes / 4));
    }

    /// Turns the pool's figures (`out`, as stats.zig wrote them) into those of the allocations
    /// made: see the file's comment.
    pub fn correct(self: *const Bins, stats: *const stats_mod.Stats, out: *[stats_mod.field_count]f64) void {
        const header = &self.shared.header;
        const F = stats_mod.Field;
        const at = struct {
            fn f(o: *[stats_mod.field_count]f64, field: F) *f64 {
                return &o[@intFromEnum(field)];
            }
        }.f;
        const recorded: f64 = @floatFromInt(self.recorded_bytes);
        const flushed: f64 = @floatFromInt(self.flushed_blocks);
        const surplus: f64 = @floatFromInt(self.freed_surplus);
        at(out, .live_allocations).* -= header.cached_blocks;
        at(out, .bytes_in_use).* += header.live_requested_bytes - recorded;
        at(out, .bytes_allocated).* -= header.cached_bytes;
        at(out, .allocation_count).* += header.allocations;
        at(out, .free_count).* += header.frees - flushed;
        at(out, .bytes_allocated_total).* += header.allocated_bytes;
        at(out, .bytes_freed_total).* += header.freed_bytes - surplus;
        at(out, .cached_bytes).* += header.cached_bytes;
        // Binned blocks are free (snapshots list them so), though only this thread's bins place them.
        at(out, .free_bytes).* += header.cached_bytes;
        // And the largest of them serves a request of its size (or, flushed back, more).
        var largest: u64 = 0;
        if (header.cached_blocks > 0) for (self.shared.slots[0..self.high]) |slot| {
            if (slot.state & binned_flag != 0) largest = @max(largest, @as(u64, slot.granules) * 16);
        };
        at(out, .largest_free_block).* = @max(at(out, .largest_free_block).*, @as(f64, @floatFromInt(largest)));
        const free = at(out, .free_bytes).*;
        at(out, .fragmentation).* = if (free == 0) 0 else 1.0 - at(out, .largest_free_block).* / free;
        // Peaks are the bins' own, with what hits reached since the last fold (where they are kept:
        // collectStats off keeps none).
        if (stats.enabled) {
            const peak_bytes, const peak_live = self.peaksNow(stats);
            at(out, .peak_bytes_in_use).* = @floatFromInt(peak_bytes);
            at(out, .peak_live_allocations).* = @floatFromInt(peak_live);
        }
    }

    /// The peaks with what JavaScript's hits reached since the last fold, over the pool's figures
    /// `stats`, which no hit changes: its bytes in use less the registered blocks' (first) sizes,
    /// and its live allocations, which count every registered block.
    fn peaksNow(self: *const Bins, stats: *const stats_mod.Stats) struct { u64, u64 } {
        const header = &self.shared.header;
        assert(stats.bytes_in_use >= self.recorded_bytes);
        const outside = stats.bytes_in_use - self.recorded_bytes;
        const live_high = @max(counted(header.live_requested_high), counted(header.live_requested_bytes));
        const binned_low = @min(counted(header.cached_blocks_low), counted(header.cached_blocks));
        return .{ @max(self.peak_bytes, outside + live_high), @max(self.peak_live, stats.live_allocations -| binned_low) };
    }

    /// The pool's owner enters the core (a call that may change the pool's figures, `stats`, follows),
    /// or a call changed them and the watermarks lag: what JavaScript's hits reached goes into the
    /// peaks, and the watermarks start again from now.
    pub fn foldPeaks(self: *Bins, stats: *const stats_mod.Stats) void {
        self.peak_bytes, self.peak_live = self.peaksNow(stats);
        const header = &self.shared.header;
        header.live_requested_high = header.live_requested_bytes;
        header.cached_blocks_low = header.cached_blocks;
    }

    /// Peaks start again from what the allocations hold now (`stats`: the pool's figures).
    pub fn resetPeaks(self: *Bins, stats: *const stats_mod.Stats) void {
        const header = &self.shared.header;
        header.live_requested_high = header.live_requested_bytes;
        header.cached_blocks_low = header.cached_blocks;
        self.peak_bytes = stats.bytes_in_use - self.recorded_bytes + counted(header.live_requested_bytes);
        self.peak_live = stats.live_allocations -| counted(header.cached_blocks);
    }
};

/// A pool's placement as snapshots walk it (snapshot.zig `write`): a binned block is free, a block
/// handed out again has its current id and size.
pub const Placement = union(placement_mod.Kind) {
    fixed_size: Seen(Fixed),
    variable: Seen(Tlsf),

    pub fn of(strategy: *const placement_mod.Placement, bins: ?*const Bins) Placement {
        return switch (strategy.*) {
            .fixed_size => |*fixed| .{ .fixed_size = .{ .inner = fixed, .bins = bins } },
            .variable => |*tlsf| .{ .variable = .{ .inner = tlsf, .bins = bins } },
        };
    }
};

fn Seen(comptime P: type) type {
    return struct {
        inner: *const P,
        bins: ?*const Bins,

        pub fn walk(self: *const @This(), gpa: std.mem.Allocator) error{OutOfMemory}!Walk {
            return .{ .inner = try self.inner.walk(gpa), .bins = self.bins };
        }

        pub const Walk = struct {
            inner: P.Walk,
            bins: ?*const Bins,

            pub fn next(self: *Walk) ?Tlsf.BlockView {
                var block = self.inner.next() orelse return null;
                const bins = self.bins orelse return block;
                if (block.is_free) return block;
                switch (bins.find(block.start)) {
                    .none => {},
                    .binned => {
                        block.is_free = true;
                        block.id = 0;
                        block.requested_bytes = 0;
                    },
                    .live => |slot| {
                        block.id = bins.shared.slots[slot].state;
                        block.requested_bytes = bins.shared.slots[slot].requested;
                    },
                }
                return block;
            }

            pub fn deinit(self: *Walk, gpa: std.mem.Allocator) void {
                self.inner.deinit(gpa);
            }
        };
    };
}

/// A counter JavaScript keeps, as a count: memory JavaScript writes reads as 0 where no count can be.
const counted = @import("js_cache.zig").counted;

test "bins: register, find, bin as JavaScript does, leave, flush and reset keep the table whole" {
    var id_word: u32 = 0;
    const bins = Bins.create(@intFromPtr(&id_word), &.{ .enabled = true }).?;
    defer bins.destroy();
    // Offsets that share home entries: backward-shift deletion must keep every other findable.
    var offsets: [300]u32 = undefined;
    for (&offsets, 0..) |*g, i| g.* = @intCast(i * 4096 + 7);
    for (offsets, 1..) |g, id| try std.testing.expect(bins.register(g, 4, 50, @intCast(id)));
    try std.testing.expectEqual(@as(u32, 300), bins.count);
    try std.testing.expectEqual(@as(u64, 300 * 50), bins.recorded_bytes);
    // JavaScript bins the first hundred.
    for (offsets[0..100]) |g| {
        const slot = bins.find(g).live;
        bins.shared.slots[slot].state |= binned_flag;
        bins.shared.header.cached_blocks += 1;
        bins.shared.header.cached_bytes += 64;
        bins.shared.header.live_requested_bytes -= 50;
    }
    for (offsets[100..200]) |g| bins.releasedLive(bins.find(g).live);
    for (offsets[200..250]) |g| {
        const left = bins.leave(bins.find(g).live);
        try std.testing.expectEqual(@as(i64, 0), left.bytes_in_use_change);
    }
    for (offsets[100..250]) |g| try std.testing.expectEqual(Found.none, bins.find(g));
    for (offsets[250..]) |g| try std.testing.expect(bins.find(g) == .live);
    var flushed: u32 = 0;
    var from: u32 = 0;
    while (bins.nextBinned(from)) |slot| : (flushed += 1) {
        _ = bins.takeBinned(slot);
        from = slot + 1;
    }
    try std.testing.expectEqual(@as(u32, 100), flushed);
    try std.testing.expectEqual(@as(u32, 50), bins.count);
    try std.testing.expectEqual(@as(f64, 0), bins.shared.header.cached_bytes);
    bins.reset();
    try std.testing.expectEqual(@as(u32, 0), bins.count);
    for (offsets) |g| try std.testing.expectEqual(Found.none, bins.find(g));
    try std.testing.expect(bins.register(offsets[0], 4, 10, 1));
}

test "bins: a viewed table outlives its pool, emptied, until JavaScript lets go; an unviewed one goes with it" {
    var id_word: u32 = 0;
    const unviewed = Bins.create(@intFromPtr(&id_word), &.{ .enabled = true }).?;
    unviewed.retire(); // freed now (the testing leak check would not see page memory: the list must stay empty)
    try std.testing.expect(orphans == null);
    const bins = Bins.create(@intFromPtr(&id_word), &.{ .enabled = true }).?;
    bins.viewed = true;
    try std.testing.expect(bins.register(5, 4, 50, 1));
    try std.testing.expect(bins.register(9, 4, 50, 2));
    bins.shared.slots[bins.find(9).live].state |= binned_flag;
    bins.shared.header.cached_blocks = 1;
    const address = @intFromPtr(bins.shared);
    bins.retire();
    // What JavaScript reads still reads, and finds nothing: its probes miss, its stale slots are empty.
    try std.testing.expectEqual(Found.none, bins.find(5));
    try std.testing.expectEqual(Found.none, bins.find(9));
    for (bins.shared.slots[0..2]) |slot| try std.testing.expectEqual(@as(u32, 0), slot.state);
    try std.testing.expectEqual(@as(f64, 0), bins.shared.header.cached_blocks);
    try std.testing.expect(orphans == bins);
    Bins.releaseOrphan(address + 16); // not a kept table: nothing happens
    try std.testing.expect(orphans == bins);
    Bins.releaseOrphan(address);
    try std.testing.expect(orphans == null);
}

test "bins: a full table registers no more, and a freed slot is used again" {
    var id_word: u32 = 0;
    const bins = Bins.create(@intFromPtr(&id_word), &.{ .enabled = true }).?;
    defer bins.destroy();
    for (0..slot_capacity) |i| try std.testing.expect(bins.register(@intCast(i * 2), 1, 1, 1));
    try std.testing.expect(!bins.register(1, 1, 1, 1));
    bins.releasedLive(bins.find(0).live);
    try std.testing.expect(bins.register(1, 1, 1, 1));
    try std.testing.expect(bins.find(1) == .live);
}
