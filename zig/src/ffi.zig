//! The C ABI: every function TypeScript calls (src/native.ts opens them), and nothing else.
//! Arguments are 32-bit handles, granule offsets and f64 sizes, because bun:ffi passes those
//! without allocation; results are status codes (0 ok, negative failure, see status.zig) or
//! granule offsets, so a call never returns a BigInt and only `mp_pool_base` returns a pointer.
//! Every export validates what it is given: bad input from JavaScript gets a status, never a crash.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const abi = @import("abi.zig");
const registry = @import("registry.zig");
const pool_mod = @import("pool.zig");
const config_mod = @import("config.zig");
const stats_mod = @import("stats.zig");
const debug_violation = @import("debug/violation.zig");
const debug_queries = @import("debug/queries.zig");
const Pool = pool_mod.Pool;
const thread_end_report = @import("debug/thread_end_report.zig");
const driver = @import("backend/cuda_driver.zig");
const device_mod = @import("gpu/device.zig");
const gpu_copy = @import("gpu/copy.zig");
const kernels = @import("gpu/kernels.zig");
const ipc = @import("gpu/ipc.zig");
const snapshot = @import("snapshot.zig");
const host_copy = @import("host_copy.zig");
const thread_cache = @import("sync/thread_cache.zig");
const js_cache = @import("sync/js_cache.zig");
const js_bins = @import("sync/js_bins.zig");
const nvtx = @import("gpu/nvtx.zig");
const end_counts = @import("end_counts.zig");


fn failName() status.Error {
    return status.failConfig("name", "a pool's name must be 1 to {d} bytes long", .{registry.name_bytes_max});
}

/// PoolNotFound for a handle that names no live pool (never one, or destroyed).
fn noPool(handle: i32) status.Error {
    return status.fail(error.PoolNotFound, "pool handle {d} names no live pool (destroyed?)", .{handle});
}

fn failNoPool(handle: i32) i32 {
    return codeOf(noPool(handle));
}

/// ThreadMisuse where a "none" pool (host, device or PMEM) is used from a thread that did not
/// make it (sync/owner_check.zig); else the pool is told its owner entered (`Pool.ownerEntered`).
inline fn checkOwner(pool: *Pool) status.Error!void {
    try pool.enterAsOwner(); // every call that may change a "none" pool's figures passes here first
}

/// Who may make a call on a pool of either table: any thread (what never changes after the pool
/// is made: name, kind, config, base, size), or, where the pool is threadSafety "none", only its
/// owner. Reads of what changes (statistics, live blocks, snapshots, checks) are owner-only too:
/// the owner changes the pool's tables without a lock, so another thread's read could follow a
/// pointer into a table the owner is just reallocating.
const Access = enum { any_thread, owner };

/// The host or device pool a handle names, held alive until `registry.leave(.primary)`, which
/// the caller owes whatever this returns.
inline fn enterPool(handle: i32, access: Access) status.Error!*Pool {
    const pool = registry.enter(handle, .primary) orelse return noPool(handle);
    if (access == .owner) try checkOwner(pool);
    return pool;
}

fn codeOf(err: status.Error) i32 {
    return @intFromEnum(status.code(err));
}

/// Kept apart from the description so that a loader of any version can tell an old core.
export fn mp_abi_version() u32 {
    return abi.version;
}

/// The ABI's description (abi.zig): writes what fits of it into `buffer`, returns its length.
export fn mp_abi_describe(buffer: [*]u8, capacity: u32) u32 {
    return abi.describe(buffer[0..capacity]);
}

/// The setting the last Config failure on this thread is about (a PoolConfig field, or "name"):
/// writes what fits into `buffer`, returns its length (0 where the last failure was not Config).
export fn mp_last_error_setting(buffer: [*]u8, capacity: u32) u32 {
    const setting = status.lastSetting();
    const len = @min(setting.len, capacity);
    @memcpy(buffer[0..len], setting[0..len]);
    return @intCast(setting.len);
}

export fn mp_last_error(buffer: [*]u8, capacity: u32) u32 {
    const message = status.lastMessage();
    const len = @min(message.len, capacity);
    @memcpy(buffer[0..len], message[0..len]);
    return @intCast(len);
}

export fn mp_pool_create(name: [*]const u8, name_len: u32, raw_config: *const [config_mod.config_field_count]f64) i32 {
    if (name_len == 0 or name_len > registry.name_bytes_max) return codeOf(failName());
    const config = config_mod.Config.parse(raw_config) catch |err| return codeOf(err);
    return registry.add(Pool.create, name[0..name_len], config) catch |err| codeOf(err);
}

export fn mp_pool_find(name: [*]const u8, name_len: u32) i32 {
    return registry.find(name[0..name_len]) orelse codeOf(status.fail(error.PoolNotFound, "no pool named '{s}'", .{name[0..name_len]}));
}

export fn mp_pool_destroy(handle: i32) i32 {
    const pool = registry.remove(handle) catch |err| return codeOf(err);
    pool.destroy();
    return 0;
}

/// Gives the calling thread's cached blocks (the core's magazines) back to their pools (a Worker
/// calls it as it closes; a thread's end does it too). JavaScript caches flush through
/// mp_cache_flush, since JavaScript keeps their stack's count; a thread's end flushes them too.
export fn mp_thread_flush() void {
    thread_cache.flushAll();
}

/// The calling thread's JavaScript wrote the exit report of the leakReport pools it made (a
/// Worker's process.on("exit")): its "none" pools end with the thread without a second one from
/// the core, which writes one only for a thread ended without it (terminate()).
export fn mp_thread_exit_reported() void {
    thread_end_report.notedByJavaScript();
}

// ---- JavaScript thread caches (sync/js_cache.zig, src/block_cache.ts) ----

/// The calling thread's cache record for the pool (its address, for JavaScript to view), or 0
/// where the pool has no JavaScript cache (only fixed-size pools placed by sync/shared_fixed.zig).
export fn mp_cache_open(handle: i32) usize {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0; // another thread's "none" pool: the core's path says why
    const shared = pool.sharedFixed() orelse return 0;
    if (!pool.hostAccessible()) return 0;
    if (pool.journalOf() != null) return 0; // its frees must reach the journal (pmem/shared_journal.zig)
    const record = shared.openRecord(pool) orelse return 0;
    return @intFromPtr(record);
}

/// 1 where the calling thread's cache record of the pool is held by a JavaScript cache (mp_cache_open
/// gave it to one), else 0: a second copy of the library in the thread, which got none, must not
/// reset the pool under the stack that cache keeps in its own memory.
export fn mp_cache_viewed(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0;
    const shared = pool.sharedFixed() orelse return 0;
    return @intFromBool(shared.recordViewedHere());
}

/// The address of the pool's last id (a u32, sync/shared_fixed.zig `last_id`) for JavaScript's
/// cache: where one thread uses the pool it counts on it with plain loads and stores; where
/// threads share it, it takes a batch with a compare-and-swap as `takeIds` does. 0: no such pool.
export fn mp_cache_ids(handle: i32) usize {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0;
    const shared = pool.sharedFixed() orelse return 0;
    return @intFromPtr(&shared.last_id.raw);
}

/// The address of the pool's block-state chunk `index` (lockfree_fixed.zig Chunk), or 0 where none is.
export fn mp_cache_chunk(handle: i32, index: u32) usize {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0;
    const shared = pool.sharedFixed() orelse return 0;
    return @intFromPtr(shared.fixed.chunkAddress(index) orelse return 0);
}

/// Refills the record's stack (one batch of free blocks): its new count, or a negative status.
export fn mp_cache_refill(handle: i32, record_address: usize) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const shared = pool.sharedFixed() orelse return codeOf(status.fail(error.Unsupported, "pool '{s}' has no JavaScript cache", .{pool.poolName()}));
    const record = shared.record(record_address) orelse return codeOf(status.fail(error.InvalidPointer, "not a cache record of pool '{s}'", .{pool.poolName()}));
    const count = shared.refill(pool, record) catch |err| return codeOf(err);
    return @intCast(count);
}

/// JavaScript saw the record's pool destroyed (or its destroy begun) and dropped its view: 1 where
/// it is this thread's (reused for another pool once closed), 0 where it is not.
export fn mp_cache_release(record_address: usize) u32 {
    return @intFromBool(js_cache.release(record_address));
}

/// Gives the record's blocks from `keep` up back to the pool: the new count, or a negative status.
export fn mp_cache_flush(handle: i32, record_address: usize, keep: u32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const shared = pool.sharedFixed() orelse return codeOf(status.fail(error.Unsupported, "pool '{s}' has no JavaScript cache", .{pool.poolName()}));
    const record = shared.record(record_address) orelse return codeOf(status.fail(error.InvalidPointer, "not a cache record of pool '{s}'", .{pool.poolName()}));
    return @intCast(shared.flush(record, keep));
}

// ---- A Variable pool's JavaScript bins (sync/js_bins.zig, src/size_bins.ts) ----

/// The address of the pool's bins table (sync/js_bins.zig Shared), made on the first call, or 0
/// where the pool has none (only threadSafety "none" Variable pools without the debug layer), or
/// where it was given already.
export fn mp_bins_open(handle: i32) usize {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0; // another thread's "none" pool: the core's path says why
    const bins = pool.openBins() orelse return 0;
    // One JavaScript view: a second (a second copy of the library in this thread) would bin the
    // same blocks apart and hand them out twice. It takes the core's path.
    if (bins.viewed) return 0;
    bins.viewed = true;
    return @intFromPtr(bins.shared);
}

/// A miss of the bins: as mp_alloc, with a block of `capacity` bytes (the bin's) registered in the
/// bins' table; the id is mp_last_id's.
export fn mp_bins_alloc(handle: i32, size: f64, capacity: f64) u32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return status.offsetError(err);
    if (!pool.hasBins()) return status.offsetError(status.fail(error.Unsupported, "pool '{s}' has no JavaScript bins", .{pool.poolName()}));
    if (!(size >= 1) or size != @floor(size) or size > 0x1p52 or !(capacity >= size) or capacity != @floor(capacity) or capacity > 0x1p52) {
        return status.offsetError(status.fail(error.InvalidSize, "cannot allocate {d} bytes in a block of {d}: sizes are whole numbers above 0", .{ size, capacity }));
    }
    const placed = pool.allocBinned(@intFromFloat(size), @intFromFloat(capacity)) catch |err| return status.offsetError(err);
    last_id = placed.id;
    return placed.g;
}

/// Gives every block the bins at `address` hold back to the pool: how many, or a negative status
/// (PoolNotFound where the handle names no pool with those bins: it was destroyed; then the table,
/// kept past the pool's end for JavaScript's view of it, goes: JavaScript never reads it again).
export fn mp_bins_flush(handle: i32, address: usize) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| {
        if (err == error.PoolNotFound) js_bins.Bins.releaseOrphan(address);
        return codeOf(err);
    };
    const bins = pool.binsOpened() orelse return codeOf(status.fail(error.PoolNotFound, "pool '{s}' has no JavaScript bins", .{pool.poolName()}));
    if (@intFromPtr(bins.shared) != address) return codeOf(status.fail(error.PoolNotFound, "the pool these bins served was destroyed", .{}));
    const flushed = pool.flushBins() catch |err| return codeOf(err);
    return @intCast(flushed);
}

export fn mp_pool_list(out: [*]i32, capacity: u32) u32 {
    return registry.list(out[0..capacity]);
}

export fn mp_pool_base(handle: i32) usize {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return 0;
    pool.noteViewer();
    return @intCast(pool.base());
}

/// The address of the word JavaScript counts the pool's ends on (end_counts.zig), or 0 where the
/// handle names no pool.
export fn mp_pool_end_count(handle: i32) usize {
    const slot = registry.slotOf(handle) orelse return 0;
    return end_counts.address(slot);
}

export fn mp_pool_kind(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return failNoPool(handle);
    return @intCast(@intFromEnum(pool.memoryKind()));
}

export fn mp_pool_address_space(handle: i32) f64 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return @floatFromInt(failNoPool(handle));
    return @floatFromInt(pool.addressSpaceBytes());
}

export fn mp_pool_config(handle: i32, out: *[config_mod.config_field_count]f64) i32 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return failNoPool(handle);
    pool.settings().write(out); // the config record (config.zig)
    return 0;
}

export fn mp_pool_name(handle: i32, buffer: [*]u8, capacity: u32) i32 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return failNoPool(handle);
    const name = pool.poolName();
    const len = @min(name.len, capacity);
    @memcpy(buffer[0..len], name[0..len]);
    return @intCast(name.len);
}

/// The id of the allocation the last mp_alloc or mp_live_size on this thread found; after
/// mp_alloc its top bit says the allocation has guard pages (ids stay below 2^31). Returned by a
/// call of its own, not through an out-parameter: Bun's JIT may reuse an earlier read of a typed
/// array across an FFI call, so memory the core writes is not reliably seen by hot JavaScript.
threadlocal var last_id: u32 = 0;

export fn mp_last_id() u32 {
    return last_id;
}

/// The address of the calling thread's `last_id`: JavaScript reads it with Atomics.load after
/// mp_alloc instead of crossing again for mp_last_id (the word lives as long as the thread).
export fn mp_last_id_address() usize {
    return @intFromPtr(&last_id);
}

/// A request's size as JavaScript gave it, checked before the pool sees it: not a whole number
/// above 0 (NaN, Infinity, a fraction, 0 or less) is InvalidSize saying so; a whole number past
/// 2^52 is past every pool's limit (sizeMax is far below), refused as the pool refuses any size
/// over its limit, naming the limit.
fn requestSize(pool: *const Pool, size: f64) status.Error!u64 {
    if (!(size >= 1) or !std.math.isFinite(size) or size != @floor(size)) {
        return status.fail(error.InvalidSize, "cannot allocate {d} bytes: a size is a whole number above 0", .{size});
    }
    if (size > 0x1p52) return pool.refuseSize(size);
    return @intFromFloat(size);
}

/// Returns the block's granule offset from the pool's base, or `status.offset_error_base + code`.
export fn mp_alloc(handle: i32, size: f64) u32 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return status.offsetError(noPool(handle));
    const bytes = requestSize(pool, size) catch |err| return status.offsetError(err);
    checkOwner(pool) catch |err| return status.offsetError(err);
    const placed = pool.alloc(bytes, null) catch |err| return status.offsetError(err);
    last_id = placed.id | placed.flags;
    return placed.g;
}

/// Frees the block at `g`; with `id` not 0 only if it still holds that allocation (else a double
/// free). Returns 0, or 1 where the allocation had guard pages, or a negative status.
export fn mp_free(handle: i32, g: u32, id: u32) i32 {
    defer registry.leave(.primary);
    const pool = registry.enter(handle, .primary) orelse return failNoPool(handle);
    checkOwner(pool) catch |err| return codeOf(err);
    const guarded = pool.free(g, id) catch |err| return codeOf(err);
    return @intFromEnum(if (guarded) status.Code.freed_guarded else status.Code.ok);
}

/// The size asked for when the live block at `g` was allocated, or -1 where no live block starts
/// there; its allocation id is then `mp_last_id()`.
export fn mp_live_size(handle: i32, g: u32) f64 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return @floatFromInt(codeOf(err));
    const live = pool.lookup(g) orelse return -1;
    last_id = live.id;
    return @floatFromInt(live.requested_bytes);
}

/// The id of the allocation that holds the block at `g` now, 0 where it is free, or
/// `status.offset_error_base + code` where the call fails (no pool, or another thread's "none"
/// pool): a handle must not read a pool destroyed elsewhere as "freed".
export fn mp_live_id(handle: i32, g: u32) u32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return status.offsetError(err);
    const live = pool.lookup(g) orelse return 0;
    return live.id;
}

export fn mp_stats(handle: i32, out: *[stats_mod.field_count]f64) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    pool.writeStats(out);
    return 0;
}

/// Peaks (bytes in use, live allocations, bytes reserved) start again from the figures now.
export fn mp_reset_peaks(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    pool.resetPeaks();
    return 0;
}

export fn mp_reset(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    pool.reset() catch |err| return codeOf(err);
    return 0;
}

export fn mp_trim(handle: i32) f64 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return @floatFromInt(codeOf(err));
    return @floatFromInt(pool.trim());
}

/// Checks the pool's canaries and quarantined blocks: 0, or the status of the first damage found
/// (its details through `mp_violation`).
export fn mp_check(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    debug_queries.check(pool) catch |err| return codeOf(err);
    return 0;
}

/// A field (debug/violation.zig Field) of the damage that the last failing call on this thread found.
export fn mp_violation(field: u32) f64 {
    const which = std.meta.intToEnum(debug_violation.Field, field) catch return std.math.nan(f64);
    return debug_violation.lastField(which);
}

/// Writes the offsets of live allocations into `out`; returns how many there are (more than
/// `capacity` means: call again with room for all), or a negative status.
export fn mp_live_list(handle: i32, out: [*]u32, capacity: u32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const count = pool.listLive(out[0..capacity]);
    return @intCast(@min(count, std.math.maxInt(i32)));
}

/// 1 where the live allocation at `g` has guard pages, else 0.
export fn mp_is_guarded(handle: i32, g: u32) u32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch return 0;
    return @intFromBool(debug_queries.isGuarded(pool, g));
}

/// Hands the core a JavaScript stack of the allocation at `g` (`kind` 0: where it was made,
/// 1: where it was freed), for a fault report: 1 kept, 0 not needed (the allocation has no guard
/// pages, or its memory was reused), or a negative status.
export fn mp_set_stack(handle: i32, g: u32, kind: u32, stack: [*]const u8, len: u32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const kept = debug_queries.setStack(pool, g, kind, stack[0..len]) catch |err| return codeOf(err);
    return @intFromBool(kept);
}

/// 1 where this core was built with the debug layer.
export fn mp_debug_layer() u32 {
    return @intFromBool(pool_mod.debug_layer_built);
}

/// The pool's regions, blocks and statistics at one moment (see snapshot.zig). 0 when every
/// record fit, 1 when a buffer was too small (the header then holds the counts needed), or a
/// negative status.
export fn mp_snapshot(
    handle: i32,
    header: *snapshot.Header,
    regions: [*]snapshot.RegionRecord,
    region_capacity: u32,
    blocks: [*]snapshot.BlockRecord,
    block_capacity: u32,
    stats_out: *[stats_mod.field_count]f64,
) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const fit = pool.writeSnapshot(.{
        .header = header,
        .regions = regions[0..region_capacity],
        .blocks = blocks[0..block_capacity],
        .stats = stats_out,
    }) catch |err| return codeOf(err);
    return @intFromBool(!fit);
}

/// Copies `len` bytes between two host addresses (the ranges may overlap).
export fn mp_copy_host(dst: ?[*]u8, src: ?[*]const u8, len: f64) i32 {
    const n = validLength(len) orelse return failLength(len);
    const to = dst orelse return codeOf(status.fail(error.InvalidPointer, "a host copy's destination address is 0", .{}));
    const from = src orelse return codeOf(status.fail(error.InvalidPointer, "a host copy's source address is 0", .{}));
    host_copy.copy(to, from, n);
    return 0;
}

// ---- GPU: streams, stream-ordered allocation, copies, debug kernels ----

fn validLength(len: f64) ?usize {
    if (!(len >= 1) or len != @floor(len) or len > 0x1p52) return null;
    return @intFromFloat(len);
}

fn failLength(len: f64) i32 {
    return codeOf(status.fail(error.InvalidSize, "a copy's length is a whole number of bytes above 0, got {d}", .{len}));
}

/// Like mp_alloc, for work on `stream`: blocks freed on that stream may be reused at once.
export fn mp_alloc_on_stream(handle: i32, size: f64, stream: driver.Stream) u32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return status.offsetError(err);
    const bytes = requestSize(pool, size) catch |err| return status.offsetError(err);
    const placed = pool.allocOnStream(bytes, stream) catch |err| return status.offsetError(err);
    last_id = placed.id;
    return placed.g;
}

export fn mp_free_on_stream(handle: i32, g: u32, id: u32, stream: driver.Stream) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    pool.freeOnStream(g, id, stream) catch |err| return codeOf(err);
    return 0;
}

/// How many CUDA devices are visible, or a negative status (the message says what is missing).
export fn mp_gpu_device_count() i32 {
    const n = device_mod.count() catch |err| return codeOf(err);
    return @intCast(n);
}

/// Writes the device's name; returns its length, or a negative status.
export fn mp_gpu_device_name(ordinal: u32, buffer: [*]u8, capacity: u32) i32 {
    const device = device_mod.get(ordinal) catch |err| return codeOf(err);
    const name = device.nameSlice();
    const len = @min(name.len, capacity);
    @memcpy(buffer[0..len], name[0..len]);
    return @intCast(len);
}

export fn mp_gpu_device_memory(ordinal: u32) f64 {
    const device = device_mod.get(ordinal) catch |err| return @floatFromInt(codeOf(err));
    return @floatFromInt(device.total_bytes);
}

export fn mp_gpu_kernels_available() u32 {
    return @intFromBool(kernels.available());
}

/// The NVTX switches and facts as bits (gpu/nvtx.zig state_*): built in, registering pool memory,
/// ranges on, a tool attached.
export fn mp_nvtx_state() u32 {
    return nvtx.state();
}

/// Sets the NVTX switches (each: 0 off, 1 on, anything else unchanged); returns mp_nvtx_state().
export fn mp_nvtx_configure(register_memory: u32, ranges: u32) u32 {
    const Switch = struct {
        fn of(value: u32) ?bool {
            return if (value <= 1) value == 1 else null;
        }
    };
    nvtx.configure(Switch.of(register_memory), Switch.of(ranges));
    return nvtx.state();
}

export fn mp_gpu_copy_htod(device: u32, dst: u64, src: [*]const u8, len: f64, host: u32, stream: driver.Stream) i32 {
    const n = validLength(len) orelse return failLength(len);
    const memory = std.meta.intToEnum(gpu_copy.HostMemory, host) catch return codeOf(status.failConfig("hostMemory", "unknown host memory kind {d}", .{host}));
    const range = nvtx.beginRange("memory-pool: copy host to device");
    defer range.end();
    gpu_copy.hostToDevice(device, dst, src, n, memory, stream) catch |err| return codeOf(err);
    return 0;
}

export fn mp_gpu_copy_dtoh(device: u32, dst: [*]u8, src: u64, len: f64, host: u32, stream: driver.Stream) i32 {
    const n = validLength(len) orelse return failLength(len);
    const memory = std.meta.intToEnum(gpu_copy.HostMemory, host) catch return codeOf(status.failConfig("hostMemory", "unknown host memory kind {d}", .{host}));
    const range = nvtx.beginRange("memory-pool: copy device to host");
    defer range.end();
    gpu_copy.deviceToHost(device, dst, src, n, memory, stream) catch |err| return codeOf(err);
    return 0;
}

export fn mp_gpu_copy_dtod(device: u32, dst: u64, src: u64, len: f64, stream: driver.Stream) i32 {
    const n = validLength(len) orelse return failLength(len);
    const range = nvtx.beginRange("memory-pool: copy device to device");
    defer range.end();
    gpu_copy.deviceToDevice(device, dst, src, n, stream) catch |err| return codeOf(err);
    return 0;
}

/// A new non-blocking stream on the device, or null (the message says why).
export fn mp_gpu_stream_create(device: u32) driver.Stream {
    return gpu_copy.streamCreate(device) catch null;
}

export fn mp_gpu_stream_synchronize(device: u32, stream: driver.Stream) i32 {
    gpu_copy.streamSynchronize(device, stream) catch |err| return codeOf(err);
    return 0;
}

export fn mp_gpu_stream_destroy(device: u32, stream: driver.Stream) i32 {
    gpu_copy.streamDestroy(device, stream) catch |err| return codeOf(err);
    return 0;
}

/// Writes `value` over `len` device bytes at `address`, on `stream` (null: legacy stream).
export fn mp_gpu_fill(device: u32, address: u64, value: u32, len: f64, stream: driver.Stream) i32 {
    const n = validLength(len) orelse return failLength(len);
    const dev = device_mod.get(device) catch |err| return codeOf(err);
    const range = nvtx.beginRange("memory-pool: fill kernel");
    defer range.end();
    kernels.fill(dev, address, @truncate(value), n, stream) catch |err| return codeOf(err);
    return 0;
}

/// What the last check on this thread found: see mp_gpu_check_pattern and mp_gpu_check_canaries.
threadlocal var last_check: f64 = 0;

export fn mp_gpu_last_check() f64 {
    return last_check;
}

/// 0 where all `len` bytes hold `value`; 1 where one does not (its offset: mp_gpu_last_check).
export fn mp_gpu_check_pattern(device: u32, address: u64, value: u32, len: f64) i32 {
    const n = validLength(len) orelse return failLength(len);
    const dev = device_mod.get(device) catch |err| return codeOf(err);
    const first_bad = kernels.checkPattern(dev, address, @truncate(value), n) catch |err| return codeOf(err);
    last_check = @floatFromInt(first_bad orelse return 0);
    return 1;
}

/// Checks the canaries of `count` allocations (a host array of {address, size} u64 pairs).
/// 0 where all are intact; 1 where one is damaged: mp_gpu_last_check then holds
/// index * 2^32 + (after ? 2^31 : 0) + offset.
export fn mp_gpu_check_canaries(device: u32, table: [*]const kernels.Guarded, count: u32, canary_bytes: u32, value: u32) i32 {
    if (canary_bytes == 0) return codeOf(status.failConfig("canaries", "canary size must be above 0", .{}));
    const dev = device_mod.get(device) catch |err| return codeOf(err);
    const violation = kernels.checkCanaries(dev, table[0..count], canary_bytes, @truncate(value)) catch |err| return codeOf(err);
    const found = violation orelse return 0;
    last_check = @as(f64, @floatFromInt(found.index)) * 0x1p32 + (if (found.after) @as(f64, 0x1p31) else 0) + @as(f64, @floatFromInt(found.offset));
    return 1;
}

// ---- PMEM pools (pmem/): opening, durability and roots ----
// A PMEM pool is a pool like any other: its handle is in the one table, and everything a pool does
// (allocate, free, statistics, snapshot, reset, list, close) goes through the exports above. These
// are only what a file adds: opening it, making bytes durable, roots and links. Each enters the
// registry's guard and takes the owner check of a threadSafety "none" pool (see Access).

const pmem_open = @import("pmem/open.zig");
const Journal = @import("pmem/journal.zig").Journal;
const journal_mod = @import("pmem/journal.zig");
const crash_points = @import("pmem/crash_points.zig");
const libpmem = @import("pmem/libpmem.zig");

/// The PMEM pool a handle names and its journal, held alive until `registry.leave(.primary)`,
/// which the caller owes whatever this returns.
inline fn enterPmem(handle: i32, access: Access) status.Error!struct { *Pool, *Journal } {
    const pool = try enterPool(handle, access);
    const journal = pool.journalOf() orelse return status.fail(error.Unsupported, "pool '{s}' is a {s} pool, not a PMEM pool: it has no file", .{ pool.poolName(), @tagName(pool.memoryKind()) });
    return .{ pool, journal };
}

/// enterPmem for a call that reads or writes the file: refused once the file was found cut short
/// under the mapping (pmem/truncation.zig).
inline fn enterPmemFile(handle: i32, access: Access) status.Error!struct { *Pool, *Journal } {
    const pool, const journal = try enterPmem(handle, access);
    try journal.checkFile(pool);
    return .{ pool, journal };
}

/// 0, or PmemFile where the file was found cut short during the call: what it wrote is lost.
fn pmemDone(pool: *Pool, journal: *const Journal) i32 {
    journal.checkFile(pool) catch |err| return codeOf(err);
    return 0;
}

/// 0 where libpmem loads; otherwise a status whose message says what is missing.
export fn mp_pmem_available() i32 {
    _ = libpmem.api() catch return codeOf(status.fail(error.PmemUnavailable, "PMEM pools need libpmem: {s}", .{libpmem.unavailableReason()}));
    return 0;
}

/// Opens the pool file at `path` (creating it where none exists) as pool `name`: a handle of the
/// one table. The config record is a CPU pool's (pool.zig); its kind, maxSize and growth do not
/// apply: a pool is its file's size.
export fn mp_pmem_open(name: [*]const u8, name_len: u32, path: [*]const u8, path_len: u32, raw_config: *const [config_mod.config_field_count]f64) i32 {
    if (name_len == 0 or name_len > registry.name_bytes_max) return codeOf(failName());
    var record = raw_config.*;
    record[@intFromEnum(config_mod.ConfigField.kind)] = 0;
    const base = config_mod.Config.parse(&record) catch |err| return codeOf(err);
    if (base.debug.coreActive()) {
        return codeOf(status.failConfig(base.debug.firstCoreSwitch(), "{s} acts on CPU and pinned pools; a PMEM pool takes the debug switches that act in TypeScript (trackHistory, leakReport, safeViews)", .{base.debug.firstCoreSwitch()}));
    }
    return registry.add(pmem_open.open, name[0..name_len], pmem_open.Config{ .base = base, .path = path[0..path_len] }) catch |err| codeOf(err);
}

/// Why the last refused open on this thread was a format problem (format.zig Reason; 0: it was not).
export fn mp_pmem_last_reason() u32 {
    return @intFromEnum(journal_mod.last_reason);
}

export fn mp_pmem_path(handle: i32, buffer: [*]u8, capacity: u32) i32 {
    defer registry.leave(.primary);
    _, const journal = enterPmem(handle, .any_thread) catch |err| return codeOf(err);
    const path = journal.file.path;
    const len = @min(path.len, capacity);
    @memcpy(buffer[0..len], path[0..len]);
    return @intCast(path.len);
}

/// 1 on (real or forced) persistent memory, 0 where msync makes stores durable.
export fn mp_pmem_is_pmem(handle: i32) i32 {
    defer registry.leave(.primary);
    _, const journal = enterPmem(handle, .any_thread) catch |err| return codeOf(err);
    return @intFromBool(journal.media.is_pmem);
}

/// 1 where opening the pool created its file, 0 where it recovered an existing one.
export fn mp_pmem_created(handle: i32) i32 {
    defer registry.leave(.primary);
    _, const journal = enterPmem(handle, .any_thread) catch |err| return codeOf(err);
    return @intFromBool(journal.file.created);
}

/// 1 where the PMEM pool's mapping is registered with the CUDA driver for direct DMA (done on
/// the first call), 0 where the driver refuses or is absent (copies then take the staged path).
export fn mp_pmem_register_dma(handle: i32, device: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    return @intFromBool(journal.registerForDma(pool, device));
}

/// A GPU checkpoint: `len` device bytes from `src` into the PMEM file at `offset`, durable on
/// return (direct DMA pipelined with the flushes). 1 when done, 0 where the driver refused to
/// register the mapping (nothing copied: the caller takes the staged path), or a negative status.
export fn mp_pmem_checkpoint(handle: i32, device: u32, offset: f64, src: u64, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    const done = journal.checkpointFromDevice(pool, device, offset, src, len) catch |err| return codeOf(err);
    journal.checkFile(pool) catch |err| return codeOf(err);
    return @intFromBool(done);
}

/// Makes `len` bytes at byte `offset` of the file durable (pmem_persist, or pmem_msync off PMEM).
export fn mp_pmem_persist(handle: i32, offset: f64, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.writeBack(pool, .persist, offset, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

export fn mp_pmem_flush(handle: i32, offset: f64, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.writeBack(pool, .flush, offset, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

export fn mp_pmem_drain(handle: i32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.drain();
    return pmemDone(pool, journal);
}

/// Makes `len` bytes at byte `at` of the allocation at `g` durable, checked in the same call:
/// UseAfterFree where the block no longer holds allocation `id` (not 0), InvalidPointer where no
/// live allocation starts at `g`, InvalidSize where the range does not fit the allocation.
export fn mp_pmem_persist_allocation(handle: i32, g: u32, id: u32, at: f64, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.writeBackAllocation(pool, .persist, g, id, at, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// As mp_pmem_persist_allocation, but only starts writing the range back (mp_pmem_drain waits).
export fn mp_pmem_flush_allocation(handle: i32, g: u32, id: u32, at: f64, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.writeBackAllocation(pool, .flush, g, id, at, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// Copies `len` bytes from `source` to byte `offset` of the file and makes them durable (for
/// copy(), which bounds the range by its destination first); the core checks that it is in the heap.
export fn mp_pmem_memcpy_persist(handle: i32, offset: f64, source: [*]const u8, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.memcpyPersist(pool, offset, source, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// Copies `len` bytes from `source` to byte `at` of the live allocation at `g` (`id` not 0: only
/// while it holds that allocation: else UseAfterFree) and makes them durable; the copy must fit the allocation.
export fn mp_pmem_memcpy_persist_into(handle: i32, g: u32, id: u32, at: f64, source: [*]const u8, len: f64) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.memcpyPersistInto(pool, g, id, at, source, len) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// Publishes the block at `g` (0: none) as root `name`; `free_previous` 1 also frees what it published.
export fn mp_pmem_set_root(handle: i32, name: [*]const u8, name_len: u32, g: u32, id: u32, free_previous: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.setRoot(pool, name[0..name_len], g, id, free_previous != 0) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// The offset of root `name`'s block, 0 where there is no such root.
export fn mp_pmem_get_root(handle: i32, name: [*]const u8, name_len: u32) u32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return status.offsetError(err);
    return journal.getRoot(pool, name[0..name_len]) catch |err| status.offsetError(err);
}

/// Root `name`'s block; where there is none, a zero-filled one of `size` bytes, allocated and published together.
export fn mp_pmem_root(handle: i32, name: [*]const u8, name_len: u32, size: f64) u32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return status.offsetError(err);
    const bytes = requestSize(pool, size) catch |err| return status.offsetError(err);
    const g = journal.root(pool, name[0..name_len], bytes) catch |err| return status.offsetError(err);
    journal.checkFile(pool) catch |err| return status.offsetError(err);
    return g;
}

/// Copies the name of the `index`-th root; returns its length (at least 1), 0 past the last
/// root, or a negative status.
export fn mp_pmem_root_name(handle: i32, index: u32, buffer: [*]u8, capacity: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    const name = journal.rootName(pool, index) orelse return 0;
    assert(name.len > 0);
    const len = @min(name.len, capacity);
    @memcpy(buffer[0..len], name[0..len]);
    return @intCast(name.len);
}

/// Like mp_live_list, for the live allocations no root reaches, directly or through links.
export fn mp_pmem_unreachable_list(handle: i32, out: [*]u32, capacity: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    const count = journal.unreachableOffsets(pool, out[0..capacity]) catch |err| return codeOf(err);
    journal.checkFile(pool) catch |err| return codeOf(err);
    return @intCast(@min(count, std.math.maxInt(i32)));
}

/// Writes a link to the block at `child` (0: none) into the word at byte `at` of the block at
/// `parent`, publishing the child with it; `free_previous` 1 also frees what the word linked to.
export fn mp_pmem_link(handle: i32, parent: u32, parent_id: u32, at: f64, child: u32, child_id: u32, free_previous: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.link(pool, parent, parent_id, at, child, child_id, free_previous != 0) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// The offset of the block the link at byte `at` of the block at `parent` names, 0 for none.
export fn mp_pmem_linked(handle: i32, parent: u32, parent_id: u32, at: f64) u32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return status.offsetError(err);
    const g = journal.linked(pool, parent, parent_id, at) catch |err| return status.offsetError(err);
    journal.checkFile(pool) catch |err| return status.offsetError(err);
    return g;
}

/// Makes the block at `g` durable without a root or link (the caller keeps its offset).
export fn mp_pmem_commit_unpublished(handle: i32, g: u32, id: u32) i32 {
    defer registry.leave(.primary);
    const pool, const journal = enterPmemFile(handle, .owner) catch |err| return codeOf(err);
    journal.commitUnpublished(pool, g, id) catch |err| return codeOf(err);
    return pmemDone(pool, journal);
}

/// Persist barriers passed in this process (counted only when MEMORY_POOL_CRASH_AT is set).
export fn mp_pmem_barrier_count() f64 {
    return @floatFromInt(crash_points.count());
}

// ---- GPU memory shared between processes ----

threadlocal var last_export: struct { region_offset: u64 = 0, region_len: u64 = 0 } = .{};

/// Exports the device range holding the live block at `g` as a file descriptor of this process
/// (≥ 0), or a negative status. The range's offset in the pool and length: mp_gpu_export_region().
export fn mp_gpu_export(handle: i32, g: u32) i32 {
    defer registry.leave(.primary);
    const pool = enterPool(handle, .owner) catch |err| return codeOf(err);
    const exported = ipc.exportBlock(pool, g) catch |err| return codeOf(err);
    last_export = .{ .region_offset = exported.region_offset, .region_len = exported.region_len };
    return exported.fd;
}

export fn mp_gpu_export_region_offset() f64 {
    return @floatFromInt(last_export.region_offset);
}

export fn mp_gpu_export_region_len() f64 {
    return @floatFromInt(last_export.region_len);
}

/// Maps a range exported by process `pid` as descriptor `fd`; its address here, or 0 (see mp_last_error).
export fn mp_gpu_ipc_open(device: u32, pid: i32, fd: i32, len: f64) u64 {
    const n = validLength(len) orelse {
        _ = failLength(len); // records the message
        return 0;
    };
    return ipc.open(device, pid, fd, n) catch 0;
}

/// The status of the last failure on this thread (for mp_gpu_ipc_open, which returns an address).
export fn mp_last_status() i32 {
    return @intFromEnum(status.lastCode());
}

export fn mp_gpu_ipc_close(base: u64) i32 {
    ipc.close(base) catch |err| return codeOf(err);
    return 0;
}

test "a pool that registers with NVTX tells an attached tool of each region, allocation, free, trim, reset and its end" {
    // A CPU pool stands in for a GPU one (no device here): it is given the annotations a GPU or
    // pinned pool gets when it is made, with its first region, and from then on the real call
    // sites (these exports, pool.zig's growth, trim and reset) do the registering.
    const tool = try nvtx.testing.fakeTool(true);
    defer tool.answering = 0;
    const saved = nvtx.state();
    defer nvtx.testing.restoreSwitches(saved);
    _ = mp_nvtx_configure(1, 0);
    var raw: [config_mod.config_field_count]f64 = .{ 0, 1, 0, 16, 65536, 262144, 1, 0, 1, 0, 0, 0, 0, 1, -1, -1, 0, 0, 0, 0, 0 };
    const name = "nvtx-stand-in";
    const handle = mp_pool_create(name, name.len, &raw);
    try std.testing.expect(handle >= 0);
    const pool = registry.enter(handle, .primary).?;
    registry.leave(.primary);
    pool.annotateAsDeviceVisible();
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps);
    const first_heap = tool.last_heap;

    const g = mp_alloc(handle, 100);
    try std.testing.expect(g < status.offset_error_base);
    try std.testing.expectEqual(@as(c_int, 1), tool.regions);
    try std.testing.expectEqual(first_heap, tool.region_heap);
    try std.testing.expectEqual(pool.address(g), tool.region_ptr);
    try std.testing.expectEqual(@as(u64, 100), tool.region_len);
    try std.testing.expectEqual(@as(c_int, 1), tool.names);
    try std.testing.expectEqual(@as(i32, 0), mp_free(handle, g, 0));
    try std.testing.expectEqual(@as(c_int, 1), tool.regions_unregistered);
    try std.testing.expectEqual(pool.address(g), tool.unregistered_ptr);
    try std.testing.expect(mp_free(handle, g, 0) < 0); // a double free unregisters nothing
    try std.testing.expectEqual(@as(c_int, 1), tool.regions_unregistered);

    const big = mp_alloc(handle, 100 * 1024); // past the first region: the pool grows a second heap
    try std.testing.expectEqual(@as(c_int, 2), tool.heaps);
    try std.testing.expectEqual(tool.last_heap, tool.region_heap);
    try std.testing.expectEqual(@as(i32, 0), mp_free(handle, big, 0));
    try std.testing.expect(mp_trim(handle) > 0);
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps_unregistered);

    _ = mp_alloc(handle, 64);
    try std.testing.expectEqual(@as(i32, 0), mp_reset(handle));
    try std.testing.expectEqual(@as(c_int, 1), tool.heap_resets);
    try std.testing.expectEqual(@as(i32, 0), mp_pool_destroy(handle));
    try std.testing.expectEqual(@as(c_int, 2), tool.heaps_unregistered);
    try std.testing.expectEqual(@as(c_int, 0), tool.bad_descriptors);
}
