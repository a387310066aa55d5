//! The C ABI: every function TypeScript calls (src/native.ts opens them), and nothing else.
//! Arguments are 32-bit handles, granule offsets and f64 sizes, because bun:ffi passes those
//! without allocation; results are status codes (0 ok, negative failure, see status.zig) or
//! granule offsets, so a call never returns a BigInt and only `mp_pool_base` returns a pointer.
//! Every export validates what it is given: bad input from JavaScript gets a status, never a crash.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const registry = @import("registry.zig");
const pool_mod = @import("pool.zig");
const stats_mod = @import("stats.zig");
const violation = @import("debug/violation.zig");
const Pool = pool_mod.Pool;

pub const abi_version: u32 = 2;

fn failNoPool(handle: i32) i32 {
    return codeOf(status.fail(error.PoolNotFound, "pool handle {d} names no live pool (destroyed?)", .{handle}));
}

fn codeOf(err: status.Error) i32 {
    return @intFromEnum(status.code(err));
}

export fn mp_abi_version() u32 {
    return abi_version;
}

export fn mp_last_error(buffer: [*]u8, capacity: u32) u32 {
    const message = status.lastMessage();
    const len = @min(message.len, capacity);
    @memcpy(buffer[0..len], message[0..len]);
    return @intCast(len);
}

export fn mp_pool_create(name: [*]const u8, name_len: u32, raw_config: *const [pool_mod.config_field_count]f64) i32 {
    if (name_len == 0 or name_len > 255) return codeOf(status.fail(error.Config, "a pool's name must be 1 to 255 bytes long", .{}));
    const config = pool_mod.Config.parse(raw_config) catch |err| return codeOf(err);
    return registry.add(Pool.create, name[0..name_len], config) catch |err| codeOf(err);
}

export fn mp_pool_find(name: [*]const u8, name_len: u32) i32 {
    return registry.find(name[0..name_len]) orelse codeOf(status.fail(error.PoolNotFound, "no pool named '{s}'", .{name[0..name_len]}));
}

export fn mp_pool_destroy(handle: i32) i32 {
    const pool = registry.remove(handle) orelse return failNoPool(handle);
    pool.destroy();
    return 0;
}

export fn mp_pool_list(out: [*]i32, capacity: u32) u32 {
    return registry.list(out[0..capacity]);
}

export fn mp_pool_base(handle: i32) usize {
    const pool = registry.get(handle) orelse return 0;
    return @intCast(pool.arena.base);
}

export fn mp_pool_address_space(handle: i32) f64 {
    const pool = registry.get(handle) orelse return @floatFromInt(failNoPool(handle));
    return @floatFromInt(pool.arena.reserved_bytes);
}

export fn mp_pool_config(handle: i32, out: *[pool_mod.config_field_count]f64) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    pool.writeConfig(out);
    return 0;
}

export fn mp_pool_name(handle: i32, buffer: [*]u8, capacity: u32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    const len = @min(pool.name.len, capacity);
    @memcpy(buffer[0..len], pool.name[0..len]);
    return @intCast(pool.name.len);
}

/// The id of the allocation the last mp_alloc or mp_live_size on this thread found; after
/// mp_alloc its top bit says the allocation has guard pages (ids stay below 2^31). Returned by a
/// call of its own, not through an out-parameter: Bun's JIT may reuse an earlier read of a typed
/// array across an FFI call, so memory the core writes is not reliably seen by hot JavaScript.
threadlocal var last_id: u32 = 0;

export fn mp_last_id() u32 {
    return last_id;
}

/// Returns the block's granule offset from the pool's base, or `status.offset_error_base + code`.
export fn mp_alloc(handle: i32, size: f64) u32 {
    const pool = registry.get(handle) orelse return status.offsetError(status.fail(error.PoolNotFound, "pool handle {d} names no live pool (destroyed?)", .{handle}));
    if (!(size >= 1) or size != @floor(size) or size > 0x1p52) {
        return status.offsetError(status.fail(error.InvalidSize, "cannot allocate {d} bytes: a size is a whole number above 0", .{size}));
    }
    const placed = pool.alloc(@intFromFloat(size)) catch |err| return status.offsetError(err);
    assert(placed.id <= Pool.id_max);
    last_id = placed.id | placed.flags;
    return placed.g;
}

/// Frees the block at `g`; with `id` not 0 only if it still holds that allocation (else a double
/// free). Returns 0, or 1 where the allocation had guard pages, or a negative status.
export fn mp_free(handle: i32, g: u32, id: u32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    const guarded = pool.free(g, id) catch |err| return codeOf(err);
    return @intFromBool(guarded);
}

/// The size asked for when the live block at `g` was allocated, or -1 where no live block starts
/// there; its allocation id is then `mp_last_id()`.
export fn mp_live_size(handle: i32, g: u32) f64 {
    const pool = registry.get(handle) orelse return @floatFromInt(failNoPool(handle));
    const live = pool.lookup(g) orelse return -1;
    last_id = live.id;
    return @floatFromInt(live.requested_bytes);
}

/// The id of the allocation that holds the block at `g` now, or 0 where it is free.
export fn mp_live_id(handle: i32, g: u32) u32 {
    const pool = registry.get(handle) orelse return 0;
    const live = pool.lookup(g) orelse return 0;
    return live.id;
}

export fn mp_stats(handle: i32, out: *[stats_mod.field_count]f64) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    pool.writeStats(out);
    return 0;
}

export fn mp_reset(handle: i32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    pool.reset() catch |err| return codeOf(err);
    return 0;
}

export fn mp_trim(handle: i32) f64 {
    const pool = registry.get(handle) orelse return @floatFromInt(failNoPool(handle));
    return @floatFromInt(pool.trim());
}

/// Checks the pool's canaries and quarantined blocks: 0, or the status of the first damage found
/// (its details through `mp_violation`).
export fn mp_check(handle: i32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    pool.check() catch |err| return codeOf(err);
    return 0;
}

/// A field (violation.Field) of the damage that the last failing call on this thread found.
export fn mp_violation(field: u32) f64 {
    const which = std.meta.intToEnum(violation.Field, field) catch return std.math.nan(f64);
    return violation.lastField(which);
}

/// Writes the offsets of live allocations into `out`; returns how many there are (more than
/// `capacity` means: call again with room for all), or a negative status.
export fn mp_live_list(handle: i32, out: [*]u32, capacity: u32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    const count = pool.listLive(out[0..capacity]);
    return @intCast(@min(count, std.math.maxInt(i32)));
}

/// 1 where the live allocation at `g` has guard pages, else 0.
export fn mp_is_guarded(handle: i32, g: u32) u32 {
    const pool = registry.get(handle) orelse return 0;
    return @intFromBool(pool.isGuarded(g));
}

/// Hands the core a JavaScript stack of the allocation at `g` (`kind` 0: where it was made,
/// 1: where it was freed), for a fault report: 1 kept, 0 not needed (the allocation has no guard
/// pages, or its memory was reused), or a negative status.
export fn mp_set_stack(handle: i32, g: u32, kind: u32, stack: [*]const u8, len: u32) i32 {
    const pool = registry.get(handle) orelse return failNoPool(handle);
    const kept = pool.setStack(g, kind, stack[0..len]) catch |err| return codeOf(err);
    return @intFromBool(kept);
}

/// 1 where this core was built with the debug layer.
export fn mp_debug_layer() u32 {
    return @intFromBool(pool_mod.debug_layer_built);
}
