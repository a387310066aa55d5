//! The pool side of a fixed-size pool that many threads use without the pool's lock: `lockFree`
//! pools and pools with `threadLocalCache`. Placement is lockfree_fixed.zig (its free stack under
//! a mutex for "mutex" pools), optionally behind per-thread magazines (thread_cache.zig);
//! counting is striped_counters.zig; JavaScript threads keep caches of their own in records the
//! core sums into the figures (js_cache.zig). Growth, the one rare and slow step, is serialised by
//! `growth_mutex`; a thread that finds no free block takes it, looks again, and grows.
//!
//! A request over one block is a run of contiguous blocks (as in strategy/fixed.zig), placed on a
//! slow path under `growth_mutex`: the blocks' state words and stack marks, 64 at a time, show the
//! lowest run of blocks free and on the stack (address-ordered first fit), and lockfree_fixed.zig
//! reserves it in place, its entries left on the stack for pops to drop (`placeRun`), so a run
//! costs a scan and a step a block. Where none is, the pool grows (at once where the stack cannot
//! hold one). Only where reservations keep losing races with other threads' pops is the stack
//! drained down to a run (run_search.zig joins each block popped to its neighbours as it comes;
//! a run is taken from the low end of a free extent, else the lowest of all; the rest go back in
//! address order). Blocks in thread magazines and JavaScript caches are never taken for a run.
//!
//! Invariants: the arena, its regions and the pool's growth figures change only under
//! `growth_mutex`; `run_blocks` counts the blocks live runs hold beyond their first; every block is exactly one of: live (state word holds its id, or
//! the continued flag), on the shared stack, or in one thread's magazine or JavaScript cache (both
//! free: state word flagged freed); a live run's block may keep a stale entry on the stack too.
const std = @import("std");
const assert = std.debug.assert;
const lockfree_fixed = @import("lockfree_fixed.zig");
const LockFreeFixed = lockfree_fixed.LockFreeFixed;
const StripedCounters = @import("striped_counters.zig").StripedCounters;
const thread_cache = @import("thread_cache.zig");
const js_cache = @import("js_cache.zig");
const thread_exit = @import("thread_exit.zig");
const stats_mod = @import("../stats.zig");
const snapshot = @import("../snapshot.zig");
const Region = @import("../arena.zig").Region;
const RunSearch = @import("run_search.zig").RunSearch;
const status = @import("../status.zig");
const Error = status.Error;

var next_serial: std.atomic.Value(u64) = .init(1);

pub const SharedFixed = struct {
    gpa: std.mem.Allocator,
    fixed: LockFreeFixed,
    cached: bool,
    stride_bytes: u64,
    /// Names this pool for the thread caches' lifetime; never reused.
    serial: u64,
    /// Whether only one thread uses the pool (threadSafety "none"): JavaScript's cache then frees
    /// with plain stores and counts ids on `last_id` (mp_cache_ids) with plain loads and stores.
    exclusive: bool,
    /// The pool's last allocation id. Ids count pool-wide, as the core's other placements give
    /// them (snapshots age blocks by id, the debug layer's records key by id); the threads of a
    /// shared pool take them in batches (`takeIds`), so the counter is touched once a batch.
    /// Allocated apart and kept, as the chunks are, where other threads' caches viewed it (destroy).
    last_id: *std.atomic.Value(u32),
    /// Set once the registry publishes the pool (thread caches find it again by handle).
    handle: i32 = -1,
    growth_mutex: std.Thread.Mutex = .{},
    counters: StripedCounters = .{},
    /// Blocks held by live runs beyond their first blocks (the counters count a run once).
    run_blocks: std.atomic.Value(u64) = .init(0),
    /// The JavaScript caches' records of this pool, one per thread; the list under `growth_mutex`.
    js_records: ?*js_cache.Record = null,
    /// Threads whose magazines (thread_cache.zig) took blocks of this pool: the first, and whether
    /// there were others. A reset needs every cache to be the caller's.
    magazine_thread: std.atomic.Value(std.Thread.Id) = .init(0),
    magazine_threads_many: std.atomic.Value(bool) = .init(false),

    pub fn create(gpa: std.mem.Allocator, stride_granules: u32, granule_bytes: u64, reserved_bytes: u64, lock_free: bool, cached: bool, exclusive: bool) Error!*SharedFixed {
        assert(!(exclusive and (lock_free or cached))); // one thread's pool takes neither
        const self = gpa.create(SharedFixed) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        errdefer gpa.destroy(self);
        // Magazines of this pool's blocks go back as a thread ends (sync/thread_exit.zig).
        if (cached) thread_exit.hook(.core_caches, thread_cache.flushAll);
        const last_id = gpa.create(std.atomic.Value(u32)) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        errdefer gpa.destroy(last_id);
        last_id.* = .init(0);
        self.* = .{
            .last_id = last_id,
            .gpa = gpa,
            .fixed = LockFreeFixed.init(gpa, stride_granules, reserved_bytes / granule_bytes, lock_free) catch
                return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{}),
            .cached = cached,
            .exclusive = exclusive,
            .stride_bytes = stride_granules * granule_bytes,
            .serial = next_serial.fetchAdd(1, .monotonic),
        };
        // Its pops and pushes keep no stack marks until it is asked for a run (`placeRun`).
        self.fixed.mark_mode = .init(.untracked);
        return self;
    }

    pub fn destroy(self: *SharedFixed) void {
        self.growth_mutex.lock();
        // Walked before the close: a record closed may be reused by its thread, its links rewritten.
        const viewed_elsewhere = js_cache.usedElsewhere(self.js_records);
        js_cache.closeAll(self.js_records);
        // Other threads' caches see the pool gone at their next use of any block.
        if (viewed_elsewhere) self.fixed.markDead();
        self.growth_mutex.unlock();
        self.fixed.deinit(viewed_elsewhere);
        if (!viewed_elsewhere) self.gpa.destroy(self.last_id); // else another thread's cache may still take ids off it once
        self.gpa.destroy(self);
    }

    /// The calling thread's JavaScript cache record for this pool (made on first use); null where
    /// no memory is left for one (JavaScript then takes the core's path).
    pub fn openRecord(self: *SharedFixed, pool: anytype) ?*js_cache.Record {
        assert(self.handle >= 0);
        thread_exit.hook(.js_caches, js_cache.flushThread); // before js_cache.open registers the thread
        // One thread's pool has no other thread to keep blocks from: its stack takes the full capacity.
        const capacity = if (self.exclusive) js_cache.capacity_blocks else js_cache.capacityFor(pool.reservableBytes() / self.stride_bytes);
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        return js_cache.open(&self.js_records, self.handle, self.serial, self.fixed.stride, capacity);
    }

    /// Whether the calling thread's record of this pool is held by a JavaScript cache (js_cache.zig viewedHere).
    pub fn recordViewedHere(self: *const SharedFixed) bool {
        return js_cache.viewedHere(self.serial);
    }

    /// The record at `address` if it is one of this pool's, else null.
    pub fn record(self: *SharedFixed, address: usize) ?*js_cache.Record {
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        const found = js_cache.find(self.js_records, address) orelse return null;
        return if (found.serves(self.serial)) found else null;
    }

    /// Fills the record's stack with up to a batch of free blocks, growing the pool where none is
    /// free; returns the new count. OutOfMemory where the pool has none and cannot grow.
    pub fn refill(self: *SharedFixed, pool: anytype, target: *js_cache.Record) Error!u32 {
        const count = @atomicLoad(u32, &target.shared.count, .acquire);
        const capacity = target.shared.capacity;
        assert(count <= capacity and capacity <= js_cache.capacity_blocks);
        const room = target.shared.numbers[count..@min(capacity, count + js_cache.batchFor(capacity))];
        if (room.len == 0) return count;
        var taken = self.fixed.popBatch(room);
        if (taken == 0) {
            self.growth_mutex.lock();
            defer self.growth_mutex.unlock();
            taken = self.fixed.popBatch(room);
            if (taken == 0 and pool.growFor(self.stride_bytes) != null) taken = self.fixed.popBatch(room);
        }
        if (taken == 0) {
            self.counters.recordFailure();
            if (pool.failRefused(self.stride_bytes)) |refused| return refused;
            var note: [cache_note_max]u8 = undefined;
            return status.fail(error.OutOfMemory, "pool '{s}' has no free block of {d} bytes and cannot grow: {d} of at most {d} bytes reserved{s}", .{ pool.poolName(), self.stride_bytes, pool.committedBytes(), pool.reservableBytes(), self.cacheNote(&note) });
        }
        // The stack's top is handed out first: reversed, the batch goes out in the order it was popped (address order on a fresh pool).
        std.mem.reverse(u32, room[0..taken]);
        self.fixed.holdFreed(room[0..taken], target.freer); // the stack holds only its own freed words (js_cache.zig)
        const filled: u32 = @intCast(count + taken);
        @atomicStore(u32, &target.shared.count, filled, .release);
        self.notePeaks(self.combined());
        return filled;
    }

    const Combined = struct { allocations: u64, frees: u64, failed: u64, live: u64, allocated_bytes: u64, freed_bytes: u64, requested_bytes: u64, cached_blocks: u64 };

    /// The core path's counters and every JavaScript record's, summed: a block may be allocated on
    /// one side and freed on the other, so only the sums balance. Each record's counters are read as
    /// of one moment (js_cache.zig `steady`), and the core's frees with their bytes before its
    /// allocations with theirs (striped_counters.zig `readUnclamped`).
    fn combined(self: *SharedFixed) Combined {
        const core_totals = self.counters.readUnclamped();
        const js = js_cache.totals(@atomicLoad(?*js_cache.Record, &self.js_records, .acquire));
        const allocations = core_totals.allocations + js.allocations;
        const frees = @min(allocations, core_totals.frees + js.frees);
        const allocated_bytes = core_totals.allocated_bytes + js.allocated_bytes;
        const freed_bytes = @min(allocated_bytes, core_totals.freed_bytes + js.freed_bytes);
        return .{
            .allocations = allocations,
            .frees = frees,
            .failed = core_totals.failed,
            .live = allocations - frees,
            .allocated_bytes = allocated_bytes,
            .freed_bytes = freed_bytes,
            .requested_bytes = allocated_bytes - freed_bytes,
            .cached_blocks = js.cached_blocks,
        };
    }

    /// Peaks are kept from what refills see (every batch a thread takes): lower bounds, as for the core path.
    fn notePeaks(self: *SharedFixed, now: Combined) void {
        _ = self.counters.peak_live.fetchMax(now.live, .monotonic);
        _ = self.counters.peak_requested_bytes.fetchMax(now.requested_bytes, .monotonic);
    }

    /// Whether trim may give regions back: always. A region goes back only where every block of
    /// it is on the shared stack (lockfree_fixed.zig `removeRegion`): none live, none in a thread's
    /// cache, none being handed out. Other threads' caches keep their regions until they flush
    /// (flushThreadCaches(), or as the thread ends); the caller gives its own back first (`trimming`).
    pub fn trims(_: *const SharedFixed) bool {
        return true;
    }

    /// What trim holds while it gives regions back: the growth lock (the arena and the growth
    /// figures change under it), with the calling thread's magazine given back first, since its
    /// blocks may be all that keeps a region. The caller's JavaScript cache was flushed before
    /// the call (src/pool.ts trim). Unlock with `growth_mutex.unlock()`.
    pub fn trimming(self: *SharedFixed) void {
        self.growth_mutex.lock();
        if (self.cached and self.handle >= 0) _ = thread_cache.giveBack(self.owner(), &self.fixed);
    }

    /// A placement snapshot.zig walks (as it walks the strategies): the blocks of `regions`.
    pub const Placement = union(enum) {
        blocks: struct {
            fixed: *const LockFreeFixed,
            regions: []const @import("../arena.zig").Region,
            pub fn walk(self: *const @This(), gpa: std.mem.Allocator) error{OutOfMemory}!LockFreeFixed.Walk {
                return self.fixed.walk(gpa, self.regions);
            }
        },
    };

    pub fn placement(self: *const SharedFixed, regions: []const @import("../arena.zig").Region) Placement {
        return .{ .blocks = .{ .fixed = &self.fixed, .regions = regions } };
    }

    /// Frees every allocation at once (pool.reset, under no other lock): only where no other thread
    /// holds a cache of the pool, since its blocks would be on the stack and in that cache at once.
    pub fn reset(self: *SharedFixed, pool: anytype) Error!void {
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        if (js_cache.openElsewhere(self.js_records) or self.magazinesElsewhere()) {
            return status.fail(error.Unsupported, "reset() of pool '{s}' needs its thread caches to be this thread's alone: other Workers hold theirs until they end; free the allocations instead", .{pool.poolName()});
        }
        js_cache.flushMine(self.js_records, &self.fixed);
        if (self.magazine_thread.load(.acquire) != 0) thread_cache.flushAll(); // the caller's own magazines
        const now = self.combined();
        self.fixed.reset(pool.regionList());
        self.counters.recordFrees(now.live, now.requested_bytes);
        self.run_blocks.store(0, .monotonic);
    }

    /// Peaks start again from the figures now, the JavaScript caches' counts included.
    pub fn resetPeaks(self: *SharedFixed) void {
        const now = self.combined();
        self.counters.peak_live.store(now.live, .monotonic);
        self.counters.peak_requested_bytes.store(now.requested_bytes, .monotonic);
    }

    /// Gives the record's blocks from `keep` up back to the pool; returns the new count.
    pub fn flush(self: *SharedFixed, target: *js_cache.Record, keep: u32) u32 {
        return js_cache.flushTo(target, &self.fixed, keep);
    }

    fn owner(self: *const SharedFixed) thread_cache.Owner {
        assert(self.handle >= 0);
        return .{ .handle = self.handle, .serial = self.serial };
    }

    pub const Placed = struct { g: u32, id: u32 };

    /// This placement as layers.zig's placement interface (the pool's `shared`): it takes no pool
    /// lock, and counts in its striped counters (counting.zig Striped reads them).
    pub fn Interface(comptime Pool: type) type {
        return struct {
            pub fn alloc(pool: *Pool, size: u64, _: Pool.Stream) Error!Pool.Placed {
                const placed = try pool.sharedFixed().?.alloc(pool, @intCast(size));
                return .{ .g = placed.g, .id = placed.id };
            }

            pub fn blockBytes(pool: *const Pool, size: u64) u64 {
                const shared = pool.sharedFixed().?;
                return shared.blocksFor(size) * shared.stride_bytes;
            }

            pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!void {
                try pool.sharedFixed().?.free(pool.poolName(), g, expected_id, @import("../arena.zig").granule_bytes);
            }

            pub fn lookup(pool: *Pool, g: u32) ?Pool.Live {
                const shared = pool.sharedFixed().?;
                const live = shared.fixed.lookup(g) orelse return null;
                return .{ .granules = shared.fixed.stride * shared.blocksFor(live.requested_bytes), .requested_bytes = live.requested_bytes, .id = live.id };
            }

            pub fn reset(pool: *Pool) Error!void {
                try pool.sharedFixed().?.reset(pool);
                pool.noteResetForTool();
            }

            /// The pool's figures (its record, which holds the growth figures, with the counts filled in) and space.
            pub fn figures(pool: *Pool, stats: *stats_mod.Stats) stats_mod.Stats.Space {
                const shared = pool.sharedFixed().?;
                shared.growth_mutex.lock();
                defer shared.growth_mutex.unlock();
                stats.* = pool.statsRecord().*;
                const free_bytes = shared.figures(stats);
                // Block states and counters are read at different moments while other threads work: no more than the free bytes.
                const enough_blocks = std.math.divCeil(u64, pool.sizeMax(), shared.stride_bytes) catch unreachable;
                const largest_granules = shared.fixed.largestFreeGranules(pool.regionList(), free_bytes / shared.stride_bytes, enough_blocks);
                const largest_free = @min(free_bytes, largest_granules * @import("../arena.zig").granule_bytes);
                return pool.spaceWith(free_bytes, largest_free);
            }

            pub fn resetPeaks(pool: *Pool) void {
                const shared = pool.sharedFixed().?;
                shared.resetPeaks();
                shared.growth_mutex.lock();
                defer shared.growth_mutex.unlock();
                pool.resetRecordPeaks();
            }

            pub fn listLive(pool: *Pool, out: []u32) u32 {
                const shared = pool.sharedFixed().?;
                // Regions stay put under the growth lock, as for writeSnapshot: another Worker's
                // refill may grow the pool meanwhile, and a region listed before its blocks' chunks
                // were added (or a list moved by its growth) read as a block with no chunk (a
                // panic in getLeaks() while Workers churned, seen once in test/attack/churn.test.ts).
                shared.growth_mutex.lock();
                defer shared.growth_mutex.unlock();
                return shared.fixed.listLive(pool.regionList(), out);
            }

            pub fn writeSnapshot(pool: *Pool, out: snapshot.Output) Error!bool {
                const shared = pool.sharedFixed().?;
                // Regions stay put under the growth lock. Blocks of a pool other threads use may change
                // meanwhile (their allocations take no lock): a moment's view, the figures taken after.
                const fit = fit: {
                    shared.growth_mutex.lock();
                    defer shared.growth_mutex.unlock();
                    const blocks = shared.placement(pool.regionList());
                    const ids: snapshot.Ids = .{ .last = shared.last_id.load(.monotonic), .max = pool_id_max, .pending = null };
                    break :fit snapshot.write(pool.allocator(), pool.regionList(), &blocks, ids, .{}, out) catch
                        return status.fail(error.OutOfMemory, "no memory to walk the blocks of pool '{s}'", .{pool.poolName()});
                };
                pool.writeStats(out.stats);
                return fit;
            }

            pub fn addRegion(pool: *Pool, _: u32, region: Region) error{OutOfMemory}!void {
                return pool.sharedFixed().?.fixed.addRegion(region);
            }

            pub fn trims(pool: *const Pool) bool {
                return pool.sharedFixed().?.trims(); // else its regions are never removed (lockfree_fixed.zig)
            }

            /// Under the growth lock: only a region all of whose blocks are on the stack goes.
            pub fn removeRegion(pool: *Pool, _: u32, region: Region) Pool.Removal {
                const shared = pool.sharedFixed().?;
                if (!shared.fixed.regionFree(region)) return .kept; // a live block: no need to take the stack
                const removed = shared.fixed.removeRegion(pool.allocator(), region) catch return .stop; // no memory to sort the stack: keep the rest
                return if (removed) .removed else .kept;
            }
        };
    }

    /// A block for `requested_bytes`; `pool.growFor(bytes)` adds a region (under the growth lock).
    pub fn alloc(self: *SharedFixed, pool: anytype, requested_bytes: u32) Error!Placed {
        if (requested_bytes > self.stride_bytes) return self.allocRun(pool, requested_bytes);
        const number = self.take() orelse self.growAndTake(pool) orelse {
            self.counters.recordFailure();
            if (pool.failRefused(self.stride_bytes)) |refused| return refused;
            var note: [cache_note_max]u8 = undefined;
            return status.fail(error.OutOfMemory, "pool '{s}' has no free block of {d} bytes and cannot grow: {d} of at most {d} bytes reserved{s}", .{ pool.poolName(), self.stride_bytes, pool.committedBytes(), pool.reservableBytes(), self.cacheNote(&note) });
        };
        const placed = self.fixed.claimAs(number, requested_bytes, self.takeIds(1));
        self.counters.recordAlloc(requested_bytes);
        return .{ .g = placed.g, .id = placed.id };
    }

    /// The largest id a state word holds (ids stay below the continued flag).
    pub const pool_id_max: u32 = lockfree_fixed.continued_flag - 1;

    /// The first of `count` consecutive new ids, from 1 up to `pool_id_max`, then from 1 again (a
    /// batch never wraps inside: it starts again at 1). Any thread; JavaScript's caches of shared
    /// pools take a batch at a time on the same word, the same way (src/block_cache.ts #takeIds).
    pub fn takeIds(self: *SharedFixed, count: u32) u32 {
        assert(count >= 1 and count <= id_batch_max);
        var last = self.last_id.load(.monotonic);
        while (true) {
            const first = if (last > pool_id_max - count) 1 else last + 1;
            last = self.last_id.cmpxchgWeak(last, first + count - 1, .monotonic, .monotonic) orelse return first;
        }
    }

    /// The most ids one call of `takeIds` gives.
    pub const id_batch_max: u32 = 1 << 16;

    comptime {
        assert(@sizeOf(std.atomic.Value(u32)) == 4); // JavaScript views `last_id` as one int32
    }

    /// Notes the calling thread as one whose magazine holds blocks of this pool (one load when it is the first).
    inline fn noteMagazineUser(self: *SharedFixed) void {
        const me = std.Thread.getCurrentId();
        const first = self.magazine_thread.load(.monotonic);
        if (first == me) return;
        if (first == 0) {
            const other = self.magazine_thread.cmpxchgStrong(0, me, .acq_rel, .acquire) orelse return;
            if (other == me) return;
        }
        self.magazine_threads_many.store(true, .release);
    }

    fn magazinesElsewhere(self: *const SharedFixed) bool {
        if (self.magazine_threads_many.load(.acquire)) return true;
        const first = self.magazine_thread.load(.acquire);
        return first != 0 and first != std.Thread.getCurrentId();
    }

    inline fn take(self: *SharedFixed) ?u32 {
        if (self.cached and self.handle >= 0) {
            self.noteMagazineUser();
            return thread_cache.take(self.owner(), &self.fixed);
        }
        return self.fixed.pop();
    }

    fn growAndTake(self: *SharedFixed, pool: anytype) ?u32 {
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        // Another thread may have grown the pool, or given blocks back, while this one waited.
        if (self.take()) |number| return number;
        if (pool.growFor(self.stride_bytes) == null) return null;
        return self.take();
    }

    /// Blocks an allocation of `requested_bytes` holds: 1, or a run's length.
    pub fn blocksFor(self: *const SharedFixed, requested_bytes: u64) u32 {
        if (requested_bytes <= self.stride_bytes) return 1;
        return @intCast(std.math.divCeil(u64, requested_bytes, self.stride_bytes) catch unreachable);
    }

    /// A run of blocks for `requested_bytes`, over one block: the slow, locked path.
    fn allocRun(self: *SharedFixed, pool: anytype, requested_bytes: u32) Error!Placed {
        @branchHint(.unlikely);
        const count = self.blocksFor(requested_bytes);
        assert(count >= 2);
        self.growth_mutex.lock();
        defer self.growth_mutex.unlock();
        var drained: std.ArrayList(u32) = .empty;
        defer drained.deinit(self.gpa);
        var grown = false;
        var cache_returned = false;
        while (true) {
            // A stack with fewer free blocks than the run holds no run: grow at once.
            if (self.stackMayHold(count)) {
                if (try self.placeRun(&drained, count, pool.regionList())) |number| {
                    const placed = self.fixed.claimRun(number, count, requested_bytes, self.takeIds(1));
                    _ = self.run_blocks.fetchAdd(count - 1, .monotonic);
                    self.counters.recordAlloc(requested_bytes);
                    return .{ .g = placed.g, .id = placed.id };
                }
            }
            // A run is gathered from the shared stack only: the blocks this thread's cache holds
            // may be the ones that complete it (a thread that freed the whole pool holds a
            // magazine of it). Give them back before growing or failing.
            if (!cache_returned and self.cached and self.handle >= 0) {
                cache_returned = true;
                if (thread_cache.giveBack(self.owner(), &self.fixed) > 0) continue;
            }
            // (Every free block is on the stack here: gatherRun pushed back what it drained.)
            if (grown or pool.growForReleasing(@as(u64, count) * self.stride_bytes) == null) break;
            grown = true;
        }
        self.counters.recordFailure();
        if (pool.failRefused(requested_bytes)) |refused| return refused;
        var note: [cache_note_max]u8 = undefined;
        return status.fail(error.OutOfMemory, "pool '{s}' has no run of {d} free blocks for {d} bytes and cannot grow: {d} of at most {d} bytes reserved{s}", .{ pool.poolName(), count, requested_bytes, pool.committedBytes(), pool.reservableBytes(), self.cacheNote(&note) });
    }

    const cache_note_max = 200;

    /// The end of an OutOfMemory message where other threads' JavaScript caches hold free blocks:
    /// they count in freeBytes (and cachedBytes), yet only the thread that holds them can take them
    /// (as DPDK's per-lcore caches), so "no free block" alone read as a pool that lost them. Empty
    /// where no cache holds any (this thread's own went back before a run failed).
    fn cacheNote(self: *SharedFixed, buffer: *[cache_note_max]u8) []const u8 {
        const cached_bytes = self.combined().cached_blocks * self.stride_bytes;
        if (cached_bytes == 0) return "";
        const note = std.fmt.bufPrint(buffer, "; {d} bytes are free in other threads' caches, which only those threads take (flushThreadCaches() there, or their end, gives them back)", .{cached_bytes}) catch unreachable;
        assert(note.len <= cache_note_max);
        return note;
    }

    /// Whether the free stack may hold `count` blocks: the pool's blocks less those live and those
    /// JavaScript caches hold (magazines' blocks are counted as on the stack: a bound, not a count).
    /// Counters of operations in flight on other threads may be off for a moment; then a run is
    /// sought or a region grown that need not have been, never a block taken twice.
    fn stackMayHold(self: *SharedFixed, count: u32) bool {
        const now = self.combined();
        const held = now.live + self.run_blocks.load(.monotonic) + now.cached_blocks;
        return self.fixed.block_count.load(.monotonic) -| held >= count;
    }

    /// How many times a run the states show is reserved, and found taken meanwhile by another
    /// thread's pop, before the stack is drained for one instead.
    const reserve_tries = 8;

    /// The first block of `count` free blocks in a row, taken for a run (their marks `stale` or,
    /// drained, off the stack), or null where the stack holds no such run. Under the growth lock.
    /// The lowest run whose blocks are all on the stack, as the state words and marks show (a
    /// word of 64 at a time), is reserved in place (lockfree_fixed.zig `reserveRun`): the cost is
    /// the scan and a step a block, never a drain. A reservation fails only where another thread
    /// popped one of its blocks since the scan; after a few such races, the drain decides.
    fn placeRun(self: *SharedFixed, drained: *std.ArrayList(u32), count: u32, regions: []const Region) Error!?u32 {
        assert(count >= 2);
        self.fixed.trackMarks(); // the first run sought: the marks say which blocks have entries from now on
        var tries: u32 = 0;
        while (tries < reserve_tries) : (tries += 1) {
            const first = self.fixed.lowestStackedRun(regions, count) orelse return null;
            if (self.fixed.reserveRun(first, count)) return first;
        }
        return self.gatherRun(drained, count, regions);
    }

    /// Pops the free stack until the blocks popped hold `count` in a row of one region
    /// (run_search.zig) at the low end of a free extent, takes those, and pushes the rest back in
    /// address order (or, drained whole, takes the lowest run of all); returns
    /// the run's first block number, or null (everything pushed back, the stack drained once)
    /// where there is no such run. Under the growth lock (which `regions`, the arena's, changes
    /// under). Costs the blocks popped: the runs freed since the last search are above the
    /// blocks the last search gave back in address order, and a fresh region's are on top in order.
    ///
    /// A run never continues into the next region, even one that lies right after it: a block is
    /// inside one region for everything that reads regions (snapshot.zig writes blocks region by
    /// region, and a run's blocks in the next region read as free there).
    fn gatherRun(self: *SharedFixed, drained: *std.ArrayList(u32), count: u32, regions: []const Region) Error!?u32 {
        const no_memory = "no memory for the pool's bookkeeping";
        drained.clearRetainingCapacity();
        var search = RunSearch.init(self.gpa, count, self.fixed.stride, regions) catch
            return status.fail(error.OutOfMemory, no_memory, .{});
        defer search.deinit();
        var found: ?u32 = null;
        var all_noted = true; // else the search's lengths miss some of `drained`
        defer {
            // In address order (the next search's first fit); the run taken stays off the stack.
            // With no memory to order them, they go back as they came.
            const restacked: ?usize = if (all_noted) search.restack(drained.items, found) catch null else null;
            const back = restacked orelse kept: {
                var kept: usize = 0;
                for (drained.items) |number| {
                    if (found) |first| if (number >= first and number < first + count) continue;
                    drained.items[kept] = number;
                    kept += 1;
                }
                break :kept kept;
            };
            assert(back + @as(usize, if (found == null) 0 else count) == drained.items.len);
            self.fixed.pushBatch(drained.items[0..back]);
        }
        var batch: [256]u32 = undefined;
        while (found == null) {
            const taken = self.fixed.popBatch(&batch);
            all_noted = false;
            drained.appendSlice(self.gpa, batch[0..taken]) catch {
                self.fixed.pushBatch(batch[0..taken]);
                return status.fail(error.OutOfMemory, no_memory, .{});
            };
            for (batch[0..taken]) |number| { // all noted: restack orders what was noted
                const interval = search.add(number) catch {
                    found = null; // everything goes back
                    return status.fail(error.OutOfMemory, no_memory, .{});
                } orelse continue;
                // Taken at once only from the low end of a free extent (the block before it
                // starts its region or is not free), as address-ordered first fit would take
                // within it: a run in the middle would leave a fragment before it.
                if (found == null and (interval.starts_region or !self.fixed.isFree(interval.first - 1))) found = interval.first;
            }
            all_noted = true;
            if (taken < batch.len) break;
        }
        // Drained whole with no such run: the lowest run of all, as address-ordered first fit.
        if (found == null) found = search.lowestRun(drained.items);
        if (found) |first| for (first..first + count) |number| assert(self.fixed.isFree(@intCast(number)));
        return found;
    }

    /// Frees the block at `g` (with `expected_id` not 0, only while it holds that allocation).
    pub fn free(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, granule_bytes: u64) Error!void {
        return self.freeNoting(pool_name, g, expected_id, granule_bytes, struct {
            pub inline fn freed(_: @This(), _: u32, _: u32) void {}
        }{});
    }

    /// `free`, telling `note.freed(g, requested_bytes)` once the block is marked freed (its free
    /// won: no other thread frees it) and before it goes back where another thread can take it
    /// (a PMEM pool's journal zeroes its record there: pmem/shared_journal.zig).
    pub inline fn freeNoting(self: *SharedFixed, pool_name: []const u8, g: u32, expected_id: u32, granule_bytes: u64, note: anytype) Error!void {
        var number: u32 = undefined;
        const at_bytes = @as(u64, g) * granule_bytes;
        switch (self.fixed.markFreed(g, expected_id, &number)) {
            .freed => |freed| {
                note.freed(g, freed.requested_bytes);
                self.counters.recordFree(freed.requested_bytes);
                const count = self.blocksFor(freed.requested_bytes);
                if (count > 1) return self.freeRun(number, count);
                if (self.cached and self.handle >= 0) {
                    self.noteMagazineUser();
                    thread_cache.give(self.owner(), &self.fixed, number);
                } else self.fixed.push(number);
            },
            .double_free => return if (expected_id != 0)
                status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed", .{ expected_id, at_bytes, pool_name })
            else
                status.fail(error.DoubleFree, "double free: the block at offset {d} of pool '{s}' is already free", .{ at_bytes, pool_name }),
            .reused => |live_id| return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of pool '{s}' was already freed, and the block now holds allocation #{d}", .{ expected_id, at_bytes, pool_name, live_id }),
            .interior_pointer => return status.fail(error.InvalidPointer, "pointer at offset {d} points inside an allocation of pool '{s}', not at its start", .{ at_bytes, pool_name }),
            .unknown_pointer => return status.fail(error.InvalidPointer, "pool '{s}' never gave out a block at offset {d}", .{ pool_name, at_bytes }),
        }
    }

    /// Gives back the blocks of the run whose first block, `first`, was just marked freed.
    fn freeRun(self: *SharedFixed, first: u32, count: u32) void {
        @branchHint(.unlikely);
        self.fixed.releaseContinued(first, count);
        _ = self.run_blocks.fetchSub(count - 1, .monotonic);
        // Entries still on the stack serve again; those pops dropped are pushed.
        self.fixed.unstale(first, count);
    }

    /// Fills in the counters of `stats` (a copy of the pool's, which holds the growth figures).
    /// Counts are exact once operations in flight finish; peaks are lower bounds (striped_counters.zig).
    pub fn figures(self: *SharedFixed, stats: *stats_mod.Stats) u64 {
        const now = self.combined();
        self.notePeaks(now);
        stats.allocation_count = now.allocations;
        stats.free_count = now.frees;
        stats.failed_allocations = now.failed;
        stats.live_allocations = now.live;
        stats.bytes_in_use = now.requested_bytes;
        stats.bytes_allocated_total = now.allocated_bytes;
        stats.bytes_freed_total = now.freed_bytes;
        stats.peak_live_allocations = @max(now.live, self.counters.peak_live.load(.monotonic));
        stats.peak_bytes_in_use = @max(now.requested_bytes, self.counters.peak_requested_bytes.load(.monotonic));
        stats.cached_bytes = now.cached_blocks * self.stride_bytes;
        const live_blocks = now.live + self.run_blocks.load(.monotonic);
        stats.bytes_allocated = live_blocks * self.stride_bytes;
        const blocks = self.fixed.block_count.load(.monotonic);
        return (blocks -| live_blocks) * self.stride_bytes;
    }
};

test "JavaScript cache records: a batch per refill, cached blocks counted apart, frees on either side summed" {
    const pool_mod = @import("../pool.zig");
    const config_mod = @import("../config.zig");
    var config = config_mod.testConfig(.fixed_size);
    config.block_size = 64;
    config.max_size = 0;
    config.thread_safety = .mutex;
    config.thread_local_cache = true;
    const pool = try pool_mod.Pool.create(std.testing.allocator, "js-records", config);
    defer pool.destroy();
    pool.published(1);
    const shared = pool.sharedFixed().?;
    const record = shared.openRecord(pool).?;
    try std.testing.expect(shared.openRecord(pool) == null); // one per thread, viewed by one JavaScript cache
    try std.testing.expectEqual(@as(u32, 4), record.shared.stride_granules);
    const filled = try shared.refill(pool, record);
    try std.testing.expectEqual(@as(u32, js_cache.batch_blocks), filled);
    var out: [stats_mod.field_count]f64 = undefined;
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 64 * js_cache.batch_blocks), out[@intFromEnum(stats_mod.Field.cached_bytes)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.live_allocations)]);
    // What src/block_cache.ts does on a hit: pop a number, give the block a new id, count it.
    record.shared.count = filled - 1;
    const placed = shared.fixed.claim(record.shared.numbers[filled - 1], 40);
    record.shared.allocations += 1;
    record.shared.allocated_bytes += 40;
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(stats_mod.Field.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 40), out[@intFromEnum(stats_mod.Field.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 64 * (js_cache.batch_blocks - 1)), out[@intFromEnum(stats_mod.Field.cached_bytes)]);
    try std.testing.expectEqual(placed.id, pool.lookup(placed.g).?.id); // the core sees what the cache wrote
    // Freed on the core's path (as another thread without a cache would): the sums still balance.
    _ = try pool.free(placed.g, placed.id);
    try std.testing.expectError(error.DoubleFree, pool.free(placed.g, 0));
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.live_allocations)]);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.bytes_in_use)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(stats_mod.Field.allocation_count)]);
    try std.testing.expectEqual(@as(f64, 1), out[@intFromEnum(stats_mod.Field.free_count)]);
    try std.testing.expectEqual(@as(u32, 0), shared.flush(record, 0));
    pool.writeStats(&out);
    try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.cached_bytes)]);
    try std.testing.expect(shared.record(@intFromPtr(record) + 8) == null); // an address the core did not give out
}

test "an OutOfMemory message's note names the bytes JavaScript caches hold, and is empty where they hold none" {
    const pool_mod = @import("../pool.zig");
    const config_mod = @import("../config.zig");
    var config = config_mod.testConfig(.fixed_size);
    config.block_size = 64;
    config.thread_safety = .lock_free;
    const pool = try pool_mod.Pool.create(std.testing.allocator, "cache-note", config);
    defer pool.destroy();
    pool.published(1);
    const shared = pool.sharedFixed().?;
    var note: [SharedFixed.cache_note_max]u8 = undefined;
    try std.testing.expectEqualStrings("", shared.cacheNote(&note));
    const record = shared.openRecord(pool).?;
    const filled = try shared.refill(pool, record);
    var expected: [32]u8 = undefined;
    const held = try std.fmt.bufPrint(&expected, "; {d} bytes are free", .{64 * filled});
    try std.testing.expect(std.mem.startsWith(u8, shared.cacheNote(&note), held));
    try std.testing.expect(std.mem.indexOf(u8, shared.cacheNote(&note), "flushThreadCaches()") != null);
    _ = shared.flush(record, 0);
    try std.testing.expectEqualStrings("", shared.cacheNote(&note));
}

test "a run of blocks lies in one region, also where the next region starts right after the free blocks it would need" {
    const pool_mod = @import("../pool.zig");
    const config_mod = @import("../config.zig");
    const modes = [_]struct { config_mod.ThreadSafety, bool }{ .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true } };
    for (modes) |mode| {
        var config = config_mod.testConfig(.fixed_size);
        config.block_size = 4096;
        config.initial_size = 64 * 1024; // one unit: 16 blocks
        config.max_size = 0;
        config.thread_safety = mode[0];
        config.thread_local_cache = mode[1];
        const pool = try pool_mod.Pool.create(std.testing.allocator, "run-in-one-region", config);
        defer pool.destroy();
        pool.published(0);
        // 14 of the first region's 16 blocks, then more singles: the pool grows a second region right after the first.
        var singles: [20]pool_mod.Pool.Placed = undefined;
        for (&singles) |*single| single.* = try pool.alloc(4000, null);
        try std.testing.expect(pool.regionList().len >= 2);
        for (singles[14..]) |single| _ = try pool.free(single.g, single.id); // free: blocks 14, 15 of the first region and 0-3 of the second
        const run = try pool.alloc(6 * 4096, null);
        const run_end = @as(u64, run.g) + 6 * 4096 / @import("../arena.zig").granule_bytes;
        var inside = false;
        for (pool.regionList()) |region| inside = inside or (region.committed and run.g >= region.start and run_end <= region.end());
        try std.testing.expect(inside);
        _ = try pool.free(run.g, run.id);
        for (singles[0..14]) |single| _ = try pool.free(single.g, single.id);
    }
}

test "a run is the lowest of free blocks on the stack, reserved in place (pops drop its entries), and a stack too short for a run grows" {
    const pool_mod = @import("../pool.zig");
    const config_mod = @import("../config.zig");
    const granule_bytes = @import("../arena.zig").granule_bytes;
    for ([_]config_mod.ThreadSafety{ .lock_free, .none }) |safety| {
        var config = config_mod.testConfig(.fixed_size);
        config.block_size = 64;
        config.initial_size = 64 * 1024; // 1024 blocks
        config.max_size = 0;
        config.thread_safety = safety;
        const pool = try pool_mod.Pool.create(std.testing.allocator, "run-off-the-top", config);
        defer pool.destroy();
        const shared = pool.sharedFixed().?;
        const stride = 64 / granule_bytes;
        var singles: [1024]pool_mod.Pool.Placed = undefined;
        for (&singles) |*single| single.* = try pool.alloc(64, null);
        try std.testing.expectEqual(@as(usize, 1), pool.regionList().len);
        // Freed in this order, each pushed on top: the stack reads 23 22 21 20 500 12 11 10 from the top.
        for ([_]u32{ 10, 11, 12, 500, 20, 21, 22, 23 }) |slot| _ = try pool.free(singles[slot].g, singles[slot].id);
        // The lowest three free in a row, 10 .. 12 (address-ordered first fit), reserved in place:
        // their entries stay on the stack, and a pop drops them.
        const run = try pool.alloc(3 * 64, null);
        try std.testing.expectEqual(singles[10].g, run.g);
        var left: [16]u32 = undefined;
        const taken = shared.fixed.popBatch(&left);
        const expected = [_]u32{ 23, 22, 21, 20, 500 }; // in stack order, the run's entries dropped
        try std.testing.expectEqual(expected.len, taken);
        for (expected, left[0..taken]) |slot, number| try std.testing.expectEqual(singles[slot].g / stride, number);
        shared.fixed.pushBatch(left[0..taken]);
        // Five free blocks cannot hold a run of six: the pool grows, and the run lies in the new region.
        const long = try pool.alloc(6 * 64, null);
        try std.testing.expectEqual(@as(usize, 2), pool.regionList().len);
        try std.testing.expect(long.g >= pool.regionList()[1].start and long.g + 6 * stride <= pool.regionList()[1].end());
        var out: [stats_mod.field_count]f64 = undefined;
        pool.writeStats(&out);
        try std.testing.expectEqual(@as(f64, 1024 - 8 + 2), out[@intFromEnum(stats_mod.Field.live_allocations)]);
        try std.testing.expectEqual(@as(f64, (1024 - 8 + 3 + 6) * 64), out[@intFromEnum(stats_mod.Field.bytes_allocated)]);
        _ = try pool.free(run.g, run.id);
        _ = try pool.free(long.g, long.id);
        try std.testing.expectError(error.DoubleFree, pool.free(run.g, run.id));
    }
}
