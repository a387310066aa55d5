//! The leak report of a threadSafety "none" pool whose thread ends without its JavaScript's
//! exit report: a Worker stopped by terminate() runs no process.on("exit") listener, and its
//! pools end with its thread (registry.zig destroyOwned). Written here, from what the core holds,
//! in the words of src/debug/report.ts leakReport, on stderr, before the pool is destroyed; then
//! what a check of its canaries and quarantine finds (as src/manager.ts writes at exit). The
//! core knows no JavaScript stack or age: those lines say so. Host and pinned pools, as at exit (a
//! PMEM pool's published allocations are its data, which only JavaScript tells apart; a GPU
//! pool's report is its JavaScript's). `pool` is a Pool (pool.zig), asked through its methods.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const queries = @import("queries.zig");
const violation = @import("violation.zig");
// Its writers: async-signal-safe, and at a thread's end, past JavaScript, as good as any.
const say = @import("fault_handler.zig").say;
const writeAll = @import("fault_handler.zig").writeAll;

/// Set where this thread's JavaScript wrote the exit report of the pools it made (mp_thread_exit_reported).
threadlocal var reported_by_javascript = false;

/// This thread's JavaScript wrote its exit report: its pools' ends need none from here.
pub fn notedByJavaScript() void {
    reported_by_javascript = true;
}

/// Whether the core must write `pool`'s report as its owner thread ends.
pub fn wanted(pool: anytype) bool {
    return !reported_by_javascript and pool.reportsLeaks() and pool.memoryKind() != .gpu and pool.journalOf() == null;
}

const Leak = struct { id: u32, g: u32, size: u64 };

fn byId(_: void, a: Leak, b: Leak) bool {
    return a.id < b.id;
}

/// Writes what is still allocated in `pool`, and the damage a check finds; best-effort (memory
/// or stderr missing: the report is lost, never the thread's end).
pub fn write(pool: anytype) void {
    assert(wanted(pool));
    const gpa = std.heap.c_allocator;
    var first: [64]u32 = undefined;
    const count = pool.listLive(&first);
    const offsets = if (count <= first.len) first[0..count] else gpa.alloc(u32, count) catch return;
    defer if (count > first.len) gpa.free(offsets);
    if (count > first.len) assert(pool.listLive(offsets) == count); // the owner's thread ends: no one else changes it
    const leaks = gpa.alloc(Leak, count) catch return;
    defer gpa.free(leaks);
    var found: usize = 0;
    var total: u64 = 0;
    for (offsets) |g| {
        const live = pool.lookup(g) orelse continue;
        leaks[found] = .{ .id = live.id, .g = g, .size = live.requested_bytes };
        total += live.requested_bytes;
        found += 1;
    }
    std.sort.pdq(Leak, leaks[0..found], {}, byId);
    const when = "Worker exit"; // as JavaScript says it: the lines below tell the two apart
    var line: [1024]u8 = undefined; // room for two names of poolNameBytesMax
    if (found > 0) {
        say(&line, "bun-memory-pool: leak report for pool '{s}' ({s}): {d} allocation{s} still live, ", .{ pool.poolName(), when, found, plural(found) });
        writeBytes(&line, total);
        for (leaks[0..found]) |leak| {
            say(&line, "  #{d}: {d} byte{s} at 0x{x}\n    (allocation stack not known: the Worker's records ended with it)\n", .{ leak.id, leak.size, plural(leak.size), pool.address(leak.g) });
        }
    }
    queries.check(pool) catch |err| {
        say(&line, "bun-memory-pool: damage found in pool '{s}' ({s}): ", .{ pool.poolName(), when });
        if (err == error.BoundaryViolation or err == error.UseAfterFree) writeDamage(&line, pool, violation.lastViolation()) else say(&line, "{s}\n", .{status.lastMessage()});
    };
}

/// The damage in the words of src/debug/report.ts describeBoundaryViolation and describeWriteAfterFree,
/// with the name of the error TypeScript would throw, and no stack (the Worker's records ended with it).
fn writeDamage(line: []u8, pool: anytype, found: violation.Violation) void {
    const error_name = if (found.side == .freed) "UseAfterFreeError" else "BoundaryViolationError";
    const what = .{ found.id, found.size, plural(found.size), pool.address(found.user_g), pool.poolName() };
    const allocation = "allocation #{d} ({d} byte{s} at 0x{x}, pool '{s}')";
    switch (found.side) {
        .before => say(line, "{s}: buffer underflow: " ++ allocation ++ " was written {d} byte{s} before its start", .{error_name} ++ what ++ .{ -found.offset, plural(@intCast(-found.offset)) }),
        .after => say(line, "{s}: buffer overflow: " ++ allocation ++ " was written {d} byte{s} past its end", .{error_name} ++ what ++ .{ @as(u64, @intCast(found.offset)) - found.size + 1, plural(@as(u64, @intCast(found.offset)) - found.size + 1) }),
        .freed => say(line, "{s}: write after free: " ++ allocation ++ " was written after it was freed", .{error_name} ++ what),
    }
    const damaged = if (found.side == .freed) "changed byte" else "damaged byte";
    const of = if (found.side == .freed) " changed" else " of canary damaged";
    say(line, " (first {s} at offset {d}, {d} byte{s}{s})\n", .{ damaged, found.offset, found.damaged_bytes, plural(found.damaged_bytes), of });
}

fn plural(count: u64) []const u8 {
    return if (count == 1) "" else "s";
}

/// `total` as src/stats.ts bytes() writes it, then the line's end.
fn writeBytes(line: []u8, total: u64) void {
    var words: [32]u8 = undefined;
    say(line, "{s}\n", .{formatBytes(&words, total)});
}

fn formatBytes(buffer: *[32]u8, total: u64) []const u8 {
    if (total < 1024) return std.fmt.bufPrint(buffer, "{d} B", .{total}) catch unreachable;
    const units = [_][]const u8{ "KiB", "MiB", "GiB", "TiB" };
    var value: f64 = @as(f64, @floatFromInt(total)) / 1024;
    var unit: usize = 0;
    while (value >= 1024 and unit < units.len - 1) : (unit += 1) value /= 1024;
    assert(value >= 1);
    return (if (value < 10) std.fmt.bufPrint(buffer, "{d:.2} {s}", .{ value, units[unit] }) else std.fmt.bufPrint(buffer, "{d:.1} {s}", .{ value, units[unit] })) catch unreachable;
}

test "sizes are written as src/stats.ts bytes() writes them" {
    var buffer: [32]u8 = undefined;
    try std.testing.expectEqualStrings("124 B", formatBytes(&buffer, 124));
    try std.testing.expectEqualStrings("1023 B", formatBytes(&buffer, 1023));
    try std.testing.expectEqualStrings("1.50 KiB", formatBytes(&buffer, 1536));
    try std.testing.expectEqualStrings("10.0 KiB", formatBytes(&buffer, 10 * 1024));
    try std.testing.expectEqualStrings("1.00 MiB", formatBytes(&buffer, 1 << 20));
    try std.testing.expectEqualStrings("2048.0 TiB", formatBytes(&buffer, 1 << 51));
}

test "a pool's end is reported only for host pools with leakReport, and not once JavaScript reported" {
    const Fake = struct {
        leaks: bool,
        kind: @import("../backend.zig").Kind,
        journal: ?*anyopaque = null,
        fn reportsLeaks(self: @This()) bool {
            return self.leaks;
        }
        fn memoryKind(self: @This()) @import("../backend.zig").Kind {
            return self.kind;
        }
        fn journalOf(self: @This()) ?*anyopaque {
            return self.journal;
        }
    };
    const saved = reported_by_javascript;
    defer reported_by_javascript = saved;
    reported_by_javascript = false;
    var journal: u8 = 0;
    try std.testing.expect(wanted(Fake{ .leaks = true, .kind = .cpu }));
    try std.testing.expect(wanted(Fake{ .leaks = true, .kind = .pinned }));
    try std.testing.expect(!wanted(Fake{ .leaks = false, .kind = .cpu }));
    try std.testing.expect(!wanted(Fake{ .leaks = true, .kind = .gpu }));
    try std.testing.expect(!wanted(Fake{ .leaks = true, .kind = .cpu, .journal = &journal }));
    notedByJavaScript();
    try std.testing.expect(!wanted(Fake{ .leaks = true, .kind = .cpu }));
}
