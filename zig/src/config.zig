//! A pool's configuration: the record TypeScript passes (one f64 per field, abi.zig describes it),
//! read and validated into a Config whose failures name the field the user set, and written back
//! for a pool found by name. What a pool is made of is pool.zig's; what it is asked to be is here.
const std = @import("std");
const build_options = @import("build_options");
const assert = std.debug.assert;
const arena_mod = @import("arena.zig");
const backend_mod = @import("backend.zig");
const placement_mod = @import("strategy/placement.zig");
const status = @import("status.zig");
const Error = status.Error;
const debug_config = @import("debug/config.zig");
const DebugConfig = debug_config.DebugConfig;

const granule_bytes = arena_mod.granule_bytes;
pub const page_bytes = 4096;

/// Whether this core was built with the debug layer (`zig build -Ddebug-layer=false`).
const debug_layer_built = build_options.debug_layer;

pub const StrategyKind = placement_mod.Kind;
pub const ThreadSafety = enum(u32) { none = 0, mutex = 1, lock_free = 2 };

/// The configuration as TypeScript passes it: one f64 per field, in this order (abi.zig describes it to TypeScript).
/// Named as PoolConfig names them, so messages name the field the user set.
pub const ConfigField = enum(u32) {
    kind,
    allocatorType,
    blockSize,
    alignment,
    initialSize,
    maxSize,
    growth,
    threadSafety,
    collectStats,
    deviceId,
    threadLocalCache,
    canaries,
    guardPages,
    guardSampleRate,
    fillOnAlloc,
    fillOnFree,
    quarantineBytes,
    trackHistory,
    leakReport,
    safeViews,
    historySize,
};
/// The debug fields, in ConfigField order from `canaries` on (debug/config.zig reads them).
const debug_fields = std.meta.fieldNames(debug_config.Raw);
pub const config_field_count = @typeInfo(ConfigField).@"enum".fields.len;

pub const Config = struct {
    kind: backend_mod.Kind,
    strategy: StrategyKind,
    block_size: u64,
    alignment: u64,
    initial_size: u64,
    max_size: u64, // 0: as large as the arena's reservation allows
    growth: f64, // the next region's size as a multiple of the last; 0: never grow
    thread_safety: ThreadSafety,
    collect_stats: bool,
    debug: DebugConfig = .{},
    device_id: u32,
    thread_local_cache: bool = false,

    /// Reads and validates the fields; on failure the message names the field and its value.
    pub fn parse(raw: *const [config_field_count]f64) Error!Config {
        const field = struct {
            fn integer(values: *const [config_field_count]f64, comptime which: ConfigField, max: u64) Error!u64 {
                const value = values[@intFromEnum(which)];
                if (!(value >= 0) or value != @floor(value) or value > @as(f64, @floatFromInt(max))) {
                    return status.failConfig(@tagName(which), "{s} must be a whole number from 0 to {d}, got {d}", .{ @tagName(which), max, value });
                }
                return @intFromFloat(value);
            }
        };
        const kind = std.meta.intToEnum(backend_mod.Kind, try field.integer(raw, .kind, 255)) catch
            return status.failConfig("kind", "kind {d} is not a pool kind", .{raw[@intFromEnum(ConfigField.kind)]});
        const strategy = std.meta.intToEnum(StrategyKind, try field.integer(raw, .allocatorType, 255)) catch
            return status.failConfig("allocatorType", "allocatorType {d} is not FixedSize (0) or Variable (1)", .{raw[@intFromEnum(ConfigField.allocatorType)]});
        const thread_safety = std.meta.intToEnum(ThreadSafety, try field.integer(raw, .threadSafety, 255)) catch
            return status.failConfig("threadSafety", "threadSafety {d} is not supported", .{raw[@intFromEnum(ConfigField.threadSafety)]});
        const config: Config = .{
            .kind = kind,
            .strategy = strategy,
            .block_size = try field.integer(raw, .blockSize, std.math.maxInt(u32)),
            .alignment = try field.integer(raw, .alignment, page_bytes),
            .initial_size = try field.integer(raw, .initialSize, arena_mod.reserve_bytes_max),
            .max_size = try field.integer(raw, .maxSize, arena_mod.reserve_bytes_max),
            .growth = raw[@intFromEnum(ConfigField.growth)],
            .thread_safety = thread_safety,
            .collect_stats = raw[@intFromEnum(ConfigField.collectStats)] != 0,
            .debug = try DebugConfig.parse(debugRaw(raw), arena_mod.reserve_bytes_max),
            .device_id = @intCast(try field.integer(raw, .deviceId, 1023)),
            .thread_local_cache = raw[@intFromEnum(ConfigField.threadLocalCache)] != 0,
        };
        if (config.debug.coreActive() and !debug_layer_built)
            return status.failConfig(config.debug.firstCoreSwitch(), "{s} is not in this core: it was built without the debug layer (zig build -Ddebug-layer=false)", .{config.debug.firstCoreSwitch()});
        if (config.thread_local_cache and config.thread_safety == .none)
            return status.failConfig("threadLocalCache", "threadLocalCache needs threadSafety \"mutex\" or \"lockFree\": caches serve pools that many threads share", .{});
        if (config.sharedFixed() and config.kind == .gpu)
            return status.failConfig(if (config.thread_local_cache) "threadLocalCache" else "threadSafety", "threadSafety \"lockFree\" and threadLocalCache are for host pools; a GPU pool takes \"mutex\"", .{});
        if (config.debug.coreActive() and config.sharedFixed())
            return status.failConfig(config.debug.firstCoreSwitch(), "{s} works under the pool's lock: use threadSafety \"mutex\" (or \"none\") without threadLocalCache", .{config.debug.firstCoreSwitch()});
        if (config.alignment == 0 or !std.math.isPowerOfTwo(config.alignment))
            return status.failConfig("alignment", "alignment must be a power of two up to {d}, got {d}", .{ page_bytes, config.alignment });
        if (config.initial_size == 0) return status.failConfig("initialSize", "initialSize must be above 0", .{});
        if (config.max_size != 0 and config.initial_size > config.max_size)
            return status.failConfig("initialSize", "initialSize ({d}) is larger than maxSize ({d})", .{ config.initial_size, config.max_size });
        if (config.strategy == .fixed_size and config.block_size == 0)
            return status.failConfig("blockSize", "blockSize must be above 0 for a FixedSize pool", .{});
        if (config.strategy == .fixed_size and config.block_size > config.initial_size)
            return status.failConfig("blockSize", "blockSize ({d}) is larger than initialSize ({d})", .{ config.block_size, config.initial_size });
        if (!(config.growth == 0 or (config.growth >= 1 and config.growth <= 64)))
            return status.failConfig("growth", "growth must be 0 (never grow) or from 1 to 64, got {d}", .{config.growth});
        return config;
    }

    /// Whether the pool places blocks through sync/shared_fixed.zig instead of under its lock.
    pub fn sharedFixed(self: Config) bool {
        return self.thread_safety == .lock_free or self.thread_local_cache;
    }

    /// Whether a fixed-size pool's blocks are placed by sync/shared_fixed.zig: those above, and
    /// every host FixedSize pool of one thread (threadSafety "none", the default) without the
    /// core's debug layer, since JavaScript's thread cache (src/block_cache.ts) needs the block
    /// state words that placement keeps (a pool with the layer takes the core's path: the cache
    /// is bypassed). PMEM pools never: their journal records every placement under the lock.
    pub fn placedShared(self: Config) bool {
        if (self.strategy != .fixed_size) return false;
        const host_memory = self.kind == .cpu or self.kind == .pinned;
        return self.sharedFixed() or (self.thread_safety == .none and host_memory and !self.debug.coreActive());
    }

    pub const granulesFor = arena_mod.granulesFor;

    /// The record TypeScript reads back (mp_pool_config): the fields as `parse` takes them.
    pub fn write(c: Config, out: *[config_field_count]f64) void {
        out[@intFromEnum(ConfigField.kind)] = @floatFromInt(@intFromEnum(c.kind));
        out[@intFromEnum(ConfigField.allocatorType)] = @floatFromInt(@intFromEnum(c.strategy));
        out[@intFromEnum(ConfigField.blockSize)] = @floatFromInt(c.block_size);
        out[@intFromEnum(ConfigField.alignment)] = @floatFromInt(c.alignment);
        out[@intFromEnum(ConfigField.initialSize)] = @floatFromInt(c.initial_size);
        out[@intFromEnum(ConfigField.maxSize)] = @floatFromInt(c.max_size);
        out[@intFromEnum(ConfigField.growth)] = c.growth;
        out[@intFromEnum(ConfigField.threadSafety)] = @floatFromInt(@intFromEnum(c.thread_safety));
        out[@intFromEnum(ConfigField.collectStats)] = @floatFromInt(@intFromBool(c.collect_stats));
        out[@intFromEnum(ConfigField.deviceId)] = @floatFromInt(c.device_id);
        out[@intFromEnum(ConfigField.threadLocalCache)] = @floatFromInt(@intFromBool(c.thread_local_cache));
        const debug = c.debug.write();
        inline for (debug_fields) |name| out[@intFromEnum(@field(ConfigField, name))] = @field(debug, name);
    }

    fn debugRaw(raw: *const [config_field_count]f64) debug_config.Raw {
        var out: debug_config.Raw = .{};
        inline for (debug_fields) |name| @field(out, name) = raw[@intFromEnum(@field(ConfigField, name))];
        return out;
    }
};

comptime {
    // The debug fields close the record, in the same order as debug_config.Raw names them.
    for (debug_fields, 0..) |name, i| {
        assert(@intFromEnum(@field(ConfigField, name)) == @intFromEnum(ConfigField.canaries) + i);
    }
    assert(@intFromEnum(ConfigField.canaries) + debug_fields.len == config_field_count);
}

pub fn testConfig(strategy: StrategyKind) Config {
    return .{ .kind = .cpu, .strategy = strategy, .block_size = 100, .alignment = 16, .initial_size = 64 * 1024, .max_size = 256 * 1024, .growth = 1, .thread_safety = .none, .collect_stats = true, .device_id = 0 };
}

/// Every thread-safety mode a fixed pool takes: threadSafety, and whether it has thread caches.
pub const fixed_modes = [_]struct { ThreadSafety, bool }{ .{ .none, false }, .{ .mutex, false }, .{ .lock_free, false }, .{ .mutex, true }, .{ .lock_free, true } };

/// The test config of a fixed pool of `block_size`-byte blocks in `mode` (one of fixed_modes).
pub fn fixedConfigIn(mode: @TypeOf(fixed_modes[0]), block_size: u64) Config {
    assert(block_size > 0);
    var config = testConfig(.fixed_size);
    config.block_size = block_size;
    config.thread_safety = mode[0];
    config.thread_local_cache = mode[1];
    return config;
}

test "config parsing names the bad field" {
    var raw: [config_field_count]f64 = .{ 0, 1, 0, 24, 65536, 0, 1, 0, 1, 0, 0, 0, 0, 1, -1, -1, 0, 0, 0, 0, 0 };
    try std.testing.expectError(error.Config, Config.parse(&raw));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "alignment") != null);
    raw[@intFromEnum(ConfigField.alignment)] = 16;
    raw[@intFromEnum(ConfigField.initialSize)] = 1.5;
    try std.testing.expectError(error.Config, Config.parse(&raw));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "initialSize") != null);
    raw[@intFromEnum(ConfigField.initialSize)] = 65536;
    raw[@intFromEnum(ConfigField.fillOnAlloc)] = 300;
    try std.testing.expectError(error.Config, Config.parse(&raw));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "fillOnAlloc") != null);
    raw[@intFromEnum(ConfigField.fillOnAlloc)] = 0xCD;
    const parsed = try Config.parse(&raw);
    try std.testing.expectEqual(@as(?u8, 0xCD), parsed.debug.fill_on_alloc);
}
