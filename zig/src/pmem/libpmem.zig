//! libpmem (PMDK 1.x), found at run time through dlopen rather than linked, so the core loads on
//! machines without it and only PMEM pools say what is missing. `api()` resolves the table once
//! per process and afterwards hands it out, or error.Unavailable with `unavailableReason()`.
//!
//! MEMORY_POOL_LIBPMEM names another library to load instead of libpmem.so.1 (a PMDK built
//! elsewhere; the tests point it at a missing file to see the library without libpmem).
const std = @import("std");
const runtime_library = @import("../backend/runtime_library.zig");
const RuntimeLibrary = runtime_library.RuntimeLibrary;

/// Every entry point the core uses, by its symbol name (libpmem.h, PMDK 1.12).
pub const Api = struct {
    pmem_persist: *const fn (?*const anyopaque, usize) callconv(.c) void,
    pmem_flush: *const fn (?*const anyopaque, usize) callconv(.c) void,
    pmem_drain: *const fn () callconv(.c) void,
    pmem_msync: *const fn (?*const anyopaque, usize) callconv(.c) c_int,
    pmem_is_pmem: *const fn (?*const anyopaque, usize) callconv(.c) c_int,
    /// memmove, not memcpy: a caller's source may overlap the destination (a view of the same allocation).
    pmem_memmove_persist: *const fn (?*anyopaque, ?*const anyopaque, usize) callconv(.c) ?*anyopaque,
    pmem_memset_persist: *const fn (?*anyopaque, c_int, usize) callconv(.c) ?*anyopaque,
    pmem_check_version: *const fn (c_uint, c_uint) callconv(.c) ?[*:0]const u8,
};

/// The major version this table is written against, and the oldest minor that has every symbol.
const major_required = 1;
const minor_required = 0;
const default_name: [:0]const u8 = "libpmem.so.1";
pub const override_variable = "MEMORY_POOL_LIBPMEM";

var once = std.once(load);
/// A reason goes into a status message of 512 bytes (status.zig), after "PMEM pools need libpmem: ".
/// Every part a reason quotes from outside (a path, dlerror's text) is bounded by `quoted`, so the
/// whole reason fits: the test below writes the longest.
const reason_bytes_max = 480;
const Library = RuntimeLibrary(Api, reason_bytes_max);
var library: Library = .{};

/// Longest text a reason quotes whole; a longer one keeps its start and end around a marker.
const quoted_bytes_max = 180;

/// `text`, or where it is longer than quoted_bytes_max its start and its end (where a path names
/// the file and dlerror says what was wrong) around a marker that says how much was left out.
const Quoted = struct {
    text: []const u8,

    /// Bytes kept of the start, and of the end (dlerror ends with why, as in ": cannot open shared object file: No such file or directory").
    const head = 60;
    const tail = 90;

    pub fn format(self: Quoted, writer: *std.Io.Writer) std.Io.Writer.Error!void {
        if (self.text.len <= quoted_bytes_max) return writer.writeAll(self.text);
        try writer.print("{s}[... {d} bytes cut ...]{s}", .{ self.text[0..head], self.text.len - head - tail, self.text[self.text.len - tail ..] });
    }
};

fn quoted(text: []const u8) Quoted {
    return .{ .text = text };
}

test "a reason quoting long paths keeps their start and end, says how much was cut, and fits" {
    var scratch: Library = .{};
    const long = "/opt/" ++ "d" ** 5000 ++ "/libpmem.so.1";
    const detail = long ++ ": cannot open shared object file: No such file or directory";
    scratch.fail("libpmem could not be loaded from {s}={f} ({f})", .{ override_variable, quoted(long), quoted(detail) });
    const reason = scratch.unavailableReason();
    try std.testing.expect(reason.len <= reason_bytes_max);
    try std.testing.expect(std.mem.startsWith(u8, reason, "libpmem could not be loaded from MEMORY_POOL_LIBPMEM=/opt/ddd"));
    try std.testing.expect(std.mem.indexOf(u8, reason, "ddd[... 4868 bytes cut ...]ddd") != null);
    try std.testing.expect(std.mem.indexOf(u8, reason, "ddd/libpmem.so.1 (/opt/ddd") != null);
    try std.testing.expect(std.mem.endsWith(u8, reason, "libpmem.so.1: cannot open shared object file: No such file or directory)"));
    scratch.fail("the libpmem at {f} is too old or not PMDK's: it lacks {s}", .{ quoted("/short/libpmem.so"), "pmem_persist" });
    try std.testing.expectEqualStrings("the libpmem at /short/libpmem.so is too old or not PMDK's: it lacks pmem_persist", scratch.unavailableReason());
}

/// The library MEMORY_POOL_LIBPMEM names, or null where it is unset or empty: an empty value means
/// unset, as for MEMORY_POOL_CORE_PATH (dlopen("") opens the program itself, which has no libpmem).
fn overrideName(value: ?[*:0]const u8) ?[*:0]const u8 {
    const given = value orelse return null;
    return if (given[0] == 0) null else given;
}

test "an empty MEMORY_POOL_LIBPMEM is no override" {
    try std.testing.expect(overrideName(null) == null);
    try std.testing.expect(overrideName("") == null);
    const named: [*:0]const u8 = "/opt/pmdk/libpmem.so.1";
    try std.testing.expectEqual(named, overrideName(named).?);
}

fn load() void {
    const override = overrideName(std.c.getenv(override_variable));
    const name: [*:0]const u8 = if (override) |value| value else default_name.ptr;
    if (override != null) {
        if (runtime_library.fileProblem(name)) |problem| {
            library.fail("libpmem could not be loaded from {s}={f} ({s})", .{ override_variable, quoted(std.mem.span(name)), problem });
            return;
        }
    }
    // The default name, or an override that is a bare name: dlopen searches LD_LIBRARY_PATH for it.
    var path: [std.fs.max_path_bytes]u8 = undefined;
    if (runtime_library.searchedFileProblem(std.mem.span(name), &path)) |found| {
        library.fail("libpmem could not be loaded from {f}, first on LD_LIBRARY_PATH ({s})", .{ quoted(found.path), found.problem });
        return;
    }
    const handle = std.c.dlopen(name, .{ .NOW = true }) orelse {
        const detail: []const u8 = if (std.c.dlerror()) |message| std.mem.span(message) else "dlopen failed";
        if (override != null) {
            library.fail("libpmem could not be loaded from {s}={f} ({f})", .{ override_variable, quoted(std.mem.span(name)), quoted(detail) });
        } else if (runtime_library.isMissingFile(detail)) {
            library.fail("libpmem (PMDK's libpmem.so.1) is not installed: install the libpmem1 package (Debian/Ubuntu: apt-get install libpmem1), or run `npm run build`, which installs it where apt-get can", .{});
        } else {
            // Found but refused (a broken file of that name first on LD_LIBRARY_PATH, no memory to map it): not a missing package.
            library.fail("libpmem (PMDK's libpmem.so.1) could not be loaded: {f}", .{quoted(detail)});
        }
        return;
    };
    if (library.resolve(handle)) |missing| {
        library.fail("the libpmem at {f} is too old or not PMDK's: it lacks {s}", .{ quoted(std.mem.span(name)), missing });
        return;
    }
    if (library.table.pmem_check_version(major_required, minor_required)) |message| {
        library.fail("libpmem refuses version {d}.{d}: {f}", .{ major_required, minor_required, quoted(std.mem.span(message)) });
        return;
    }
    library.succeed();
}

/// The libpmem table, or error.Unavailable with `unavailableReason()` saying why.
pub fn api() error{Unavailable}!*const Api {
    once.call();
    return library.get();
}

/// Only valid after `api()` succeeded: the hot paths call through this without re-checking.
pub inline fn loaded() *const Api {
    return library.loaded();
}

pub fn unavailableReason() []const u8 {
    once.call();
    return library.unavailableReason();
}

test "api() loads libpmem or says why it cannot" {
    const table = api() catch {
        try std.testing.expect(unavailableReason().len > 0);
        return;
    };
    var word: u64 = 7;
    table.pmem_persist(&word, @sizeOf(u64)); // on any memory: flushes the line, never fails
    try std.testing.expectEqual(@as(u64, 7), word);
}
