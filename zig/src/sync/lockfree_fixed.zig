//! Fixed-size placement for many threads at once: allocate and free take no lock.
//!
//! Free blocks wait on a Treiber stack (Treiber 1986) whose 64-bit head is `tag << 32 | number`:
//! the tag changes on every push and pop, so a pop that read a stale `next` fails its
//! compare-and-swap instead of corrupting the stack (ABA; a thread would have to sleep through
//! 2^32 stack operations to be fooled). A block's number is `g / stride`, which is distinct for
//! every block of every region (regions never overlap and each is at least one stride long), so
//! all bookkeeping is out of band in chunks indexed by number. Chunks are made when a region is
//! added and never move or go away before the pool does: any thread may read any of them.
//!
//! Each block has one state word: 0 (never allocated), `id` (live, allocation `id`), or
//! `freed_flag | freer` (free, freed by `freer`: 0 for the core, a JavaScript cache's tag for its
//! frees, js_cache.zig). Free is one compare-and-swap from live to freed, so of two racing frees of
//! one block exactly one wins and the other is a double free, told apart from a pointer the pool
//! never gave out; the winner's freer stays in the word, so a free that lost can tell afterwards
//! that it lost (js_cache.zig `settlePending`: a terminated Worker's free, stopped after its
//! swap failed). A freed word's low bits are never copied from a live word's id: a freer must not
//! find its own tag where another's free, or the core's, won. A claim takes the id it is given
//! (shared_fixed.zig counts them pool-wide; `claim` counts them on this pool's own counter), so a
//! handle from an earlier allocation of a block never frees a later one (until the ids wrap after 2^30).
//!
//! A run of blocks (a request over one block, see shared_fixed.zig) is `count` blocks with
//! consecutive numbers, gathered off the stack by `claimRun`: the first holds the run's id and
//! size, the others `continued_flag`, so a free of one of them is an interior pointer.
//!
//! A run is placed where the blocks' state words and stack marks (below), read 64 at a time, show
//! the lowest `count` blocks in a row that are free and on the shared stack (address-ordered first
//! fit): `reserveRun` turns each one's mark from `on` to `stale`, one compare-and-swap a block,
//! and leaves its entry on the stack. A pop drops an entry whose mark it finds `stale` (the block
//! is a run's); a free of the run turns each mark back to `on` where the entry is still there, and
//! pushes only the blocks whose entries a pop dropped. So a run costs a scan of words and a step a
//! block, never a drain of the stack, and a block never has two entries: a block in a thread
//! cache is free but off the stack (mark `off`), and no run takes it. The marks are two bits a
//! block in words beside its chunk (JavaScript's view of the chunk is unchanged).
//!
//! Marks cost an atomic read-modify-write of a word that 32 blocks share on every pop and push, so
//! a pool that may never serve a run keeps none (`MarkMode.untracked`, shared_fixed.zig's pools):
//! its pops and pushes leave the marks alone, and the first run sought makes them right once
//! (`trackMarks`), after which they are kept as above.
//!
//! With `lock_free` false the same stack is pushed and popped under a mutex: the "mutex" pool
//! behind thread caches, which take and give back blocks in batches.
//!
//! Regions are added and removed (trim) under `growth_mutex` (the caller's); a region is removed
//! only where all its blocks are on the stack, which `removeRegion` finds by taking the stack whole
//! while other threads go on pushing and popping.
const std = @import("std");
const adaptive = @import("adaptive_mutex.zig");
const Backoff = adaptive.Backoff;
const assert = std.debug.assert;
const Region = @import("../arena.zig").Region;
const stride_walk = @import("../strategy/stride_walk.zig");
const free_runs = @import("../strategy/free_runs.zig");

pub const chunk_shift = 12;
pub const chunk_blocks: u32 = 1 << chunk_shift;
const nil: u32 = std.math.maxInt(u32);
pub const freed_flag: u32 = 1 << 31;
/// Marks a block that a run holds after its first block. Ids stay below it.
pub const continued_flag: u32 = 1 << 30;
/// Every block's word once its pool is destroyed while other threads' JavaScript caches view the
/// chunks (js_cache.zig): their next use of any block sees it. No other state has all bits set.
pub const dead_state: u32 = std.math.maxInt(u32);
/// The freer the core writes into a block's freed word (markFreed, reset, a run's later blocks);
/// a JavaScript cache's tag is 1 up to `freer_max` (js_cache.zig).
pub const core_freer: u32 = 0;
pub const freer_max: u32 = continued_flag - 1;

/// The state word of a block freed by `freer` (see the file's comment).
pub fn freedBy(freer: u32) u32 {
    assert(freer <= freer_max);
    return freed_flag | freer;
}

/// Four arrays of words, in this order: JavaScript views a chunk as one Int32Array (src/block_cache.ts).
pub const Chunk = struct {
    state: [chunk_blocks]std.atomic.Value(u32),
    requested_bytes: [chunk_blocks]std.atomic.Value(u32),
    next: [chunk_blocks]std.atomic.Value(u32),
    /// `g + 1` of the block with this number, 0 where none: tells block starts from other offsets.
    start_plus_one: [chunk_blocks]std.atomic.Value(u32),
};

/// Where a block's entry on the free stack stands, two bits a block: neither set, none (live, in
/// a thread cache, or in a caller's hands between a pop and a claim); `on`, one, for a free block;
/// `stale`, one, left there by `reserveRun` for a block a run holds (a pop drops it, the run's
/// free turns it `on`). Never both. A word holds 32 blocks' marks: `on` bits in its low half,
/// `stale` bits in its high half, so a run's reservation or free turns 32 marks with one
/// compare-and-swap, and a pop reads and clears its block's two with one fetch-and-clear.
const MarkWord = u64;
const marks_per_word = 32;
const on_half: MarkWord = 0xffff_ffff;

/// Whether pops and pushes keep the stack marks. `untracked`: they leave them alone (no run was
/// ever sought: the marks mean nothing, and no mark is `stale`); `arming`: `trackMarks` is making
/// them right, and pops and pushes keep them again (a push's `on` may be wiped by it: its entry
/// then has neither mark, which a pop takes as a free block's and a run never reserves);
/// `tracked`: kept, and read by runs. Only ever moves forward, once.
pub const MarkMode = enum(u8) { untracked, arming, tracked };

/// A chunk and its blocks' stack marks, allocated together: `chunks` holds the chunk (JavaScript
/// views it alone), and the marks are found from it (`marksOf`).
const Slab = struct {
    chunk: Chunk,
    marks: [chunk_blocks / marks_per_word]std.atomic.Value(MarkWord),
};

fn marksOf(chunk: *Chunk) *[chunk_blocks / marks_per_word]std.atomic.Value(MarkWord) {
    const slab: *Slab = @alignCast(@fieldParentPtr("chunk", chunk)); // chunks are made only as a slab's
    return &slab.marks;
}

/// The `on` bit of the block at `at` in its chunk (`<< 32`: its `stale` bit), and its word.
fn onBit(at: u32) MarkWord {
    return @as(MarkWord, 1) << @intCast(at % marks_per_word);
}

fn markWordOf(chunk: *Chunk, at: u32) *std.atomic.Value(MarkWord) {
    assert(at < chunk_blocks);
    return &marksOf(chunk)[at / marks_per_word];
}

comptime {
    assert(chunk_blocks % marks_per_word == 0);
    assert(@offsetOf(Chunk, "state") == 0);
    assert(@offsetOf(Chunk, "requested_bytes") == 4 * chunk_blocks);
    assert(@offsetOf(Chunk, "next") == 8 * chunk_blocks);
    assert(@offsetOf(Chunk, "start_plus_one") == 12 * chunk_blocks);
    assert(@sizeOf(Chunk) == 16 * chunk_blocks);
}

pub const FreeResult = union(enum) {
    freed: struct { requested_bytes: u32 },
    double_free,
    /// Live, but holding an allocation other than the one the caller named.
    reused: u32,
    interior_pointer,
    unknown_pointer,
};

/// Whether a block's state word says it starts a live allocation (not never-allocated, not
/// freed, not a run's later block; the dead state has both flags).
pub fn startsAllocation(state: u32) bool {
    return state != 0 and state & (freed_flag | continued_flag) == 0;
}

/// Whether a block's state word says it is free: never allocated, or freed (a run's later block
/// is not, nor is the dead state).
pub fn isFreeState(state: u32) bool {
    return state == 0 or (state & freed_flag != 0 and state & continued_flag == 0);
}

pub const Live = struct { requested_bytes: u32, id: u32 };

/// A block made live: its offset and id.
pub const Claimed = struct { g: u32, id: u32 };

pub const LockFreeFixed = struct {
    gpa: std.mem.Allocator,
    stride: u32, // granules
    stride_reciprocal: u128,
    lock_free: bool,
    /// See `MarkMode`: a pool made by `init` keeps its marks; shared_fixed.zig's start `untracked`.
    mark_mode: std.atomic.Value(MarkMode) = .init(.tracked),
    /// While `untracked`: whether the marks still say exactly which blocks have entries, as
    /// `addRegion` and `restoreRegion` set them (no pop or push since left them alone). Then
    /// `trackMarks` need not take the stack to make them right. Read before written, so that once
    /// false it costs a load of a line no one writes.
    marks_exact: std.atomic.Value(bool) = .init(true),
    head: std.atomic.Value(u64) align(std.atomic.cache_line) = .init(nil),
    list_mutex: adaptive.AdaptiveMutex = .{},
    /// Indexed by `number >> chunk_shift`; sized for the whole reservation at init.
    chunks: []std.atomic.Value(?*Chunk),
    /// Blocks in all regions; written under the growth lock.
    block_count: std.atomic.Value(u64) = .init(0),
    /// The last id `claim` gave (callers that count no ids of their own: tests).
    last_claimed_id: std.atomic.Value(u32) = .init(0),

    pub fn init(gpa: std.mem.Allocator, stride: u32, reserved_granules: u64, lock_free: bool) error{OutOfMemory}!LockFreeFixed {
        assert(stride > 0 and reserved_granules > 0);
        const numbers_max = reserved_granules / stride + 1;
        const chunks = try gpa.alloc(std.atomic.Value(?*Chunk), std.math.divCeil(u64, numbers_max, chunk_blocks) catch unreachable);
        @memset(chunks, .init(null));
        const reciprocal: u128 = std.math.divCeil(u128, 1 << 64, stride) catch unreachable;
        return .{ .gpa = gpa, .stride = stride, .stride_reciprocal = reciprocal, .lock_free = lock_free, .chunks = chunks };
    }

    /// With `keep_chunks`, the chunks stay allocated for the life of the process: JavaScript views
    /// of them in other threads (js_cache.zig) may still read them once before they see the pool closed.
    pub fn deinit(self: *LockFreeFixed, keep_chunks: bool) void {
        if (!keep_chunks) for (self.chunks) |*slot| if (slot.load(.monotonic)) |chunk| self.gpa.destroy(@as(*Slab, @alignCast(@fieldParentPtr("chunk", chunk))));
        self.gpa.free(self.chunks);
        self.* = undefined;
    }

    /// Marks every block dead (its pool is being destroyed; the chunks stay for other threads' views).
    pub fn markDead(self: *LockFreeFixed) void {
        for (self.chunks) |*slot| {
            const chunk = slot.load(.acquire) orelse continue;
            for (&chunk.state, &chunk.start_plus_one) |*state, start| {
                if (start.load(.monotonic) != 0) state.store(dead_state, .release);
            }
        }
    }

    /// The address of chunk `index` (blocks `index << chunk_shift` on), for JavaScript to view; null where none.
    pub fn chunkAddress(self: *const LockFreeFixed, index: u32) ?*Chunk {
        if (index >= self.chunks.len) return null;
        return self.chunks[index].load(.acquire);
    }

    inline fn numberOf(self: *const LockFreeFixed, g: u32) u32 {
        return @intCast((self.stride_reciprocal * g) >> 64);
    }

    inline fn chunkOf(self: *const LockFreeFixed, number: u32) ?*Chunk {
        const index = number >> chunk_shift;
        if (index >= self.chunks.len) return null;
        return self.chunks[index].load(.acquire);
    }

    /// The state word of block `number`, or null where no block has that number.
    pub fn stateOf(self: *const LockFreeFixed, number: u32) ?u32 {
        const chunk = self.chunkOf(number) orelse return null;
        return chunk.state[number & (chunk_blocks - 1)].load(.acquire);
    }

    /// The bytes asked for by the last allocation of block `number`, or null where no block has that number.
    pub fn requestedOf(self: *const LockFreeFixed, number: u32) ?u32 {
        const chunk = self.chunkOf(number) orelse return null;
        return chunk.requested_bytes[number & (chunk_blocks - 1)].load(.acquire);
    }

    /// Whether block `number` exists and is free: never allocated, or marked freed (a number no
    /// block has is not; nor is a block a run holds).
    pub fn isFree(self: *const LockFreeFixed, number: u32) bool {
        return isFreeState(self.stateOf(number) orelse return false);
    }

    /// Adds every block of `region` and pushes them all with one swap of the head. Called under
    /// the growth lock; the region must not have been added before.
    pub fn addRegion(self: *LockFreeFixed, region: Region) error{OutOfMemory}!void {
        const NoneLive = struct {
            pub inline fn lookup(_: @This(), _: u32) ?Live {
                return null;
            }
        };
        return self.restoreRegion(region, NoneLive{});
    }

    /// Adds every block of `region` as addRegion does, but with the blocks `source.lookup(g)` says
    /// are live (their requested bytes and id) made live, and only the others pushed: a PMEM pool's
    /// placement rebuilt from its allocation table at open (pmem/shared_journal.zig). Under the
    /// growth lock (or before the pool is published); the region must not have been added before.
    pub fn restoreRegion(self: *LockFreeFixed, region: Region, source: anytype) error{OutOfMemory}!void {
        assert(region.committed and region.len >= self.stride);
        const count = region.len / self.stride;
        const first = self.numberOf(region.start);
        const last = self.numberOf(region.start + (count - 1) * self.stride);
        assert(last >= first + count - 1);
        var index = first >> chunk_shift;
        while (index <= last >> chunk_shift) : (index += 1) {
            if (self.chunks[index].load(.monotonic) != null) continue;
            const slab = try self.gpa.create(Slab);
            @memset(std.mem.asBytes(slab), 0); // every mark `off`
            self.chunks[index].store(&slab.chunk, .release);
        }
        var head: u32 = nil;
        var tail: u32 = nil;
        var slot = count;
        while (slot > 0) { // linked in reverse, so free blocks are handed out in address order
            slot -= 1;
            const g = region.start + slot * self.stride;
            const number = self.numberOf(g);
            const chunk = self.chunkOf(number).?;
            const at = number & (chunk_blocks - 1);
            assert(chunk.start_plus_one[at].load(.monotonic) == 0);
            chunk.start_plus_one[at].store(g + 1, .monotonic);
            if (source.lookup(g)) |live| {
                assert(live.id != 0 and live.id < continued_flag);
                chunk.requested_bytes[at].store(@intCast(live.requested_bytes), .monotonic);
                chunk.state[at].store(live.id, .monotonic);
                // Live: no entry on the stack (a region removed before left its marks clear).
                assert(markWordOf(chunk, at).load(.monotonic) & (onBit(at) | onBit(at) << 32) == 0);
                continue;
            }
            chunk.state[at].store(0, .monotonic);
            chunk.next[at].store(head, .monotonic);
            // Published by the push's swap of the head; a word may hold marks of another region's blocks.
            const before = markWordOf(chunk, at).fetchOr(onBit(at), .monotonic);
            assert(before & (onBit(at) | onBit(at) << 32) == 0);
            if (tail == nil) tail = number;
            head = number;
        }
        _ = self.block_count.fetchAdd(count, .monotonic);
        if (head != nil) self.pushChain(head, tail);
    }

    inline fn lockList(self: *LockFreeFixed) void {
        if (!self.lock_free) self.list_mutex.lock();
    }

    inline fn unlockList(self: *LockFreeFixed) void {
        if (!self.lock_free) self.list_mutex.unlock();
    }

    /// Makes every block of `regions` free and puts them all on the stack, in address order (a
    /// pool's reset). Single-threaded: the caller holds off every other user of the pool and has
    /// taken back every thread cache's blocks. A block's handles stay stale: its next allocation takes a new id.
    pub fn reset(self: *LockFreeFixed, regions: []const Region) void {
        var first: u32 = nil;
        var last: u32 = nil;
        var index = regions.len;
        while (index > 0) { // linked in reverse, so blocks are handed out in address order
            index -= 1;
            const region = regions[index];
            if (!region.committed) continue;
            var slot = region.len / self.stride;
            while (slot > 0) {
                slot -= 1;
                const number = self.numberOf(region.start + slot * self.stride);
                const chunk = self.chunkOf(number).?;
                const at = number & (chunk_blocks - 1);
                assert(chunk.start_plus_one[at].load(.monotonic) == region.start + slot * self.stride + 1);
                const state = chunk.state[at].load(.monotonic);
                chunk.state[at].store(if (state == 0) 0 else freedBy(core_freer), .monotonic);
                chunk.next[at].store(first, .monotonic);
                // Every entry fresh: a stale one is gone with the old stack.
                _ = markWordOf(chunk, at).fetchAnd(~(onBit(at) << 32), .monotonic);
                _ = markWordOf(chunk, at).fetchOr(onBit(at), .monotonic);
                if (last == nil) last = number;
                first = number;
            }
        }
        self.lockList();
        defer self.unlockList();
        const tag = (self.head.load(.monotonic) >> 32) +% 1;
        self.head.store(tag << 32 | first, .release);
    }

    /// Whether every block of `region` is free (or never allocated): none live, none in a run.
    pub fn regionFree(self: *const LockFreeFixed, region: Region) bool {
        var slot: u32 = 0;
        while (slot < region.len / self.stride) : (slot += 1) {
            const number = self.numberOf(region.start + slot * self.stride);
            const state = self.chunkOf(number).?.state[number & (chunk_blocks - 1)].load(.acquire);
            if (state != 0 and state & freed_flag == 0) return false;
        }
        return true;
    }

    /// Writes the offsets of the live allocations (a run's first block) in `regions` into `out`,
    /// as many as fit; returns how many there are. On a pool other threads use, a moment's view.
    pub fn listLive(self: *const LockFreeFixed, regions: []const Region, out: []u32) u32 {
        var count: u32 = 0;
        for (regions) |region| {
            if (!region.committed) continue;
            var slot: u32 = 0;
            while (slot < region.len / self.stride) : (slot += 1) {
                const g = region.start + slot * self.stride;
                const number = self.numberOf(g);
                const state = self.chunkOf(number).?.state[number & (chunk_blocks - 1)].load(.acquire);
                if (!startsAllocation(state)) continue;
                if (count < out.len) out[count] = g;
                count += 1;
            }
        }
        return count;
    }

    /// Takes the blocks of `region` off the stack and out of the chunks, before it is decommitted,
    /// where every one of them is on the stack as a free block's entry (mark `on`: a stale entry's
    /// block is a live run's); returns whether it did (else only stale entries left the stack, as
    /// pops drop them). A block is live, on the stack, in one thread's cache, or in the hands of a
    /// thread between its pop and its claim: on the stack, all of them, none is anywhere else, and
    /// no thread can hand one out (a run is reserved under the growth lock, which the caller
    /// holds). The stack is taken whole in one swap of the head (a pop in flight on another
    /// thread then fails its swap: the tag moved on), sorted, and what stays is pushed back in
    /// the order it was; meanwhile other threads push and pop as before, and one that finds the
    /// stack empty waits on the growth lock, which the caller holds (regions change under it).
    /// Chunks stay (JavaScript views them); the region's words read "no block" again.
    pub fn removeRegion(self: *LockFreeFixed, gpa: std.mem.Allocator, region: Region) error{OutOfMemory}!bool {
        const count = region.len / self.stride;
        assert(count > 0);
        var taken: std.ArrayList(u32) = .empty;
        defer taken.deinit(gpa);
        try taken.ensureTotalCapacity(gpa, self.block_count.load(.monotonic));
        const first = self.numberOf(region.start);
        const last = self.numberOf(region.start + (count - 1) * self.stride);
        var top: u32 = nil;
        {
            self.lockList();
            defer self.unlockList();
            var head = self.head.load(.acquire);
            while (self.head.cmpxchgWeak(head, (((head >> 32) +% 1) << 32) | nil, .acquire, .acquire)) |seen| head = seen;
            top = @truncate(head);
        }
        var number = top;
        while (number != nil) : (number = self.chunkOf(number).?.next[number & (chunk_blocks - 1)].load(.monotonic)) {
            assert(taken.items.len < taken.capacity); // each block once: the chain is this thread's now
            taken.appendAssumeCapacity(number);
        }
        // Each entry as a pop takes it, its marks cleared: a free block's (`on`) is kept, a stale
        // one's (a run holds the block, live) is dropped, and the run's free pushes it again. A
        // run's free that turned `stale` to `on` meanwhile made it a free block's; one that comes
        // after finds both marks clear and pushes the block onto the stack the others now use.
        var removed: u32 = 0;
        var free_entries: usize = 0;
        for (taken.items) |taken_number| {
            const at = taken_number & (chunk_blocks - 1);
            const before = markWordOf(self.chunkOf(taken_number).?, at).fetchAnd(~(onBit(at) | onBit(at) << 32), .acq_rel);
            // A run's (`stale`) goes; a free block's stays, marked `on` or, pushed while the marks
            // were not kept (`MarkMode`), neither.
            if (before & (onBit(at) << 32) != 0) {
                assert(before & onBit(at) == 0); // never both
                continue;
            }
            taken.items[free_entries] = taken_number;
            free_entries += 1;
            removed += @intFromBool(taken_number >= first and taken_number <= last);
        }
        taken.shrinkRetainingCapacity(free_entries);
        const whole = removed == count;
        if (whole) {
            var kept: usize = 0;
            for (taken.items) |taken_number| {
                if (taken_number >= first and taken_number <= last) continue;
                taken.items[kept] = taken_number;
                kept += 1;
            }
            taken.shrinkRetainingCapacity(kept);
            var cleared = first;
            while (cleared <= last) : (cleared += 1) {
                const chunk = self.chunkOf(cleared).?;
                const at = cleared & (chunk_blocks - 1);
                assert(isFreeState(chunk.state[at].load(.monotonic)));
                // Its entry was taken above: the marks a later region's block here starts from are clear.
                assert(markWordOf(chunk, at).load(.monotonic) & (onBit(at) | onBit(at) << 32) == 0);
                chunk.start_plus_one[at].store(0, .monotonic);
                chunk.state[at].store(0, .monotonic);
                chunk.requested_bytes[at].store(0, .monotonic);
            }
            _ = self.block_count.fetchSub(count, .monotonic);
        }
        self.pushBatch(taken.items); // on top of what other threads pushed meanwhile, marked `on` again
        return whole;
    }

    /// Every block of `regions` (in any order; committed ones only), live runs as one block, in
    /// address order, for snapshots: a block on a thread cache's stack is free. Free it with `deinit`.
    pub fn walk(self: *const LockFreeFixed, gpa: std.mem.Allocator, regions: []const Region) error{OutOfMemory}!Walk {
        var order: std.ArrayList(Region) = .empty;
        errdefer order.deinit(gpa);
        for (regions) |region| if (region.committed) try order.append(gpa, region);
        return Walk.init(gpa, self, &order);
    }

    /// The granules of the longest run of free blocks in one committed region of `regions` (blocks
    /// in thread caches count as free), where it is below `enough_blocks` (the largest request's
    /// blocks: a longer run serves no more), else some run at least that long. `free_blocks` is the
    /// pool's count of free blocks: the scan (free_runs.zig) stops where it settles the rest, so an
    /// empty or full pool reads no state word and a fragmented one reads each once, 64 at a time.
    /// For statistics, not hot paths. On a pool other threads use, a moment's view.
    pub fn largestFreeGranules(self: *const LockFreeFixed, regions: []const Region, free_blocks: u64, enough_blocks: u64) u64 {
        return free_runs.longestFreeRun(self, regions, free_blocks, enough_blocks) * self.stride;
    }

    /// Whether some committed region of `regions` has `count` free blocks in a row (blocks in
    /// thread caches count as free). Reads state words 64 at a time. On a pool other threads use,
    /// a moment's view.
    pub fn hasFreeRun(self: *const LockFreeFixed, regions: []const Region, count: u32) bool {
        return self.lowestRun(self, regions, count) != null;
    }

    /// The number of the lowest block that starts `count` blocks in a row, each free with its
    /// entry on the stack (mark `on`: not in a thread cache, not a run's), in one committed region
    /// of `regions` (address-ordered first fit), or null where there is none. Reads state words
    /// and marks 64 at a time. On a pool other threads use, a moment's view: `reserveRun` tells.
    pub fn lowestStackedRun(self: *const LockFreeFixed, regions: []const Region, count: u32) ?u32 {
        return self.lowestRun(&Stacked{ .fixed = self }, regions, count);
    }

    /// The number of the lowest block that starts `count` blocks in a row that `view` reads as
    /// free (its usedWord: this placement's own, or Stacked's), in one committed region of
    /// `regions`, or null where there is none. hasFreeRun's scan and lowestStackedRun's.
    fn lowestRun(self: *const LockFreeFixed, view: anytype, regions: []const Region, count: u32) ?u32 {
        assert(count >= 1);
        var lowest: ?u32 = null;
        for (regions) |region| {
            if (self.regionBlocks(region) < count) continue;
            const first = self.numberOf(region.start);
            if (lowest != null and first > lowest.?) continue; // a region above the run found
            const slot = free_runs.firstFreeRun(view, region, count) orelse continue;
            lowest = first + slot;
        }
        return lowest;
    }

    /// The blocks as `lowestStackedRun` reads them: in use where not free or not on the stack.
    const Stacked = struct {
        fixed: *const LockFreeFixed,

        pub fn regionBlocks(self: *const Stacked, region: Region) u32 {
            return self.fixed.regionBlocks(region);
        }

        pub fn usedWord(self: *const Stacked, region: Region, slot: u32, valid: u7) free_runs.Word {
            return self.fixed.usedWord(region, slot, valid) | self.fixed.offStackWord(region, slot, valid);
        }
    };

    /// Bit i set where block `slot + i` of `region` has no live entry on the stack (`on` clear), i < `valid`.
    fn offStackWord(self: *const LockFreeFixed, region: Region, slot: u32, valid: u7) free_runs.Word {
        assert(region.committed and valid >= 1 and slot + valid <= region.len / self.stride);
        const first = self.numberOf(region.start) + slot;
        var on: free_runs.Word = 0;
        var got: u32 = 0;
        while (got < valid) { // up to three words of marks, in up to two chunks
            const number = first + got;
            const at = number & (chunk_blocks - 1);
            const shift: u6 = @intCast(at % marks_per_word);
            const take: u32 = @min(marks_per_word - shift, valid - got);
            const word = markWordOf(self.chunkOf(number).?, at).load(.monotonic);
            on |= ((word & on_half) >> shift & ((@as(MarkWord, 1) << @intCast(take)) - 1)) << @intCast(got);
            got += take;
        }
        const valid_bits: free_runs.Word = if (valid == free_runs.word_blocks) ~@as(free_runs.Word, 0) else (@as(free_runs.Word, 1) << @intCast(valid)) - 1;
        return ~on & valid_bits;
    }

    /// Calls `step(context, base, word, mask)` for blocks `first` .. `first + count - 1` a word of
    /// marks at a time: `mask` holds the `on` bits of the blocks of that word among them, bit i
    /// block `base + i` (a chunk holds a whole number of words). Stops,
    /// returning how many blocks were done, where `step` returns false.
    fn eachMarkWord(self: *const LockFreeFixed, first: u32, count: u32, context: anytype, comptime step: anytype) u32 {
        var done: u32 = 0;
        while (done < count) {
            const number = first + done;
            const at = number & (chunk_blocks - 1);
            const shift: u6 = @intCast(at % marks_per_word);
            const take: u32 = @min(marks_per_word - shift, count - done);
            const mask: MarkWord = (((@as(MarkWord, 1) << @intCast(take)) - 1) << shift);
            if (!step(context, number - shift, markWordOf(self.chunkOf(number).?, at), mask)) return done;
            done += take;
        }
        assert(done == count);
        return done;
    }

    /// Takes blocks `first` .. `first + count - 1` (one region's) for a run where every one is
    /// on the stack and free: turns their marks from `on` to `stale`, 32 with one
    /// compare-and-swap, leaving the entries for pops to drop. Where one is not (another thread
    /// popped it since the scan), the marks turned so far go back (`unstale`) and it returns
    /// false. Under the caller's growth lock (one reservation at a time); pops and pushes go on.
    pub fn reserveRun(self: *LockFreeFixed, first: u32, count: u32) bool {
        assert(count >= 1 and self.mark_mode.load(.monotonic) == .tracked); // the marks say which blocks have entries
        const Reserve = struct {
            fn step(_: void, _: u32, word: *std.atomic.Value(MarkWord), mask: MarkWord) bool {
                var seen = word.load(.monotonic);
                while (true) {
                    if (seen & mask != mask) return false; // one of them is off the stack now
                    assert(seen & (mask << 32) == 0); // never both
                    seen = word.cmpxchgWeak(seen, (seen & ~mask) | (mask << 32), .acq_rel, .monotonic) orelse return true;
                }
            }
        };
        const reserved = self.eachMarkWord(first, count, {}, Reserve.step);
        if (reserved == count) {
            // An entry whose mark was `on` is a free block's: a pop claims only after it clears `on` itself.
            assert(isFreeState(self.stateOf(first).?) and isFreeState(self.stateOf(first + count - 1).?));
            return true;
        }
        self.unstale(first, reserved);
        return false;
    }

    /// Gives blocks `first` .. `first + count - 1`, marked `stale` by `reserveRun` and free (a
    /// reservation undone, or a run's blocks once its free marked them freed), their entries
    /// back: `stale` turns `on` where the entry is still on the stack (32 with one
    /// compare-and-swap), and those a pop dropped meanwhile are pushed, up to 64 at a time.
    pub fn unstale(self: *LockFreeFixed, first: u32, count: u32) void {
        assert(count == 0 or (isFreeState(self.stateOf(first).?) and isFreeState(self.stateOf(first + count - 1).?)));
        const Dropped = struct {
            fixed: *LockFreeFixed,
            numbers: [free_runs.word_blocks]u32 = undefined,
            pending: usize = 0,

            fn step(dropped: *@This(), base: u32, word: *std.atomic.Value(MarkWord), mask: MarkWord) bool {
                var seen = word.load(.monotonic);
                const stale = while (true) {
                    const stale = (seen >> 32) & mask;
                    assert(seen & mask == 0); // none of them is on the stack as a free block
                    seen = word.cmpxchgWeak(seen, (seen & ~(stale << 32)) | stale, .acq_rel, .monotonic) orelse break stale;
                };
                var gone = mask & ~stale; // entries a pop dropped: only this thread may push them
                while (gone != 0) : (gone &= gone - 1) {
                    dropped.numbers[dropped.pending] = base + @ctz(gone);
                    dropped.pending += 1;
                    if (dropped.pending == dropped.numbers.len) dropped.flush();
                }
                return true;
            }

            fn flush(dropped: *@This()) void {
                dropped.fixed.pushBatch(dropped.numbers[0..dropped.pending]);
                dropped.pending = 0;
            }
        };
        var dropped: Dropped = .{ .fixed = self };
        _ = self.eachMarkWord(first, count, &dropped, Dropped.step);
        dropped.flush();
    }

    /// Blocks of a region (free_runs.zig asks these two): none where it is not committed.
    pub fn regionBlocks(self: *const LockFreeFixed, region: Region) u32 {
        return if (region.committed) region.len / self.stride else 0;
    }

    /// Bit i set where block `slot + i` of `region` is not free (live, or in a run), i < `valid`.
    pub fn usedWord(self: *const LockFreeFixed, region: Region, slot: u32, valid: u7) free_runs.Word {
        assert(region.committed and valid >= 1 and slot + valid <= region.len / self.stride);
        // A region's blocks have consecutive numbers (see the file's comment); 64 of them may
        // straddle two chunks.
        const first = self.numberOf(region.start) + slot;
        const in_first: u7 = @intCast(@min(valid, chunk_blocks - (first & (chunk_blocks - 1))));
        var used = usedBits(self.chunkOf(first).?.state[first & (chunk_blocks - 1) ..][0..in_first]);
        if (in_first < valid) used |= usedBits(self.chunkOf(first + in_first).?.state[0 .. valid - in_first]) << @intCast(in_first);
        return used;
    }

    /// Bit i set where `states[i]` is not a free state (`isFreeState`), for up to 64 words, and
    /// clear from bit `states.len` up (the caller ORs a next chunk's bits there): the words are
    /// compared as one vector once loaded (the loads are atomic, one word at a time).
    fn usedBits(states: []const std.atomic.Value(u32)) free_runs.Word {
        assert(states.len >= 1 and states.len <= free_runs.word_blocks);
        const Lanes = @Vector(free_runs.word_blocks, u32);
        const lanes: Lanes = if (states.len == free_runs.word_blocks) whole: {
            const whole: *align(4) const volatile Lanes = @ptrCast(states.ptr);
            break :whole whole.*;
        } else part: {
            var words: [free_runs.word_blocks]u32 = @splat(0); // lanes past the end read as never allocated: free
            for (words[0..states.len], states) |*word, *state| word.* = state.load(.monotonic);
            break :part words;
        };
        const never: free_runs.Word = @bitCast(lanes == @as(Lanes, @splat(0)));
        const freed: free_runs.Word = @bitCast(lanes & @as(Lanes, @splat(freed_flag | continued_flag)) == @as(Lanes, @splat(freed_flag)));
        const used = ~(never | freed);
        assert(states.len == free_runs.word_blocks or used >> @intCast(states.len) == 0);
        return used;
    }

    pub const BlockView = stride_walk.BlockView;

    /// Regions by their arena records (stride_walk.zig asks these three).
    pub const Walk = stride_walk.StrideWalk(LockFreeFixed, Region);

    pub fn walkStart(_: *const LockFreeFixed, region: Region) u32 {
        return region.start;
    }

    pub fn walkBlocks(self: *const LockFreeFixed, region: Region) u32 {
        return region.len / self.stride;
    }

    pub fn walkBlock(self: *const LockFreeFixed, region: Region, slot: u32) stride_walk.WalkedBlock {
        const blocks = region.len / self.stride;
        assert(slot < blocks);
        const start = region.start + slot * self.stride;
        const number = self.numberOf(start);
        const chunk = self.chunkOf(number).?;
        const at = number & (chunk_blocks - 1);
        const state = chunk.state[at].load(.acquire);
        // A run's later blocks are passed over with its first; one met alone belongs to a run
        // that another thread is freeing meanwhile (its first block already reads free).
        if (!startsAllocation(state)) return .{ .view = .{ .start = start, .granules = self.stride, .is_free = true, .id = 0, .requested_bytes = 0 }, .blocks = 1 };
        var count: u32 = 1;
        while (slot + count < blocks) : (count += 1) {
            const later = number + count;
            const later_state = self.chunkOf(later).?.state[later & (chunk_blocks - 1)].load(.acquire);
            if (later_state & continued_flag == 0 or later_state & freed_flag != 0) break;
        }
        return .{ .view = .{ .start = start, .granules = count * self.stride, .is_free = false, .id = state, .requested_bytes = chunk.requested_bytes[at].load(.monotonic) }, .blocks = count };
    }

    /// Pushes the chain `first` .. `last` (already linked through `next`) with one swap of the head.
    fn pushChain(self: *LockFreeFixed, first: u32, last: u32) void {
        self.lockList();
        defer self.unlockList();
        self.pushChainLocked(first, last);
    }

    /// `pushChain` where the caller holds the list's mutex (or the stack is lock-free).
    fn pushChainLocked(self: *LockFreeFixed, first: u32, last: u32) void {
        assert(first != nil and last != nil);
        const last_chunk = self.chunkOf(last).?;
        var head = self.head.load(.monotonic);
        var backoff: Backoff = .{};
        while (true) {
            last_chunk.next[last & (chunk_blocks - 1)].store(@truncate(head), .monotonic);
            const tag = (head >> 32) +% 1;
            head = self.head.cmpxchgWeak(head, tag << 32 | first, .release, .monotonic) orelse return;
            backoff.wait();
        }
    }

    /// Pushes blocks already marked freed (a thread cache's batch) in one swap of the head.
    pub fn pushBatch(self: *LockFreeFixed, numbers: []const u32) void {
        self.lockList();
        defer self.unlockList();
        self.pushBatchLocked(numbers);
    }

    /// `pushBatch` where the caller holds the list's mutex (or the stack is lock-free).
    fn pushBatchLocked(self: *LockFreeFixed, numbers: []const u32) void {
        if (numbers.len == 0) return;
        for (numbers[0 .. numbers.len - 1], numbers[1..]) |number, after| {
            self.chunkOf(number).?.next[number & (chunk_blocks - 1)].store(after, .monotonic);
        }
        const mode = self.mark_mode.load(.monotonic);
        if (mode == .untracked) {
            self.marksLeft(); // ordered before the entries are reachable by the swap of the head (release)
            return self.pushChainLocked(numbers[0], numbers[numbers.len - 1]);
        }
        var index: usize = 0;
        while (index < numbers.len) { // published by the push's swap of the head; one word's blocks in a row at once
            const word = markWordOf(self.chunkOf(numbers[index]).?, numbers[index] & (chunk_blocks - 1));
            const base = numbers[index] / marks_per_word;
            var mask: MarkWord = 0;
            while (index < numbers.len and numbers[index] / marks_per_word == base) : (index += 1) mask |= onBit(numbers[index] & (chunk_blocks - 1));
            const before = word.fetchOr(mask, .monotonic);
            // A block pushed has no entry yet. (While arming, a mark a pop left alone before may still read `on`.)
            assert(mode == .arming or before & (mask | mask << 32) == 0);
        }
        self.pushChainLocked(numbers[0], numbers[numbers.len - 1]);
    }

    /// Pops up to `out.len` free blocks' numbers; returns how many.
    pub fn popBatch(self: *LockFreeFixed, out: []u32) usize {
        self.lockList();
        defer self.unlockList();
        for (out, 0..) |*number, taken| {
            number.* = self.popLocked() orelse return taken;
        }
        return out.len;
    }

    pub fn pop(self: *LockFreeFixed) ?u32 {
        self.lockList();
        defer self.unlockList();
        return self.popLocked();
    }

    /// Pops the top entry that is a free block's, dropping those of blocks a run holds on the way.
    fn popLocked(self: *LockFreeFixed) ?u32 {
        while (true) {
            // Before the swap of the head (release), so that `trackMarks`, whose own swap comes after, sees it.
            if (self.mark_mode.load(.monotonic) == .untracked) self.marksLeft();
            const number = self.popEntry() orelse return null;
            // Read after the swap of the head: a pop that comes after `trackMarks` took or bumped
            // the head sees the marks kept again (its mode store is ordered before that swap).
            if (self.mark_mode.load(.monotonic) == .untracked) return number; // no run was ever sought: nothing is `stale`
            // The mark is read after the entry is off the stack: a run's reservation or free
            // that raced with this pop saw `on` or `stale` before, and its swap and this one are ordered.
            const at = number & (chunk_blocks - 1);
            const before = markWordOf(self.chunkOf(number).?, at).fetchAnd(~(onBit(at) | onBit(at) << 32), .acq_rel);
            // `on`: a free block's entry; neither: one pushed while the marks were armed (`MarkMode`), free too.
            if (before & (onBit(at) << 32) == 0) return number;
            // A run holds it: its entry goes as it comes.
            assert(before & onBit(at) == 0);
            self.dropStaleEntries(); // a run's entries usually lie together: the rest of them at once
        }
    }

    /// A pop or push while the marks are not kept: they no longer say which blocks have entries.
    inline fn marksLeft(self: *LockFreeFixed) void {
        if (self.marks_exact.load(.monotonic)) self.marks_exact.store(false, .monotonic);
    }

    /// Makes the stack marks say which blocks have entries, and keeps them so from now on (a
    /// pool that leaves them alone, `MarkMode.untracked`, before its first run is sought). Under
    /// the caller's growth lock (runs are reserved, and regions added and removed, under it); pops
    /// and pushes go on. Where no pop or push left the marks alone (`marks_exact`), they are right
    /// already; else the stack is taken whole, every mark cleared (a block popped while untracked
    /// kept its `on`), the entries taken marked `on` and pushed back in their order. A pop or push
    /// that comes after the mode moved keeps the marks; one whose swap of the head came before
    /// this one's is ordered before the clearing (a mark it left stale is cleared) or told it
    /// (`marks_exact`). A push that sets `on` while arming may see it cleared: its entry keeps
    /// neither mark, served by pops as a free block's and never reserved by a run.
    pub fn trackMarks(self: *LockFreeFixed) void {
        if (self.mark_mode.load(.acquire) == .tracked) return;
        assert(self.mark_mode.load(.monotonic) == .untracked); // one caller at a time (the growth lock)
        self.mark_mode.store(.arming, .seq_cst);
        var top: u32 = nil;
        var exact = false;
        {
            self.lockList();
            defer self.unlockList();
            // Ordered after every earlier pop's and push's swap (each is a release), which wrote
            // `marks_exact` before it: so the read below sees their writes.
            var head = self.head.load(.acquire);
            while (true) {
                // Where the marks are exact, the stack stays: the head's tag moves on alone.
                exact = self.marks_exact.load(.monotonic);
                const next_top: u32 = if (exact) @truncate(head) else nil;
                head = self.head.cmpxchgWeak(head, (((head >> 32) +% 1) << 32) | next_top, .acq_rel, .acquire) orelse {
                    if (!exact) top = @truncate(head);
                    break;
                };
            }
        }
        if (exact) { // (a pop or push after the swap sees the marks armed, and keeps them)
            self.mark_mode.store(.tracked, .release);
            return;
        }
        for (self.chunks) |*slot| {
            const chunk = slot.load(.acquire) orelse continue;
            for (marksOf(chunk)) |*word| word.store(0, .monotonic); // no `stale` mark exists yet
        }
        if (top != nil) {
            // The chain is this thread's until pushed back: no other thread touches its marks.
            var last = top;
            var number = top;
            while (number != nil) {
                const chunk = self.chunkOf(number).?;
                const base = number / marks_per_word;
                var mask: MarkWord = 0;
                while (number != nil and number / marks_per_word == base) { // a run of entries sharing a word, at once
                    const bit = onBit(number & (chunk_blocks - 1));
                    assert(mask & bit == 0); // each entry once
                    mask |= bit;
                    last = number;
                    number = chunk.next[number & (chunk_blocks - 1)].load(.monotonic);
                }
                const before = markWordOf(chunk, last & (chunk_blocks - 1)).fetchOr(mask, .monotonic);
                assert(before & (mask | mask << 32) == 0);
            }
            self.pushChain(top, last);
        }
        self.mark_mode.store(.tracked, .release);
    }

    /// The most stale entries `dropStaleEntries` takes off with one swap of the head.
    const drop_max = 1024; // its entries are read onto the stack first (4 KiB)

    /// Takes the stale entries now at the top of the stack (up to `drop_max`) off it with one swap
    /// of the head, and clears their marks a word at a time; an entry whose run was freed since
    /// (its mark turned `on`) is pushed again. Where another thread moves the stack meanwhile, the
    /// swap fails and nothing is taken (the links read may have been stale: the tag tells).
    fn dropStaleEntries(self: *LockFreeFixed) void {
        const head = self.head.load(.acquire);
        var entries: [drop_max]u32 = undefined;
        var count: usize = 0;
        var below: u32 = @truncate(head);
        var chunk_index: u32 = nil;
        var chunk: *Chunk = undefined;
        while (below != nil and count < drop_max) : (count += 1) {
            if (below >> chunk_shift != chunk_index) { // a run's entries lie in a few chunks
                chunk = self.chunkOf(below) orelse break; // a link read while another thread moved the stack
                chunk_index = below >> chunk_shift;
            }
            const at = below & (chunk_blocks - 1);
            if (markWordOf(chunk, at).load(.monotonic) & (onBit(at) << 32) == 0) break;
            entries[count] = below;
            below = chunk.next[at].load(.monotonic);
        }
        if (count == 0) return;
        const tag = (head >> 32) +% 1;
        if (self.head.cmpxchgStrong(head, tag << 32 | below, .acquire, .monotonic) != null) return;
        // Off the stack, and ours: no other thread touches them while their marks say stale (a
        // run's free turns a stale mark on, and pushes only a block whose marks are both clear).
        var revived: [free_runs.word_blocks]u32 = undefined;
        var pending: usize = 0;
        var index: usize = 0;
        while (index < count) {
            // The entries from `index` on whose marks share its word, cleared with one fetch-and-clear.
            const word = markWordOf(self.chunkOf(entries[index]).?, entries[index] & (chunk_blocks - 1));
            const base = entries[index] / marks_per_word;
            const from = index;
            var mask: MarkWord = 0;
            while (index < count and entries[index] / marks_per_word == base) : (index += 1) {
                const bit = onBit(entries[index] & (chunk_blocks - 1));
                assert(mask & bit == 0); // each entry once
                mask |= bit;
            }
            const before = word.fetchAnd(~(mask | mask << 32), .acq_rel);
            assert(before & (mask | mask << 32) != 0);
            if (before & mask == 0) continue; // all stale: dropped
            for (entries[from..index]) |entry| {
                if (before & onBit(entry & (chunk_blocks - 1)) == 0) continue;
                revived[pending] = entry; // its run was freed meanwhile: a free block, on the stack again
                pending += 1;
                if (pending == revived.len) {
                    self.pushBatchLocked(revived[0..pending]);
                    pending = 0;
                }
            }
        }
        self.pushBatchLocked(revived[0..pending]);
    }

    fn popEntry(self: *LockFreeFixed) ?u32 {
        var head = self.head.load(.acquire);
        var backoff: Backoff = .{};
        while (true) {
            const number: u32 = @truncate(head);
            if (number == nil) return null;
            // The block may be popped by another thread meanwhile; its chunk stays, and a stale
            // `next` fails the swap because the tag moved on.
            const next = self.chunkOf(number).?.next[number & (chunk_blocks - 1)].load(.monotonic);
            const tag = (head >> 32) +% 1;
            head = self.head.cmpxchgWeak(head, tag << 32 | next, .acq_rel, .acquire) orelse return number; // (release: see `trackMarks`)
            backoff.wait();
        }
    }

    /// Writes `freer` into the freed words of the popped blocks `numbers` (those never allocated
    /// stay 0): their new holder's, a JavaScript cache's refill (js_cache.zig `settlePending` then
    /// tells a block on its stack that no one touched from one another thread's free wrote).
    pub fn holdFreed(self: *LockFreeFixed, numbers: []const u32, freer: u32) void {
        const freed = freedBy(freer);
        for (numbers) |number| {
            const state = &self.chunkOf(number).?.state[number & (chunk_blocks - 1)];
            const old = state.load(.monotonic);
            assert(isFreeState(old)); // popped: free, and no other thread's
            if (old != 0) state.store(freed, .monotonic);
        }
    }

    /// Makes the popped block `number` live with the next id of this pool's own count; returns its offset and id.
    pub fn claim(self: *LockFreeFixed, number: u32, requested_bytes: u32) Claimed {
        var last = self.last_claimed_id.load(.monotonic);
        while (true) {
            const next_id = if (last >= continued_flag - 1) 1 else last + 1;
            assert(next_id != 0 and next_id < continued_flag); // a live word's id: no flag bit
            last = self.last_claimed_id.cmpxchgWeak(last, next_id, .monotonic, .monotonic) orelse
                return self.claimAs(number, requested_bytes, next_id);
        }
    }

    /// As `claim`, with the id given (a pool whose ids count pool-wide: shared_fixed.zig `pool_ids`).
    pub fn claimAs(self: *LockFreeFixed, number: u32, requested_bytes: u32, id: u32) Claimed {
        assert(id != 0 and id < continued_flag);
        const chunk = self.chunkOf(number).?;
        const at = number & (chunk_blocks - 1);
        const old = chunk.state[at].load(.monotonic);
        assert(old == 0 or old & freed_flag != 0); // only the thread that popped it may touch it
        chunk.requested_bytes[at].store(requested_bytes, .monotonic);
        chunk.state[at].store(id, .release);
        const start = chunk.start_plus_one[at].load(.monotonic);
        assert(start != 0);
        return .{ .g = start - 1, .id = id };
    }

    /// The offset of block `number` (of any region), or null for a number no block has.
    pub fn offsetOf(self: *const LockFreeFixed, number: u32) ?u32 {
        const chunk = self.chunkOf(number) orelse return null;
        const start_plus_one = chunk.start_plus_one[number & (chunk_blocks - 1)].load(.monotonic);
        return if (start_plus_one == 0) null else start_plus_one - 1;
    }

    /// Makes the popped blocks `first` .. `first + count - 1` (contiguous in memory) one live run.
    /// Each is either popped (mark `off`) or reserved (`reserveRun`, mark `stale`): never `on`.
    pub fn claimRun(self: *LockFreeFixed, first: u32, count: u32, requested_bytes: u32, id: u32) Claimed {
        assert(count >= 2);
        assert(markWordOf(self.chunkOf(first).?, first & (chunk_blocks - 1)).load(.monotonic) & onBit(first & (chunk_blocks - 1)) == 0);
        const Continue = struct {
            fn words(states: []std.atomic.Value(u32), requested: []std.atomic.Value(u32)) bool {
                var live: u32 = 0; // any not free: one test a slice, so the loop stays plain stores
                for (states, requested) |*state, *bytes| {
                    const old = state.raw;
                    live |= @intFromBool(old != 0 and old & freed_flag == 0);
                    bytes.raw = 0;
                    state.raw = continued_flag;
                }
                return live == 0;
            }
        };
        self.eachStateSlice(first + 1, count - 1, Continue.words);
        return self.claimAs(first, requested_bytes, id); // its release store publishes the others'
    }

    /// After the free of a run's first block `first`: marks its other blocks free, for the caller to push.
    pub fn releaseContinued(self: *LockFreeFixed, first: u32, count: u32) void {
        assert(count >= 1);
        const Release = struct {
            fn words(states: []std.atomic.Value(u32), _: []std.atomic.Value(u32)) bool {
                var wrong: u32 = 0; // any not a run's later block: one test a slice
                for (states) |*state| {
                    const old = state.raw;
                    wrong |= @intFromBool(old & continued_flag == 0 or old & freed_flag != 0);
                    state.raw = freedBy(core_freer);
                }
                return wrong == 0;
            }
        };
        // Ordered before the blocks are reachable again by the caller's `unstale` (its mark swaps
        // are acq_rel, its pushes swap the head with release).
        self.eachStateSlice(first + 1, count - 1, Release.words);
    }

    /// Calls `rewrite(states, requested)` on the state and requested-size words of blocks `first`
    /// .. `first + count - 1`, a chunk's slice at a time, and asserts each call's answer. Only
    /// for blocks no other thread writes meanwhile (a run's, reserved or live): plain loads and
    /// stores, which the compiler turns into vector ones; readers on other threads see each word
    /// whole (aligned 32-bit words), and the caller's next release store or fence orders them.
    fn eachStateSlice(self: *LockFreeFixed, first: u32, count: u32, comptime rewrite: fn ([]std.atomic.Value(u32), []std.atomic.Value(u32)) bool) void {
        var number = first;
        const end = first + count;
        while (number < end) {
            const chunk = self.chunkOf(number).?;
            const at = number & (chunk_blocks - 1);
            const take = @min(chunk_blocks - at, end - number);
            assert(rewrite(chunk.state[at..][0..take], chunk.requested_bytes[at..][0..take]));
            number += take;
        }
        assert(number == end);
    }

    /// The number of the block that starts at `g`, or why there is none.
    fn find(self: *const LockFreeFixed, g: u32) union(enum) { number: u32, interior_pointer, unknown_pointer } {
        if (g == std.math.maxInt(u32)) return .unknown_pointer;
        const number = self.numberOf(g);
        const chunk = self.chunkOf(number) orelse return .unknown_pointer;
        const start_plus_one = chunk.start_plus_one[number & (chunk_blocks - 1)].load(.monotonic);
        if (start_plus_one == g + 1) return .{ .number = number };
        // Inside a block: an allocation's interior only where one holds it; inside a free block it
        // is a pointer the pool never gave out ("inside an allocation" sent the caller looking for one).
        if (start_plus_one != 0 and start_plus_one - 1 < g and !isFreeState(chunk.state[number & (chunk_blocks - 1)].load(.monotonic))) return .interior_pointer;
        return .unknown_pointer;
    }

    /// Marks the live block at `g` freed by the core (with `expected_id` not 0, only while it holds
    /// that allocation); returns its number through `number_out` for the caller to push or cache.
    pub fn markFreed(self: *LockFreeFixed, g: u32, expected_id: u32, number_out: *u32) FreeResult {
        return self.markFreedBy(g, expected_id, core_freer, number_out);
    }

    /// `markFreed`, writing `freer` into the freed word (a JavaScript cache's frees write theirs
    /// from JavaScript: src/block_cache.ts; tests free as they do with this).
    pub fn markFreedBy(self: *LockFreeFixed, g: u32, expected_id: u32, freer: u32, number_out: *u32) FreeResult {
        const number = switch (self.find(g)) {
            .number => |number| number,
            .interior_pointer => return .interior_pointer,
            .unknown_pointer => return .unknown_pointer,
        };
        const chunk = self.chunkOf(number).?;
        const at = number & (chunk_blocks - 1);
        var state = chunk.state[at].load(.acquire);
        while (true) {
            if (state == 0) return .unknown_pointer;
            // Inside a run: a pointer into it, or a handle's block (it started its allocation) that ended and was reused by the run.
            if (state & continued_flag != 0) return if (expected_id != 0) .double_free else .interior_pointer;
            if (state & freed_flag != 0) return .double_free;
            if (expected_id != 0 and state != expected_id) return .{ .reused = state };
            // Read before the swap: once it is freed, the block may be someone else's.
            const requested_bytes = chunk.requested_bytes[at].load(.monotonic);
            state = chunk.state[at].cmpxchgWeak(state, freedBy(freer), .acq_rel, .acquire) orelse {
                number_out.* = number;
                return .{ .freed = .{ .requested_bytes = requested_bytes } };
            };
        }
    }

    pub fn push(self: *LockFreeFixed, number: u32) void {
        self.pushBatch(&.{number});
    }

    pub fn lookup(self: *const LockFreeFixed, g: u32) ?Live {
        const number = switch (self.find(g)) {
            .number => |number| number,
            else => return null,
        };
        const chunk = self.chunkOf(number).?;
        const at = number & (chunk_blocks - 1);
        const state = chunk.state[at].load(.acquire);
        if (!startsAllocation(state)) return null;
        return .{ .requested_bytes = chunk.requested_bytes[at].load(.monotonic), .id = state };
    }
};

test "lock-free fixed: the live list names each live allocation once, a run at its first block" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 3, 4096 * 4, true);
    defer fixed.deinit(false);
    const regions = [_]Region{.{ .start = 0, .len = 12, .committed = true, .live_count = 0 }};
    try fixed.addRegion(regions[0]);
    var out: [4]u32 = undefined;
    try std.testing.expectEqual(@as(u32, 0), fixed.listLive(&regions, &out));
    const a = fixed.claim(fixed.pop().?, 40);
    const b = fixed.claim(fixed.pop().?, 48);
    try std.testing.expectEqual(@as(u32, 2), fixed.listLive(&regions, &out));
    try std.testing.expectEqualSlices(u32, &.{ a.g, b.g }, out[0..2]);
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(a.g, a.id, &number) == .freed);
    try std.testing.expectEqual(@as(u32, 1), fixed.listLive(&regions, out[0..0])); // counts past what fits
    try std.testing.expectEqual(@as(u32, 1), fixed.listLive(&regions, &out));
    try std.testing.expectEqual(b.g, out[0]);
}

test "lock-free fixed: blocks in order, bad frees told apart, a block's next allocation a new id" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 3, 4096 * 4, true);
    defer fixed.deinit(false);
    try fixed.addRegion(.{ .start = 0, .len = 12, .committed = true, .live_count = 0 });
    const a = fixed.claim(fixed.pop().?, 40);
    const b = fixed.claim(fixed.pop().?, 48);
    try std.testing.expectEqual(@as(u32, 0), a.g);
    try std.testing.expectEqual(@as(u32, 3), b.g);
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(1, 0, &number) == .interior_pointer);
    try std.testing.expect(fixed.markFreed(6, 0, &number) == .unknown_pointer);
    try std.testing.expect(fixed.markFreed(7, 0, &number) == .unknown_pointer); // inside a block never given out: no allocation's interior
    try std.testing.expect(fixed.markFreed(4096, 0, &number) == .unknown_pointer);
    try std.testing.expect(fixed.markFreed(a.g, a.id + 1, &number) == .reused);
    try std.testing.expectEqual(@as(u32, 40), fixed.markFreed(a.g, a.id, &number).freed.requested_bytes);
    fixed.push(number);
    try std.testing.expect(fixed.markFreed(a.g, 0, &number) == .double_free);
    const again = fixed.claim(fixed.pop().?, 1);
    try std.testing.expectEqual(a.g, again.g);
    try std.testing.expect(again.id != a.id);
    try std.testing.expectEqual(@as(u32, 48), fixed.lookup(b.g).?.requested_bytes);
    try std.testing.expect(fixed.lookup(6) == null);
    var batch: [8]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 2), fixed.popBatch(&batch)); // 4 blocks, 2 live
}

test "lock-free fixed: threads race, every block is held by one thread at a time" {
    const threads = 4;
    const rounds = 20_000;
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, true);
    defer fixed.deinit(false);
    try fixed.addRegion(.{ .start = 0, .len = 64, .committed = true, .live_count = 0 });
    var owners: [64]std.atomic.Value(u32) = @splat(.init(0));
    var failures: std.atomic.Value(u32) = .init(0);
    const Worker = struct {
        fn run(pool: *LockFreeFixed, owner_of: *[64]std.atomic.Value(u32), me: u32, failed: *std.atomic.Value(u32)) void {
            runChecked(pool, owner_of, me) catch {
                _ = failed.fetchAdd(1, .monotonic);
            };
        }
        fn runChecked(pool: *LockFreeFixed, owner_of: *[64]std.atomic.Value(u32), me: u32) !void {
            var held: [8]struct { g: u32, id: u32 } = undefined;
            for (0..rounds) |_| {
                var count: usize = 0;
                while (count < held.len) : (count += 1) {
                    const number = pool.pop() orelse break;
                    held[count] = .{ .g = pool.claim(number, 1).g, .id = 0 };
                    held[count].id = pool.lookup(held[count].g).?.id;
                    if (owner_of[held[count].g].swap(me, .acq_rel) != 0) return error.Overlap;
                }
                for (held[0..count]) |block| {
                    owner_of[block.g].store(0, .release);
                    var number: u32 = undefined;
                    if (pool.markFreed(block.g, block.id, &number) != .freed) return error.LostBlock;
                    pool.push(number);
                }
            }
        }
    };
    var spawned: [threads]std.Thread = undefined;
    for (&spawned, 1..) |*thread, me| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ &fixed, &owners, @as(u32, @intCast(me)), &failures });
    for (spawned) |thread| thread.join();
    try std.testing.expectEqual(@as(u32, 0), failures.load(.monotonic));
    var all: [65]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 64), fixed.popBatch(&all)); // none lost, none twice
}

test "lock-free fixed: a run's later blocks are interior pointers until the run is freed" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 2, 4096, true);
    defer fixed.deinit(false);
    try fixed.addRegion(.{ .start = 0, .len = 8, .committed = true, .live_count = 0 }); // 4 blocks
    const single = fixed.claim(fixed.pop().?, 20); // block 0, id 1
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(single.g, single.id, &number) == .freed);
    var popped: [4]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 3), fixed.popBatch(&popped)); // blocks 1..3; block 0 was freed but not pushed
    fixed.push(number);
    const run = fixed.claimRun(fixed.pop().?, 2, 64, 2); // blocks 0 and 1
    try std.testing.expectEqual(@as(u32, 0), run.g);
    try std.testing.expectEqual(@as(u32, 2), run.id);
    try std.testing.expect(fixed.markFreed(2, 0, &number) == .interior_pointer);
    try std.testing.expect(fixed.markFreed(2, 1, &number) == .double_free); // a stale handle of block 1's earlier allocation
    try std.testing.expect(fixed.lookup(2) == null);
    try std.testing.expectEqual(@as(u32, 64), fixed.lookup(0).?.requested_bytes);
    try std.testing.expect(fixed.markFreed(0, run.id, &number) == .freed);
    fixed.releaseContinued(number, 2);
    try std.testing.expect(fixed.markFreed(2, 0, &number) == .double_free);
    fixed.pushBatch(&.{ 0, 1 });
    _ = fixed.pop().?;
    const again = fixed.claim(fixed.pop().?, 1); // block 1: the pool's own count's next id (the run's was given)
    try std.testing.expectEqual(@as(u32, 2), again.g);
    try std.testing.expectEqual(@as(u32, 2), again.id);
}

test "lock-free fixed under a mutex: a free region is removed from the stack and the chunks; the walk lists blocks and runs" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 2, 4096, false);
    defer fixed.deinit(false);
    const first: Region = .{ .start = 0, .len = 8, .committed = true, .live_count = 0 }; // 4 blocks
    const second: Region = .{ .start = 8, .len = 9, .committed = true, .live_count = 0 }; // 4 blocks and a tail
    try fixed.addRegion(first);
    const single = fixed.claimAs(fixed.pop().?, 20, 7); // block 0, a given id
    try std.testing.expectEqual(@as(u32, 7), single.id);
    var numbers: [2]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 2), fixed.popBatch(&numbers)); // blocks 1, 2
    const run = fixed.claimRun(numbers[0], 2, 50, 8); // blocks 1 and 2, one run
    try fixed.addRegion(second); // its blocks go on top of the stack
    try std.testing.expect(!fixed.regionFree(first));
    try std.testing.expect(fixed.regionFree(second));

    var walk = try fixed.walk(std.testing.allocator, &.{ second, first }); // any order in, address order out
    defer walk.deinit(std.testing.allocator);
    const expected = [_]LockFreeFixed.BlockView{
        .{ .start = 0, .granules = 2, .is_free = false, .id = 7, .requested_bytes = 20 },
        .{ .start = 2, .granules = 4, .is_free = false, .id = 8, .requested_bytes = 50 },
        .{ .start = 6, .granules = 2, .is_free = true, .id = 0, .requested_bytes = 0 },
    };
    for (expected) |block| try std.testing.expectEqual(block, walk.next().?);
    for (0..4) |slot| try std.testing.expectEqual(@as(u32, 8 + 2 * @as(u32, @intCast(slot))), walk.next().?.start);
    try std.testing.expect(walk.next() == null); // the tail of the second region is no block
    var live: [4]u32 = undefined;
    try std.testing.expectEqual(@as(u32, 2), fixed.listLive(&.{ first, second }, &live));
    try std.testing.expectEqualSlices(u32, &.{ 0, 2 }, live[0..2]); // the run once, by its first block

    try std.testing.expect(!try fixed.removeRegion(std.testing.allocator, first)); // its blocks are live: it stays
    try std.testing.expectEqual(@as(u64, 8), fixed.block_count.load(.monotonic));
    try std.testing.expect(try fixed.removeRegion(std.testing.allocator, second));
    try std.testing.expectEqual(@as(u64, 4), fixed.block_count.load(.monotonic));
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(8, 0, &number) == .unknown_pointer); // no block starts there any more
    try std.testing.expectEqual(@as(u32, 3), fixed.pop().?); // the first region's free block stays on the stack
    try std.testing.expect(fixed.pop() == null);
    try std.testing.expect(fixed.markFreed(run.g, run.id, &number) == .freed);
    fixed.releaseContinued(number, 2);
    try fixed.addRegion(second); // the same range again: its words were cleared
    try std.testing.expectEqual(@as(u64, 8), fixed.block_count.load(.monotonic));
}

test "lock-free fixed: the longest free run reads state words 64 at a time, across chunks, as a block-by-block count" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 3 * chunk_blocks, true);
    defer fixed.deinit(false);
    const regions = [_]Region{
        .{ .start = chunk_blocks - 70, .len = 300, .committed = true, .live_count = 0 }, // across chunks 0 and 1
        .{ .start = 2 * chunk_blocks, .len = 90, .committed = true, .live_count = 0 },
    };
    for (regions) |region| try fixed.addRegion(region);
    var prng = std.Random.DefaultPrng.init(7);
    for (0..50) |_| {
        // Some blocks live, some runs, the rest free, then the scan against each block's isFree.
        fixed.reset(&regions);
        var free_blocks: u64 = 0;
        var expected: u64 = 0;
        for (regions) |region| {
            var number = fixed.numberOf(region.start);
            const end = number + region.len;
            var run: u64 = 0;
            while (number < end) : (number += 1) {
                const pick = prng.random().uintLessThan(u32, 10);
                if (pick == 0 and number + 3 <= end) {
                    try std.testing.expect(fixed.reserveRun(number, 3)); // on the stack since the reset
                    _ = fixed.claimRun(number, 3, 3 * 16, 5); // a run's later blocks are not free either
                    number += 2;
                    run = 0;
                } else if (pick < 4) {
                    _ = fixed.claimAs(number, 16, 5);
                    run = 0;
                } else {
                    free_blocks += 1;
                    run += 1;
                    expected = @max(expected, run);
                }
            }
        }
        try std.testing.expectEqual(expected, fixed.largestFreeGranules(&regions, free_blocks, std.math.maxInt(u64)));
        try std.testing.expectEqual(@min(expected, 2), @min(2, fixed.largestFreeGranules(&regions, free_blocks, 2)));
    }
    fixed.reset(&regions);
    try std.testing.expectEqual(@as(u64, 300), fixed.largestFreeGranules(&regions, 390, std.math.maxInt(u64)));
    try std.testing.expect(fixed.hasFreeRun(&regions, 300) and !fixed.hasFreeRun(&regions, 301));
    _ = fixed.claimAs(fixed.numberOf(regions[0].start) + 150, 16, 9); // the middle of the first region
    try std.testing.expect(fixed.hasFreeRun(&regions, 150) and !fixed.hasFreeRun(&regions, 151)); // 0 .. 149 free, 151 .. 299 too
}

test "lock-free fixed: a reserved run's entries stay on the stack, pops drop them, its free revives or pushes them; a block off the stack is never reserved" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, true);
    defer fixed.deinit(false);
    const regions = [_]Region{.{ .start = 0, .len = 16, .committed = true, .live_count = 0 }};
    try fixed.addRegion(regions[0]); // stack: 0 on top .. 15
    var cached: [3]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 3), fixed.popBatch(&cached)); // 0 1 2, as a thread cache holds them
    try std.testing.expectEqual(@as(?u32, 3), fixed.lowestStackedRun(&regions, 4)); // free, but 0 .. 2 are off the stack
    try std.testing.expect(!fixed.reserveRun(1, 3)); // off the stack: nothing changes
    try std.testing.expect(fixed.reserveRun(3, 4));
    const run = fixed.claimRun(3, 4, 4, 9);
    try std.testing.expectEqual(@as(?u32, 7), fixed.lowestStackedRun(&regions, 4));
    try std.testing.expectEqual(@as(u32, 7), fixed.pop().?); // the entries of 3 .. 6 dropped on the way
    // Freed after its entries were dropped: pushed again, the first on top.
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(run.g, run.id, &number) == .freed);
    fixed.releaseContinued(number, 4);
    fixed.unstale(number, 4);
    var popped: [4]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 4), fixed.popBatch(&popped));
    try std.testing.expectEqualSlices(u32, &.{ 3, 4, 5, 6 }, &popped);
    fixed.pushBatch(&popped);
    // Freed while its entries are still on the stack: they serve again, none pushed twice.
    try std.testing.expect(fixed.reserveRun(8, 5));
    const second = fixed.claimRun(8, 5, 5, 10);
    try std.testing.expect(fixed.markFreed(second.g + 1, 0, &number) == .interior_pointer);
    try std.testing.expect(fixed.markFreed(second.g, second.id, &number) == .freed);
    try std.testing.expect(fixed.markFreed(second.g, second.id, &number) == .double_free);
    fixed.releaseContinued(number, 5);
    fixed.unstale(number, 5);
    fixed.pushBatch(&cached);
    var all: [17]u32 = undefined;
    const count = fixed.popBatch(&all);
    try std.testing.expectEqual(@as(usize, 15), count); // block 7 is still popped
    var seen: [16]bool = @splat(false);
    for (all[0..count]) |each| {
        try std.testing.expect(!seen[each]); // each once
        seen[each] = true;
    }
    try std.testing.expect(!seen[7]);
}

/// Pops every entry of `fixed` and checks that they are blocks 0 .. `blocks` - 1, each once.
/// The region tests' pool: blocks of one granule, the memory of 4096, over `regions`, added in order.
fn initWithRegions(regions: []const Region) !LockFreeFixed {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, true);
    errdefer fixed.deinit(false);
    for (regions) |region| try fixed.addRegion(region);
    return fixed;
}

/// A stack of 1-granule blocks over `regions` whose marks are untracked from the start, as a shared
/// pool's are (shared_fixed.zig), for the tests of what changes once they begin to be kept.
fn initUntracked(regions: []const Region, lock_free: bool) !LockFreeFixed {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, lock_free);
    errdefer fixed.deinit(false);
    fixed.mark_mode = .init(.untracked); // before the regions: their marks are set as they are added
    for (regions) |region| try fixed.addRegion(region);
    return fixed;
}

/// Two regions of 16 blocks: low (blocks 0 .. 15) and high (16 .. 31).
const low_region: Region = .{ .start = 0, .len = 16, .committed = true, .live_count = 0 };
const high_region: Region = .{ .start = 16, .len = 16, .committed = true, .live_count = 0 };

fn expectStackHoldsFirst(fixed: *LockFreeFixed, comptime blocks: usize) !void {
    var all: [blocks + 1]u32 = undefined;
    try std.testing.expectEqual(blocks, fixed.popBatch(&all));
    var seen: [blocks]bool = @splat(false);
    for (all[0..blocks]) |each| {
        try std.testing.expect(each < blocks and !seen[each]); // each once
        seen[each] = true;
    }
}


/// Frees the run `run` of `count` blocks as shared_fixed.zig does: its first block marked freed,
/// its later ones released, its entries given back.
fn expectRunFreed(fixed: *LockFreeFixed, run: Claimed, count: u32) !void {
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(run.g, run.id, &number) == .freed);
    fixed.releaseContinued(number, count);
    fixed.unstale(number, count);
}

/// The race tests' other side: `rounds` runs of 2 to 31 blocks (sizes from `seed`) sought, reserved,
/// claimed (each block noted as the run's in `owners`, a block a thread holds counted in `failures`)
/// and freed, while a SingleBlockChurn's threads pop and push.
fn reserveRunsAmidChurn(fixed: *LockFreeFixed, regions: []const Region, owners: []std.atomic.Value(u32), failures: *std.atomic.Value(u32), rounds: usize, seed: u64) !void {
    assert(regions.len > 0);
    var prng = std.Random.DefaultPrng.init(seed);
    for (0..rounds) |_| {
        const count = 2 + prng.random().uintLessThan(u32, 30);
        const first = fixed.lowestStackedRun(regions, count) orelse continue;
        if (!fixed.reserveRun(first, count)) continue; // a thread popped one of them meanwhile
        const run = fixed.claimRun(first, count, count, 7);
        for (first..first + count) |number| {
            if (owners[number].swap(99, .acq_rel) != 0) _ = failures.fetchAdd(1, .monotonic);
        }
        for (first..first + count) |number| owners[number].store(0, .release);
        try expectRunFreed(fixed, run, count);
    }
}

/// The race tests' churning side: `threads` threads, each popping up to 8 blocks, claiming each
/// (noting itself its owner in `owners`, counting a block some other thread owns in `failures`),
/// freeing and pushing them, from start() until finish(). Kept where it is while they run.
fn SingleBlockChurn(comptime blocks: usize, comptime threads: usize) type {
    return struct {
        const Churn = @This();
        owners: [blocks]std.atomic.Value(u32) = @splat(.init(0)),
        failures: std.atomic.Value(u32) = .init(0),
        stop: std.atomic.Value(bool) = .init(false),
        spawned: [threads]std.Thread = undefined,

        fn start(churn: *Churn, pool: *LockFreeFixed) !void {
            assert(threads > 0 and !churn.stop.load(.monotonic));
            for (&churn.spawned, 1..) |*thread, me| thread.* = try std.Thread.spawn(.{}, run, .{ churn, pool, @as(u32, @intCast(me)) });
        }

        /// Stops and joins the threads; the failures counted, every one of them done.
        fn finish(churn: *Churn) u32 {
            assert(!churn.stop.load(.monotonic));
            churn.stop.store(true, .release);
            for (churn.spawned) |thread| thread.join();
            return churn.failures.load(.monotonic);
        }

        fn run(churn: *Churn, pool: *LockFreeFixed, me: u32) void {
            assert(me != 0); // 0 is no owner
            var held: [8]u32 = undefined;
            while (!churn.stop.load(.acquire)) {
                var count: usize = 0;
                while (count < held.len) : (count += 1) {
                    const number = pool.pop() orelse break;
                    _ = pool.claimAs(number, 1, 1);
                    if (churn.owners[number].swap(me, .acq_rel) != 0) _ = churn.failures.fetchAdd(1, .monotonic);
                    held[count] = number;
                }
                for (held[0..count]) |number| {
                    churn.owners[number].store(0, .release);
                    var freed: u32 = undefined;
                    // A removed region's block (one handed out after its removal) fails here too.
                    if (pool.markFreed(number, 1, &freed) != .freed) _ = churn.failures.fetchAdd(1, .monotonic);
                    pool.push(freed);
                }
            }
        }
    };
}

test "lock-free fixed: runs reserved and freed while threads pop and push single blocks: no block held twice, none lost" {
    const threads = 3;
    const rounds = 4000;
    const blocks = 512;
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, true);
    defer fixed.deinit(false);
    const regions = [_]Region{.{ .start = 0, .len = blocks, .committed = true, .live_count = 0 }};
    try fixed.addRegion(regions[0]);
    var churn: SingleBlockChurn(blocks, threads) = .{};
    try churn.start(&fixed);
    try reserveRunsAmidChurn(&fixed, &regions, &churn.owners, &churn.failures, rounds, 3);
    try std.testing.expectEqual(@as(u32, 0), churn.finish());
    try expectStackHoldsFirst(&fixed, blocks); // none lost, none twice
}

test "lock-free fixed: a region a run holds is never removed, though its stale entries are all on the stack; reserved and freed, it is, its marks left clear" {
    const high = high_region;
    var fixed = try initWithRegions(&.{ low_region, high });
    defer fixed.deinit(false);
    try std.testing.expect(fixed.reserveRun(16, 16)); // the whole high region: its entries stay, stale
    const run = fixed.claimRun(16, 16, 16, 5);
    try std.testing.expect(!fixed.regionFree(high));
    // Every block of the region has an entry on the stack, but a live run's: it stays.
    try std.testing.expect(!try fixed.removeRegion(std.testing.allocator, high));
    try std.testing.expectEqual(@as(u64, 32), fixed.block_count.load(.monotonic));
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(run.g + 3, 0, &number) == .interior_pointer); // still the run's
    try std.testing.expect(fixed.markFreed(run.g, run.id, &number) == .freed);
    fixed.releaseContinued(number, 16);
    fixed.unstale(number, 16); // its entries were dropped by the removal's look: all pushed again
    try std.testing.expect(try fixed.removeRegion(std.testing.allocator, high));
    try std.testing.expectEqual(@as(u64, 16), fixed.block_count.load(.monotonic));
    try std.testing.expect(fixed.markFreed(16, 0, &number) == .unknown_pointer);
    // Reserved and freed while its entries are still on the stack (stale, then on again): removed too.
    try fixed.addRegion(high); // asserts the removed blocks' marks clear
    try std.testing.expect(fixed.reserveRun(20, 8));
    const again = fixed.claimRun(20, 8, 8, 6);
    try expectRunFreed(&fixed, again, 8);
    try std.testing.expect(try fixed.removeRegion(std.testing.allocator, high));
    try fixed.addRegion(high);
    try expectStackHoldsFirst(&fixed, 32);
}

test "lock-free fixed: a run live in one region while another is removed: its stale entries are dropped, its free pushes them once" {
    const low = low_region;
    const high = high_region;
    var fixed = try initWithRegions(&.{ low, high });
    defer fixed.deinit(false);
    const single = fixed.claimAs(fixed.pop().?, 8, 4); // block 16, off the stack
    try std.testing.expectEqual(@as(u32, 16), single.g);
    try std.testing.expect(fixed.reserveRun(4, 6));
    const run = fixed.claimRun(4, 6, 6, 5);
    try std.testing.expect(!try fixed.removeRegion(std.testing.allocator, high)); // block 16 is live
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(single.g, single.id, &number) == .freed);
    fixed.push(number);
    try std.testing.expect(try fixed.removeRegion(std.testing.allocator, high));
    try std.testing.expect(fixed.regionFree(low) == false);
    // The low region's free blocks are on the stack, the run's are not (their entries dropped).
    try std.testing.expectEqual(@as(?u32, 10), fixed.lowestStackedRun(&.{low}, 6));
    try expectRunFreed(&fixed, run, 6);
    try std.testing.expectEqual(@as(?u32, 0), fixed.lowestStackedRun(&.{low}, 16));
    try expectStackHoldsFirst(&fixed, 16);
}

test "lock-free fixed: threads pop and push while runs are reserved and freed and a region is removed and added again: no block held twice, none lost, none handed out of a removed region" {
    const threads = 2;
    const rounds = 3000;
    const half = 256;
    const both = [_]Region{
        .{ .start = 0, .len = half, .committed = true, .live_count = 0 },
        .{ .start = half, .len = half, .committed = true, .live_count = 0 },
    };
    var fixed = try initWithRegions(&both);
    defer fixed.deinit(false);
    var churn: SingleBlockChurn(2 * half, threads) = .{};
    try churn.start(&fixed);
    var prng = std.Random.DefaultPrng.init(5);
    var high_present = true;
    var removals: u32 = 0;
    var refusals: u32 = 0;
    for (0..rounds) |_| {
        const regions = if (high_present) both[0..] else both[0..1];
        const count = 2 + prng.random().uintLessThan(u32, 40);
        const first = fixed.lowestStackedRun(regions, count);
        const reserved = first != null and fixed.reserveRun(first.?, count);
        const run = if (reserved) fixed.claimRun(first.?, count, count, 7) else undefined;
        if (reserved) for (first.?..first.? + count) |number| {
            if (churn.owners[number].swap(99, .acq_rel) != 0) _ = churn.failures.fetchAdd(1, .monotonic);
        };
        if (high_present) {
            const removed = try fixed.removeRegion(std.testing.allocator, both[1]);
            if (removed) {
                removals += 1;
                high_present = false;
                try std.testing.expect(!reserved or first.? < half); // never under a live run
            } else refusals += 1;
        } else if (prng.random().boolean()) {
            try fixed.addRegion(both[1]);
            high_present = true;
        }
        if (reserved) {
            for (first.?..first.? + count) |number| churn.owners[number].store(0, .release);
            try expectRunFreed(&fixed, run, count);
        }
    }
    try std.testing.expectEqual(@as(u32, 0), churn.finish());
    try std.testing.expect(removals > 0);
    if (!high_present) try fixed.addRegion(both[1]);
    try expectStackHoldsFirst(&fixed, 2 * half);
}

test "lock-free fixed: a placement restored with live blocks (a PMEM pool's reopening) serves runs around them, and a restored block freed joins one" {
    var fixed = try LockFreeFixed.init(std.testing.allocator, 1, 4096, true);
    defer fixed.deinit(false);
    const region: Region = .{ .start = 0, .len = 16, .committed = true, .live_count = 0 };
    const Table = struct {
        pub fn lookup(_: @This(), g: u32) ?Live {
            return switch (g) {
                2 => .{ .requested_bytes = 1, .id = 40 },
                5 => .{ .requested_bytes = 1, .id = 41 },
                9 => .{ .requested_bytes = 1, .id = 42 },
                else => null,
            };
        }
    };
    try fixed.restoreRegion(region, Table{});
    try std.testing.expectEqual(@as(u64, 16), fixed.block_count.load(.monotonic));
    const regions = [_]Region{region};
    try std.testing.expectEqual(@as(?u32, 6), fixed.lowestStackedRun(&regions, 3)); // 0 1 | 2 live | 3 4 | 5 live | 6 7 8
    try std.testing.expect(!fixed.reserveRun(8, 2)); // 9 is live: no entry, never reserved
    try std.testing.expect(fixed.reserveRun(6, 3));
    const run = fixed.claimRun(6, 3, 3, 50);
    try std.testing.expectEqual(@as(u32, 0), fixed.pop().?); // address order; live blocks never come
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(2, 41, &number) == .reused); // the restored id is checked
    try std.testing.expect(fixed.markFreed(2, 40, &number) == .freed);
    fixed.push(number);
    try std.testing.expectEqual(@as(?u32, 1), fixed.lowestStackedRun(&regions, 4)); // 1 2 3 4: the restored block joins
    try std.testing.expect(fixed.reserveRun(1, 4));
    const joined = fixed.claimRun(1, 4, 4, 51);
    try expectRunFreed(&fixed, run, 3);
    try expectRunFreed(&fixed, joined, 4);
    for ([_][2]u32{ .{ 5, 41 }, .{ 9, 42 } }) |live| {
        try std.testing.expect(fixed.markFreed(live[0], live[1], &number) == .freed);
        fixed.push(number);
    }
    fixed.push(0);
    try expectStackHoldsFirst(&fixed, 16);
}

test "lock-free fixed, marks untracked: pops and pushes leave the marks alone until the first run is sought, which makes them right (the stack taken whole where a pop or push left them)" {
    const regions = [_]Region{.{ .start = 0, .len = 64, .committed = true, .live_count = 0 }};
    var fixed = try initUntracked(&regions, true);
    defer fixed.deinit(false);
    const marks = marksOf(fixed.chunkOf(0).?);
    // 0 .. 3 popped as a thread cache takes them: their marks stay `on`, no atomic on them.
    var cached: [4]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 4), fixed.popBatch(&cached));
    try std.testing.expectEqual(@as(MarkWord, on_half), marks[0].load(.monotonic) & on_half);
    try std.testing.expect(!fixed.marks_exact.load(.monotonic));
    // 4 claimed and freed through a single pop and push: its entry has no mark now.
    const single = fixed.claimAs(fixed.pop().?, 8, 1);
    try std.testing.expectEqual(@as(u32, 4), single.g);
    var number: u32 = undefined;
    try std.testing.expect(fixed.markFreed(single.g, single.id, &number) == .freed);
    fixed.push(number);
    fixed.trackMarks();
    try std.testing.expectEqual(MarkMode.tracked, fixed.mark_mode.load(.monotonic));
    // The cached blocks' marks are clear: no run takes them; every entry is `on`, 4's too.
    try std.testing.expectEqual(@as(MarkWord, on_half & ~@as(MarkWord, 0xf)), marks[0].load(.monotonic));
    try std.testing.expectEqual(@as(MarkWord, on_half), marks[1].load(.monotonic));
    try std.testing.expectEqual(@as(?u32, 4), fixed.lowestStackedRun(&regions, 8));
    try std.testing.expect(!fixed.reserveRun(2, 4)); // 2 and 3 are a cache's
    try std.testing.expect(fixed.reserveRun(4, 8));
    const run = fixed.claimRun(4, 8, 8, 2);
    try std.testing.expectEqual(@as(u32, 12), fixed.pop().?); // the order kept (4 on top), the run's entries dropped
    try expectRunFreed(&fixed, run, 8);
    fixed.push(12);
    fixed.pushBatch(&cached);
    try expectStackHoldsFirst(&fixed, 64);
}

test "lock-free fixed, marks untracked: where no pop or push came first (a fresh pool's first request is a run), the marks are right as added, and the stack stays as it is" {
    const regions = [_]Region{.{ .start = 0, .len = 40, .committed = true, .live_count = 0 }};
    var fixed = try initUntracked(&regions, true);
    defer fixed.deinit(false);
    try std.testing.expect(fixed.marks_exact.load(.monotonic));
    const head = fixed.head.load(.monotonic);
    fixed.trackMarks();
    try std.testing.expectEqual(@as(u32, @truncate(head)), @as(u32, @truncate(fixed.head.load(.monotonic)))); // not taken: its tag moved on alone
    try std.testing.expect(fixed.head.load(.monotonic) >> 32 != head >> 32);
    fixed.trackMarks(); // once only
    try std.testing.expect(fixed.reserveRun(0, 40));
    const run = fixed.claimRun(0, 40, 40, 3);
    try std.testing.expectEqual(@as(?u32, null), fixed.pop()); // every entry a run's: dropped
    try expectRunFreed(&fixed, run, 40);
    try expectStackHoldsFirst(&fixed, 40);
}

test "lock-free fixed, marks untracked: a trim takes the whole stack without them, and the marks it leaves are right once tracked" {
    const low: Region = .{ .start = 0, .len = 32, .committed = true, .live_count = 0 };
    const high: Region = .{ .start = 32, .len = 32, .committed = true, .live_count = 0 };
    var fixed = try initUntracked(&.{ low, high }, false); // a "mutex" pool's stack: the same under its lock
    defer fixed.deinit(false);
    var all: [64]u32 = undefined;
    try std.testing.expectEqual(@as(usize, 64), fixed.popBatch(&all));
    fixed.pushBatch(&all); // every entry without a mark now, some marks left `on` by the pops
    try std.testing.expect(try fixed.removeRegion(std.testing.allocator, high));
    try fixed.addRegion(high); // asserts the removed blocks' marks clear
    fixed.trackMarks();
    try std.testing.expectEqual(@as(?u32, 0), fixed.lowestStackedRun(&.{ low, high }, 32));
    try std.testing.expect(fixed.reserveRun(32, 32));
    const run = fixed.claimRun(32, 32, 32, 4);
    try expectRunFreed(&fixed, run, 32);
    try expectStackHoldsFirst(&fixed, 64);
}

test "lock-free fixed, marks untracked: threads pop and push single blocks and batches while the marks begin to be kept and runs are then reserved: no block held twice, none lost" {
    const threads = 3;
    const blocks = 512;
    for (0..24) |round| {
        const regions = [_]Region{.{ .start = 0, .len = blocks, .committed = true, .live_count = 0 }};
        var fixed = try initUntracked(&regions, round % 2 == 0);
        defer fixed.deinit(false);
        var churn: SingleBlockChurn(blocks, threads) = .{};
        try churn.start(&fixed);
        // Let them run untracked a moment (leaving marks `on` on blocks they hold), some rounds not at all.
        if (round % 3 != 0) std.Thread.sleep(std.time.ns_per_us * (50 * round));
        fixed.trackMarks();
        try reserveRunsAmidChurn(&fixed, &regions, &churn.owners, &churn.failures, 400, round);
        try std.testing.expectEqual(@as(u32, 0), churn.finish());
        try expectStackHoldsFirst(&fixed, blocks); // none lost, none twice
    }
}
