//! The pool side of a Variable pool that many threads use at once (`lockFree` or
//! `threadLocalCache` on a Variable pool): the arena's regions are dealt out to shards, each a
//! TLSF behind its own lock, and each thread allocates from its own shard, so threads seldom
//! meet on a lock (the "sharded path for variable sizes"; a shard acts as its thread's cache).
//! A free goes to the shard that owns the block's region, from whatever thread: cross-thread
//! frees need no message. Growth, rare and slow, is serialised by `growth_mutex`.
//!
//! A PMEM pool's heap is one region that never grows: it is adopted whole by one shard (`adopt`),
//! the `home` shard every thread places in, and a layer that keeps data by block (the journal's
//! record slots, pmem/shared_journal.zig) is told of each placement and free under that shard's
//! lock (`allocNoting`, `freeNoting`, `resetNoting`) and reads it under the same lock (`readLive`).
//!
//! Invariants: a region belongs to exactly one shard from the moment it is added, recorded in
//! `owners` (chunks that never move, so frees read it without the growth lock); a shard's TLSF is
//! touched only under that shard's lock; ids are unique among live blocks (one atomic counter);
//! with a `home` shard, no other shard owns a region (so a note's data is only ever touched under
//! the home shard's lock).
const std = @import("std");
const assert = std.debug.assert;
const tlsf_mod = @import("../strategy/tlsf.zig");
const Tlsf = tlsf_mod.Tlsf;
const AdaptiveMutex = @import("adaptive_mutex.zig").AdaptiveMutex;
const StripedCounters = @import("striped_counters.zig").StripedCounters;
const arena_mod = @import("../arena.zig");
const stats_mod = @import("../stats.zig");
const snapshot = @import("../snapshot.zig");
const status = @import("../status.zig");
const Error = status.Error;

pub const shard_count = 16;
const owner_chunk_units = 4096;
const owner_chunks = std.math.divCeil(u64, arena_mod.reserve_bytes_max / arena_mod.unit_bytes + 1, owner_chunk_units) catch unreachable;
/// Ids stay below 2^31 (TypeScript reads the top bit of an id as a flag) and above 0.
const id_limit: u32 = 0x7FFF_FFFE;

const Shard = struct {
    mutex: AdaptiveMutex = .{},
    tlsf: Tlsf,
};

var next_thread_shard: std.atomic.Value(u32) = .init(0);
threadlocal var thread_shard: ?u32 = null;

/// The calling thread's shard: threads are dealt shards round-robin on their first allocation.
fn myShard() u32 {
    return thread_shard orelse {
        const shard = next_thread_shard.fetchAdd(1, .monotonic) % shard_count;
        thread_shard = shard;
        return shard;
    };
}

pub const ShardedVariable = struct {
    gpa: std.mem.Allocator,
    shards: [shard_count]Shard,
    /// Per arena unit: 1 + the shard that owns its region, 0 for none.
    owners: [owner_chunks]std.atomic.Value(?*[owner_chunk_units]u8) = @splat(.init(null)),
    growth_mutex: AdaptiveMutex = .{},
    counters: StripedCounters = .{},
    /// The shard every thread places in, where the pool's one region was adopted (`adopt`); null:
    /// each thread its own (`myShard`).
    home: ?u32 = null,
    /// Allocations made so far: 64 bits, so the ids taken from it (modulo id_limit) run on without
    /// a jump. A 32-bit count wrapped at 2^32 from id 4 back to 1, so the same block could get the
    /// same id twice within four allocations, and a stale handle would take the new one for its own.
    last_id: std.atomic.Value(u64) = .init(0),

    pub fn create(gpa: std.mem.Allocator) Error!*ShardedVariable {
        const self = gpa.create(ShardedVariable) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        self.* = .{ .gpa = gpa, .shards = undefined };
        for (&self.shards) |*shard| shard.* = .{ .tlsf = Tlsf.init(gpa) };
        return self;
    }

    pub fn destroy(self: *ShardedVariable) void {
        for (&self.shards) |*shard| shard.tlsf.deinit();
        for (&self.owners) |*chunk| if (chunk.load(.monotonic)) |units| self.gpa.destroy(units);
        self.gpa.destroy(self);
    }

    /// Gives a newly committed region to the calling thread's shard (under the growth lock).
    pub fn addRegion(self: *ShardedVariable, region: arena_mod.Region) error{OutOfMemory}!void {
        assert(self.home == null); // a pool with a home shard never grows
        const shard_index = myShard();
        try self.markOwner(region, shard_index);
        const shard = &self.shards[shard_index];
        shard.mutex.lock();
        defer shard.mutex.unlock();
        try shard.tlsf.addRegion(region);
    }

    /// Makes `tlsf`, rebuilt over `region` (a PMEM pool's heap, restored from its file), shard 0's,
    /// and shard 0 the home of every thread: a pool that never grows has nothing to deal out to
    /// other shards. Before the pool is shared with any other thread.
    pub fn adopt(self: *ShardedVariable, region: arena_mod.Region, tlsf: Tlsf) error{OutOfMemory}!void {
        assert(self.home == null);
        for (&self.shards) |*shard| assert(shard.tlsf.recordCount() == 0);
        try self.markOwner(region, 0);
        self.shards[0].tlsf.deinit();
        self.shards[0].tlsf = tlsf;
        self.home = 0;
    }

    /// Records `shard_index` as the owner of `region`'s units.
    fn markOwner(self: *ShardedVariable, region: arena_mod.Region, shard_index: u32) error{OutOfMemory}!void {
        assert(shard_index < shard_count);
        const first_unit = region.start / arena_mod.unit_granules;
        const end_unit = std.math.divCeil(u64, region.end(), arena_mod.unit_granules) catch unreachable; // a region cut short at maxSize ends inside its last unit
        for (first_unit..end_unit) |unit| {
            const chunk = &self.owners[unit / owner_chunk_units];
            const owned = chunk.load(.acquire) orelse blk: {
                const fresh = try self.gpa.create([owner_chunk_units]u8);
                fresh.* = @splat(0);
                chunk.store(fresh, .release);
                break :blk fresh;
            };
            @atomicStore(u8, &owned[unit % owner_chunk_units], @intCast(shard_index + 1), .release);
        }
    }

    /// Whether `region` holds no live block (under its shard's lock: a moment's view).
    pub fn regionFree(self: *ShardedVariable, region: arena_mod.Region) bool {
        const shard = self.ownerOf(region.start) orelse return false;
        shard.mutex.lock();
        defer shard.mutex.unlock();
        return shard.tlsf.regionFree(region);
    }

    /// Takes `region` out of its shard where it holds no live block; returns whether it did. Under
    /// the growth lock. Safe while other threads allocate and free: a shard's TLSF changes only
    /// under its lock, held here, and a region that is one free block has nothing any thread
    /// holds; its units name no shard afterwards (a stale free is then a pointer in no region).
    pub fn removeRegion(self: *ShardedVariable, region: arena_mod.Region) bool {
        const shard = self.ownerOf(region.start) orelse return false;
        shard.mutex.lock();
        defer shard.mutex.unlock();
        if (!shard.tlsf.regionFree(region)) return false;
        shard.tlsf.removeRegion(region);
        const end_unit = std.math.divCeil(u64, region.end(), arena_mod.unit_granules) catch unreachable;
        for (region.start / arena_mod.unit_granules..end_unit) |unit| {
            const chunk = self.owners[unit / owner_chunk_units].load(.acquire).?;
            @atomicStore(u8, &chunk[unit % owner_chunk_units], 0, .release);
        }
        return true;
    }

    fn ownerOf(self: *const ShardedVariable, g: u32) ?*Shard {
        const unit = g / arena_mod.unit_granules;
        const chunk = self.owners[unit / owner_chunk_units].load(.acquire) orelse return null;
        const owner = @atomicLoad(u8, &chunk[unit % owner_chunk_units], .acquire);
        if (owner == 0) return null;
        assert(owner <= shard_count);
        return @constCast(&self.shards[owner - 1]);
    }

    /// The id the latest allocation was given (0 before any).
    fn lastId(self: *const ShardedVariable) u32 {
        const made = self.last_id.load(.monotonic);
        return if (made == 0) 0 else @intCast((made - 1) % id_limit + 1);
    }

    fn nextId(self: *ShardedVariable) u32 {
        const previous = self.last_id.fetchAdd(1, .monotonic);
        return @intCast(previous % id_limit + 1);
    }

    pub const Placed = struct { g: u32, id: u32 };

    /// This placement as layers.zig's placement interface (the pool's `sharded`): it takes no pool
    /// lock, and counts in its striped counters (counting.zig Striped reads them).
    pub fn Interface(comptime Pool: type) type {
        return struct {
            pub fn alloc(pool: *Pool, size: u64, _: Pool.Stream) Error!Pool.Placed {
                const got = try pool.shardedVariable().?.alloc(pool, size, granulesFor(size), pool.alignmentGranules());
                return .{ .g = got.g, .id = got.id };
            }

            pub fn blockBytes(_: *const Pool, size: u64) u64 {
                return @as(u64, granulesFor(size)) * arena_mod.granule_bytes;
            }

            pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!void {
                try pool.shardedVariable().?.free(pool.poolName(), g, expected_id, pool.alignmentGranules());
            }

            pub fn lookup(pool: *Pool, g: u32) ?Pool.Live {
                return pool.shardedVariable().?.lookup(g);
            }

            pub fn reset(pool: *Pool) Error!void {
                pool.shardedVariable().?.reset(pool.regionList()) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
                pool.noteResetForTool();
            }

            /// The pool's figures (its record, which holds the growth figures, with the counts filled in) and space.
            pub fn figures(pool: *Pool, stats: *stats_mod.Stats) stats_mod.Stats.Space {
                const sharded = pool.shardedVariable().?;
                sharded.growth_mutex.lock();
                defer sharded.growth_mutex.unlock();
                stats.* = pool.statsRecord().*;
                const space = sharded.figures(stats, pool.alignmentGranules());
                assert(space.free <= pool.placeableBytes());
                stats.bytes_allocated = pool.placeableBytes() - space.free;
                assert(stats.bytes_allocated >= stats.bytes_in_use); // one moment's reading (figures)
                return pool.spaceWith(space.free, space.largest);
            }

            pub fn resetPeaks(pool: *Pool) void {
                const sharded = pool.shardedVariable().?;
                sharded.counters.resetPeaks();
                sharded.growth_mutex.lock();
                defer sharded.growth_mutex.unlock();
                pool.resetRecordPeaks();
            }

            pub fn listLive(pool: *Pool, out: []u32) u32 {
                return pool.shardedVariable().?.listLive(out);
            }

            /// The blocks at one moment (every shard's lock held, as `figures` holds them), the figures read just after.
            pub fn writeSnapshot(pool: *Pool, out: snapshot.Output) Error!bool {
                const sharded = pool.shardedVariable().?;
                const fit = fit: {
                    sharded.growth_mutex.lock();
                    defer sharded.growth_mutex.unlock();
                    for (&sharded.shards) |*shard| shard.mutex.lock();
                    defer for (&sharded.shards) |*shard| shard.mutex.unlock();
                    const ids: snapshot.Ids = .{ .last = sharded.lastId(), .max = id_limit, .pending = null };
                    const blocks: Placement = .{ .shards = .{ .sharded = sharded } };
                    break :fit snapshot.write(pool.allocator(), pool.regionList(), &blocks, ids, .{}, out) catch
                        return status.fail(error.OutOfMemory, "no memory to walk the blocks of pool '{s}'", .{pool.poolName()});
                };
                pool.writeStats(out.stats);
                return fit;
            }

            /// To the calling thread's shard.
            pub fn addRegion(pool: *Pool, _: u32, region: arena_mod.Region) error{OutOfMemory}!void {
                return pool.shardedVariable().?.addRegion(region);
            }

            pub fn trims(_: *const Pool) bool {
                return true;
            }

            /// Under the growth lock: only a region that is one free block of its shard goes.
            pub fn removeRegion(pool: *Pool, _: u32, region: arena_mod.Region) Pool.Removal {
                return if (pool.shardedVariable().?.removeRegion(region)) .removed else .kept;
            }
        };
    }

    fn granulesFor(size: u64) u32 {
        assert(size > 0);
        return @intCast(arena_mod.granulesFor(size));
    }

    /// A block of `size` bytes; `pool.growFor(bytes)` adds a region to this thread's shard.
    pub fn alloc(self: *ShardedVariable, pool: anytype, size: u64, granules: u32, alignment_granules: u32) Error!Placed {
        return self.allocNoting(pool, size, granules, alignment_granules, NoNote{});
    }

    /// `alloc`, telling `note` under the lock of the shard that places the block: `reserve(tlsf)`
    /// before it places (an error refuses the allocation), `placed(tlsf, g)` once it has (the
    /// block is `tlsf.last_placed`); and asking `failNoRoom(size)` for the error where no shard
    /// has room.
    pub fn allocNoting(self: *ShardedVariable, pool: anytype, size: u64, granules: u32, alignment_granules: u32, note: anytype) Error!Placed {
        const id = self.nextId();
        const shard = &self.shards[self.home orelse myShard()];
        if (try self.placeIn(shard, granules, alignment_granules, id, size, note)) |g| return .{ .g = g, .id = id };
        // A home shard's region is the pool's only one, and never grows: no other shard has room.
        if (self.home != null) return self.failNoRoom(pool, size, note);
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        // Another thread may have freed into this shard meanwhile; else grow it.
        if (try self.placeIn(shard, granules, alignment_granules, id, size, note)) |g| return .{ .g = g, .id = id };
        if (pool.growForReleasing(pool.regionBytesFor(size)) != null) {
            if (try self.placeIn(shard, granules, alignment_granules, id, size, note)) |g| return .{ .g = g, .id = id };
        }
        // No room to grow: any other shard with room will do.
        for (&self.shards) |*other| {
            if (other == shard) continue;
            if (try self.placeIn(other, granules, alignment_granules, id, size, note)) |g| return .{ .g = g, .id = id };
        }
        return self.failNoRoom(pool, size, note);
    }

    fn failNoRoom(self: *ShardedVariable, pool: anytype, size: u64, note: anytype) Error {
        self.counters.recordFailure();
        return note.failNoRoom(pool, size);
    }

    /// What `allocNoting`, `freeNoting` and `resetNoting` tell a layer that keeps nothing by block.
    const NoNote = struct {
        inline fn reserve(_: NoNote, _: *const Tlsf) Error!void {}
        inline fn placed(_: NoNote, _: *const Tlsf, _: u32) void {}
        inline fn freed(_: NoNote, _: u32, _: u32, _: u64) void {}
        inline fn reset(_: NoNote) void {}
        fn failNoRoom(_: NoNote, pool: anytype, size: u64) Error {
            if (pool.failRefused(size)) |refused| return refused;
            return status.fail(error.OutOfMemory, "pool '{s}' cannot place {d} bytes: {d} of at most {d} bytes reserved, none free in one piece in any shard", .{ pool.poolName(), size, pool.committedBytes(), pool.reservableBytes() });
        }
    };

    /// Places the block in `shard` and counts it, under the shard's lock (as a free is counted), so
    /// that `figures`, holding every shard's lock, reads counts that match the shards' free space.
    fn placeIn(self: *ShardedVariable, shard: *Shard, granules: u32, alignment_granules: u32, id: u32, size: u64, note: anytype) Error!?u32 {
        shard.mutex.lock();
        defer shard.mutex.unlock();
        try note.reserve(&shard.tlsf);
        const g = (shard.tlsf.alloc(granules, alignment_granules, id, size) catch
            return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{})) orelse return null;
        note.placed(&shard.tlsf, g);
        self.counters.recordAlloc(size);
        return g;
    }

    /// Frees the block at `g` in the shard that owns it (with `expected_id` not 0, only while it holds that allocation).
    pub fn free(self: *ShardedVariable, pool_name: []const u8, g: u32, expected_id: u32, alignment_granules: u32) Error!void {
        assert(try self.freeNoting(pool_name, g, expected_id, alignment_granules, NoNote{}));
    }

    /// `free`, under the owning shard's lock asking `note.frees(g, record, requested_bytes)` of the
    /// live block at `g` (`record`: its Tlsf.liveIndex) before it frees it (false: nothing is done, and this
    /// returns false), and telling `note.freed(g, record, requested_bytes)` once it has, before the lock lets
    /// another thread place anything there.
    pub fn freeNoting(self: *ShardedVariable, pool_name: []const u8, g: u32, expected_id: u32, alignment_granules: u32, note: anytype) Error!bool {
        const at_bytes = @as(u64, g) * arena_mod.granule_bytes;
        const shard = self.ownerOf(g) orelse return status.fail(error.InvalidPointer, "pointer at offset {d} is not in any region of pool '{s}'", .{ at_bytes, pool_name });
        shard.mutex.lock();
        defer shard.mutex.unlock();
        // A pool whose free no layer asks about (NoNote) looks the block up only for a handle's free.
        const asks = @TypeOf(note) != NoNote;
        if (expected_id != 0 or asks) {
            const found = shard.tlsf.lookup(g);
            if (expected_id != 0) {
                const live = found orelse return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed", .{ expected_id, at_bytes, pool_name });
                if (live.id != expected_id) return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed, and the block now holds allocation #{d}", .{ expected_id, at_bytes, pool_name, live.id });
            }
            if (asks) if (found) |live| if (!note.frees(g, shard.tlsf.liveIndex(g).?, live.requested_bytes)) return false;
        }
        switch (shard.tlsf.free(g)) {
            .freed => |freed| {
                self.counters.recordFree(freed.requested_bytes);
                note.freed(g, freed.record, freed.requested_bytes);
            },
            else => |bad| return tlsf_mod.failBadFree(bad, g, alignment_granules, pool_name),
        }
        return true;
    }

    /// The free bytes of every shard, each read under its lock (a moment's view each).
    pub fn freeBytes(self: *ShardedVariable) u64 {
        var free_granules: u64 = 0;
        for (&self.shards) |*shard| {
            shard.mutex.lock();
            defer shard.mutex.unlock();
            free_granules += shard.tlsf.free_granules;
        }
        return free_granules * arena_mod.granule_bytes;
    }

    /// `reader.read(tlsf, g)` of the shard that owns granule `g`, under that shard's lock: for a
    /// layer that keeps data by block (`reader.Result`); null where no shard owns `g`.
    pub fn readLive(self: *ShardedVariable, g: u32, reader: anytype) ?@TypeOf(reader).Result {
        const shard = self.ownerOf(g) orelse return null;
        shard.mutex.lock();
        defer shard.mutex.unlock();
        return reader.read(&shard.tlsf, g);
    }

    /// The shards' blocks as one placement, as snapshot.zig's `write` walks one: each shard's walk
    /// is in address order and regions never overlap, so merging the walks by start gives the
    /// pool's order. Only while every shard's lock is held.
    pub const Placement = union(enum) {
        shards: struct {
            sharded: *const ShardedVariable,

            pub fn walk(self: *const @This(), gpa: std.mem.Allocator) error{OutOfMemory}!MergedWalk {
                var merged: MergedWalk = .{ .walks = undefined, .heads = undefined };
                var made: usize = 0;
                errdefer for (merged.walks[0..made]) |*made_walk| made_walk.deinit(gpa);
                for (&self.sharded.shards, 0..) |*shard, index| {
                    merged.walks[index] = try shard.tlsf.walk(gpa);
                    made += 1;
                    merged.heads[index] = merged.walks[index].next();
                }
                return merged;
            }
        },
    };

    pub const MergedWalk = struct {
        walks: [shard_count]Tlsf.Walk,
        /// Each walk's next block, not yet handed out.
        heads: [shard_count]?Tlsf.BlockView,
        previous_start: ?u32 = null,

        pub fn next(self: *MergedWalk) ?Tlsf.BlockView {
            var lowest: ?usize = null;
            for (self.heads, 0..) |head, index| {
                const block = head orelse continue;
                if (lowest == null or block.start < self.heads[lowest.?].?.start) lowest = index;
            }
            const index = lowest orelse return null;
            const block = self.heads[index].?;
            assert(self.previous_start == null or block.start > self.previous_start.?); // no block in two shards
            self.previous_start = block.start;
            self.heads[index] = self.walks[index].next();
            return block;
        }

        pub fn deinit(self: *MergedWalk, gpa: std.mem.Allocator) void {
            for (&self.walks) |*shard_walk| shard_walk.deinit(gpa);
        }
    };

    /// Every block of every shard free again: each shard's regions one free block each, the live
    /// counted as freed. Under the growth lock and every shard's lock (in shard order, as `figures`
    /// takes them), so no allocation or free is half done and the counts stay exact.
    pub fn reset(self: *ShardedVariable, regions: []const arena_mod.Region) error{OutOfMemory}!void {
        return self.resetNoting(regions, NoNote{});
    }

    /// `reset`, telling `note.reset()` while every lock is held, before the shards are reset.
    pub fn resetNoting(self: *ShardedVariable, regions: []const arena_mod.Region, note: anytype) error{OutOfMemory}!void {
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        for (&self.shards) |*shard| shard.mutex.lock();
        defer for (&self.shards) |*shard| shard.mutex.unlock();
        const now = self.counters.read();
        note.reset();
        for (&self.shards) |*shard| {
            try shard.tlsf.resetWhere(regions, .strategy, ShardRegions{ .sharded = self, .shard = shard }, ShardRegions.holds);
        }
        self.counters.recordFrees(now.live(), now.requested_bytes);
        assert(self.counters.read().live() == 0);
    }

    /// The regions one shard owns (`owners`), for its TLSF's reset.
    const ShardRegions = struct {
        sharded: *const ShardedVariable,
        shard: *const Shard,
        fn holds(self: ShardRegions, region: arena_mod.Region) bool {
            const owner = self.sharded.ownerOf(region.start) orelse return false;
            return owner == self.shard;
        }
    };

    /// Writes the offsets of live allocations into `out`, as many as fit, shard by shard; returns
    /// how many there are. For tools (leak reports): each shard is listed under its own lock, so
    /// other threads may allocate and free in the others meanwhile.
    pub fn listLive(self: *ShardedVariable, out: []u32) u32 {
        var count: u32 = 0;
        for (&self.shards) |*shard| {
            shard.mutex.lock();
            defer shard.mutex.unlock();
            var blocks = shard.tlsf.liveIterator();
            while (blocks.next()) |slot| : (count += 1) {
                if (count < out.len) out[count] = slot.key;
            }
        }
        return count;
    }

    pub fn lookup(self: *ShardedVariable, g: u32) ?Tlsf.Live {
        const shard = self.ownerOf(g) orelse return null;
        shard.mutex.lock();
        defer shard.mutex.unlock();
        return shard.tlsf.lookup(g);
    }

    /// Fills in the counters of `stats`; returns the free bytes and the largest free block.
    /// Counts are exact once operations in flight finish; peaks are lower bounds.
    /// One moment's reading: every shard's lock is held (in shard order; no other path holds two)
    /// while the counters and the free space are read, and every count changes under a shard's lock,
    /// so bytes in use never exceed the blocks that hold them, as a shard-by-shard sum let them.
    pub fn figures(self: *ShardedVariable, stats: *stats_mod.Stats, alignment_granules: u32) struct { free: u64, largest: u64 } {
        for (&self.shards) |*shard| shard.mutex.lock();
        defer for (&self.shards) |*shard| shard.mutex.unlock();
        _ = self.counters.writeInto(stats);
        var free_granules: u64 = 0;
        var largest: u64 = 0;
        for (&self.shards) |*shard| {
            free_granules += shard.tlsf.free_granules;
            largest = @max(largest, shard.tlsf.largestFreeGranules(alignment_granules));
        }
        return .{ .free = free_granules * arena_mod.granule_bytes, .largest = largest * arena_mod.granule_bytes };
    }
};

test "threads allocate from their shards, free across shards, and nothing overlaps" {
    const pool = try testPool("sharded", null);
    defer pool.destroy();
    const per_thread = 300;
    var offsets: [4][per_thread]u32 = undefined;
    const Worker = struct {
        fn run(p: *pool_mod.Pool, out: *[per_thread]u32, seed: u32) void {
            for (out, 0..) |*g, i| g.* = (p.alloc(16 + (seed * 7 + i * 13) % 900, null) catch unreachable).g;
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*thread, i| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ pool, &offsets[i], @as(u32, @intCast(i)) });
    for (threads) |thread| thread.join();
    var seen = std.AutoHashMap(u32, void).init(std.testing.allocator);
    defer seen.deinit();
    for (offsets) |row| {
        for (row) |g| try std.testing.expect((try seen.fetchPut(g, {})) == null);
    }
    // This thread frees everything, whichever shard owns it.
    for (offsets) |row| {
        for (row) |g| _ = try pool.free(g, 0);
    }
    try std.testing.expectError(error.DoubleFree, pool.free(offsets[0][0], 0));
    var out: [stats_mod.field_count]f64 = undefined;
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 4 * per_thread), out[@intFromEnum(stats_mod.Field.free_count)]);
}

// The tests' helpers (after the first test: the import of pool.zig is the tests' alone, not the module's).
const pool_mod = @import("../pool.zig");

/// A lockFree Variable pool with no size limit for the tests here; `initial_size` null keeps the test default.
fn testPool(name: []const u8, initial_size: ?u64) !*pool_mod.Pool {
    var config = @import("../config.zig").testConfig(.variable);
    config.thread_safety = .lock_free;
    config.max_size = 0;
    if (initial_size) |bytes| config.initial_size = bytes;
    return pool_mod.Pool.create(std.testing.allocator, name, config);
}

/// Three threads (three shards) each allocate `per_thread` blocks of `first`, `first + step`, ... bytes; their offsets.
fn allocateOnThreads(pool: *pool_mod.Pool, comptime per_thread: usize, first: u64, step: u64) ![3][per_thread]u32 {
    var offsets: [3][per_thread]u32 = undefined;
    const Worker = struct {
        fn run(p: *pool_mod.Pool, out: *[per_thread]u32, from: u64, by: u64) void {
            for (out, 0..) |*g, i| g.* = (p.alloc(from + i * by, null) catch unreachable).g;
        }
    };
    var threads: [3]std.Thread = undefined;
    for (&threads, 0..) |*thread, i| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ pool, &offsets[i], first, step });
    for (threads) |thread| thread.join();
    return offsets;
}

test "reset frees every shard's blocks, keeps each region in its shard, and counts the frees" {
    const pool = try testPool("sharded-reset", 64 * 1024);
    defer pool.destroy();
    const per_thread = 200;
    const offsets = try allocateOnThreads(pool, per_thread, 100, 37);
    const sharded = pool.shardedVariable().?;
    var owners_before: [64]?*Shard = @splat(null);
    const regions = pool.regionList();
    try std.testing.expect(regions.len <= owners_before.len);
    for (regions, 0..) |region, i| {
        if (region.committed) owners_before[i] = sharded.ownerOf(region.start);
    }
    try pool.reset();
    var out: [stats_mod.field_count]f64 = undefined;
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 3 * per_thread), out[@intFromEnum(stats_mod.Field.free_count)]);
    try std.testing.expectEqual(out[@intFromEnum(stats_mod.Field.bytes_reserved)], out[@intFromEnum(stats_mod.Field.free_bytes)]);
    for (pool.regionList(), 0..) |region, i| {
        if (region.committed) try std.testing.expectEqual(owners_before[i], sharded.ownerOf(region.start));
    }
    // Each shard holds its own regions again, each one free block; the old blocks are gone.
    var free_granules: u64 = 0;
    for (&sharded.shards) |*shard| {
        try std.testing.expectEqual(@as(u32, 0), shard.tlsf.live.count);
        free_granules += shard.tlsf.free_granules;
    }
    try std.testing.expectEqual(pool.committedBytes(), free_granules * arena_mod.granule_bytes);
    try std.testing.expectError(error.DoubleFree, pool.free(offsets[1][0], 0));
    const again = try pool.alloc(1000, null);
    _ = try pool.free(again.g, again.id);
}

test "a snapshot lists every shard's blocks in address order, tiling the regions, live ones with their ids" {
    const snapshot_mod = @import("../snapshot.zig");
    const pool = try testPool("sharded-snapshot", 64 * 1024);
    defer pool.destroy();
    const per_thread = 100;
    const offsets = try allocateOnThreads(pool, per_thread, 200, 50);
    for (offsets[0][0..50]) |g| _ = try pool.free(g, 0); // some holes in one shard
    var header: snapshot_mod.Header = undefined;
    var regions: [64]snapshot_mod.RegionRecord = undefined;
    var blocks: [2048]snapshot_mod.BlockRecord = undefined;
    var stats_out: [stats_mod.field_count]f64 = undefined;
    try std.testing.expect(try pool.writeSnapshot(.{ .header = &header, .regions = &regions, .blocks = &blocks, .stats = &stats_out }));
    var live: u32 = 0;
    var region_granules: u64 = 0;
    for (regions[0..header.region_count]) |region| region_granules += region.granules;
    var block_granules: u64 = 0;
    for (blocks[0..header.block_count], 0..) |block, i| {
        if (i > 0) try std.testing.expect(block.start >= blocks[i - 1].start + blocks[i - 1].granules);
        if (block.id != 0) live += 1;
        block_granules += block.granules;
    }
    try std.testing.expectEqual(@as(u32, 3 * per_thread - 50), live);
    try std.testing.expectEqual(region_granules, block_granules); // the blocks tile the regions
    try std.testing.expectEqual(@as(f64, 3 * per_thread - 50), stats_out[@intFromEnum(stats_mod.Field.live_allocations)]);
    try std.testing.expectEqual(@as(u32, 3 * per_thread), header.last_id);
}

test "ids run on past 2^32 allocations without repeating one soon after" {
    const sharded = try ShardedVariable.create(std.testing.allocator);
    defer sharded.destroy();
    sharded.last_id.store((1 << 32) - 4, .monotonic);
    var seen: [16]u32 = undefined;
    for (&seen, 0..) |*id, i| {
        id.* = sharded.nextId();
        try std.testing.expect(id.* >= 1 and id.* <= id_limit);
        for (seen[0..i]) |earlier| try std.testing.expect(earlier != id.*);
    }
    sharded.last_id.store(id_limit - 1, .monotonic);
    try std.testing.expectEqual(id_limit, sharded.nextId());
    try std.testing.expectEqual(@as(u32, 1), sharded.nextId()); // wraps after id_limit, to 1, never 0
}
