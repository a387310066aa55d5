//! Failures: a Zig error set inside the core, status codes at the FFI boundary (abi.zig describes
//! them to TypeScript), and the per-thread message that explains the last failure, with the
//! setting it is about where it is a config error. Exports return a
//! status (0 = ok, negative = failure), or, where they return a granule offset,
//! `offset_error_base + magnitude`.
const std = @import("std");
const assert = std.debug.assert;

pub const Error = error{
    OutOfMemory,
    InvalidPointer,
    DoubleFree,
    Config,
    PoolExists,
    PoolNotFound,
    InvalidSize,
    Unavailable,
    TooManyPools,
    ThreadMisuse,
    Unsupported,
    /// Canaries around an allocation were damaged (debug/violation.zig says which and where).
    BoundaryViolation,
    /// A freed block in quarantine was written to (debug/violation.zig says which and where).
    UseAfterFree,
    PmemUnavailable,
    PmemFormat,
    PmemFile,
    PmemRoot,
};

pub const Code = enum(i32) {
    ok = 0,
    /// From a free: freed, and the allocation had guard pages (not a failure).
    freed_guarded = 1,
    out_of_memory = -1,
    invalid_pointer = -2,
    double_free = -3,
    config = -4,
    pool_exists = -5,
    pool_not_found = -6,
    invalid_size = -7,
    unavailable = -8,
    too_many_pools = -9,
    thread_misuse = -10,
    unsupported = -11,
    boundary_violation = -12,
    use_after_free = -13,
    // PMEM pools (zig/src/pmem/): numbered apart so other kinds can take the codes after -9.
    pmem_unavailable = -20,
    pmem_format = -21,
    pmem_file = -22,
    pmem_root = -23,
};

pub fn code(err: Error) Code {
    return switch (err) {
        error.OutOfMemory => .out_of_memory,
        error.InvalidPointer => .invalid_pointer,
        error.DoubleFree => .double_free,
        error.Config => .config,
        error.PoolExists => .pool_exists,
        error.PoolNotFound => .pool_not_found,
        error.InvalidSize => .invalid_size,
        error.Unavailable => .unavailable,
        error.TooManyPools => .too_many_pools,
        error.ThreadMisuse => .thread_misuse,
        error.Unsupported => .unsupported,
        error.BoundaryViolation => .boundary_violation,
        error.UseAfterFree => .use_after_free,
        error.PmemUnavailable => .pmem_unavailable,
        error.PmemFormat => .pmem_format,
        error.PmemFile => .pmem_file,
        error.PmemRoot => .pmem_root,
    };
}

/// Granule offsets returned by allocation exports are below this; values from it up are errors.
pub const offset_error_base: u32 = 0xFFFF_FF00;

pub fn offsetError(err: Error) u32 {
    const magnitude: u32 = @intCast(-@intFromEnum(code(err)));
    assert(magnitude > 0 and magnitude < 0x100);
    return offset_error_base + magnitude;
}

const message_capacity = 512;
threadlocal var message_buffer: [message_capacity]u8 = undefined;
threadlocal var message_len: usize = 0;
threadlocal var last_error: ?Error = null;
/// The setting (a PoolConfig field, or "name") the last Config failure is about: a static string.
threadlocal var last_setting: []const u8 = "";

/// The failure the last `fail` on this thread recorded (for exports that return an address, so
/// cannot return a status).
pub fn lastCode() Code {
    return if (last_error) |err| code(err) else .ok;
}

/// Records why the current call fails, for `mp_last_error`; returns `err` for `return fail(...)`.
/// A Config failure goes through `failConfig`, which names its setting (refused at compile time here).
pub fn fail(comptime err: Error, comptime fmt: []const u8, args: anytype) Error {
    if (err == error.Config) @compileError("a Config failure names its setting: status.failConfig(setting, ...)");
    return record(err, fmt, args);
}

/// A Config failure about `setting`, as TypeScript names it (a PoolConfig field, or "name" for
/// the pool's name): TypeScript reads it back (`mp_last_error_setting`) for ConfigError.field.
/// `setting` must outlive the thread: a literal, or @tagName of a config field.
pub fn failConfig(setting: []const u8, comptime fmt: []const u8, args: anytype) Error {
    assert(setting.len > 0);
    last_setting = setting;
    return record(error.Config, fmt, args);
}

/// The setting of the last Config failure on this thread ("" where the last failure was another).
pub fn lastSetting() []const u8 {
    const last = last_error orelse return "";
    return if (last == error.Config) last_setting else "";
}

fn record(err: Error, comptime fmt: []const u8, args: anytype) Error {
    const written = std.fmt.bufPrint(&message_buffer, fmt, args) catch blk: {
        const ellipsis = "...";
        @memcpy(message_buffer[message_capacity - ellipsis.len ..], ellipsis);
        break :blk message_buffer[0..];
    };
    message_len = written.len;
    last_error = err;
    return err;
}

pub fn lastMessage() []const u8 {
    assert(message_len <= message_capacity);
    return message_buffer[0..message_len];
}

test "fail records a bounded message" {
    const err = failConfig("alignment", "field {s} is {d}", .{ "alignment", 3 });
    try std.testing.expectEqual(error.Config, err);
    try std.testing.expectEqualStrings("field alignment is 3", lastMessage());
    try std.testing.expectEqualStrings("alignment", lastSetting());
    const long = "x" ** 600;
    try std.testing.expectEqual(error.InvalidSize, fail(error.InvalidSize, "{s}", .{long}));
    try std.testing.expectEqual(@as(usize, message_capacity), lastMessage().len);
    try std.testing.expectEqualStrings("", lastSetting());
    try std.testing.expectEqual(@as(u32, 0xFFFF_FF03), offsetError(error.DoubleFree));
}
