//! A PMEM pool: a pool file mapped into the process, the persistent allocator over its heap, its
//! named roots and redo log, statistics, and the lock its thread-safety setting asks for. Opening
//! runs recovery: finish a committed redo log, rebuild placement from the allocation table, check
//! the roots. Everything it reads is validated first, so a damaged file is refused untouched.
const std = @import("std");
const host_registration = @import("../gpu/host_registration.zig");
const checkpoint = @import("../gpu/checkpoint.zig");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const pool_mod = @import("../pool.zig");
const stats_mod = @import("../stats.zig");
const libpmem = @import("libpmem.zig");
const crash_points = @import("crash_points.zig");
const format = @import("format.zig");
const file = @import("file.zig");
const Media = @import("media.zig").Media;
const heap_mod = @import("heap.zig");
const Heap = heap_mod.Heap;
const redo_log = @import("redo_log.zig");
const roots_mod = @import("roots.zig");
const links = @import("links.zig");
const dram = @import("dram.zig");
const Roots = roots_mod.Roots;
const FreeResult = @import("../strategy/tlsf.zig").FreeResult;
const snapshot = @import("../snapshot.zig");
const Region = @import("../arena.zig").Region;
const Viewers = @import("../sync/viewers.zig").Viewers;

const granule_bytes = format.granule_bytes;

comptime {
    assert(Heap.id_max == pool_mod.Pool.id_max); // one id space for TypeScript's handles of every kind
}

/// Why the last open on this thread was refused as a format problem (mp_pmem_last_reason).
pub threadlocal var last_reason: format.Reason = .none;

pub const Config = struct {
    base: pool_mod.Config,
    path: []const u8,

    fn layout(self: Config) format.Layout {
        return .{
            .strategy = @intFromEnum(@as(format.Strategy, switch (self.base.strategy) {
                .fixed_size => .fixed_size,
                .variable => .variable,
            })),
            .alignment = @intCast(self.base.alignment),
            .block_bytes = if (self.base.strategy == .fixed_size) self.base.block_size else 0,
        };
    }
};

pub const Pool = struct {
    gpa: std.mem.Allocator,
    name: []u8,
    path: [:0]u8,
    config: pool_mod.Config,
    mapped: file.Mapped,
    media: Media,
    header: format.Header,
    heap: Heap,
    roots: Roots,
    stats: stats_mod.Stats,
    mutex: std.Thread.Mutex = .{},
    last_id: u32 = 0,
    /// Whether this open made the file (false: it existed and was recovered).
    created: bool,
    /// The mapping's registration with the CUDA driver, made by the first GPU copy that wants it.
    dma: host_registration.State = .unknown,
    /// Where the checkpoint in progress lands in the file (checkpointFromDevice's chunks are relative to it).
    checkpoint_base: usize = 0,
    /// The thread that opened the pool: a "none" pool is that thread's alone (sync/owner_check.zig).
    owner_thread: std.Thread.Id,
    /// Threads that asked for the mapping's base to make views: decides how close lets the file go.
    viewers: Viewers = .{},

    pub fn create(gpa: std.mem.Allocator, name: []const u8, config: Config) Error!*Pool {
        assert(name.len > 0);
        last_reason = .none;
        _ = libpmem.api() catch return status.fail(error.PmemUnavailable, "PMEM pools need libpmem: {s}", .{libpmem.unavailableReason()});
        crash_points.init();
        if (config.path.len == 0 or config.path.len > file.path_bytes_max or std.mem.indexOfScalar(u8, config.path, 0) != null) {
            return status.failConfig("pmemPoolPath", "pmemPoolPath must name a file (1 to {d} bytes, no NUL), got {d} bytes", .{ file.path_bytes_max, config.path.len });
        }
        const self = gpa.create(Pool) catch return outOfMemory();
        errdefer gpa.destroy(self);
        const owned_name = gpa.dupe(u8, name) catch return outOfMemory();
        errdefer gpa.free(owned_name);
        const owned_path = gpa.dupeZ(u8, config.path) catch return outOfMemory();
        errdefer gpa.free(owned_path);

        const layout = config.layout();
        var pool_id: [16]u8 = undefined;
        std.crypto.random.bytes(&pool_id);
        const planned = format.plan(layout, config.base.initial_size, pool_id);
        var failure: file.Failure = undefined;
        const opened = file.openOrCreate(owned_path, if (planned) |*header| header else null, &failure) orelse {
            if (failure.kind == .format) last_reason = failure.reason;
            return switch (failure.kind) {
                .file => status.fail(error.PmemFile, "{s}", .{failure.message()}),
                .format => status.fail(error.PmemFormat, "{s}", .{failure.message()}),
                .config => status.failConfig("initialSize", "{s}", .{failure.message()}), // file.zig: the only config failure
            };
        };
        var mapped = opened.mapped;
        errdefer mapped.close();
        var header: format.Header = undefined;
        @memcpy(std.mem.asBytes(&header), mapped.base[0..@sizeOf(format.Header)]);
        if (!header.layout.eql(layout)) {
            last_reason = .layout;
            return status.fail(error.PmemFormat, "'{s}' was made for a {f} pool; this config asks for a {f} pool: open it with the layout it was made with", .{ owned_path, header.layout, layout });
        }
        self.* = .{
            .gpa = gpa,
            .name = owned_name,
            .path = owned_path,
            .config = config.base,
            .mapped = mapped,
            .media = .{ .base = mapped.base, .len = mapped.len, .is_pmem = mapped.is_pmem },
            .header = header,
            .heap = undefined,
            .roots = undefined,
            .stats = .{ .enabled = config.base.collect_stats },
            .created = opened.created,
            .owner_thread = std.Thread.getCurrentId(),
        };
        self.heap = Heap.init(dram.allocator, &self.media, &self.header); // placement in huge pages (dram.zig)
        errdefer self.heap.deinit();
        self.roots = Roots.init(&self.media);
        try self.recover();
        crash_points.track(@intFromPtr(self.mapped.base), self.mapped.len);
        return self;
    }

    /// Finishes a committed redo log, rebuilds placement and loads the roots. Validates before it
    /// writes: a damaged file is refused as it was.
    fn recover(self: *Pool) Error!void {
        var problem: format.Problem = undefined;
        const targets: redo_log.Targets = .{ .header = &self.header };
        const pending = redo_log.pending(&self.media, targets, &problem) catch return self.refuse(&problem);
        // Apply the log in place (not yet durable) so the checks below see its result; undone on failure.
        var previous: [redo_log.entries_max]u64 = undefined;
        if (pending) |entries| {
            for (entries, previous[0..entries.len]) |entry, *old| {
                const word: *u64 = @ptrCast(@alignCast(self.media.base + entry.offset));
                old.* = word.*;
                word.* = entry.value;
            }
        }
        const restored = self.heap.restore(&self.last_id, &problem) catch |err| {
            self.undo(pending, &previous);
            return if (err == error.OutOfMemory) outOfMemory() else self.refuse(&problem);
        };
        const LiveCheck = struct {
            heap: *const Heap,
            pub fn check(live: @This(), g: u32) bool {
                return live.heap.lookup(g) != null;
            }
        };
        self.roots.load(LiveCheck{ .heap = &self.heap }, &problem) catch {
            self.undo(pending, &previous);
            return self.refuse(&problem);
        };
        if (pending) |entries| redo_log.replay(&self.media, entries);
        self.stats.live_allocations = restored.live_count;
        self.stats.peak_live_allocations = restored.live_count;
        self.stats.bytes_in_use = restored.requested_bytes;
        self.stats.peak_bytes_in_use = restored.requested_bytes;
        self.stats.bytes_allocated = restored.block_bytes;
        self.stats.recordReserved(self.header.heap_bytes);
    }

    fn undo(self: *Pool, pending: ?[]const redo_log.Entry, previous: []const u64) void {
        const entries = pending orelse return;
        // Backwards, so a word named twice gets its first value back.
        var index = entries.len;
        while (index > 0) {
            index -= 1;
            const word: *u64 = @ptrCast(@alignCast(self.media.base + entries[index].offset));
            word.* = previous[index];
        }
    }

    fn refuse(self: *Pool, problem: *const format.Problem) Error {
        last_reason = problem.reason;
        return status.fail(error.PmemFormat, "'{s}': {s}", .{ self.path, problem.message() });
    }

    /// Registers the whole mapping for direct DMA with device `device_id`; false where the driver refuses.
    pub fn registerForDma(self: *Pool, device_id: u32) bool {
        self.lock();
        defer self.unlock();
        return host_registration.register(&self.dma, device_id, self.mapped.base, self.mapped.len);
    }

    /// Device bytes at `src` into the file at `offset`, durable on return, by direct DMA pipelined
    /// with the flushes. False (nothing copied) where the driver refuses to register the mapping.
    pub fn checkpointFromDevice(self: *Pool, device_id: u32, offset: f64, src: u64, len: f64) Error!bool {
        const start, const bytes = try self.checkRange(offset, len);
        if (!self.registerForDma(device_id)) return false;
        const Persist = struct {
            fn chunk(pool: *Pool, chunk_offset: usize, chunk_len: usize) void {
                pool.media.persist(pool.checkpoint_base + chunk_offset, chunk_len);
            }
        };
        self.checkpoint_base = start;
        try checkpoint.deviceToDurable(device_id, self.mapped.base + start, src, bytes, self, Persist.chunk);
        return true;
    }

    pub fn destroy(self: *Pool) void {
        const gpa = self.gpa;
        crash_points.untrack(@intFromPtr(self.mapped.base));
        host_registration.unregister(&self.dma, self.mapped.base);
        // Unpublished allocations never reached the file: they are free when it is opened again.
        // What is deferred (the redo log's emptied count word) becomes durable before the file goes.
        self.media.drain();
        self.heap.deinit();
        if (self.viewers.elsewhere()) self.mapped.retire() else self.mapped.close();
        gpa.free(self.path);
        gpa.free(self.name);
        gpa.destroy(self);
    }

    inline fn lock(self: *Pool) void {
        if (self.config.thread_safety == .mutex) self.mutex.lock();
    }

    inline fn unlock(self: *Pool) void {
        if (self.config.thread_safety == .mutex) self.mutex.unlock();
    }

    pub const Placed = struct { g: u32, id: u32 };

    pub fn alloc(self: *Pool, size: u64) Error!Placed {
        self.lock();
        defer self.unlock();
        const started = if (self.stats.sampleNow(self.stats.allocation_count)) std.time.Instant.now() catch null else null;
        const placed = try self.placeLocked(size);
        self.stats.recordAlloc(size, self.blockBytes(placed.placed));
        if (started) |start| self.stats.recordAllocTime((std.time.Instant.now() catch start).since(start));
        return .{ .g = placed.placed.g, .id = placed.id };
    }

    const PlacedWithId = struct { placed: heap_mod.Placed, id: u32 };

    fn placeLocked(self: *Pool, size: u64) Error!PlacedWithId {
        if (size == 0 or size > self.heap.sizeMax()) {
            return status.fail(error.InvalidSize, "cannot allocate {d} bytes from PMEM pool '{s}': sizes run from 1 to {d}", .{ size, self.name, self.heap.sizeMax() });
        }
        const id = Heap.nextId(&self.last_id);
        const placed = self.heap.place(size, id) catch |err| {
            self.stats.failed_allocations += 1;
            return switch (err) {
                error.OutOfMemory => outOfMemory(),
                error.NoRoom => status.fail(error.OutOfMemory, "PMEM pool '{s}' cannot place {d} bytes: {d} of its {d} heap bytes are free, none in one piece large enough (a PMEM pool's size is its file's: make it with a larger initialSize)", .{ self.name, size, self.heap.freeGranules() * granule_bytes, self.header.heap_bytes }),
                error.TableFull => status.fail(error.OutOfMemory, "PMEM pool '{s}' holds {d} allocations, all its table has room for (one per {d} heap bytes): free some, or use a FixedSize pool for many small blocks", .{ self.name, self.header.table_capacity, format.heap_bytes_per_record }),
            };
        };
        assert(placed.g % self.heap.alignment_granules == 0);
        return .{ .placed = placed, .id = id };
    }

    fn blockBytes(self: *const Pool, placed: heap_mod.Placed) u64 {
        return switch (self.heap.strategy) {
            .fixed_size => |fixed| @as(u64, fixed.stride) * granule_bytes,
            .variable => @as(u64, placed.record.granules) * granule_bytes,
        };
    }

    pub fn free(self: *Pool, g: u32, expected_id: u32) Error!void {
        self.lock();
        defer self.unlock();
        try self.checkFree(g, expected_id);
        const started = if (self.stats.sampleNow(self.stats.free_count)) std.time.Instant.now() catch null else null;
        const result = self.heap.free(g);
        try self.recordFree(g, result);
        if (started) |start| self.stats.recordFreeTime((std.time.Instant.now() catch start).since(start));
    }

    /// Refuses a free of a block that is not (or no longer) the allocation the caller holds, or
    /// that a root publishes.
    fn checkFree(self: *Pool, g: u32, expected_id: u32) Error!void {
        if (expected_id != 0) {
            const live_id = if (self.heap.lookup(g)) |live| live.id else 0;
            if (live_id != expected_id) {
                if (live_id == 0) return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of PMEM pool '{s}' was already freed", .{ expected_id, @as(u64, g) * granule_bytes, self.name });
                return status.fail(error.DoubleFree, "double free: allocation #{d} at offset {d} of PMEM pool '{s}' was already freed, and the block now holds allocation #{d}", .{ expected_id, @as(u64, g) * granule_bytes, self.name, live_id });
            }
        }
        if (self.roots.publishing(g)) |index| {
            return status.fail(error.PmemRoot, "the allocation at offset {d} of PMEM pool '{s}' is published as root '{s}': remove the root first (setRoot(\"{s}\", null)), or free it with setRoot(\"{s}\", null, {{ freePrevious: true }})", .{ @as(u64, g) * granule_bytes, self.name, self.roots.name(index), self.roots.name(index), self.roots.name(index) });
        }
    }

    fn recordFree(self: *Pool, g: u32, result: FreeResult) Error!void {
        switch (result) {
            .freed => |freed| self.stats.recordFree(freed.requested_bytes, @as(u64, freed.granules) * granule_bytes),
            .double_free => return status.fail(error.DoubleFree, "double free: the block at offset {d} of PMEM pool '{s}' is already free", .{ @as(u64, g) * granule_bytes, self.name }),
            .interior_pointer => return status.fail(error.InvalidPointer, "pointer at offset {d} points inside an allocation of PMEM pool '{s}', not at its start", .{ @as(u64, g) * granule_bytes, self.name }),
            .unknown_pointer => return status.fail(error.InvalidPointer, "PMEM pool '{s}' never gave out a block at offset {d}", .{ self.name, @as(u64, g) * granule_bytes }),
        }
    }

    pub fn lookup(self: *Pool, g: u32) ?heap_mod.Live {
        self.lock();
        defer self.unlock();
        return self.heap.lookup(g);
    }

    // ---- durability of user data ----

    fn checkRange(self: *const Pool, offset: f64, len: f64) Error!struct { usize, usize } {
        const heap_start: f64 = @floatFromInt(self.header.heap_offset);
        const file_end: f64 = @floatFromInt(self.header.file_bytes);
        if (!(offset >= heap_start and len >= 0 and offset == @floor(offset) and len == @floor(len) and offset + len <= file_end)) {
            return status.fail(error.InvalidPointer, "the range of {d} bytes at offset {d} is not inside the heap of PMEM pool '{s}' (offsets {d} to {d})", .{ len, offset, self.name, heap_start, file_end });
        }
        return .{ @intFromFloat(offset), @intFromFloat(len) };
    }

    pub fn persist(self: *Pool, offset: f64, len: f64) Error!void {
        const start, const bytes = try self.checkRange(offset, len);
        self.media.persist(start, bytes);
    }

    pub fn flush(self: *Pool, offset: f64, len: f64) Error!void {
        const start, const bytes = try self.checkRange(offset, len);
        self.media.flush(start, bytes);
    }

    pub fn drain(self: *Pool) void {
        self.media.drain();
    }

    /// Copies `len` bytes from `source` to byte `offset` of the file and makes them durable: for
    /// copy(), whose caller has bounded the range by its destination; the core checks the heap.
    pub fn memcpyPersist(self: *Pool, offset: f64, source: [*]const u8, len: f64) Error!void {
        const start, const bytes = try self.checkRange(offset, len);
        self.copyPersist(start, source[0..bytes]);
    }

    /// Copies `len` bytes from `source` to byte `at` of the live allocation at `g` (with `expected_id`
    /// not 0: only while it holds that allocation) and makes them durable. The copy must fit the
    /// allocation: it never reaches a neighbour.
    pub fn memcpyPersistInto(self: *Pool, g: u32, expected_id: u32, at: f64, source: [*]const u8, len: f64) Error!void {
        const live = self.lookup(g) orelse return status.fail(error.InvalidPointer, "memcpyPersist: no live allocation of PMEM pool '{s}' starts at offset {d}", .{ self.name, @as(u64, g) * granule_bytes });
        if (expected_id != 0 and live.id != expected_id) return status.fail(error.InvalidPointer, "memcpyPersist: allocation #{d} of PMEM pool '{s}' was freed", .{ expected_id, self.name });
        const size: f64 = @floatFromInt(live.requested_bytes);
        if (!(at >= 0 and len >= 0 and at == @floor(at) and len == @floor(len) and at + len <= size)) {
            return status.fail(error.InvalidSize, "memcpyPersist: {d} bytes at offset {d} do not fit allocation #{d} of PMEM pool '{s}' ({d} bytes)", .{ len, at, live.id, self.name, live.requested_bytes });
        }
        const start = @as(usize, g) * granule_bytes + @as(usize, @intFromFloat(at));
        const bytes: usize = @intFromFloat(len);
        assert(start >= self.header.heap_offset and start + bytes <= self.header.file_bytes);
        self.copyPersist(start, source[0..bytes]);
    }

    fn copyPersist(self: *Pool, start: usize, bytes: []const u8) void {
        self.media.memcpyPersist(start, bytes);
    }

    // ---- roots ----

    fn checkName(self: *const Pool, name: []const u8) Error!void {
        if (name.len == 0 or name.len > roots_mod.name_bytes_max) {
            return status.fail(error.PmemRoot, "a root's name is 1 to {d} bytes of UTF-8, got {d} bytes (PMEM pool '{s}')", .{ roots_mod.name_bytes_max, name.len, self.name });
        }
    }

    fn noRootSlot(self: *const Pool) Error {
        return status.fail(error.PmemRoot, "PMEM pool '{s}' has {d} roots, all it holds: remove one (setRoot(name, null)) or publish a table of your own through one root", .{ self.name, roots_mod.capacity });
    }

    /// The live allocation at `g`, while it is the one with `expected_id` (0: any); `action` says
    /// what was refused.
    fn liveBlock(self: *const Pool, g: u32, expected_id: u32, comptime action: []const u8) Error!heap_mod.Live {
        const live = self.heap.lookup(g) orelse return status.fail(error.InvalidPointer, "cannot " ++ action ++ " offset {d}: no live allocation of PMEM pool '{s}' starts there", .{ @as(u64, g) * granule_bytes, self.name });
        if (expected_id != 0 and live.id != expected_id) return status.fail(error.DoubleFree, "cannot " ++ action ++ " allocation #{d} of PMEM pool '{s}': it was freed", .{ expected_id, self.name });
        return live;
    }

    /// Adds to `change` the record that publishes the block at `g`, where it is not published yet.
    fn publishInto(self: *const Pool, change: *Change, g: u32) void {
        const slot = self.heap.slotOf(g).?;
        if (!self.heap.isPublished(slot)) change.add(self.heap.recordOffset(slot), self.heap.recordOf(g, slot));
    }

    /// Adds to `change` the zeroed record that frees the published block at `g`; returns its slot,
    /// for `releaseFreed` once the change is durable.
    fn freeInto(self: *const Pool, change: *Change, g: u32) u32 {
        const slot = self.heap.slotOf(g).?;
        if (self.heap.isPublished(slot)) change.add(self.heap.recordOffset(slot), 0);
        return slot;
    }

    fn releaseFreed(self: *Pool, g: u32, slot: u32) void {
        const result = self.heap.releaseDram(g, slot);
        self.recordFree(g, result) catch unreachable;
    }

    fn commitChange(self: *Pool, change: *const Change) void {
        redo_log.commit(&self.media, change.entries[0..change.len], .{ .header = &self.header });
    }

    /// Publishes the live block at `g` as `name` (g = 0: removes the root). An unpublished block's
    /// record is written in the same crash-atomic step as the root. With `free_previous` the block
    /// the root published before is freed in that step too.
    pub fn setRoot(self: *Pool, name: []const u8, g: u32, expected_id: u32, free_previous: bool) Error!void {
        try self.checkName(name);
        self.lock();
        defer self.unlock();
        if (g != 0) _ = try self.liveBlock(g, expected_id, "publish as a root");
        const existing = self.roots.find(name);
        const previous: u32 = if (existing) |index| self.roots.target(index) else 0;
        if (previous == g) return; // already so
        if (g != 0) {
            if (self.roots.publishing(g)) |other| {
                return status.fail(error.PmemRoot, "the allocation at offset {d} is already published as root '{s}': a block has one root at most", .{ @as(u64, g) * granule_bytes, self.roots.name(other) });
            }
        }
        const index = existing orelse (if (g == 0) return else (self.roots.prepare(&self.media, name) orelse return self.noRootSlot()));
        var change: Change = .{};
        change.add(self.roots.targetOffset(index), self.roots.targetWord(index, g));
        if (g != 0) self.publishInto(&change, g);
        const freed_slot = if (free_previous and previous != 0) self.freeInto(&change, previous) else null;
        self.commitChange(&change);
        self.roots.noteTarget(index, g);
        if (freed_slot) |slot| self.releaseFreed(previous, slot);
    }

    /// The byte offset in the file of the 8-byte word at byte `at` of the live allocation at `g`.
    fn linkWordOffset(self: *const Pool, g: u32, expected_id: u32, at: f64) Error!usize {
        const live = try self.liveBlock(g, expected_id, "link from");
        const size: f64 = @floatFromInt(live.requested_bytes);
        if (!(at >= 0 and at == @floor(at) and @mod(at, links.word_bytes) == 0 and at + links.word_bytes <= size)) {
            return status.fail(error.InvalidSize, "a link is an 8-byte word at a multiple of 8 inside its allocation: byte {d} of allocation #{d} of PMEM pool '{s}' ({d} bytes) is not one", .{ at, live.id, self.name, live.requested_bytes });
        }
        const offset = @as(usize, g) * granule_bytes + @as(usize, @intFromFloat(at));
        assert(offset % links.word_bytes == 0 and offset >= self.header.heap_offset and offset + links.word_bytes <= self.header.file_bytes);
        return offset;
    }

    fn linkWord(self: *const Pool, offset: usize) *u64 {
        return @ptrCast(@alignCast(self.media.base + offset));
    }

    /// Writes a link to the live block at `child` (0: no link) into the 8-byte word at byte `at` of
    /// the live block at `parent`. Where the parent is published and the child is not, the link and
    /// the child's record are written in one crash-atomic step: the child is published by the link.
    /// With `free_previous`, the block the word linked to before is freed in that step too.
    pub fn link(self: *Pool, parent: u32, parent_id: u32, at: f64, child: u32, child_id: u32, free_previous: bool) Error!void {
        self.lock();
        defer self.unlock();
        const offset = try self.linkWordOffset(parent, parent_id, at);
        if (child != 0) _ = try self.liveBlock(child, child_id, "link to");
        const parent_published = self.heap.isPublished(self.heap.slotOf(parent).?);
        const child_published = child == 0 or self.heap.isPublished(self.heap.slotOf(child).?);
        if (!parent_published and !child_published) {
            return status.fail(error.PmemRoot, "cannot link unpublished allocation #{d} from allocation #{d} of PMEM pool '{s}', which is unpublished too: publish the parent first (setRoot, link it from a published block, or commitUnpublished), then link the child", .{ child_id, parent_id, self.name });
        }
        const previous: u32 = if (free_previous) try self.previousLink(offset, parent, child) else 0;
        var change: Change = .{};
        change.add(offset, links.word(child));
        if (!child_published) self.publishInto(&change, child);
        const freed_slot = if (previous != 0) self.freeInto(&change, previous) else null;
        self.commitChange(&change);
        if (freed_slot) |slot| self.releaseFreed(previous, slot);
    }

    /// The live block the link word at `offset` names, to be freed as it is replaced (0: none).
    fn previousLink(self: *const Pool, offset: usize, parent: u32, child: u32) Error!u32 {
        const stored = Media.load(self.linkWord(offset));
        const previous = links.decode(stored) orelse return status.fail(error.InvalidPointer, "freePrevious: the word at offset {d} of PMEM pool '{s}' (0x{x:0>16}) is not a link: nothing was changed", .{ offset, self.name, stored });
        if (previous == 0) return 0;
        if (self.heap.lookup(previous) == null) return status.fail(error.InvalidPointer, "freePrevious: the word at offset {d} of PMEM pool '{s}' links to offset {d}, {s}: nothing was changed", .{ offset, self.name, @as(u64, previous) * granule_bytes, self.whyNoBlock(previous) });
        if (previous == child or previous == parent) return status.fail(error.InvalidPointer, "freePrevious would free the block the link {s}: nothing was changed", .{if (previous == child) "now points at" else "is written into"});
        if (self.roots.publishing(previous)) |index| {
            return status.fail(error.PmemRoot, "freePrevious: the block the link named is published as root '{s}': remove the root first", .{self.roots.name(index)});
        }
        return previous;
    }

    /// Why a link's target `g` is no live block: outside the heap only a damaged word can point.
    fn whyNoBlock(self: *const Pool, g: u32) []const u8 {
        if (g < self.heap.heap_start or g >= self.heap.heap_end) return "outside the pool's heap (the word is damaged)";
        return "where no allocation starts (freed without unlinking?)";
    }

    /// The offset of the block the link word at byte `at` of the block at `parent` names (0: none).
    pub fn linked(self: *Pool, parent: u32, parent_id: u32, at: f64) Error!u32 {
        self.lock();
        defer self.unlock();
        const offset = try self.linkWordOffset(parent, parent_id, at);
        const stored = Media.load(self.linkWord(offset));
        const target = links.decode(stored) orelse return status.fail(error.InvalidPointer, "the word at byte {d} of allocation #{d} of PMEM pool '{s}' (0x{x:0>16}) is not a link written by link()", .{ at, parent_id, self.name, stored });
        if (target != 0 and self.heap.lookup(target) == null) {
            return status.fail(error.InvalidPointer, "the link at byte {d} of allocation #{d} of PMEM pool '{s}' names offset {d}, {s}", .{ at, parent_id, self.name, @as(u64, target) * granule_bytes, self.whyNoBlock(target) });
        }
        return target;
    }

    /// Makes the live block at `g` durable without a root or link: only the caller's own records
    /// can find it again (what no root reaches is listed by `unreachableOffsets`).
    pub fn commitUnpublished(self: *Pool, g: u32, expected_id: u32) Error!void {
        self.lock();
        defer self.unlock();
        _ = try self.liveBlock(g, expected_id, "commit");
        self.heap.commitRecord(g, self.heap.slotOf(g).?);
    }

    /// The offset of the block published as `name`, or 0 where there is no such root.
    pub fn getRoot(self: *Pool, name: []const u8) Error!u32 {
        try self.checkName(name);
        self.lock();
        defer self.unlock();
        const index = self.roots.find(name) orelse return 0;
        return self.roots.target(index);
    }

    /// The block published as `name`; where there is none, a new zero-filled block of `size` bytes
    /// is allocated and published, durably together (like pmemobj_root).
    pub fn root(self: *Pool, name: []const u8, size: u64) Error!u32 {
        try self.checkName(name);
        self.lock();
        defer self.unlock();
        if (self.roots.find(name)) |index| return self.roots.target(index);
        if (std.mem.indexOfScalar(u32, &self.roots.targets, 0) == null) return self.noRootSlot();
        const placed = try self.placeLocked(size);
        self.media.zeroPersist(@as(usize, placed.placed.g) * granule_bytes, @intCast(self.blockBytes(placed.placed)));
        const index = self.roots.prepare(&self.media, name).?;
        redo_log.commit(&self.media, &.{
            .{ .offset = self.heap.recordOffset(placed.placed.slot), .value = placed.placed.record.word() },
            .{ .offset = self.roots.targetOffset(index), .value = self.roots.targetWord(index, placed.placed.g) },
        }, .{ .header = &self.header });
        self.roots.noteTarget(index, placed.placed.g);
        self.stats.recordAlloc(size, self.blockBytes(placed.placed));
        return placed.placed.g;
    }

    /// The name of the `index`-th root in slot order, or null past the last.
    pub fn rootName(self: *Pool, index: usize) ?[]const u8 {
        self.lock();
        defer self.unlock();
        var seen: usize = 0;
        for (self.roots.targets, 0..) |target, slot| {
            if (target == 0) continue;
            if (seen == index) return self.roots.name(slot);
            seen += 1;
        }
        return null;
    }

    pub fn liveOffsets(self: *Pool, out: []u32) usize {
        self.lock();
        defer self.unlock();
        return self.heap.liveOffsets(out);
    }

    /// Like `liveOffsets`, for the live blocks no root reaches, directly or through links.
    pub fn unreachableOffsets(self: *Pool, out: []u32) Error!usize {
        self.lock();
        defer self.unlock();
        var reached = std.DynamicBitSetUnmanaged.initEmpty(self.gpa, self.heap.table.len) catch return outOfMemory();
        defer reached.deinit(self.gpa);
        links.markReachable(self.gpa, &self.heap, self.media.base, &self.roots.targets, &reached) catch return outOfMemory();
        const live = self.gpa.alloc(u32, self.heap.liveOffsets(&.{})) catch return outOfMemory();
        defer self.gpa.free(live);
        assert(self.heap.liveOffsets(live) == live.len);
        var count: usize = 0;
        for (live) |g| {
            if (reached.isSet(self.heap.slotOf(g).?)) continue;
            if (count < out.len) out[count] = g;
            count += 1;
        }
        return count;
    }

    /// Frees every allocation and removes every root, durably (roots first, so none is left dangling).
    pub fn reset(self: *Pool) Error!void {
        self.lock();
        defer self.unlock();
        self.roots.clear(&self.media);
        self.heap.reset() catch return outOfMemory();
        self.stats.recordReset();
    }

    /// Peaks start again from the figures now (stats.zig).
    pub fn resetPeaks(self: *Pool) void {
        self.lock();
        defer self.unlock();
        self.stats.resetPeaks(self.header.heap_bytes);
    }

    pub fn writeStats(self: *Pool, out: *[stats_mod.field_count]f64) void {
        self.lock();
        defer self.unlock();
        self.writeStatsLocked(out);
    }

    /// The heap's blocks and the pool's statistics at one moment (see snapshot.zig): one region,
    /// the whole heap (bytes a fixed-size layout cannot use show as no block). Whether it all fit.
    pub fn writeSnapshot(self: *Pool, out: snapshot.Output) Error!bool {
        self.lock();
        defer self.unlock();
        assert(self.heap.heap_end > self.heap.heap_start);
        const heap_region: Region = .{ .start = self.heap.heap_start, .len = self.heap.heap_end - self.heap.heap_start, .committed = true, .live_count = 0 };
        const ids: snapshot.Ids = .{ .last = self.last_id, .max = Heap.id_max, .pending = null };
        const fit = snapshot.write(self.gpa, &.{heap_region}, &self.heap.strategy, ids, null, out) catch return outOfMemory();
        self.writeStatsLocked(out.stats);
        return fit;
    }

    fn writeStatsLocked(self: *Pool, out: *[stats_mod.field_count]f64) void {
        const free_granules = self.heap.freeGranules();
        self.stats.write(.{
            .reserved = self.header.heap_bytes,
            .address_space = self.header.file_bytes,
            .regions = 1,
            .free = free_granules * granule_bytes,
            .largest_free = @min(free_granules, self.heap.largestFreeGranules()) * granule_bytes,
        }, out);
    }
};

/// Words that must change together, durably: a root or link, the record that publishes a block,
/// the record that frees one (redo_log.zig).
const Change = struct {
    entries: [redo_log.entries_max]redo_log.Entry = undefined,
    len: usize = 0,

    fn add(self: *Change, offset: u64, value: u64) void {
        assert(self.len < redo_log.entries_max);
        self.entries[self.len] = .{ .offset = offset, .value = value };
        self.len += 1;
    }
};

fn outOfMemory() Error {
    return status.fail(error.OutOfMemory, "no memory for a PMEM pool's bookkeeping", .{});
}
