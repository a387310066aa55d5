//! The debug switches of a pool, as PoolConfig names them, read and validated from the numbers
//! TypeScript passes (see ConfigField in pool.zig). Some act in the core (canaries, guard pages,
//! fills, quarantine); the rest act in TypeScript (history, leak reports, safe views), and the
//! core only keeps them, so that every Worker that opens the pool reads the same configuration.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Position = @import("guard.zig").Position;
const Error = status.Error;

/// The most history a pool keeps, in events.
pub const history_size_max = 1 << 20;

/// The fields as they arrive, one f64 each.
pub const Raw = struct {
    canaries: f64 = 0,
    guardPages: f64 = 0, // 0 off, 1 after the user bytes, 2 before them
    guardSampleRate: f64 = 1,
    fillOnAlloc: f64 = -1, // -1 off, else the byte
    fillOnFree: f64 = -1,
    quarantineBytes: f64 = 0,
    trackHistory: f64 = 0,
    leakReport: f64 = 0,
    safeViews: f64 = 0,
    historySize: f64 = 0,
};

pub const DebugConfig = struct {
    canaries: bool = false,
    guard: ?Position = null,
    /// One allocation in this many gets guard pages (when `guard` is set); 1: every one.
    guard_sample_period: u32 = 1,
    fill_on_alloc: ?u8 = null,
    fill_on_free: ?u8 = null,
    /// Freed blocks are held back from reuse up to this many bytes (their accessible bytes, as
    /// quarantinedBytes counts them: a guarded block's guard page is not counted); 0: no quarantine.
    quarantine_bytes: u64 = 0,
    track_history: bool = false,
    leak_report: bool = false,
    safe_views: bool = false,
    history_size: u32 = 0,

    /// Whether the core must stand a debug layer between the pool and its strategy.
    pub fn coreActive(self: DebugConfig) bool {
        return self.canaries or self.guard != null or self.fill_on_alloc != null or self.fill_on_free != null or self.quarantine_bytes > 0;
    }

    /// The name (as PoolConfig spells it) of the first switch that acts in the core, for messages
    /// that refuse it.
    pub fn firstCoreSwitch(self: DebugConfig) []const u8 {
        assert(self.coreActive());
        if (self.canaries) return "canaries";
        if (self.guard != null) return "guardPages";
        if (self.fill_on_alloc != null) return "fillOnAlloc";
        if (self.fill_on_free != null) return "fillOnFree";
        return "quarantineBytes";
    }

    pub fn parse(raw: Raw, quarantine_bytes_max: u64) Error!DebugConfig {
        const config: DebugConfig = .{
            .canaries = try flag(raw.canaries, "canaries"),
            .guard = switch (try whole(raw.guardPages, "guardPages", 2)) {
                0 => null,
                1 => .after,
                2 => .before,
                else => unreachable,
            },
            .guard_sample_period = @intCast(try whole(raw.guardSampleRate, "guardSampleRate", std.math.maxInt(u32))),
            .fill_on_alloc = try fillByte(raw.fillOnAlloc, "fillOnAlloc"),
            .fill_on_free = try fillByte(raw.fillOnFree, "fillOnFree"),
            .quarantine_bytes = try whole(raw.quarantineBytes, "quarantineBytes", quarantine_bytes_max),
            .track_history = try flag(raw.trackHistory, "trackHistory"),
            .leak_report = try flag(raw.leakReport, "leakReport"),
            .safe_views = try flag(raw.safeViews, "safeViews"),
            .history_size = @intCast(try whole(raw.historySize, "historySize", history_size_max)),
        };
        if (config.guard_sample_period == 0) return status.failConfig("guardSampleRate", "guardSampleRate must be 1 (every allocation) or more (one in N), got 0", .{});
        return config;
    }

    pub fn write(self: DebugConfig) Raw {
        return .{
            .canaries = @floatFromInt(@intFromBool(self.canaries)),
            .guardPages = if (self.guard) |position| @floatFromInt(@intFromEnum(position)) else 0,
            .guardSampleRate = @floatFromInt(self.guard_sample_period),
            .fillOnAlloc = if (self.fill_on_alloc) |byte| @floatFromInt(byte) else -1,
            .fillOnFree = if (self.fill_on_free) |byte| @floatFromInt(byte) else -1,
            .quarantineBytes = @floatFromInt(self.quarantine_bytes),
            .trackHistory = @floatFromInt(@intFromBool(self.track_history)),
            .leakReport = @floatFromInt(@intFromBool(self.leak_report)),
            .safeViews = @floatFromInt(@intFromBool(self.safe_views)),
            .historySize = @floatFromInt(self.history_size),
        };
    }
};

fn whole(value: f64, comptime name: []const u8, max: u64) Error!u64 {
    if (!(value >= 0) or value != @floor(value) or value > @as(f64, @floatFromInt(max))) {
        return status.failConfig(name, name ++ " must be a whole number from 0 to {d}, got {d}", .{ max, value });
    }
    return @intFromFloat(value);
}

fn flag(value: f64, comptime name: []const u8) Error!bool {
    if (value != 0 and value != 1) return status.failConfig(name, name ++ " must be true or false, got {d}", .{value});
    return value == 1;
}

fn fillByte(value: f64, comptime name: []const u8) Error!?u8 {
    if (value == -1) return null;
    return @intCast(try whole(value, name, 255));
}

test "debug switches parse, name the bad field, and write back the same" {
    const parsed = try DebugConfig.parse(.{ .canaries = 1, .guardPages = 2, .guardSampleRate = 100, .fillOnAlloc = 0xCD, .quarantineBytes = 4096, .historySize = 64 }, 1 << 30);
    try std.testing.expect(parsed.coreActive());
    try std.testing.expectEqual(Position.before, parsed.guard.?);
    try std.testing.expectEqual(@as(?u8, 0xCD), parsed.fill_on_alloc);
    try std.testing.expectEqual(@as(?u8, null), parsed.fill_on_free);
    const again = try DebugConfig.parse(parsed.write(), 1 << 30);
    try std.testing.expectEqual(parsed, again);
    try std.testing.expect(!(try DebugConfig.parse(.{ .trackHistory = 1, .leakReport = 1 }, 0)).coreActive());
    try std.testing.expectEqualStrings("fillOnAlloc", (try DebugConfig.parse(.{ .fillOnAlloc = 1, .quarantineBytes = 64 }, 1024)).firstCoreSwitch());
    try std.testing.expectError(error.Config, DebugConfig.parse(.{ .fillOnFree = 256 }, 0));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "fillOnFree") != null);
    try std.testing.expectError(error.Config, DebugConfig.parse(.{ .guardPages = 3 }, 0));
    try std.testing.expectError(error.Config, DebugConfig.parse(.{ .guardSampleRate = 0 }, 0));
    try std.testing.expectError(error.Config, DebugConfig.parse(.{ .canaries = 0.5 }, 0));
}
