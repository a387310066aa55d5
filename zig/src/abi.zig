//! The ABI's one written form. The records TypeScript and the core exchange (config, statistics,
//! violation fields, snapshot header, region and block), the status codes, the enums passed by
//! value and the shared constants are defined where the core uses them; this file only collects
//! them into a description that `mp_abi_describe` hands to TypeScript, which reads it once when
//! it loads the core (src/abi.ts) and builds its tables from it. So a record, a status or a
//! constant is written once, in Zig: adding a statistic is a new tag of stats.zig Field (and its
//! value in `Stats.write`), nothing else.
//!
//! The description is compact JSON, built at compile time (it costs nothing at run time):
//!   {"version":N,
//!    "constants":{"granuleBytes":16,...},
//!    "statuses":{"ok":0,"outOfMemory":-1,...},
//!    "enums":{"poolKind":{"cpu":0,...},...},
//!    "records":{"stats":{"bytes":B,"fields":[["bytesInUse","f64",0],...]},...}}
//! Names are camelCase, as TypeScript spells them (snake_case tags are converted).
//!
//! `version` changes only with the signature of an export: records, statuses and constants are
//! matched by name, so they may grow without it.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const arena_mod = @import("arena.zig");
const backend = @import("backend.zig");
const pool_mod = @import("pool.zig");
const config_mod = @import("config.zig");
const stats_mod = @import("stats.zig");
const snapshot = @import("snapshot.zig");
const violation = @import("debug/violation.zig");
const guard = @import("debug/guard.zig");
const debug_config = @import("debug/config.zig");
const gpu_copy = @import("gpu/copy.zig");
const nvtx = @import("gpu/nvtx.zig");
const pmem_format = @import("pmem/format.zig");
const registry = @import("registry.zig");
const js_cache = @import("sync/js_cache.zig");
const js_bins = @import("sync/js_bins.zig");
const lockfree_fixed = @import("sync/lockfree_fixed.zig");

/// The version of the exports' signatures (src/abi.ts ABI_VERSION expects the same number).
pub const version: u32 = 26;

/// Numbers both sides use, by name.
const constants = .{
    .{ "granuleBytes", arena_mod.granule_bytes },
    .{ "offsetErrorBase", status.offset_error_base },
    // mp_last_id after an allocation: the id in the low bits, the guarded flag in the top bit.
    .{ "idMask", pool_mod.Pool.id_max },
    .{ "guardedIdFlag", pool_mod.Pool.flag_guarded },
    .{ "timingSamplePeriod", stats_mod.timing_sample_period },
    .{ "deviceCanaryBytesMin", pool_mod.deviceCanaryBytes(1) },
    .{ "alignmentMax", config_mod.page_bytes },
    .{ "historySizeMax", debug_config.history_size_max },
    .{ "poolNameBytesMax", registry.name_bytes_max },
    // The JavaScript thread caches (sync/js_cache.zig, src/block_cache.ts): where a record's stack
    // starts and how many numbers it holds, and a block-state chunk's arrays of u32 words.
    .{ "cacheNumbersOffset", @offsetOf(js_cache.Shared, "numbers") },
    .{ "cacheCapacity", js_cache.capacity_blocks },
    .{ "cacheChunkShift", lockfree_fixed.chunk_shift },
    .{ "cacheChunkBytes", @sizeOf(lockfree_fixed.Chunk) },
    .{ "cacheChunkRequestedOffset", @offsetOf(lockfree_fixed.Chunk, "requested_bytes") },
    .{ "cacheChunkStartOffset", @offsetOf(lockfree_fixed.Chunk, "start_plus_one") },
    .{ "cachePendingAlloc", js_cache.pending_alloc },
    .{ "cachePendingFree", js_cache.pending_free },
    .{ "cachePendingKindMask", js_cache.pending_kind_mask },
    .{ "cachePendingSequenceStep", js_cache.pending_sequence_step },
    .{ "cacheMaxRequest", js_cache.max_cached_request },
    .{ "blockFreedFlag", lockfree_fixed.freed_flag },
    .{ "blockContinuedFlag", lockfree_fixed.continued_flag },
    .{ "blockDeadState", lockfree_fixed.dead_state },
    // A Variable pool's JavaScript bins (sync/js_bins.zig, src/size_bins.ts): the table's parts.
    .{ "binsSlotsOffset", @offsetOf(js_bins.Shared, "slots") },
    .{ "binsHashOffset", @offsetOf(js_bins.Shared, "hash") },
    .{ "binsSlotCapacity", js_bins.slot_capacity },
    .{ "binsHashBits", js_bins.hash_bits },
    .{ "binsHashMultiplier", js_bins.hash_multiplier },
    .{ "binsBinnedFlag", js_bins.binned_flag },
};

/// The bits `mp_nvtx_state` returns.
const nvtx_state = .{
    .{ "built", nvtx.state_built },
    .{ "registerMemory", nvtx.state_register_memory },
    .{ "ranges", nvtx.state_ranges },
    .{ "toolAttached", nvtx.state_tool_attached },
    .{ "toolInjected", nvtx.state_tool_injected },
};

pub const description: []const u8 = blk: {
    @setEvalBranchQuota(200_000);
    break :blk "{\"version\":" ++ number(version) ++
        ",\"constants\":" ++ pairs(constants) ++
        ",\"statuses\":" ++ enumObject(status.Code) ++
        ",\"enums\":{" ++
        "\"poolKind\":" ++ enumObject(backend.Kind) ++
        ",\"hostMemory\":" ++ enumObject(gpu_copy.HostMemory) ++
        ",\"blockState\":" ++ enumObject(snapshot.BlockState) ++
        ",\"stackKind\":" ++ enumObject(guard.StackKind) ++
        ",\"pmemFormatReason\":" ++ enumObject(pmem_format.Reason) ++
        ",\"nvtxState\":" ++ pairs(nvtx_state) ++
        ",\"allocatorType\":" ++ enumObject(config_mod.StrategyKind) ++
        ",\"threadSafety\":" ++ enumObject(config_mod.ThreadSafety) ++
        ",\"guardPosition\":" ++ enumObject(guard.Position) ++
        "},\"records\":{" ++
        "\"config\":" ++ f64Record(config_mod.ConfigField) ++
        ",\"stats\":" ++ f64Record(stats_mod.Field) ++
        ",\"violation\":" ++ f64Record(violation.Field) ++
        ",\"snapshotHeader\":" ++ structRecord(snapshot.Header) ++
        ",\"snapshotRegion\":" ++ structRecord(snapshot.RegionRecord) ++
        ",\"snapshotBlock\":" ++ structRecord(snapshot.BlockRecord) ++
        ",\"cacheRecord\":" ++ structRecord(js_cache.Shared) ++
        ",\"binsHeader\":" ++ structRecord(js_bins.Header) ++
        "}}";
};

fn number(comptime value: anytype) []const u8 {
    return std.fmt.comptimePrint("{d}", .{value});
}

/// snake_case to camelCase: TypeScript's spelling of a Zig name.
fn camel(comptime name: []const u8) []const u8 {
    comptime {
        var out: []const u8 = "";
        var upper = false;
        for (name) |char| {
            if (char == '_') {
                upper = true;
            } else {
                out = out ++ .{if (upper) std.ascii.toUpper(char) else char};
                upper = false;
            }
        }
        return out;
    }
}

fn quoted(comptime name: []const u8) []const u8 {
    for (name) |char| assert(std.ascii.isAlphanumeric(char) or char == '_');
    return "\"" ++ camel(name) ++ "\"";
}

/// `{"name":value,...}` from a tuple of .{ name, value }.
fn pairs(comptime list: anytype) []const u8 {
    comptime var out: []const u8 = "{";
    inline for (list, 0..) |pair, i| {
        out = out ++ (if (i > 0) "," else "") ++ quoted(pair[0]) ++ ":" ++ number(pair[1]);
    }
    return out ++ "}";
}

/// `{"tag":value,...}` of an enum, in declaration order.
fn enumObject(comptime E: type) []const u8 {
    comptime var out: []const u8 = "{";
    inline for (@typeInfo(E).@"enum".fields, 0..) |field, i| {
        out = out ++ (if (i > 0) "," else "") ++ quoted(field.name) ++ ":" ++ number(field.value);
    }
    return out ++ "}";
}

/// A record of one f64 per tag of `Field`, at the tag's value: the config and stats records.
fn f64Record(comptime Field: type) []const u8 {
    const fields = @typeInfo(Field).@"enum".fields;
    comptime var out: []const u8 = "{\"bytes\":" ++ number(fields.len * 8) ++ ",\"fields\":[";
    inline for (fields, 0..) |field, i| {
        assert(field.value == i); // dense: the record is an array
        out = out ++ (if (i > 0) "," else "") ++ "[" ++ quoted(field.name) ++ ",\"f64\"," ++ number(i * 8) ++ "]";
    }
    return out ++ "]}";
}

/// The fields of an extern struct with their types and byte offsets: the snapshot records.
fn structRecord(comptime S: type) []const u8 {
    const info = @typeInfo(S).@"struct";
    assert(info.layout == .@"extern");
    comptime var out: []const u8 = "{\"bytes\":" ++ number(@sizeOf(S)) ++ ",\"fields\":[";
    inline for (info.fields, 0..) |field, i| {
        const type_name = switch (field.type) {
            u32 => "u32",
            f64 => "f64",
            // An array (a cache record's stack) is described by constants of its own, not as a field.
            [js_cache.capacity_blocks]u32 => continue,
            else => @compileError("a record field TypeScript reads is u32 or f64"),
        };
        assert(@offsetOf(S, field.name) % @sizeOf(field.type) == 0); // readable through a typed array
        out = out ++ (if (i > 0) "," else "") ++ "[" ++ quoted(field.name) ++ ",\"" ++ type_name ++ "\"," ++ number(@offsetOf(S, field.name)) ++ "]";
    }
    return out ++ "]}";
}

/// Copies the description into `buffer` (as much as fits); returns its whole length, so a caller
/// with too small a buffer can ask again with room.
pub fn describe(buffer: []u8) u32 {
    const len = @min(description.len, buffer.len);
    @memcpy(buffer[0..len], description[0..len]);
    return @intCast(description.len);
}

test "the description is JSON that names every record field, status and constant" {
    const gpa = std.testing.allocator;
    const parsed = try std.json.parseFromSlice(std.json.Value, gpa, description, .{});
    defer parsed.deinit();
    const root = parsed.value.object;
    try std.testing.expectEqual(@as(i64, version), root.get("version").?.integer);
    const records = root.get("records").?.object;
    const stats = records.get("stats").?.object;
    try std.testing.expectEqual(@as(usize, stats_mod.field_count), stats.get("fields").?.array.items.len);
    try std.testing.expectEqualStrings("bytesInUse", stats.get("fields").?.array.items[0].array.items[0].string);
    const config_fields = records.get("config").?.object.get("fields").?.array.items;
    try std.testing.expectEqual(@as(usize, config_mod.config_field_count), config_fields.len);
    const block = records.get("snapshotBlock").?.object;
    try std.testing.expectEqual(@as(i64, @sizeOf(snapshot.BlockRecord)), block.get("bytes").?.integer);
    const requested = block.get("fields").?.array.items[4].array.items;
    try std.testing.expectEqualStrings("requestedBytes", requested[0].string);
    try std.testing.expectEqual(@as(i64, @offsetOf(snapshot.BlockRecord, "requested_bytes")), requested[2].integer);
    const statuses = root.get("statuses").?.object;
    try std.testing.expectEqual(@as(usize, @typeInfo(status.Code).@"enum".fields.len), statuses.count());
    try std.testing.expectEqual(@as(i64, @intFromEnum(status.Code.use_after_free)), statuses.get("useAfterFree").?.integer);
    try std.testing.expectEqual(@as(i64, status.offset_error_base), root.get("constants").?.object.get("offsetErrorBase").?.integer);
}

test "describe reports the whole length and writes what fits" {
    var small: [8]u8 = undefined;
    try std.testing.expectEqual(@as(u32, @intCast(description.len)), describe(&small));
    try std.testing.expectEqualStrings(description[0..8], &small);
    try std.testing.expectEqualStrings("userGranule", comptime camel("user_granule"));
    try std.testing.expectEqualStrings("id", comptime camel("id"));
}
