//! The debug layer: what a pool does instead of calling its strategy directly when a debug
//! switch that acts in the core is on. Both strategies get the same checks this way.
//!
//! - Canaries: a strategy block is [front canary][user bytes][back canary]; the user pointer is
//!   `front_bytes` into the block (a multiple of the alignment, so alignment holds), and the back
//!   canary starts at the very byte after the user bytes, so an overrun of one byte is seen.
//! - Guard pages: allocations (all, or one in N) come from guard.zig instead of the strategy.
//! - Fills: the user bytes are set to a pattern on allocate and on free.
//! - Quarantine: freed blocks wait in quarantine.zig before the strategy may reuse them; those
//!   of the strategy are poisoned (fillOnFree, else `poison_byte`) and checked when they leave,
//!   so a write after free is found; guarded ones are inaccessible, so any access faults.
//!
//! Damage is recorded in violation.zig and returned as error.BoundaryViolation (canaries) or
//! error.UseAfterFree (poison), after the free that found it has completed.
//!
//! Invariants: every strategy block of a live allocation has its canaries written (with
//! canaries on); a block is in the quarantine exactly when its allocation was freed and the
//! strategy (or the guard pages) has not had it back; a region's live_count counts its blocks
//! that are live or in quarantine.
const std = @import("std");
const assert = std.debug.assert;
const placed_mod = @import("../placed.zig");
const Placed = placed_mod.Placed;
const Live = @import("../strategy/tlsf.zig").Tlsf.Live;
const arena_mod = @import("../arena.zig");
const status = @import("../status.zig");
const Error = status.Error;
const DebugConfig = @import("config.zig").DebugConfig;
const canary = @import("canary.zig");
const guard_mod = @import("guard.zig");
const Guard = guard_mod.Guard;
const Quarantine = @import("quarantine.zig").Quarantine;
const violation_mod = @import("violation.zig");
const Violation = violation_mod.Violation;
const fault_handler = @import("fault_handler.zig");
const snapshot = @import("../snapshot.zig");
const DebugSpace = @import("../stats.zig").Stats.DebugSpace;

const granule_bytes = arena_mod.granule_bytes;
/// Canary bytes after the user bytes, beyond the slack up to the next granule.
const back_canary_bytes: u64 = 16;
/// Freed guarded blocks this large give their physical memory back at once, even when they
/// are not held in quarantine.
const discard_bytes_min: u64 = 64 * 1024;
/// What a block in quarantine is filled with when fillOnFree does not say.
pub const poison_byte: u8 = 0xDD;

pub const Layer = struct {
    gpa: std.mem.Allocator,
    config: DebugConfig,
    /// Bytes between a strategy block's start and its user bytes: the front canary, or 0.
    front_bytes: u64,
    back_bytes: u64,
    guard: ?Guard,
    quarantine: ?Quarantine,
    /// Guard pages are the only switch on: an allocation not sampled, and its free, take the
    /// pool's plain path, and the pool asks the layer only for the sampled ones (see Pool).
    plain_unless_guarded: bool,

    pub fn create(gpa: std.mem.Allocator, config: DebugConfig, alignment_bytes: u64) error{OutOfMemory}!*Layer {
        assert(config.coreActive());
        assert(std.math.isPowerOfTwo(alignment_bytes) and alignment_bytes <= guard_mod.page_bytes);
        const self = try gpa.create(Layer);
        const front_bytes = if (config.canaries) @max(granule_bytes, alignment_bytes) else 0;
        self.* = .{
            .gpa = gpa,
            .config = config,
            .front_bytes = front_bytes,
            .back_bytes = if (config.canaries) back_canary_bytes else 0,
            .guard = if (config.guard) |position| Guard.init(gpa, .{
                .position = position,
                .sample_period = config.guard_sample_period,
                .alignment_bytes = @max(granule_bytes, alignment_bytes),
                .front_canary_bytes = front_bytes,
                .back_canary_bytes = if (config.canaries) back_canary_bytes else 0,
                .seed = seed(),
            }) else null,
            .quarantine = if (config.quarantine_bytes > 0) Quarantine.init(gpa, config.quarantine_bytes) else null,
            .plain_unless_guarded = config.guard != null and !config.canaries and config.fill_on_alloc == null and
                config.fill_on_free == null and config.quarantine_bytes == 0,
        };
        if (config.guard != null) fault_handler.install();
        return self;
    }

    /// Each pool samples differently and each run differently, so no allocation escapes sampling
    /// for good.
    fn seed() u64 {
        const now = std.time.Instant.now() catch return 0x9E37_79B9_7F4A_7C15;
        return @bitCast(now.timestamp.sec *% 1_000_000_007 +% now.timestamp.nsec);
    }

    pub fn destroy(self: *Layer) void {
        if (self.guard) |*guard| guard.deinit();
        if (self.quarantine) |*quarantine| quarantine.deinit();
        self.gpa.destroy(self);
    }

    inline fn frontGranules(self: *const Layer) u32 {
        return @intCast(self.front_bytes / granule_bytes);
    }

    /// The bytes a strategy block needs for `size` user bytes and their canaries.
    pub fn strategyBlockBytes(self: *const Layer, size: u64) u64 {
        return self.front_bytes + std.mem.alignForward(u64, size, granule_bytes) + self.back_bytes;
    }

    /// The bytes a strategy block holds besides its request (`strategyBlockBytes` less the request,
    /// for a request of whole granules): what the largest request a free piece serves leaves out.
    pub fn requestOverheadBytes(self: *const Layer) u64 {
        assert(self.strategyBlockBytes(granule_bytes) == self.front_bytes + granule_bytes + self.back_bytes);
        return self.front_bytes + self.back_bytes;
    }

    // ---- allocate ----

    /// The common paths (an unguarded block, canaries, fills) are inline here; guarded blocks,
    /// rare where they are sampled, are out of line, so sampled guard pages cost the other
    /// allocations next to nothing.
    pub fn alloc(self: *Layer, below: anytype, size: u64) Error!Placed {
        const id = below.nextId();
        if (self.guard) |*guard| if (guard.sample()) {
            if (try @call(.never_inline, allocGuarded, .{ self, below, size, id })) |placed| return placed;
            // No guard pages to be had (address space or the OS's mappings ran out): the
            // allocation is placed unguarded below, with canaries where they are on.
        };
        const block_g = below.place(self.strategyBlockBytes(size), size, id) orelse return below.failPlace(size);
        const user_g = block_g + self.frontGranules();
        assert(user_g < status.offset_error_base);
        if (self.config.canaries) self.writeCanaries(below, block_g, size);
        if (self.config.fill_on_alloc) |byte| fill(below, user_g, size, byte);
        below.notePlaced(block_g, size, below.blockBytes(self.strategyBlockBytes(size)));
        return .{ .g = user_g, .id = id };
    }

    /// Whether the next allocation gets guard pages (plain_unless_guarded pools ask this first).
    pub inline fn sampleGuard(self: *Layer) bool {
        assert(self.plain_unless_guarded);
        return self.guard.?.sample();
    }

    /// A sampled allocation of a plain_unless_guarded pool: a block with guard pages, or null
    /// where none could be made (the pool then places it plainly).
    pub fn allocSampled(self: *Layer, below: anytype, size: u64) Error!?Placed {
        assert(self.plain_unless_guarded);
        return self.allocGuarded(below, size, below.nextId());
    }

    /// A free in a guard region of a plain_unless_guarded pool.
    pub fn freeSampled(self: *Layer, below: anytype, g: u32, expected_id: u32) Error!void {
        assert(self.plain_unless_guarded);
        return self.freeGuarded(below, g, expected_id);
    }

    /// A block with guard pages, or null where none could be made.
    fn allocGuarded(self: *Layer, below: anytype, size: u64, id: u32) Error!?Placed {
        const guard = &self.guard.?;
        const granted = guard.alloc(below.arena(), size, id) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        const block = granted orelse return null;
        below.notePlaced(block.block_g, size, block.block_bytes - guard_mod.page_bytes); // the guard page is counted apart (space)
        if (self.config.fill_on_alloc) |byte| fill(below, block.user_g, size, byte);
        return .{ .g = block.user_g, .id = id, .flags = placed_mod.flag_guarded };
    }

    inline fn writeCanaries(self: *const Layer, below: anytype, block_g: u32, size: u64) void {
        const front = self.frontCanary(block_g);
        canary.fill(bytesAt(below, front.start, front.len), below.arena().base + front.start);
        const back = self.backCanary(block_g, size);
        canary.fill(bytesAt(below, back.start, back.len), below.arena().base + back.start);
    }

    const Span = struct { start: u64, len: u64 };

    inline fn frontCanary(self: *const Layer, block_g: u32) Span {
        return .{ .start = @as(u64, block_g) * granule_bytes, .len = self.front_bytes };
    }

    /// From the byte after the user bytes to the end of the block the layout asked for.
    inline fn backCanary(self: *const Layer, block_g: u32, size: u64) Span {
        const user_end = @as(u64, block_g) * granule_bytes + self.front_bytes + size;
        const end = @as(u64, block_g) * granule_bytes + self.strategyBlockBytes(size);
        return .{ .start = user_end, .len = end - user_end };
    }

    inline fn fill(below: anytype, user_g: u32, size: u64, byte: u8) void {
        @memset(bytesAt(below, @as(u64, user_g) * granule_bytes, size), byte);
    }

    // ---- free ----

    /// Frees the allocation at `g`; returns whether it had guard pages. The common path (a
    /// strategy block, no quarantine) is inline; the rest is out of line.
    pub fn free(self: *Layer, below: anytype, g: u32, expected_id: u32) Error!bool {
        const region_index = below.arena().regionOf(g);
        if (region_index == arena_mod.none) return below.failOutside(g);
        if (below.arena().regions.items[region_index].owner == .guard) {
            try @call(.never_inline, freeGuarded, .{ self, below, g, expected_id });
            return true;
        }
        if (self.quarantine != null) {
            try @call(.never_inline, freeIntoQuarantine, .{ self, below, g, expected_id });
            return false;
        }
        if (self.front_bytes == 0) {
            try self.releaseInStrategy(below, region_index, g, g, expected_id);
            return false;
        }
        const block_g = try self.blockOf(below, g);
        try self.releaseInStrategy(below, below.arena().regionOf(block_g), block_g, g, expected_id);
        return false;
    }

    /// The strategy block whose user bytes start at `g` (canaries before them).
    inline fn blockOf(self: *const Layer, below: anytype, g: u32) Error!u32 {
        const never = "pool '{s}' never gave out a block at offset {d}";
        if (g < self.frontGranules()) return status.fail(error.InvalidPointer, never, .{ below.name(), @as(u64, g) * granule_bytes });
        const block_g = g - self.frontGranules();
        const region_index = below.arena().regionOf(block_g);
        if (region_index == arena_mod.none or below.arena().regions.items[region_index].owner != .strategy) {
            return status.fail(error.InvalidPointer, never, .{ below.name(), @as(u64, g) * granule_bytes });
        }
        return block_g;
    }

    fn freeIntoQuarantine(self: *Layer, below: anytype, g: u32, expected_id: u32) Error!void {
        const quarantine = &self.quarantine.?;
        if (quarantine.find(g)) |held| return self.failQuarantined(below, held.id, g, expected_id);
        const block_g = try self.blockOf(below, g);
        const region_index = below.arena().regionOf(block_g);
        const live = below.lookup(region_index, block_g) orelse {
            if (expected_id != 0) return below.failStaleId(g, expected_id, 0);
            _ = try below.failUnlessFreed(below.release(region_index, block_g), g);
            unreachable; // no live block starts there, so the strategy cannot have freed one
        };
        if (expected_id != 0 and live.id != expected_id) return below.failStaleId(g, expected_id, live.id);
        const size = live.requested_bytes;
        var found: ?Violation = if (self.config.canaries) self.checkCanaries(below, block_g, g, size, live.id) else null;
        const block_bytes = below.blockBytes(self.strategyBlockBytes(size));
        below.noteFreed(size, block_bytes);
        if (quarantine.reserve()) {
            fill(below, g, size, self.config.fill_on_free orelse poison_byte);
            quarantine.push(.{ .user_g = g, .id = live.id, .size = size, .held_bytes = block_bytes, .guarded = false });
        } else |_| {
            // No room to remember it: it is reused at once, like a pool without quarantine.
            if (self.config.fill_on_free) |byte| fill(below, g, size, byte);
            const freed = below.release(region_index, block_g);
            assert(freed == .freed);
        }
        if (self.evictOverflow(below)) |damage| found = found orelse damage;
        if (found) |damage| return report(damage);
    }

    /// Frees a strategy block at once (no quarantine). The block's bookkeeping is out of band,
    /// so its bytes are as they were after the strategy takes it back: the canaries are checked
    /// then, with the size the strategy returns, and only a handle's free needs a lookup first.
    inline fn releaseInStrategy(self: *Layer, below: anytype, region_index: u32, block_g: u32, g: u32, expected_id: u32) Error!void {
        if (expected_id != 0) {
            const live_id = if (below.lookup(region_index, block_g)) |live| live.id else 0;
            if (live_id != expected_id) return below.failStaleId(g, expected_id, live_id);
        }
        const freed = try below.failUnlessFreed(below.release(region_index, block_g), g);
        const size = freed.requested_bytes;
        below.noteFreed(size, @as(u64, freed.granules) * granule_bytes);
        const found = if (self.config.canaries) self.checkCanaries(below, block_g, g, size, freed.id) else null;
        if (self.config.fill_on_free) |byte| fill(below, g, size, byte);
        if (found) |damage| return report(damage);
    }

    fn freeGuarded(self: *Layer, below: anytype, g: u32, expected_id: u32) Error!void {
        const guard = &self.guard.?; // only the guard makes guard regions
        const record = guard.find(g) orelse {
            if (expected_id != 0) return below.failStaleId(g, expected_id, 0);
            _ = try below.failUnlessFreed(guard.pages.classify(g), g);
            unreachable; // classify never answers .freed
        };
        if (record.state == .quarantined) return self.failQuarantined(below, record.id, g, expected_id);
        if (expected_id != 0 and record.id != expected_id) return below.failStaleId(g, expected_id, record.id);
        var found: ?Violation = checkGuardedCanaries(below, record.*);
        below.noteFreed(record.size, record.dataBytes());
        const region_index = below.arena().regionOf(record.block_g);
        if (!guard.seal(below.arena(), record)) {
            guard.forget(record); // its pages may still be accessible: the block is never reused
        } else if (self.holdGuarded(record)) {
            record.state = .quarantined;
            guard.discard(below.arena(), record);
        } else {
            if (record.dataBytes() >= discard_bytes_min) guard.discard(below.arena(), record);
            guard.release(record);
            unlive(below, region_index);
        }
        if (self.evictOverflow(below)) |damage| found = found orelse damage;
        if (found) |damage| return report(damage);
    }

    fn holdGuarded(self: *Layer, record: *const guard_mod.Record) bool {
        const quarantine = if (self.quarantine) |*quarantine| quarantine else return false;
        quarantine.reserve() catch return false;
        quarantine.push(.{ .user_g = record.user_g, .id = record.id, .size = record.size, .held_bytes = record.dataBytes(), .guarded = true });
        return true;
    }

    fn failQuarantined(self: *const Layer, below: anytype, held_id: u32, g: u32, expected_id: u32) Error {
        _ = self;
        if (expected_id != 0 and expected_id != held_id) return below.failStaleId(g, expected_id, 0);
        return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed (it waits in quarantine)", .{ held_id, @as(u64, g) * granule_bytes, below.name() });
    }

    /// Lets the oldest blocks out of quarantine while it is over its bounds; returns the first
    /// damage found in their poison.
    fn evictOverflow(self: *Layer, below: anytype) ?Violation {
        const quarantine = if (self.quarantine) |*quarantine| quarantine else return null;
        var found: ?Violation = null;
        while (quarantine.overfull()) {
            const entry = quarantine.popOldest().?;
            const damage = self.leaveQuarantine(below, entry);
            found = found orelse damage;
        }
        return found;
    }

    fn leaveQuarantine(self: *Layer, below: anytype, entry: @import("quarantine.zig").Entry) ?Violation {
        if (entry.guarded) {
            const guard = &self.guard.?;
            const record = guard.find(entry.user_g).?;
            assert(record.state == .quarantined and record.id == entry.id);
            const region_index = below.arena().regionOf(record.block_g);
            guard.release(record);
            unlive(below, region_index);
            return null; // its pages were inaccessible all along: nothing can have written them
        }
        const damage = self.checkPoison(below, entry.user_g, entry.size, entry.id);
        const block_g = entry.user_g - self.frontGranules();
        const freed = below.release(below.arena().regionOf(block_g), block_g);
        assert(freed == .freed);
        return damage;
    }

    fn unlive(below: anytype, region_index: u32) void {
        const region = &below.arena().regions.items[region_index];
        assert(region.live_count > 0);
        region.live_count -= 1;
    }

    // ---- statistics ----

    /// What the layer holds of the pool's reserved bytes (stats.zig DebugSpace): a walk of the
    /// guarded records and, with canaries, of the live blocks. A cold path (statistics and
    /// snapshots), so nothing is counted on allocate and free for it.
    pub fn space(self: *const Layer, below: anytype) DebugSpace {
        var out: DebugSpace = .{};
        if (self.quarantine) |*quarantine| out.quarantined_bytes = quarantine.bytes_held;
        if (self.guard) |*guard| {
            out.guard_free_bytes = guard.pages.free_granules * granule_bytes;
            for (guard.records.items) |record| {
                if (record.state == .vacant) continue;
                out.guard_page_bytes += guard_mod.page_bytes;
                // A quarantined block's data pages are the quarantine's (held_bytes), its guard page is this.
                if (record.state != .quarantined) out.canary_bytes += record.frontCanary().len + record.backCanary().len; // always written in the slack
            }
        }
        if (self.config.canaries) {
            var blocks = below.liveBlocks();
            while (blocks.next()) |block_g| {
                if (self.holdsInQuarantine(block_g)) continue;
                const live = below.lookup(below.arena().regionOf(block_g), block_g).?;
                out.canary_bytes += self.strategyBlockBytes(live.requested_bytes) - live.requested_bytes;
            }
        }
        return out;
    }

    // ---- checks ----

    inline fn checkCanaries(self: *const Layer, below: anytype, block_g: u32, user_g: u32, size: u64, id: u32) ?Violation {
        const front = self.frontCanary(block_g);
        const back = self.backCanary(block_g, size);
        return damageIn(below, front, back, user_g, size, id);
    }

    fn checkGuardedCanaries(below: anytype, record: guard_mod.Record) ?Violation {
        const front = record.frontCanary();
        const back = record.backCanary();
        return damageIn(below, .{ .start = front.start, .len = front.len }, .{ .start = back.start, .len = back.len }, record.user_g, record.size, record.id);
    }

    /// The damage nearest the user bytes: before them first (an underflow is rarer, and
    /// reported where it is), else after them.
    inline fn damageIn(below: anytype, front: Span, back: Span, user_g: u32, size: u64, id: u32) ?Violation {
        const front_bytes = bytesAt(below, front.start, front.len);
        const back_bytes = bytesAt(below, back.start, back.len);
        if (canary.intact(front_bytes, below.arena().base + front.start) and canary.intact(back_bytes, below.arena().base + back.start)) return null;
        return @call(.never_inline, describeDamage, .{ below, front, back, user_g, size, id });
    }

    /// Where canaries were found damaged: the slow path, so the check above stays small.
    fn describeDamage(below: anytype, front: Span, back: Span, user_g: u32, size: u64, id: u32) ?Violation {
        @branchHint(.cold);
        const user_start = @as(u64, user_g) * granule_bytes;
        const front_bytes = bytesAt(below, front.start, front.len);
        const back_bytes = bytesAt(below, back.start, back.len);
        if (canary.firstDamaged(front_bytes, below.arena().base + front.start, .downward)) |index| {
            assert(front.start + front.len == user_start);
            return .{
                .id = id,
                .user_g = user_g,
                .size = size,
                .side = .before,
                .offset = @as(i64, @intCast(front.start + index)) - @as(i64, @intCast(user_start)),
                .damaged_bytes = canary.countDamaged(front_bytes, below.arena().base + front.start),
            };
        }
        if (canary.firstDamaged(back_bytes, below.arena().base + back.start, .upward)) |index| {
            assert(back.start == user_start + size);
            return .{
                .id = id,
                .user_g = user_g,
                .size = size,
                .side = .after,
                .offset = @intCast(size + index),
                .damaged_bytes = canary.countDamaged(back_bytes, below.arena().base + back.start),
            };
        }
        unreachable; // intact() saw damage, so firstDamaged finds it on one side or the other
    }

    fn checkPoison(self: *const Layer, below: anytype, user_g: u32, size: u64, id: u32) ?Violation {
        const poison = self.config.fill_on_free orelse poison_byte;
        const user = bytesAt(below, @as(u64, user_g) * granule_bytes, size);
        const index = std.mem.indexOfNone(u8, user, &.{poison}) orelse return null;
        var damaged: u64 = 0;
        for (user[index..]) |byte| damaged += @intFromBool(byte != poison);
        return .{ .id = id, .user_g = user_g, .size = size, .side = .freed, .offset = @intCast(index), .damaged_bytes = damaged };
    }

    /// Every live allocation's canaries and every quarantined block's poison; the first damage
    /// found is reported.
    pub fn check(self: *const Layer, below: anytype) Error!void {
        var blocks = below.liveBlocks();
        while (blocks.next()) |block_g| {
            const user_g = block_g + self.frontGranules();
            const live = below.lookup(below.arena().regionOf(block_g), block_g).?;
            const held = if (self.quarantine) |*quarantine| quarantine.find(user_g) != null else false;
            const damage = if (held)
                self.checkPoison(below, user_g, live.requested_bytes, live.id)
            else if (self.config.canaries)
                self.checkCanaries(below, block_g, user_g, live.requested_bytes, live.id)
            else
                null;
            if (damage) |found| return report(found);
        }
        if (self.guard) |*guard| for (guard.records.items) |record| {
            if (record.state != .live) continue;
            if (checkGuardedCanaries(below, record)) |found| return report(found);
        };
    }

    fn report(damage: Violation) Error {
        violation_mod.record(damage);
        return switch (damage.side) {
            .before, .after => error.BoundaryViolation,
            .freed => error.UseAfterFree,
        };
    }

    // ---- lookups ----

    pub fn lookup(self: *Layer, below: anytype, g: u32) ?Live {
        const region_index = below.arena().regionOf(g);
        if (region_index == arena_mod.none) return null;
        if (below.arena().regions.items[region_index].owner == .guard) {
            const record = self.guard.?.find(g) orelse return null;
            if (record.state != .live) return null;
            return .{ .granules = record.block_granules, .requested_bytes = record.size, .id = record.id };
        }
        if (self.quarantine) |*quarantine| if (quarantine.find(g) != null) return null;
        if (g < self.frontGranules()) return null;
        const block_g = g - self.frontGranules();
        const block_region = below.arena().regionOf(block_g);
        if (block_region == arena_mod.none or below.arena().regions.items[block_region].owner != .strategy) return null;
        return below.lookup(block_region, block_g);
    }

    /// Whether the strategy block at `block_g` is held in quarantine (freed, not yet reusable).
    pub fn holdsInQuarantine(self: *const Layer, block_g: u32) bool {
        const quarantine = if (self.quarantine) |*quarantine| quarantine else return false;
        return quarantine.find(block_g + self.frontGranules()) != null;
    }

    /// What a snapshot shows of the layer (snapshot.zig DebugView): the guarded pages, and the
    /// blocks held in quarantine.
    pub fn snapshotView(self: *const Layer) snapshot.DebugView {
        return .{
            .guard = if (self.guard) |*guard| guard else null,
            .in_quarantine = if (self.quarantine != null) .{ .context = self, .holds = holdsErased } else null,
        };
    }

    fn holdsErased(context: *const anyopaque, block_g: u32) bool {
        const self: *const Layer = @ptrCast(@alignCast(context));
        return self.holdsInQuarantine(block_g);
    }

    /// Whether the live allocation at `g` has guard pages.
    pub fn isGuarded(self: *Layer, below: anytype, g: u32) bool {
        const region_index = below.arena().regionOf(g);
        if (region_index == arena_mod.none or below.arena().regions.items[region_index].owner != .guard) return false;
        const record = self.guard.?.find(g) orelse return false;
        return record.state == .live;
    }

    /// Keeps a JavaScript stack of the guarded allocation at `g` (live, or freed and in
    /// quarantine) for a fault report; false where `g` is neither (unguarded allocations need
    /// none in the core).
    pub fn setStack(self: *Layer, below: anytype, g: u32, kind: guard_mod.StackKind, stack: []const u8) Error!bool {
        const region_index = below.arena().regionOf(g);
        if (region_index == arena_mod.none or below.arena().regions.items[region_index].owner != .guard) return false;
        const guard = &self.guard.?;
        const record = guard.find(g) orelse return false;
        guard.setStack(record, kind, stack) catch return status.fail(error.OutOfMemory, "no memory for the allocation's stack", .{});
        return true;
    }

    pub fn listLive(self: *Layer, below: anytype, out: []u32) u32 {
        var count: u32 = 0;
        var blocks = below.liveBlocks();
        while (blocks.next()) |block_g| {
            const user_g = block_g + self.frontGranules();
            if (self.quarantine) |*quarantine| if (quarantine.find(user_g) != null) continue;
            if (count < out.len) out[count] = user_g;
            count += 1;
        }
        if (self.guard) |*guard| for (guard.records.items) |record| {
            if (record.state != .live) continue;
            if (count < out.len) out[count] = record.user_g;
            count += 1;
        };
        return count;
    }

    // ---- whole-pool operations ----

    /// After the strategy forgot every block (Pool.reset): forgets the quarantine and the
    /// guarded blocks too.
    pub fn reset(self: *Layer, below: anytype) error{OutOfMemory}!void {
        if (self.quarantine) |*quarantine| quarantine.clear();
        if (self.guard) |*guard| try guard.reset(below.arena());
    }

    pub fn removeGuardRegion(self: *Layer, region: arena_mod.Region) void {
        self.guard.?.removeRegion(region);
    }
};

fn bytesAt(below: anytype, offset: u64, len: u64) []u8 {
    assert(offset + len <= below.arena().reserved_bytes);
    const pointer: [*]u8 = @ptrFromInt(below.arena().base + offset);
    return pointer[0..len];
}

test "canaries: an overrun by one byte and an underrun are found on free, named and measured" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        const pool = try testPool(strategy, .{ .canaries = true });
        defer pool.destroy();
        const a = try pool.alloc(13, null);
        const b = try pool.alloc(64, null);
        const c = try pool.alloc(32, null);
        userBytes(pool, a.g, 14)[13] = 0; // one byte past the end
        try std.testing.expectError(error.BoundaryViolation, queries.check(pool));
        try std.testing.expectEqual(@as(f64, @floatFromInt(a.id)), violation_mod.lastField(.id));
        try std.testing.expectError(error.BoundaryViolation, pool.free(a.g, a.id));
        try std.testing.expectEqual(@as(f64, 1), violation_mod.lastField(.side));
        try std.testing.expectEqual(@as(f64, 13), violation_mod.lastField(.offset));
        try std.testing.expectError(error.DoubleFree, pool.free(a.g, a.id)); // the free itself went through
        (userBytes(pool, b.g - 1, 16))[12] = 7; // four bytes before the start
        try std.testing.expectError(error.BoundaryViolation, pool.free(b.g, 0));
        try std.testing.expectEqual(@as(f64, 0), violation_mod.lastField(.side));
        try std.testing.expectEqual(@as(f64, -4), violation_mod.lastField(.offset));
        try queries.check(pool);
        _ = try pool.free(c.g, c.id);
        try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().live_allocations);
    }
}

test "quarantine: freed blocks are not reused at once, double frees name the allocation, writes after free are found" {
    const pool = try testPool(.variable, .{ .quarantine_bytes = 256, .fill_on_free = 0xEE });
    defer pool.destroy();
    const a = try pool.alloc(64, null);
    _ = try pool.free(a.g, a.id);
    try std.testing.expect(pool.lookup(a.g) == null);
    try std.testing.expectError(error.DoubleFree, pool.free(a.g, a.id));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "quarantine") != null);
    const b = try pool.alloc(64, null);
    try std.testing.expect(b.g != a.g); // a's block still waits
    userBytes(pool, a.g, 64)[5] = 1; // a write after free
    try std.testing.expectError(error.UseAfterFree, queries.check(pool));
    try std.testing.expectEqual(@as(f64, 5), violation_mod.lastField(.offset));
    try std.testing.expectEqual(@as(f64, 2), violation_mod.lastField(.side));
    // Frees push a out of the quarantine (256 bytes hold three 80-byte blocks); it is reported then.
    var reported = false;
    for (0..4) |_| {
        const next = try pool.alloc(64, null);
        _ = pool.free(next.g, next.id) catch |err| {
            try std.testing.expectEqual(error.UseAfterFree, err);
            try std.testing.expectEqual(@as(f64, @floatFromInt(a.id)), violation_mod.lastField(.id));
            reported = true;
            continue;
        };
    }
    try std.testing.expect(reported);
    _ = try pool.free(b.g, b.id);
}

test "fills: user bytes are set on allocate and on free" {
    const pool = try testPool(.fixed_size, .{ .fill_on_alloc = 0xCD, .fill_on_free = 0xDD });
    defer pool.destroy();
    const a = try pool.alloc(100, null);
    for (userBytes(pool, a.g, 100)) |byte| try std.testing.expectEqual(@as(u8, 0xCD), byte);
    _ = try pool.free(a.g, a.id);
    for (userBytes(pool, a.g, 100)) |byte| try std.testing.expectEqual(@as(u8, 0xDD), byte);
}

test "guard pages: every allocation guarded, bad frees typed, lists, trim and reset" {
    const pool = try testPool(.variable, .{ .guard = .after, .canaries = true, .quarantine_bytes = 64 * 1024 });
    defer pool.destroy();
    try std.testing.expect(fault_handler.isInstalled());
    var live: [20]Pool.Placed = undefined;
    for (&live, 0..) |*placed, i| {
        placed.* = try pool.alloc(1 + i * 300, null);
        try std.testing.expect(queries.isGuarded(pool, placed.g));
        try std.testing.expectEqual(@as(u64, 1 + i * 300), pool.lookup(placed.g).?.requested_bytes);
    }
    var offsets: [32]u32 = undefined;
    try std.testing.expectEqual(@as(u32, 20), pool.listLive(&offsets));
    try std.testing.expectError(error.InvalidPointer, pool.free(live[3].g + 1, 0)); // interior
    userBytes(pool, live[4].g, 1202)[1201] = 0; // one byte past 1201, inside the alignment slack
    try std.testing.expectError(error.BoundaryViolation, queries.check(pool));
    try std.testing.expectEqual(@as(f64, 1201), violation_mod.lastField(.offset));
    try std.testing.expectError(error.BoundaryViolation, pool.free(live[4].g, live[4].id));
    try std.testing.expectError(error.DoubleFree, pool.free(live[4].g, 0)); // in quarantine
    for (live, 0..) |placed, i| if (i != 4) try std.testing.expect(try pool.free(placed.g, placed.id)); // guarded
    try std.testing.expectEqual(@as(u32, 0), pool.listLive(&offsets));
    try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().live_allocations);
    const again = try pool.alloc(10, null);
    try pool.reset();
    try std.testing.expect(pool.lookup(again.g) == null);
    try std.testing.expectError(error.DoubleFree, pool.free(again.g, again.id));
    _ = pool.trim();
    const after_trim = try pool.alloc(5000, null);
    try std.testing.expect(queries.isGuarded(pool, after_trim.g));
    _ = try pool.free(after_trim.g, after_trim.id);
}

test "sampled guard pages and a fixed pool: unguarded allocations keep their canaries" {
    const pool = try testPool(.fixed_size, .{ .guard = .before, .guard_sample_period = 4, .canaries = true });
    defer pool.destroy();
    var guarded: u32 = 0;
    var placed: [400]Pool.Placed = undefined;
    for (&placed) |*p| {
        p.* = try pool.alloc(100, null);
        guarded += @intFromBool(queries.isGuarded(pool, p.g));
    }
    try std.testing.expect(guarded > 50 and guarded < 200);
    try queries.check(pool);
    for (placed) |p| {
        const had_guard_pages = queries.isGuarded(pool, p.g);
        try std.testing.expectEqual(had_guard_pages, try pool.free(p.g, p.id));
    }
    try std.testing.expectEqual(@as(u64, 0), pool.statsRecord().live_allocations);
}

fn testPool(strategy: config_mod.StrategyKind, debug: DebugConfig) !*Pool {
    var config = config_mod.testConfig(strategy);
    config.max_size = 0;
    config.debug = debug;
    return Pool.create(std.testing.allocator, "debug-test", config);
}

fn userBytes(pool: *Pool, g: u32, len: u64) []u8 {
    return bytesAt(pool.beneath(), @as(u64, g) * granule_bytes, len);
}

const pool_mod = @import("../pool.zig"); // the tests make real pools
const config_mod = @import("../config.zig");
const Pool = pool_mod.Pool;
const queries = @import("queries.zig");
