//! A pool: an arena of regions from one backend, a placement over it (strategy/placement.zig,
//! fixed-size or TLSF under the pool's lock; or sync/'s lock-free and sharded placements), its
//! statistics record, and the lock its thread-safety setting asks for. The pool turns sizes in
//! bytes into granules and regions into growth; the placement only places blocks. Allocate, free,
//! lookup and the whole-pool operations go through the pool's Entry, which layers.zig composes
//! once, when the pool is made: lock, debug layer (debug/entry.zig, where a switch acts in the
//! core), statistics (counting.zig), placement. The NVTX annotations and stream-ordered frees of
//! GPU and pinned pools are gpu/pool_gpu.zig's. A PMEM pool is this pool over a mapped file
//! (backend/pmem_file.zig) with a journal (pmem/journal.zig) told of each placement and release
//! at the placement's seam: pmem/open.zig makes one. A "none" Variable pool's JavaScript bins
//! (sync/js_bins.zig; the pool's side of them, sync/pool_bins.zig) sit in front of its own
//! placement: its readers (release and lookup here; listing, snapshots and the figures elsewhere)
//! see a binned block as free and a block handed out again as its current allocation.
//! What is decided from figures alone lives beside it: the reservation (reservation.zig), the
//! largest request (request_limit.zig), the steps of growth (growth.zig); the debug layer's view
//! of the pool and what the C ABI asks that layer are debug/beneath.zig and debug/queries.zig.
//! What the pool does besides placing lives beside it too, reached through the names it keeps
//! (aliases): trim (trim.zig), its figures (pool_stats.zig), its snapshot and live list
//! (snapshot.zig), its failures' messages (pool_failures.zig), its GPU entry points
//! (gpu/pool_gpu.zig). No other file reads a field of Pool (test/zig_pool_fields.test.ts): they
//! ask through its methods.
const std = @import("std");
const build_options = @import("build_options");
const assert = std.debug.assert;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const backend_mod = @import("backend.zig");
const placement_mod = @import("strategy/placement.zig");
const placed_mod = @import("placed.zig");
const config_mod = @import("config.zig");
const Journal = @import("pmem/journal.zig").Journal;
const tlsf_mod = @import("strategy/tlsf.zig");
const request_limit = @import("request_limit.zig");
const reservation_mod = @import("reservation.zig");
const growth_mod = @import("growth.zig");
const os_refusal = @import("backend/os_refusal.zig");
const failOsRefused = @import("pool_failures.zig").failOsRefused;
const FreeResult = placement_mod.FreeResult;
const stats_mod = @import("stats.zig");
const layers = @import("layers.zig").Layers(Pool);
const snapshot = @import("snapshot.zig");
const pool_gpu = @import("gpu/pool_gpu.zig");
const PoolGpu = pool_gpu.PoolGpu;
const driver = @import("backend/cuda_driver.zig");
const SharedFixed = @import("sync/shared_fixed.zig").SharedFixed;
const ShardedVariable = @import("sync/sharded_variable.zig").ShardedVariable;
const js_bins = @import("sync/js_bins.zig");
const Bins = js_bins.Bins;
const Viewers = @import("sync/viewers.zig").Viewers;
const owner_check = @import("sync/owner_check.zig");
const DeviceArena = @import("backend/device_memory.zig").DeviceArena;
const status = @import("status.zig");
const Error = status.Error;
const Layer = @import("debug/layer.zig").Layer;

/// Whether this core was built with the debug layer (`zig build -Ddebug-layer=false` leaves it
/// out, to measure that a pool with every switch off costs the same as one without the code).
pub const debug_layer_built = build_options.debug_layer;

const granule_bytes = arena_mod.granule_bytes;
const ThreadSafety = config_mod.ThreadSafety;
const Config = config_mod.Config;

const Strategy = placement_mod.Placement;

/// Bytes of canary on each side of a GPU allocation (src/gpu_debug.ts places them): enough for the
/// kernels to find overruns, and a multiple of the alignment so user pointers stay aligned.
pub fn deviceCanaryBytes(alignment: u64) u64 {
    assert(std.math.isPowerOfTwo(alignment));
    return @max(64, alignment);
}

pub const Pool = struct {
    gpa: std.mem.Allocator,
    name: []u8,
    config: Config,
    arena: Arena,
    strategy: Strategy,
    stats: stats_mod.Stats,
    mutex: @import("sync/adaptive_mutex.zig").AdaptiveMutex = .{},
    alignment_granules: u32,
    /// The size growth goes on from: the next region is this x growth. It is the last region grown
    /// by the growth factor (the first region to start with); a region grown for one request larger
    /// than that is the request's own size and leaves the step as it was, and trim brings the step
    /// down to the largest region left, so what a pool commits follows what it needs.
    growth_step_bytes: u64 = 0,
    /// Each allocation gets the next id (never 0): a handle that frees by id cannot free a
    /// block that has since been freed by pointer and handed to someone else.
    last_id: u32 = 0,
    /// The debug layer, where a debug switch that acts in the core is on.
    debug: ?*Layer = null,
    /// GPU and pinned pools: NVTX annotations of regions and allocations (for compute-sanitizer),
    /// and blocks freed on a stream, held until that stream's work on them is done (gpu/pool_gpu.zig).
    gpu: PoolGpu = .{},
    /// lockFree and thread-cached pools: placement and counting that take no pool lock (sync/).
    shared: ?*SharedFixed = null,
    /// Variable pools that many threads use without the pool's lock (lockFree, threadLocalCache).
    sharded: ?*ShardedVariable = null,
    /// A "none" Variable pool's JavaScript bins, once its thread opened them (sync/js_bins.zig).
    bins: ?*Bins = null,
    /// The thread that created the pool: a "none" pool is that thread's alone (sync/owner_check.zig).
    owner_thread: std.Thread.Id,
    /// Threads that asked for the pool's base (to make views over it): decides whether destroy
    /// may unmap the memory (Arena.retireMapped).
    viewers: Viewers = .{},
    /// PMEM pools: the allocation table, roots, links and redo log in the file, told of each
    /// placement and release (pmem/journal.zig).
    journal: ?*Journal = null,
    /// Allocate, free and lookup as the pool's layers compose them, chosen once when it is made
    /// (layers.zig `choose`): no call tests which layers the pool has.
    entry: *const Entry = undefined,
    /// The largest request one allocation may have (`sizeMax`).
    size_max: u64 = 0,

    /// The stream an allocation is for (GPU pools; null for none).
    pub const Stream = driver.Stream;

    pub fn create(gpa: std.mem.Allocator, name: []const u8, config: Config) Error!*Pool {
        return createOver(gpa, name, config, try backend_mod.Backend.forKind(config.kind, config.device_id), null);
    }

    /// A pool over `backend` (owned from here on, also on failure). With a `journal` (owned too),
    /// the backend is a mapped file (`Backend.mappedBytes`): the arena takes it whole, its one
    /// region is the journal's, and the journal rebuilds the placement from the file.
    pub fn createOver(gpa: std.mem.Allocator, name: []const u8, config: Config, backend: backend_mod.Backend, journal: ?*Journal) Error!*Pool {
        assert(name.len > 0);
        assert((journal != null) == (backend.mappedBytes() != null));
        var backend_owned = true;
        defer if (backend_owned) backend.deinit();
        var journal_owned = journal != null;
        defer if (journal_owned) journal.?.destroy();
        const granularity = backend.granularity();
        const reservation = reservation_mod.plan(config, backend, deviceCanaryBytes(config.alignment));
        const reserve_bytes = reservation.bytes;
        const self = gpa.create(Pool) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        errdefer gpa.destroy(self);
        const owned_name = gpa.dupe(u8, name) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        errdefer gpa.free(owned_name);
        const least_bytes = reservation.least_bytes;
        os_refusal.forgetRefusal();
        var arena = Arena.initShrinking(gpa, backend, reserve_bytes, least_bytes) orelse {
            if (os_refusal.lastRefusal()) |refusal| if (refusal.atMapLimit()) return failOsRefused(name, least_bytes, 0, refusal);
            return status.fail(error.OutOfMemory, "could not reserve {d} bytes of {s} address space: the pools of this process hold all the address space they may (96 TiB, or three quarters of its limit, ulimit -v), or the OS refused; give pools a maxSize, or destroy some", .{ least_bytes, @tagName(config.kind) });
        };
        // The reservation is maxSize rounded up to the commit unit: regions commit whole units, but
        // hand out no byte past maxSize (a pool never holds more than its maxSize).
        if (config.max_size != 0 and backend.mappedBytes() == null) arena.limitUsable(@min(config.max_size, arena.reserved_bytes));
        const reserved_bytes = arena.reserved_bytes;
        backend_owned = false; // the arena releases it from here on
        journal_owned = false; // the pool (deinitParts) destroys it from here on
        const alignment_granules: u32 = @intCast(@max(1, config.alignment / granule_bytes));
        // Device memory is checked from TypeScript with the debug kernels (src/gpu_debug.ts): the
        // layer here reads and writes host memory, so a GPU pool takes only what the kernels do.
        const device_side = !arena.backend.hostAccessible();
        if (device_side and (config.debug.guard != null or config.debug.quarantine_bytes > 0)) {
            var doomed = arena;
            doomed.deinit();
            const setting = if (config.debug.guard != null) "guardPages" else "quarantineBytes";
            return status.failConfig(setting, "{s} acts on memory the CPU can reach; a GPU pool takes canaries, fillOnAlloc and fillOnFree (run by the debug kernels), trackHistory and leakReport", .{setting});
        }
        const layer: ?*Layer = if (debug_layer_built and config.debug.coreActive() and !device_side) blk: {
            if (config.debug.guard != null and !arena.backend.canProtect()) {
                var doomed = arena;
                doomed.deinit();
                return status.failConfig("guardPages", "guardPages needs memory whose pages can be protected; this pool's cannot", .{});
            }
            break :blk Layer.create(gpa, config.debug, config.alignment) catch {
                var doomed = arena;
                doomed.deinit();
                return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
            };
        } else null;
        // A fixed-size block holds the debug layer's canaries around blockSize user bytes (on a GPU,
        // the canaries TypeScript places: deviceCanaryBytes on each side).
        const block_bytes = if (layer) |debug|
            debug.strategyBlockBytes(config.block_size)
        else if (device_side and config.debug.canaries)
            config.block_size + 2 * deviceCanaryBytes(config.alignment)
        else
            config.block_size;
        self.* = .{
            .gpa = gpa,
            .name = owned_name,
            .config = config,
            .arena = arena,
            // A PMEM pool's placement lives in huge pages (pmem/dram.zig): recovery writes it all at once.
            .strategy = Strategy.init(if (journal) |j| j.table.gpa else gpa, config.strategy, if (journal) |j| j.table.stride else @intCast(std.mem.alignForward(u64, Config.granulesFor(block_bytes), alignment_granules))),
            .stats = .{ .enabled = config.collect_stats },
            .alignment_granules = alignment_granules,
            .debug = layer,
            .owner_thread = std.Thread.getCurrentId(),
            .gpu = PoolGpu.init(gpa, owned_name, config.kind == .gpu or config.kind == .pinned, arena.backend.wholeAllocation()),
            .journal = journal,
        };
        self.size_max = if (journal) |j| j.sizeMax() else switch (config.strategy) {
            .fixed_size => @min(self.arena.reserved_bytes, std.math.maxInt(u32)),
            // A region's start is aligned to its commit unit (64 KiB and more), so a request of
            // the whole reservation needs no padding: an empty pool at maxSize holds it.
            .variable => self.arena.reserved_bytes,
        };
        if (journal) |j| {
            self.recover(j) catch |err| {
                self.deinitParts();
                return err;
            };
            if (config.sharedFixed()) self.shareRecovered() catch |err| {
                self.deinitParts();
                return err;
            };
            self.entry = layers.choose(self);
            return self;
        }
        if (config.sharedFixed() and config.strategy == .variable) {
            self.sharded = ShardedVariable.create(gpa) catch |err| {
                self.deinitParts();
                return err;
            };
        } else if (config.placedShared()) {
            self.shared = SharedFixed.create(gpa, self.strategy.fixed_size.stride, granule_bytes, reserved_bytes, config.thread_safety == .lock_free, config.thread_local_cache, config.thread_safety == .none) catch |err| {
                self.deinitParts();
                return err;
            };
        }
        self.entry = layers.choose(self);
        const first_region_bytes = switch (self.strategy) {
            .fixed_size => |fixed| @max(config.initial_size, @as(u64, fixed.stride) * granule_bytes),
            .variable => config.initial_size,
        };
        const first_bytes = std.mem.alignForward(u64, first_region_bytes, granularity);
        // A block that maxSize cannot hold (blockSize with its canaries and alignment past it) is a
        // setting no pool can have, not memory that ran out: the core is the one place that knows
        // what a block takes, so it refuses here, before anything is committed. A Variable pool's
        // least block is a granule with its canaries: a maxSize below a granule (1 to 15 bytes)
        // would leave a first region of no granules, which no placement can take.
        const least_block_bytes = switch (self.strategy) {
            .fixed_size => |fixed| @as(u64, fixed.stride) * granule_bytes,
            .variable => granule_bytes + self.requestOverheadBytes(),
        };
        const fixed_first_too_large = config.strategy == .fixed_size and first_bytes > self.arena.reserved_bytes;
        const usable_bytes = self.arena.usable_bytes;
        if (config.max_size != 0 and (fixed_first_too_large or least_block_bytes > usable_bytes)) {
            self.deinitParts();
            return switch (config.strategy) {
                .fixed_size => status.failConfig("maxSize", "a FixedSize pool's block of {d} bytes takes {d} with its alignment and canaries, more than maxSize holds in whole granules ({d} bytes)", .{ config.block_size, least_block_bytes, usable_bytes }),
                .variable => status.failConfig("maxSize", "a Variable pool's least block takes {d} bytes (a granule of {d}, with its canaries), more than maxSize holds in whole granules ({d} bytes)", .{ least_block_bytes, granule_bytes, usable_bytes }),
            };
        }
        os_refusal.forgetRefusal();
        const first_index = self.grow(first_bytes) orelse {
            self.deinitParts();
            if (os_refusal.lastRefusal()) |refusal| return failOsRefused(name, config.initial_size, 0, refusal);
            return status.fail(error.OutOfMemory, "could not commit the initial {d} bytes of {s} memory", .{ config.initial_size, @tagName(config.kind) });
        };
        self.growth_step_bytes = self.arena.regionBytes(first_index);
        assert(self.arena.regions.items.len == 1);
        self.size_max = request_limit.largestRequestBytes(.{
            .first_region = self.arena.regions.items[0],
            .reserved_bytes = self.arena.reserved_bytes,
            .usable_bytes = self.arena.usable_bytes,
            .granularity = granularity,
            .grows = config.growth != 0,
            .fixed_stride = if (self.strategy == .fixed_size) self.strategy.fixed_size.stride else null,
            .alignment_granules = self.alignment_granules,
            .overhead_bytes = self.requestOverheadBytes(),
        });
        return self;
    }

    /// The bytes a block holds besides its request (the debug layer's canaries; see Layer.requestOverheadBytes).
    pub fn requestOverheadBytes(self: *const Pool) u64 {
        if (!debug_layer_built) return 0;
        return if (self.debug) |layer| layer.requestOverheadBytes() else 0;
    }

    /// The entry points of a pool's layers and what a placement did with a region trim offered
    /// it (layers.zig).
    pub const Entry = layers.Entry;
    pub const Removal = layers.Removal;

    /// A PMEM pool's first and only region is the heap of its file, its placement rebuilt from the
    /// journal's table, its statistics from what the table holds.
    fn recover(self: *Pool, journal: *Journal) Error!void {
        assert(self.arena.regions.items.len == 0);
        const start_bytes, const len_bytes = journal.regionBytes();
        const index = self.arena.adopt(start_bytes, len_bytes) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        const region = &self.arena.regions.items[index];
        const restored = try journal.recover(&self.strategy, region.*, &self.last_id);
        region.live_count = @intCast(restored.live_count);
        self.growth_step_bytes = len_bytes;
        self.stats.live_allocations = restored.live_count;
        self.stats.peak_live_allocations = restored.live_count;
        self.stats.bytes_in_use = restored.requested_bytes;
        self.stats.peak_bytes_in_use = restored.requested_bytes;
        self.stats.bytes_allocated = restored.block_bytes;
        self.stats.recordReserved(self.arena.committed_bytes);
    }

    /// A PMEM pool with threadSafety "lockFree" or threadLocalCache: the placement recovered into
    /// the pool's own strategy moves to the shared one (FixedSize) or the sharded one (Variable),
    /// which take no pool lock (pmem/shared_journal.zig), with the counts and ids recovery found.
    fn shareRecovered(self: *Pool) Error!void {
        assert(self.journal != null and self.shared == null and self.sharded == null and self.arena.regions.items.len == 1);
        if (self.config.strategy == .variable) return self.shardRecovered();
        const stride = self.strategy.fixed_size.stride;
        const shared = try SharedFixed.create(self.gpa, stride, granule_bytes, self.arena.reserved_bytes, self.config.thread_safety == .lock_free, self.config.thread_local_cache, false);
        self.shared = shared; // deinitParts destroys it
        const Recovered = struct {
            strategy: *const Strategy,
            pub fn lookup(recovered: @This(), g: u32) ?Live {
                return recovered.strategy.lookup(0, g);
            }
        };
        shared.fixed.restoreRegion(self.arena.regions.items[0], Recovered{ .strategy = &self.strategy }) catch
            return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        shared.counters.recordAllocs(self.stats.live_allocations, self.stats.bytes_in_use);
        shared.counters.peak_live.store(self.stats.live_allocations, .monotonic);
        shared.counters.peak_requested_bytes.store(self.stats.bytes_in_use, .monotonic);
        shared.last_id.store(self.last_id, .monotonic);
        // The pool's own strategy places nothing from here on: its bookkeeping goes.
        const strategy_gpa = self.journal.?.table.gpa;
        self.strategy.deinit();
        self.strategy = Strategy.init(strategy_gpa, .fixed_size, stride);
    }

    /// shareRecovered for a Variable pool: the recovered TLSF (its record indices, which the
    /// journal's table keys its slots by, unchanged) becomes the home shard of the sharded placement.
    fn shardRecovered(self: *Pool) Error!void {
        const sharded = try ShardedVariable.create(self.gpa);
        self.sharded = sharded; // deinitParts destroys it
        const strategy_gpa = self.journal.?.table.gpa;
        sharded.adopt(self.arena.regions.items[0], self.strategy.variable) catch
            return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        // The shard owns the recovered TLSF now: the pool's own strategy starts empty, and places nothing.
        self.strategy = Strategy.init(strategy_gpa, .variable, 0);
        sharded.counters.recordAllocs(self.stats.live_allocations, self.stats.bytes_in_use);
        sharded.counters.peak_live.store(self.stats.live_allocations, .monotonic);
        sharded.counters.peak_requested_bytes.store(self.stats.bytes_in_use, .monotonic);
        sharded.last_id.store(self.last_id, .monotonic);
    }

    /// Everything but the name and the record itself (create's failures free those by errdefer).
    fn deinitParts(self: *Pool) void {
        self.gpu.deinit();
        if (self.journal) |journal| journal.destroy();
        if (debug_layer_built) if (self.debug) |layer| layer.destroy();
        if (self.shared) |shared| shared.destroy();
        if (self.sharded) |sharded| sharded.destroy();
        if (self.bins) |bins| bins.retire(); // a JavaScript view of it may outlive the pool
        self.strategy.deinit();
        self.arena.deinit();
    }

    /// Called where a thread asks for the pool's base address to make views over its memory.
    pub fn noteViewer(self: *Pool) void {
        self.viewers.note();
    }

    // What the C ABI (ffi.zig) and the layers in other files ask of a pool, by what they need:
    // none of them reads a field of Pool (test/zig_pool_fields.test.ts).

    /// The pool's name, as it was made with it.
    pub inline fn poolName(self: *const Pool) []const u8 {
        assert(self.name.len > 0);
        return self.name;
    }

    /// The memory the pool is of (CPU, GPU, pinned, PMEM).
    pub inline fn memoryKind(self: *const Pool) backend_mod.Kind {
        return self.config.kind;
    }

    /// The address of the pool's granule 0: a block's address is this + its offset in bytes.
    pub inline fn base(self: *const Pool) u64 {
        assert(self.arena.base != 0);
        return self.arena.base;
    }

    /// The address of the block at granule offset `g`.
    pub inline fn address(self: *const Pool, g: u32) u64 {
        assert(@as(u64, g) * granule_bytes < self.arena.reserved_bytes);
        return self.arena.address(g);
    }

    /// The bytes of address space the pool reserved (its regions are committed inside them).
    pub inline fn addressSpaceBytes(self: *const Pool) u64 {
        assert(self.arena.committed_bytes <= self.arena.reserved_bytes);
        return self.arena.reserved_bytes;
    }

    /// The bytes the pool's regions hold (committed).
    pub inline fn committedBytes(self: *const Pool) u64 {
        assert(self.arena.committed_bytes <= self.arena.reserved_bytes);
        return self.arena.committed_bytes;
    }

    /// The committed bytes placements may hand out: all of them, but where the last region is cut
    /// short at maxSize (Arena.limitUsable), not what lies past it.
    pub inline fn placeableBytes(self: *const Pool) u64 {
        const bytes = self.arena.placeableBytes();
        assert(bytes <= self.arena.committed_bytes);
        return bytes;
    }

    /// The pool's regions, committed or not: for a placement that walks them (sync/), under the
    /// lock its growth takes.
    pub inline fn regionList(self: *const Pool) []const arena_mod.Region {
        return self.arena.regions.items;
    }

    /// The allocator of the pool's bookkeeping.
    pub inline fn allocator(self: *const Pool) std.mem.Allocator {
        return self.gpa;
    }

    /// Whether the CPU reaches the pool's memory (JavaScript views it): not device memory.
    pub inline fn hostAccessible(self: *const Pool) bool {
        return self.arena.backend.hostAccessible();
    }

    /// ThreadMisuse where the pool is threadSafety "none" and the calling thread did not make it
    /// (sync/owner_check.zig); else the pool is told its owner entered (`ownerEntered`).
    pub inline fn enterAsOwner(self: *Pool) Error!void {
        try owner_check.check(self.config.thread_safety == .none, self.owner_thread, self.name);
        self.ownerEntered();
    }

    /// A PMEM pool's journal (its file, roots and links), null for a pool of another kind.
    pub inline fn journalOf(self: *const Pool) ?*Journal {
        assert((self.journal != null) == (self.config.kind == .pmem));
        return self.journal;
    }

    /// The lock-free or thread-cached fixed-size placement (sync/shared_fixed.zig), where the pool has it.
    pub inline fn sharedFixed(self: *const Pool) ?*SharedFixed {
        assert(self.shared == null or self.sharded == null);
        return self.shared;
    }

    /// The sharded Variable placement (sync/sharded_variable.zig), where the pool has it.
    pub inline fn shardedVariable(self: *const Pool) ?*ShardedVariable {
        assert(self.shared == null or self.sharded == null);
        return self.sharded;
    }

    /// A block's alignment, in granules (a placement places at multiples of it).
    pub inline fn alignmentGranules(self: *const Pool) u32 {
        assert(self.alignment_granules > 0);
        return self.alignment_granules;
    }

    /// The pool's statistics record, for the statistics layer (counting.zig) and the placements
    /// that fill in their own counts (sync/): under the lock the pool's placement asks for.
    pub inline fn statsRecord(self: *Pool) *stats_mod.Stats {
        return &self.stats;
    }

    /// Every allocation was freed at once by a placement that takes no pool lock: an NVTX tool
    /// watching the pool is told (the pool's own placement tells it in `resetPlaced`).
    pub fn noteResetForTool(self: *Pool) void {
        assert(self.shared != null or self.sharded != null);
        self.gpu.reset();
    }

    /// The JavaScript bins (sync/js_bins.zig), once opened (`openBins`).
    pub inline fn binsOpened(self: *const Pool) ?*Bins {
        return self.bins;
    }

    /// The GPU side of the pool (gpu/pool_gpu.zig): NVTX annotations and stream-ordered frees.
    pub inline fn gpuSide(self: *Pool) *PoolGpu {
        return &self.gpu;
    }

    /// The entry points the pool's layers were composed into when it was made (layers.zig).
    pub inline fn layerEntry(self: *const Pool) *const Entry {
        return self.entry;
    }

    /// Whether the pool's memory is one allocation of its backend (nothing of it goes back before the pool does).
    pub inline fn isWholeAllocation(self: *const Pool) bool {
        return self.arena.backend.wholeAllocation() != null;
    }

    /// Growth goes on from what the pool holds: after trim, the step comes down to the largest region left.
    pub fn fitGrowthStepToRegions(self: *Pool) void {
        self.growth_step_bytes = @min(self.growth_step_bytes, self.arena.largestCommittedBytes());
        assert(self.growth_step_bytes > 0);
    }

    /// The pool's threadSafety setting.
    pub inline fn threadSafety(self: *const Pool) ThreadSafety {
        return self.config.thread_safety;
    }

    /// Whether the pool was made with leakReport (acted on in TypeScript; debug/thread_end_report.zig where a Worker's JavaScript cannot).
    pub inline fn reportsLeaks(self: *const Pool) bool {
        return self.config.debug.leak_report;
    }

    /// The thread a threadSafety "none" pool belongs to (it made it); null where any thread may use the pool.
    pub fn soleOwner(self: *const Pool) ?std.Thread.Id {
        return if (self.config.thread_safety == .none) self.owner_thread else null;
    }

    /// The pool's mutex, for the lock layer (sync/locking.zig) of a threadSafety "mutex" pool.
    pub inline fn poolMutex(self: *Pool) *@FieldType(Pool, "mutex") {
        return &self.mutex;
    }

    /// Whether the pool collects statistics (collectStats): its allocations may be timed.
    pub inline fn collectsStats(self: *const Pool) bool {
        return self.stats.enabled;
    }

    /// The index of the region that holds granule `g`, or arena.none.
    pub inline fn regionOf(self: *const Pool, g: u32) u32 {
        return self.arena.regionOf(g);
    }

    /// Whether a block waits for its stream (gpu/pool_gpu.zig): the pool's frees then check every id.
    pub inline fn streamFreesPending(self: *const Pool) bool {
        return self.gpu.pending();
    }

    /// A GPU pool's device memory (backend/device_memory.zig), null for a pool of another kind.
    pub fn deviceArena(self: *const Pool) ?*DeviceArena {
        assert((self.arena.backend == .device) == (self.config.kind == .gpu));
        return self.arena.backend.deviceMemory();
    }

    /// The CUDA device of a GPU or pinned pool.
    pub fn device(self: *const Pool) ?*@import("gpu/device.zig").Device {
        return self.arena.backend.cudaDevice();
    }

    /// The pool's GPU entry points beside placing (gpu/pool_gpu.zig).
    const OnDevice = pool_gpu.PoolDevice(Pool);
    pub const reclaimStreamFrees = OnDevice.reclaimStreamFrees;
    pub const freeOnStream = OnDevice.freeOnStream;
    pub const annotateAsDeviceVisible = OnDevice.annotateAsDeviceVisible;

    pub fn destroy(self: *Pool) void {
        const gpa = self.gpa;
        // What the journal defers becomes durable while the file is still mapped.
        if (self.journal) |journal| journal.finish();
        // Host and pinned memory: JavaScript views in other threads may reach it (pinned regions
        // are unregistered from the driver and given back as host regions are; the range stays).
        if (self.arena.backend.hostAccessible() and self.viewers.elsewhere()) self.arena.retireMapped();
        self.gpu.endStreams(self.device());
        self.deinitParts();
        gpa.free(self.name);
        gpa.destroy(self);
    }

    /// Called by the registry once the pool has its handle.
    pub fn published(self: *Pool, handle: i32) void {
        if (self.shared) |shared| shared.handle = handle;
    }

    /// The pool's lock, for layers whose operations span several steps (pmem/journal.zig).
    pub inline fn lock(self: *Pool) void {
        if (self.locksJournal()) self.mutex.lock();
    }

    pub inline fn unlock(self: *Pool) void {
        if (self.locksJournal()) self.mutex.unlock();
    }

    /// Whether `lock` takes the mutex: a "mutex" pool's, and a "lockFree" PMEM pool's, whose
    /// placement takes no lock but whose journal serialises (pmem/shared_journal.zig).
    inline fn locksJournal(self: *const Pool) bool {
        return self.config.thread_safety == .mutex or (self.config.thread_safety == .lock_free and self.journal != null);
    }

    /// Largest request a single allocation of this pool could ever satisfy. A fixed-size pool
    /// serves a request over its block size with a run of blocks; the strategy keeps a request's
    /// size in 32 bits.
    pub inline fn sizeMax(self: *const Pool) u64 {
        assert(self.size_max > 0);
        return self.size_max;
    }

    /// An allocation as the pool hands it out (placed.zig).
    pub const Placed = placed_mod.Placed;
    pub const flag_guarded = placed_mod.flag_guarded;

    /// Allocation ids stay below this: the C ABI flags a guarded allocation in the id's top bit.
    pub const id_max = placed_mod.id_max;

    /// A block of at least `size` bytes for work on `stream` (null for none): its granule offset
    /// and its allocation id. An NVTX tool that watches the pool is told of it (gpu/pool_gpu.zig).
    pub inline fn alloc(self: *Pool, size: u64, stream: driver.Stream) Error!Placed {
        return self.allocInRange("memory-pool: allocate", size, stream);
    }

    /// `alloc` for work on `stream`, in an NVTX range of its own name.
    pub inline fn allocOnStream(self: *Pool, size: u64, stream: driver.Stream) Error!Placed {
        return self.allocInRange("memory-pool: allocate on stream", size, stream);
    }

    /// The one place a call's allocation is wrapped for an NVTX tool: a range named `range_name`
    /// around it (where ranges are on), and the block told to the tool (where one watches).
    inline fn allocInRange(self: *Pool, comptime range_name: [:0]const u8, size: u64, stream: driver.Stream) Error!Placed {
        const range = self.gpu.range(range_name);
        defer range.end();
        try self.checkSize(size);
        const placed = try self.entry.alloc(self, size, stream);
        assert(placed.id <= id_max);
        self.gpu.allocated(self.arena.address(placed.g), size, placed.id);
        return placed;
    }

    /// InvalidSize where no allocation of the pool may have `size` bytes.
    pub inline fn checkSize(self: *const Pool, size: u64) Error!void {
        if (size == 0 or size > self.sizeMax()) return self.refuseSize(@floatFromInt(size));
    }

    /// InvalidSize for a request of `size` bytes that no allocation of the pool may have, naming
    /// the pool's limit; `size` as JavaScript gave it (a whole number, however large).
    pub fn refuseSize(self: *const Pool, size: f64) Error {
        assert(size == @floor(size) and !(size >= 1 and size <= @as(f64, @floatFromInt(self.sizeMax()))));
        // From 1e21 in exponent form, as JavaScript writes such a number (not 300 digits).
        if (size >= 1e21) return status.fail(error.InvalidSize, "cannot allocate {e} bytes from pool '{s}': sizes run from 1 to {d}", .{ size, self.name, self.sizeMax() });
        return status.fail(error.InvalidSize, "cannot allocate {d} bytes from pool '{s}': sizes run from 1 to {d}", .{ size, self.name, self.sizeMax() });
    }

    /// `alloc` for the journal, which holds the pool's lock (pmem/journal.zig root()); counted,
    /// not timed (a root's allocation is timed with the journal's durable writes around it).
    pub fn allocLocked(self: *Pool, size: u64) Error!Placed {
        assert(self.journal != null);
        try self.checkSize(size);
        return layers.allocHeld(self, size);
    }

    /// Places a block of `block_bytes` for `size` bytes whose record the journal keeps (PMEM): the
    /// journal is told before and after (the statistics layer counts a failure).
    pub fn placeRecorded(self: *Pool, journal: *Journal, block_bytes: u64, size: u64, id: u32) Error!u32 {
        try journal.reserve(&self.strategy, self.name);
        const g = self.place(block_bytes, size, id) orelse
            return journal.failNoRoom(self.name, size, self.strategy.freeSpace(self.alignment_granules)[0] * granule_bytes);
        journal.notePlaced(&self.strategy, g);
        return g;
    }

    pub inline fn nextId(self: *Pool) u32 {
        self.last_id = if (self.last_id == id_max) 1 else self.last_id + 1;
        return self.last_id;
    }

    /// Why the pool refused (pool_failures.zig).
    const Failures = @import("pool_failures.zig").PoolFailures(Pool);
    pub const failPlace = Failures.failPlace;
    pub const reservableBytes = Failures.reservableBytes;
    pub const failRefused = Failures.failRefused;
    pub const failOutside = Failures.failOutside;
    pub const failStaleId = Failures.failStaleId;

    /// Counts a block placed at `block_g` in its region (trim gives back only empty regions).
    pub inline fn notePlacedIn(self: *Pool, block_g: u32) void {
        self.arena.regions.items[self.arena.regionOf(block_g)].live_count += 1;
    }

    /// Bytes the strategy sets aside for a block of `block_bytes`.
    pub inline fn blockBytes(self: *const Pool, block_bytes: u64) u64 {
        return self.strategy.blockBytes(block_bytes);
    }

    /// Places a block of `block_bytes` that holds an allocation of `requested` bytes, growing
    /// the arena once if the strategy finds no room. Inline, with the strategy's own code inlined
    /// into it: with two callers (the plain path and the debug layer) the compiler would
    /// otherwise make calls of them, and the plain path would pay for the debug layer's presence.
    pub inline fn place(self: *Pool, block_bytes: u64, requested: u64, id: u32) ?u32 {
        if (self.tryPlace(block_bytes, requested, id)) |g| return g;
        if (self.gpu.pending()) {
            // Blocks still owned by streams: wait for them before asking the device for more.
            self.gpu.reclaim(self, null, true);
            if (self.tryPlace(block_bytes, requested, id)) |g| return g;
        }
        const growth_step_bytes = self.growth_step_bytes;
        const region_index = self.growForReleasing(self.regionBytesFor(block_bytes)) orelse return null;
        if (self.tryPlace(block_bytes, requested, id)) |g| return g;
        // Only the strategy's bookkeeping can fail here: give the region back, as it was before.
        self.ungrow(region_index, growth_step_bytes);
        return null;
    }

    /// The bytes a new region needs so the strategy is sure to place `block_bytes` in it.
    pub fn regionBytesFor(self: *const Pool, block_bytes: u64) u64 {
        return self.strategy.regionBytesFor(block_bytes, self.alignment_granules);
    }

    inline fn tryPlace(self: *Pool, block_bytes: u64, requested: u64, id: u32) ?u32 {
        return self.strategy.place(&self.arena, block_bytes, requested, id, self.alignment_granules);
    }

    /// growFor; and where the pool cannot grow (at its maxSize) while regions of it hold nothing
    /// (free blocks do not merge across regions, so a pool all free could refuse a request under its
    /// maxSize), gives those back, as trim() does, and grows in the room they leave, as PyTorch's
    /// caching allocator frees its cached segments and retries. Where trim() may run: under the
    /// pool's lock, every free block where trim finds it (a shared pool's on its stack). Only where
    /// what they leave holds the new region: else they would go back for nothing.
    /// Before it grows at all, it gives the empty regions back where the ranges regions took before
    /// (empty ones and those given back) hold the new region: else a buffer grown by allocating a
    /// larger one and freeing the old (realloc's pattern) left every old size behind in an empty
    /// region, and the pool held the sum of all sizes (32 steps of 1 MiB: 528 MiB, for 32 MiB live).
    pub fn growForReleasing(self: *Pool, needed_bytes: u64) ?u32 {
        if (self.config.growth == 0 or !Trimming.trims(self)) return self.growFor(needed_bytes);
        const aligned_bytes = std.mem.alignForward(u64, needed_bytes, self.arena.backend.granularity());
        if (self.hasEmptyRegion() and self.arena.longestRangeFreeOfLiveWithin(self, regionEmpty) >= aligned_bytes) _ = Trimming.releaseEmptyRegions(self);
        if (self.growFor(needed_bytes)) |index| return index;
        if (self.arena.longestRangeFreeOfLive(self, regionEmpty) < aligned_bytes) return null;
        if (Trimming.releaseEmptyRegions(self) == 0) return null;
        return self.growFor(needed_bytes);
    }

    /// Whether a committed region but the first holds no live block (one trim() could give back).
    fn hasEmptyRegion(self: *Pool) bool {
        assert(self.arena.regions.items.len > 0); // the first region is the pool's for its life
        for (self.arena.regions.items[1..], 1..) |region, index| {
            if (region.committed and self.regionEmpty(@intCast(index), region)) return true;
        }
        return false;
    }

    /// Whether committed region `index` holds no live block (a shared placement's regions keep no
    /// count: its blocks' states say).
    fn regionEmpty(self: *Pool, _: u32, region: arena_mod.Region) bool {
        if (self.shared) |shared| return shared.fixed.regionFree(region);
        if (self.sharded) |sharded| return sharded.regionFree(region);
        return region.live_count == 0;
    }

    /// Adds a region of at least `needed_bytes` (see `regionBytesFor`); returns its index, or
    /// null at maxSize, with growth off, or when the OS refuses, having committed nothing.
    /// Under the pool's lock, or a shared pool's growth lock.
    pub fn growFor(self: *Pool, needed_bytes: u64) ?u32 {
        os_refusal.forgetRefusal(); // the failure message then names only this growth's refusal
        const room = self.arena.reserved_bytes - self.arena.committed_bytes;
        const next = growth_mod.plan(self.config.growth, self.growth_step_bytes, needed_bytes, room, self.arena.backend.granularity()) orelse return null;
        const index = if (self.grow(next.bytes)) |index| blk: {
            if (next.steps) self.growth_step_bytes = next.bytes;
            break :blk index;
        } else self.grow(next.fallback orelse return null) orelse return null;
        self.stats.growth_count += 1;
        return index;
    }

    fn grow(self: *Pool, len_bytes: u64) ?u32 {
        const index = self.arena.grow(len_bytes) orelse return null;
        const region = self.arena.regions.items[index];
        if (self.config.strategy == .fixed_size and region.len < self.strategy.fixed_size.stride) {
            self.arena.shrink(index); // cut short at maxSize (Arena.limitUsable): no block fits in it
            return null;
        }
        self.entry.addRegion(self, index, region) catch {
            self.arena.shrink(index);
            return null;
        };
        self.gpu.regionAdded(self.arena.address(region.start), self.arena.regionBytes(index));
        self.stats.recordReserved(self.arena.committed_bytes);
        return index;
    }

    /// Gives a newly committed region to the pool's own placement (layers.zig Locked).
    pub fn addRegionPlaced(self: *Pool, index: u32, region: arena_mod.Region) error{OutOfMemory}!void {
        assert(self.shared == null and self.sharded == null);
        return self.strategy.addRegion(index, region);
    }

    /// Takes the empty region `index` from the pool's own placement, or the debug layer's guard
    /// regions (layers.zig Locked, for trim).
    pub fn removeRegionPlaced(self: *Pool, index: u32, region: arena_mod.Region) Removal {
        assert(region.committed and region.live_count == 0);
        switch (region.owner) {
            .strategy => self.strategy.removeRegion(index, region),
            .guard => if (debug_layer_built) self.debug.?.removeGuardRegion(region) else unreachable,
        }
        return .removed;
    }

    /// Undoes `growFor` of the region `index`, still empty, of a pool placing under its lock.
    fn ungrow(self: *Pool, index: u32, growth_step_bytes: u64) void {
        assert(self.shared == null and self.sharded == null);
        const region = self.arena.regions.items[index];
        assert(region.committed and region.live_count == 0 and region.owner == .strategy);
        self.strategy.removeRegion(index, region);
        self.arena.shrink(index);
        self.stats.growth_count -= 1;
        self.growth_step_bytes = growth_step_bytes;
    }

    /// Frees the block at `g`. With `expected_id` not 0, only if the block still holds that allocation.
    /// Returns whether the allocation had guard pages (so TypeScript knows to detach its views).
    /// An NVTX tool that watches the pool is told of the free (gpu/pool_gpu.zig).
    pub inline fn free(self: *Pool, g: u32, expected_id: u32) Error!bool {
        const range = self.gpu.range("memory-pool: free");
        defer range.end();
        const guarded = try self.entry.free(self, g, expected_id);
        self.gpu.freed(self.arena.address(g));
        return guarded;
    }

    /// DoubleFree where the block at `g` waits for its stream, or holds another allocation than `expected_id` (not 0).
    pub fn checkId(self: *Pool, comptime binned: bool, region_index: u32, g: u32, expected_id: u32) Error!void {
        const live_id = if (self.lookupLocked(binned, region_index, g)) |block| block.id else 0;
        try PoolGpu.checkNotPending(live_id, g, self.name);
        if (expected_id != 0 and live_id != expected_id) return self.failStaleId(g, expected_id, live_id);
    }

    /// Gives the block at `g` back to the placement; `journaled`: the journal is told.
    pub inline fn releaseBlock(self: *Pool, comptime journaled: bool, comptime binned: bool, region_index: u32, g: u32) Error!Freed {
        if (journaled) return self.freeRecorded(self.journal.?, binned, region_index, g);
        return self.failUnlessFreed(self.release(binned, region_index, g), g);
    }

    /// Frees a block whose record the journal keeps (PMEM): the journal is told before and after.
    fn freeRecorded(self: *Pool, journal: *Journal, comptime binned: bool, region_index: u32, g: u32) Error!Freed {
        try journal.beforeRelease(self, g);
        const freed = try self.failUnlessFreed(self.release(binned, region_index, g), g);
        journal.released(g, freed.record); // under the lock still: durable before the space is placed again
        journal.dropLinkWords(g, freed.requested_bytes);
        return freed;
    }

    /// Frees the block at `g` for a layer that holds the pool's lock (pmem/journal.zig
    /// freePrevious, the GPU side's stream frees): counted, not timed.
    pub fn freeLockedAt(self: *Pool, g: u32) Error!void {
        return layers.freeHeld(self, g);
    }

    /// What the debug layer may use of the pool it stands in front of (debug/beneath.zig).
    pub const Beneath = @import("debug/beneath.zig").Beneath(Pool);

    pub fn beneath(self: *Pool) Beneath {
        assert(self.debug != null);
        return .{ .pool = self };
    }

    /// The arena, for the debug layer's guarded pages (Beneath), under the pool's lock.
    pub inline fn arenaHeld(self: *Pool) *Arena {
        return &self.arena;
    }

    /// The debug layer, where a debug switch that acts in the core is on.
    pub inline fn debugLayer(self: *const Pool) ?*Layer {
        return self.debug;
    }

    /// Whether granule `g` lies in a region of the debug layer's guarded allocations.
    pub inline fn inGuardRegion(self: *const Pool, g: u32) bool {
        assert(self.debug != null);
        const region_index = self.arena.regionOf(g);
        return region_index != arena_mod.none and self.arena.regions.items[region_index].owner == .guard;
    }

    /// The live allocation at `g`, for a layer that holds the pool's lock.
    pub fn liveLocked(self: *Pool, g: u32) ?Live {
        if (self.shared != null) return SharedFixed.Interface(Pool).lookup(self, g); // a PMEM pool's (journal.zig liveSlot)
        if (self.sharded != null) return ShardedVariable.Interface(Pool).lookup(self, g); // a PMEM pool's (pmem/shared_journal.zig)
        const region_index = self.arena.regionOf(g);
        if (region_index == arena_mod.none) return null;
        return if (self.bins != null) self.lookupLocked(true, region_index, g) else self.lookupLocked(false, region_index, g);
    }

    /// The placement, for a layer that holds the pool's lock and keeps data by block (the journal's table).
    pub fn placementLocked(self: *const Pool) *const Strategy {
        return &self.strategy;
    }

    /// Sets the id of the live block at `g`, for the stream frees' pending id; the caller holds the lock.
    pub fn setIdLocked(self: *Pool, g: u32, id: u32) void {
        const region_index = self.arena.regionOf(g);
        assert(region_index != arena_mod.none);
        self.leaveBinsLocked(g); // its id is the core's from now on, and so is its free
        self.strategy.setId(region_index, g, id);
    }

    /// Gives the block at `g` back to the strategy; counts it out of its region if it was live.
    /// `binned`: JavaScript's bins stand in front of the placement (the pool's entry says so, chosen
    /// as they open: layers.zig `choose`), so that no pool without them asks on every free.
    pub inline fn release(self: *Pool, comptime binned: bool, region_index: u32, g: u32) FreeResult {
        self.assertBinned(binned);
        // A block the JavaScript bins hold is free already; one they handed out is freed as its current allocation.
        const binned_live: ?u32 = if (binned) switch (self.bins.?.find(g)) {
            .none => null,
            .binned => return .double_free,
            .live => |slot| slot,
        } else null;
        // Inlined for the same reason as `place`.
        var result = self.strategy.free(region_index, g);
        if (result == .freed) {
            const region = &self.arena.regions.items[region_index];
            assert(region.live_count > 0);
            region.live_count -= 1;
            if (binned_live) |slot| {
                result.freed.id = self.bins.?.shared.slots[slot].state;
                self.bins.?.releasedLive(slot);
            }
        }
        return result;
    }

    pub const Freed = @typeInfo(FreeResult).@"union".fields[0].type;

    /// The freed block, or the error that says why `g` named none. Inline, with the errors out of
    /// line, so the hot path is one test of the result's tag.
    pub inline fn failUnlessFreed(self: *const Pool, result: FreeResult, g: u32) Error!Freed {
        return switch (result) {
            .freed => |freed| freed,
            else => Failures.failBadFree(self, result, g),
        };
    }

    pub const Live = @import("strategy/tlsf.zig").Tlsf.Live;

    /// The live allocation whose first byte is at `g`, or null where none is.
    pub fn lookup(self: *Pool, g: u32) ?Live {
        return self.entry.lookup(self, g);
    }

    /// The live block that starts at `g` in the strategy's region `region_index`; `binned` as for `release`.
    pub fn lookupLocked(self: *Pool, comptime binned: bool, region_index: u32, g: u32) ?Live {
        self.assertBinned(binned);
        const live = self.strategy.lookup(region_index, g) orelse return null;
        if (!binned) return live;
        const bins = self.bins.?;
        return switch (bins.find(g)) {
            .none => live,
            .binned => null, // free, held by this thread's JavaScript bins
            .live => |slot| .{ .granules = live.granules, .requested_bytes = bins.shared.slots[slot].requested, .id = bins.shared.slots[slot].state },
        };
    }

    /// Whether JavaScript's bins stand in front of the placement is what the caller's entry chose
    /// (`binned`). Checked in Debug builds (the Zig tests) alone: in the library's ReleaseSafe build
    /// the check would be the very load and branch per call the choice saves (callgrind: 10-18
    /// instructions of 1300 an allocate + free pair, bench/RESULTS.md).
    inline fn assertBinned(self: *const Pool, comptime binned: bool) void {
        if (@import("builtin").mode == .Debug) assert(binned == (self.bins != null));
    }

    /// The pool's owner enters the core: where JavaScript's bins hand blocks out, what their hits
    /// since the last call reached goes into the peaks before this call changes the pool's figures
    /// (sync/js_bins.zig `foldPeaks`).
    pub inline fn ownerEntered(self: *Pool) void {
        if (self.bins) |bins| bins.foldPeaks(&self.stats);
    }

    /// Whether the pool places and frees blocks without its lock (sync/shared_fixed.zig; for a PMEM
    /// pool, pmem/shared_journal.zig): the lock orders none of its allocations and frees.
    pub fn placesWithoutLock(self: *const Pool) bool {
        return self.shared != null or self.sharded != null;
    }

    /// The pool's side of its JavaScript bins (sync/pool_bins.zig).
    const BinsAtPool = @import("sync/pool_bins.zig").PoolBins(Pool);
    pub const openBins = BinsAtPool.openBins;
    pub const allocBinned = BinsAtPool.allocBinned;
    pub const flushBins = BinsAtPool.flushBins;
    pub const leaveBinsLocked = BinsAtPool.leaveBinsLocked;
    pub const hasBins = BinsAtPool.hasBins;
    pub const binsHolderLocked = BinsAtPool.binsHolderLocked;

    /// The JavaScript bins `openBins` made stand in front of the placement from now on. Timed as
    /// the fixed-size pools' JavaScript cache is: not at all. Most allocations and frees are hits
    /// that never enter the core, and a timing of the misses alone (the slowest) would say nothing
    /// of the pool's.
    pub fn adoptBins(self: *Pool, bins: *Bins) void {
        assert(self.bins == null and self.shared == null and self.sharded == null);
        self.bins = bins;
        self.stats.dropTimings();
        self.entry = layers.choose(self);
    }

    /// The address of the last allocation id (a u32), which JavaScript's bins count ids on.
    pub fn lastIdAddress(self: *Pool) usize {
        return @intFromPtr(&self.last_id);
    }

    /// The settings the pool was made with.
    pub inline fn settings(self: *const Pool) *const Config {
        return &self.config;
    }

    /// The placement, for a layer that holds the pool's lock and writes a block's record (a block
    /// that leaves JavaScript's bins).
    pub fn placementHeld(self: *Pool) *Strategy {
        return &self.strategy;
    }

    pub fn reset(self: *Pool) Error!void {
        const range = self.gpu.range("memory-pool: reset");
        defer range.end();
        return self.entry.reset(self);
    }

    /// Every block of the pool's own placement free again, under its lock (layers.zig Locked:
    /// the statistics layer counts the reset).
    pub fn resetPlaced(self: *Pool) Error!void {
        assert(self.shared == null and self.sharded == null);
        self.gpu.reclaim(self, null, true);
        if (self.journal) |journal| journal.reset();
        if (self.bins) |bins| bins.reset();
        for (self.arena.regions.items) |*region| region.live_count = 0;
        self.strategy.reset(self.arena.regions.items) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        if (debug_layer_built) if (self.debug) |layer| layer.reset(self.beneath()) catch return status.fail(error.OutOfMemory, "no memory for the pool's bookkeeping", .{});
        self.gpu.reset();
    }

    /// Trim (trim.zig): empty regions but the first go back to the OS.
    const Trimming = @import("trim.zig").Trim(Pool);
    pub const trim = Trimming.trim;

    pub fn writeStats(self: *Pool, out: *[stats_mod.field_count]f64) void {
        self.entry.writeStats(self, out);
    }

    /// The pool's regions, blocks and statistics at one moment (see snapshot.zig); whether
    /// every record fit in `out`.
    pub fn writeSnapshot(self: *Pool, out: snapshot.Output) Error!bool {
        return self.entry.writeSnapshot(self, out);
    }

    /// Peaks (bytes in use, live allocations, bytes reserved) start again from the figures now.
    pub fn resetPeaks(self: *Pool) void {
        self.entry.resetPeaks(self);
    }

    /// The pool's figures as the statistics layer asks for them (pool_stats.zig).
    const Figures = @import("pool_stats.zig").PoolStats(Pool);
    pub const spaceWith = Figures.spaceWith;
    pub const resetRecordPeaks = Figures.resetRecordPeaks;
    pub const spaceLocked = Figures.spaceLocked;
    pub const writeStatsLocked = Figures.writeStatsLocked;
    pub const correctFiguresLocked = Figures.correctFiguresLocked;
    pub const correctPeaksLocked = Figures.correctPeaksLocked;

    /// `writeSnapshot` of the pool's own placement, under its lock (layers.zig Locked; snapshot.zig).
    pub fn writeSnapshotPlaced(self: *Pool, out: snapshot.Output) Error!bool {
        return snapshot.writePlaced(self, out);
    }

    /// The id of the pool's latest allocation (0 before the first).
    pub inline fn lastId(self: *const Pool) u32 {
        assert(self.last_id <= id_max);
        return self.last_id;
    }


    /// The strategy's live blocks, by their first granule (not the user's, under the debug layer).
    pub const LiveBlocks = Strategy.LiveBlocks;

    pub fn liveBlocks(self: *const Pool) LiveBlocks {
        return self.strategy.liveBlocks();
    }

    /// Writes the offsets of live allocations (their first bytes) into `out`, as many as fit;
    /// returns how many there are.
    pub fn listLive(self: *Pool, out: []u32) u32 {
        // Pools that place their blocks without the pool's lock keep them apart from `strategy`
        // (which holds none of theirs): their placements list them. Listing `strategy` for them
        // gave no live allocation, so getLeaks() and leak reports found none.
        return self.entry.listLive(self, out);
    }

    /// `listLive` of the pool's own placement, under its lock (layers.zig Locked; snapshot.zig).
    pub const listLiveLocked = snapshot.listLivePlaced;

};

const testConfig = config_mod.testConfig;

test "a variable pool grows to maxSize, then fails, then trims" {
    const pool = try Pool.create(std.testing.allocator, "t", testConfig(.variable));
    defer pool.destroy();
    var offsets: [4]u32 = undefined;
    for (&offsets) |*g| g.* = (try pool.alloc(60 * 1024, null)).g;
    try std.testing.expectError(error.OutOfMemory, pool.alloc(60 * 1024, null));
    try std.testing.expectEqual(@as(u64, 1), pool.stats.failed_allocations);
    for (offsets) |g| _ = try pool.free(g, 0);
    try std.testing.expectError(error.DoubleFree, pool.free(offsets[0], 0));
    try std.testing.expectEqual(@as(u64, 3 * 64 * 1024), pool.trim());
    try std.testing.expectEqual(@as(u64, 64 * 1024), pool.arena.committed_bytes);
    _ = try pool.alloc(60 * 1024, null);
}

test "a pool about to grow gives its empty regions back first where their room holds the new region (a buffer resized larger each time)" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        var config = testConfig(strategy);
        config.max_size = 0;
        const pool = try Pool.create(std.testing.allocator, "resized", config);
        defer pool.destroy();
        const KiB = 1024;
        const a = try pool.alloc(100 * KiB, null); // a region of 128 KiB
        const b = try pool.alloc(150 * KiB, null); // 192 KiB
        _ = try pool.free(a.g, a.id);
        const c = try pool.alloc(200 * KiB, null); // 256 KiB: the empty 128 KiB region is too small a room, and stays
        try std.testing.expectEqual(@as(u64, 0), pool.stats.bytes_trimmed);
        try std.testing.expectEqual(@as(u64, (64 + 128 + 192 + 256) * KiB), pool.arena.committed_bytes);
        _ = try pool.free(b.g, b.id);
        const d = try pool.alloc(300 * KiB, null); // the two empty regions, side by side, hold its 320 KiB: they go back
        try std.testing.expectEqual(@as(u64, (128 + 192) * KiB), pool.stats.bytes_trimmed);
        try std.testing.expectEqual(@as(u64, (64 + 256 + 320) * KiB), pool.arena.committed_bytes);
        _ = try pool.free(c.g, c.id);
        _ = try pool.free(d.g, d.id);
    }
}

test "growth: each region growth x the step; a larger request its own size, the step unchanged; trim brings the step down to what is left" {
    for ([_]config_mod.StrategyKind{ .variable, .fixed_size }) |strategy| {
        var config = testConfig(strategy);
        config.max_size = 0;
        config.growth = 2;
        const pool = try Pool.create(std.testing.allocator, "growth", config);
        defer pool.destroy();
        const KiB = 1024;
        try std.testing.expectEqual(@as(u64, 64 * KiB), pool.growth_step_bytes);
        const expected = [_]struct { u64, u64, u64 }{
            // asked, region grown, committed after
            .{ 1, 128 * KiB, 192 * KiB },
            .{ 10 << 20, 10 << 20, (10 << 20) + 192 * KiB }, // one large request: its size
            .{ 1, 256 * KiB, (10 << 20) + 448 * KiB }, // and the step goes on from 128 KiB, not 10 MiB
        };
        for (expected) |row| {
            const index = pool.growFor(row[0]).?;
            try std.testing.expectEqual(row[1], pool.arena.regionBytes(index));
            try std.testing.expectEqual(row[2], pool.arena.committed_bytes);
        }
        try std.testing.expectEqual(@as(u64, 256 * KiB), pool.growth_step_bytes);
        try std.testing.expectEqual((10 << 20) + 384 * KiB, pool.trim());
        try std.testing.expectEqual(@as(u64, 64 * KiB), pool.growth_step_bytes);
        // Grown again, the pool starts from its first region, in the range trim freed.
        const index = pool.growFor(1).?;
        try std.testing.expectEqual(@as(u64, 128 * KiB), pool.arena.regionBytes(index));
        try std.testing.expectEqual(@as(u64, 192 * KiB), pool.arena.committed_bytes);
        try std.testing.expectEqual(@as(u64, 4), pool.stats.growth_count);
    }
}

test "a fixed pool serves a block, refuses sizes past its reservation, and resets" {
    const pool = try Pool.create(std.testing.allocator, "f", testConfig(.fixed_size));
    defer pool.destroy();
    try std.testing.expectError(error.InvalidSize, pool.alloc(256 * 1024 + 1, null));
    try std.testing.expectError(error.InvalidSize, pool.alloc(0, null));
    const placed = try pool.alloc(100, null);
    const g = placed.g;
    try std.testing.expectEqual(@as(u64, 100), pool.lookup(g).?.requested_bytes);
    try std.testing.expectError(error.InvalidPointer, pool.free(g + 1, 0));
    try pool.reset();
    try std.testing.expectError(error.DoubleFree, pool.free(g, 0));
    const again = try pool.alloc(10, null);
    try std.testing.expectEqual(g, again.g); // the same block, a new allocation
    try std.testing.expectError(error.DoubleFree, pool.free(g, placed.id));
    _ = try pool.free(g, again.id);
    try std.testing.expectEqual(@as(u64, 0), pool.stats.live_allocations);
}

test "a size past the limit names it, however large: 2^53 as digits, 1e300 in exponent form, and checkSize's the same" {
    const pool = try Pool.create(std.testing.allocator, "huge", testConfig(.fixed_size));
    defer pool.destroy();
    var expected: [160]u8 = undefined;
    try std.testing.expectEqual(error.InvalidSize, pool.refuseSize(0x1p53));
    try std.testing.expectEqualStrings(try std.fmt.bufPrint(&expected, "cannot allocate 9007199254740992 bytes from pool 'huge': sizes run from 1 to {d}", .{pool.sizeMax()}), status.lastMessage());
    try std.testing.expectEqual(error.InvalidSize, pool.refuseSize(1e300));
    try std.testing.expectEqualStrings(try std.fmt.bufPrint(&expected, "cannot allocate 1e300 bytes from pool 'huge': sizes run from 1 to {d}", .{pool.sizeMax()}), status.lastMessage());
    try std.testing.expectError(error.InvalidSize, pool.checkSize(pool.sizeMax() + 1));
    try std.testing.expectEqualStrings(try std.fmt.bufPrint(&expected, "cannot allocate {d} bytes from pool 'huge': sizes run from 1 to {d}", .{ pool.sizeMax() + 1, pool.sizeMax() }), status.lastMessage());
}

test "a pool grows by what its strategy will find: sizes just above a region are served, failures commit nothing" {
    const sizes = [_]u64{ 1, 64 * 1024 + 1, 2 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 1, 10_000_000, 32 * 1024 * 1024 + 16, 100_000_000 };
    for ([_]ThreadSafety{ .none, .mutex, .lock_free }) |thread_safety| {
        for ([_]u64{ 16, 4096 }) |alignment| {
            var config = testConfig(.variable);
            config.initial_size = 1024 * 1024;
            config.max_size = 0;
            config.alignment = alignment;
            config.thread_safety = thread_safety;
            const pool = try Pool.create(std.testing.allocator, "sizes", config);
            defer pool.destroy();
            for (sizes) |size| {
                const placed = try pool.alloc(size, null);
                try std.testing.expect((@as(u64, placed.g) * granule_bytes) % alignment == 0);
                _ = try pool.free(placed.g, placed.id);
            }
        }
    }
    // Growth off, or at maxSize: the exact error, and nothing committed by the failed tries. A
    // request no region beside the first (never given back) could hold is invalid, not counted.
    for ([_]f64{ 0, 1 }) |growth| {
        var config = testConfig(.variable);
        config.initial_size = 1024 * 1024;
        config.max_size = 4 * 1024 * 1024;
        config.growth = growth;
        const pool = try Pool.create(std.testing.allocator, "bounded", config);
        defer pool.destroy();
        try std.testing.expectEqual(@as(u64, if (growth > 0) 3 * 1024 * 1024 else 1024 * 1024), pool.sizeMax()); // growth 0: its first region
        try std.testing.expectError(error.InvalidSize, pool.alloc(4 * 1024 * 1024 - 16, null));
        const held = try pool.alloc(if (growth > 0) pool.sizeMax() else 16, null); // to maxSize, or into its one region
        const committed = pool.arena.committed_bytes;
        for (0..3) |_| try std.testing.expectError(error.OutOfMemory, pool.alloc(pool.sizeMax(), null));
        try std.testing.expectEqual(committed, pool.arena.committed_bytes);
        try std.testing.expectEqual(@as(u64, if (growth > 0) 1 else 0), pool.stats.growth_count);
        try std.testing.expectEqual(@as(u64, 3), pool.stats.failed_allocations);
        _ = try pool.free(held.g, held.id);
    }
}

const fixed_modes = config_mod.fixed_modes;
const fixedConfigIn = config_mod.fixedConfigIn;

test "a fixed pool serves a request of several blocks as a contiguous run, in every thread-safety mode" {
    for (fixed_modes) |mode| {
        var config = fixedConfigIn(mode, 1024);
        config.initial_size = 16 * 1024;
        config.max_size = 0;
        const pool = try Pool.create(std.testing.allocator, "runs", config);
        defer pool.destroy();
        pool.published(0);
        const single = try pool.alloc(1000, null);
        const run = try pool.alloc(1024 * 10, null);
        const big = try pool.alloc(3 * 1024 * 1024 + 1, null); // past the first region: the pool grows for it
        try std.testing.expectEqual(@as(u64, 1024 * 10), pool.lookup(run.g).?.requested_bytes);
        try std.testing.expectEqual(@as(u64, 10 * 1024 / granule_bytes), pool.lookup(run.g).?.granules);
        try std.testing.expect(pool.lookup(run.g + @as(u32, 1024 / granule_bytes)) == null); // a block inside the run is not an allocation
        // The run's bytes are its own: no other allocation lies inside it.
        for ([_]Pool.Placed{ single, big }) |other| {
            const other_start = @as(u64, other.g) * granule_bytes;
            const run_start = @as(u64, run.g) * granule_bytes;
            try std.testing.expect(other_start >= run_start + 10 * 1024 or other_start + 1000 <= run_start);
        }
        try std.testing.expectError(error.InvalidPointer, pool.free(run.g + @as(u32, 1024 / granule_bytes), 0));
        var out: [stats_mod.field_count]f64 = undefined;
        pool.writeStats(&out);
        try std.testing.expectEqual(@as(f64, 3), out[@intFromEnum(stats_mod.Field.live_allocations)]);
        try std.testing.expectEqual(@as(f64, 1024 + 10 * 1024 + 3073 * 1024), out[@intFromEnum(stats_mod.Field.bytes_allocated)]);
        try std.testing.expectError(error.DoubleFree, pool.free(run.g, run.id + 1));
        _ = try pool.free(run.g, run.id);
        try std.testing.expectError(error.DoubleFree, pool.free(run.g, run.id));
        try std.testing.expectError(error.DoubleFree, pool.free(run.g, 0));
        _ = try pool.free(big.g, 0);
        _ = try pool.free(single.g, single.id);
        pool.writeStats(&out);
        try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.live_allocations)]);
        try std.testing.expectEqual(@as(f64, 0), out[@intFromEnum(stats_mod.Field.bytes_allocated)]);
        // The freed run is served again without growing.
        const committed = pool.arena.committed_bytes;
        const again = try pool.alloc(1024 * 10, null);
        try std.testing.expectEqual(committed, pool.arena.committed_bytes);
        _ = try pool.free(again.g, again.id);
    }
}
