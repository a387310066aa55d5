//! A C library the core finds at run time (dlopen) rather than links, so that the core loads on
//! machines without it and only the pools that need it say what is missing. Its table of entry
//! points is resolved by field name once, then handed out, or error.Unavailable with the reason.
//! backend/cuda_driver.zig and pmem/libpmem.zig are two: each says where its library is and what
//! to check once it is open, and keeps this state in a `var` with a `std.once` in front of it.
const std = @import("std");
const assert = std.debug.assert;

/// The state of a library whose entry points are the fields of `Api` (function pointers named as
/// the library's symbols), with room for a reason of up to `reason_bytes_max` bytes.
pub fn RuntimeLibrary(comptime Api: type, comptime reason_bytes_max: usize) type {
    comptime assert(reason_bytes_max > 0 and @typeInfo(Api).@"struct".fields.len > 0);
    return struct {
        const Self = @This();

        table: Api = undefined,
        reason_buffer: [reason_bytes_max]u8 = undefined,
        /// Why the table cannot be used; null once `succeed` has run.
        reason: ?[]const u8 = "not loaded yet",

        /// Records why the library cannot be used. A reason longer than the buffer keeps what fits:
        /// callers bound every part they quote from outside (a path, dlerror's text) so that it fits.
        pub fn fail(self: *Self, comptime fmt: []const u8, args: anytype) void {
            var writer: std.Io.Writer = .fixed(&self.reason_buffer);
            writer.print(fmt, args) catch {}; // full: what fits is kept
            self.reason = writer.buffered();
            assert(self.reason.?.len > 0);
        }

        /// Fills the table from the library `handle`: null, or the name of the first entry point the
        /// library lacks (the table is then not to be used).
        pub fn resolve(self: *Self, handle: *anyopaque) ?[:0]const u8 {
            inline for (@typeInfo(Api).@"struct".fields) |field| {
                const symbol = std.c.dlsym(handle, field.name) orelse return field.name;
                @field(self.table, field.name) = @ptrCast(@alignCast(symbol));
            }
            return null;
        }

        /// Every entry point resolved and every check passed: the table may be used from now on.
        pub fn succeed(self: *Self) void {
            self.reason = null;
        }

        /// The table, or error.Unavailable with `unavailableReason()` saying why.
        pub fn get(self: *const Self) error{Unavailable}!*const Api {
            if (self.reason != null) return error.Unavailable;
            return &self.table;
        }

        /// The table where `get` has succeeded before: hot paths call through it without a check.
        pub inline fn loaded(self: *const Self) *const Api {
            assert(self.reason == null);
            return &self.table;
        }

        pub fn unavailableReason(self: *const Self) []const u8 {
            return self.reason orelse "";
        }
    };
}

test "a library's state: unusable until it succeeds, a reason kept whole or cut to its buffer, missing entry points named" {
    const Api = struct { strlen: *const fn ([*:0]const u8) callconv(.c) usize, no_such_symbol_here: *const fn () callconv(.c) void };
    var library: RuntimeLibrary(Api, 16) = .{};
    try std.testing.expectError(error.Unavailable, library.get());
    library.fail("absent: {s}", .{"x"});
    try std.testing.expectEqualStrings("absent: x", library.unavailableReason());
    library.fail("a reason of {d} bytes and more", .{30});
    try std.testing.expectEqualStrings("a reason of 30 b", library.unavailableReason());
    const libc = std.c.dlopen("libc.so.6", .{ .NOW = true }) orelse return error.SkipZigTest;
    try std.testing.expectEqualStrings("no_such_symbol_here", library.resolve(libc).?);
    try std.testing.expectError(error.Unavailable, library.get());
    library.succeed();
    try std.testing.expectEqual(@as(usize, 3), (try library.get()).strlen("abc"));
    try std.testing.expectEqualStrings("", library.unavailableReason());
}

/// Whether dlopen's reason (`dlerror`) says it found no file of the name, rather than a file it
/// refused (a broken one first on LD_LIBRARY_PATH, no memory to map it): only then is the library
/// not installed.
pub fn isMissingFile(detail: []const u8) bool {
    return std.mem.endsWith(u8, detail, "No such file or directory");
}

/// Why the library file at `path` would take the process down in dlopen, or null where its headers
/// look whole. dlopen waits forever for a writer on a FIFO, and maps a truncated library's segments
/// past the end of the file, where its first read is a SIGBUS: a path a user names (an override
/// variable) is looked at first. Only a path with a slash names a file; a bare name is searched
/// for on the system's library path, which dlopen alone knows.
pub fn fileProblem(path: [*:0]const u8) ?[]const u8 {
    assert(path[0] != 0); // an empty name is no file (dlopen("") opens the program): callers treat it as unset
    if (std.mem.indexOfScalar(u8, std.mem.span(path), '/') == null) return null;
    const stat = std.posix.fstatatZ(std.posix.AT.FDCWD, path, 0) catch return null; // dlopen says why it cannot open it
    if (!std.posix.S.ISREG(stat.mode)) return "it is not a regular file";
    const fd = std.posix.openZ(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0) catch return null;
    defer std.posix.close(fd);
    const file_bytes: u64 = @intCast(stat.size);
    var header: [elf64_header_bytes]u8 = undefined;
    const read = std.posix.pread(fd, &header, 0) catch return "it cannot be read";
    if (read < header.len or !std.mem.eql(u8, header[0..4], "\x7fELF")) return "it is not a shared library (no ELF header)";
    if (header[4] != 2) return null; // not ELF64: dlopen refuses it in words of its own
    const endian: std.builtin.Endian = if (header[5] == 1) .little else .big;
    const table_offset = std.mem.readInt(u64, header[32..40], endian);
    const entry_bytes = std.mem.readInt(u16, header[54..56], endian);
    const count = std.mem.readInt(u16, header[56..58], endian);
    if (entry_bytes != elf64_program_header_bytes) return "it is truncated or damaged: its program headers are not ELF64's";
    if (table_offset > file_bytes or @as(u64, count) * entry_bytes > file_bytes - table_offset) return "it is truncated or damaged: its program headers lie past its end";
    for (0..count) |index| {
        var entry: [elf64_program_header_bytes]u8 = undefined;
        const got = std.posix.pread(fd, &entry, table_offset + index * elf64_program_header_bytes) catch return "it cannot be read";
        if (got < entry.len) return "it is truncated or damaged: its program headers lie past its end";
        if (std.mem.readInt(u32, entry[0..4], endian) != pt_load) continue;
        const offset = std.mem.readInt(u64, entry[8..16], endian);
        const size = std.mem.readInt(u64, entry[32..40], endian);
        if (offset > file_bytes or size > file_bytes - offset) return "it is truncated or damaged: a segment it loads reaches past its end";
    }
    return null;
}

const elf64_header_bytes = 64;
const elf64_program_header_bytes = 56;
const pt_load = 1;

/// A file the dynamic loader would open for a bare library name, and what fileProblem found in it.
pub const SearchedProblem = struct { path: [:0]const u8, problem: []const u8 };

/// Why the file the dynamic loader would take for the bare name `name` from LD_LIBRARY_PATH (which
/// it searches first) would take the process down in dlopen, as fileProblem says; null where that
/// file looks whole or no folder on it holds one (the system's folders and ld.so.cache hold the
/// system's libraries, which every program loads). The loader passes over a file of the name built
/// for another class or CPU, and so does this; the path is written into `buffer`. A name with a
/// slash is no search (fileProblem looks at that file): null.
pub fn searchedFileProblem(name: [:0]const u8, buffer: []u8) ?SearchedProblem {
    assert(name.len > 0);
    if (std.mem.indexOfScalar(u8, name, '/') != null) return null;
    if (std.c.getauxval(std.elf.AT_SECURE) != 0) return null; // a set-user-ID process's loader ignores LD_LIBRARY_PATH
    const folders = std.posix.getenv("LD_LIBRARY_PATH") orelse return null;
    if (folders.len == 0) return null; // set but empty: the loader searches no folder of it
    var each = std.mem.splitAny(u8, folders, ":;");
    while (each.next()) |entry| {
        // An empty entry (a leading, trailing or doubled separator) is the current folder to the
        // loader: a cut library there was passed over here, and dlopen's SIGBUS took the process.
        var expanded: [std.fs.max_path_bytes]u8 = undefined;
        const folder = if (entry.len == 0) "." else expandTokens(entry, &expanded) orelse return null; // a token this cannot expand: which file the loader takes is its own
        // Without its trailing slashes, as the loader joins it (the root stays "/": "//name").
        const joined = if (folder.len > 1) std.mem.trimRight(u8, folder, "/") else folder;
        const path = std.fmt.bufPrintZ(buffer, "{s}/{s}", .{ joined, name }) catch continue; // longer than any path
        const stat = std.posix.fstatatZ(std.posix.AT.FDCWD, path, 0) catch continue; // none here: the loader looks on
        if (std.posix.S.ISREG(stat.mode) and !isLibraryForThisCpu(path)) continue;
        return .{ .path = path, .problem = fileProblem(path) orelse return null };
    }
    return null;
}

/// Why dlopen(`name`) would take the process down: the file `name` is, where it is a path
/// (fileProblem; the path given back is `name`), or the one the loader would take for a bare name
/// from LD_LIBRARY_PATH (searchedFileProblem, the path written into `buffer`); null where that
/// file looks whole or there is none to look at. One check for every name a library is opened by:
/// an override variable that names a bare library is searched for as the default name is.
pub fn loadProblem(name: [:0]const u8, buffer: []u8) ?SearchedProblem {
    assert(name.len > 0);
    if (std.mem.indexOfScalar(u8, name, '/') == null) return searchedFileProblem(name, buffer);
    return .{ .path = name, .problem = fileProblem(name) orelse return null };
}

/// `entry` of LD_LIBRARY_PATH with the loader's tokens expanded, as ld.so(8) does: $ORIGIN (the
/// program's folder: `LD_LIBRARY_PATH='$ORIGIN'` took a cut library beside the program unlooked
/// at, and dlopen's SIGBUS took the process) and $PLATFORM (AT_PLATFORM), each also in braces,
/// unbraced only before a slash or the end. Written into `out`; null where the entry holds $LIB
/// (the C library's own choice of folder) or does not fit: then nothing here can say which file
/// the loader takes.
fn expandTokens(entry: []const u8, out: []u8) ?[]const u8 {
    assert(entry.len > 0); // an empty entry is the current folder (searchedFileProblem)
    if (std.mem.indexOfScalar(u8, entry, '$') == null) return entry;
    var writer: std.Io.Writer = .fixed(out);
    var origin: [std.fs.max_path_bytes]u8 = undefined;
    var at: usize = 0;
    while (at < entry.len) {
        const token = if (entry[at] == '$') tokenAt(entry[at + 1 ..]) else null;
        const found = token orelse {
            writer.writeByte(entry[at]) catch return null;
            at += 1;
            continue;
        };
        const value: []const u8 = switch (found.kind) {
            .origin => programFolder(&origin) orelse return null,
            .platform => std.mem.span(@as(?[*:0]const u8, @ptrFromInt(std.c.getauxval(std.elf.AT_PLATFORM))) orelse return null),
            .lib => return null,
        };
        writer.writeAll(value) catch return null;
        at += 1 + found.len;
    }
    return writer.buffered();
}

const Token = struct { kind: enum { origin, platform, lib }, len: usize };

/// The loader's token at the start of `text` (just past a '$'): its name, braced or followed by a slash or the end.
fn tokenAt(text: []const u8) ?Token {
    const names = .{ .{ "ORIGIN", .origin }, .{ "PLATFORM", .platform }, .{ "LIB", .lib } };
    inline for (names) |named| {
        const word = named[0];
        if (std.mem.startsWith(u8, text, "{" ++ word ++ "}")) return .{ .kind = named[1], .len = word.len + 2 };
        if (std.mem.startsWith(u8, text, word) and (text.len == word.len or text[word.len] == '/')) return .{ .kind = named[1], .len = word.len };
    }
    return null;
}

/// The folder of the program's file (/proc/self/exe), as the loader takes $ORIGIN for LD_LIBRARY_PATH, read into `buffer`.
fn programFolder(buffer: *[std.fs.max_path_bytes]u8) ?[]const u8 {
    const file = std.posix.readlinkZ("/proc/self/exe", buffer) catch return null;
    return std.fs.path.dirname(file);
}

/// Whether the file at `path` begins as an ELF64 file for this CPU (what the loader asks of each
/// file of the name it finds before it takes one: others it passes over).
fn isLibraryForThisCpu(path: [*:0]const u8) bool {
    assert(path[0] != 0);
    const fd = std.posix.openZ(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0) catch return false;
    defer std.posix.close(fd);
    var header: [20]u8 = undefined;
    const read = std.posix.pread(fd, &header, 0) catch return false;
    if (read < header.len or !std.mem.eql(u8, header[0..4], "\x7fELF") or header[4] != 2) return false;
    const endian: std.builtin.Endian = if (header[5] == 1) .little else .big;
    return std.mem.readInt(u16, header[18..20], endian) == @intFromEnum(@import("builtin").target.toElfMachine());
}

/// For the tests: the first bytes of the test binary, a library cut short once written to a file
/// of its own (its segments reach past the cut). Returns how many were read.
fn readStartOfSelf(start: []u8) !usize {
    var whole = try std.fs.openFileAbsoluteZ("/proc/self/exe", .{});
    defer whole.close();
    return whole.preadAll(start, 0);
}

test "fileProblem: a whole library passes, a truncated one, a device and a text file are named, a bare name is left to dlopen" {
    try std.testing.expect(fileProblem("libc.so.6") == null);
    const self_path = "/proc/self/exe";
    try std.testing.expect(fileProblem(self_path) == null); // the test binary: a whole ELF64 file
    var dir = std.testing.tmpDir(.{});
    defer dir.cleanup();
    var start: [4096]u8 = undefined;
    const got = try readStartOfSelf(&start);
    try dir.dir.writeFile(.{ .sub_path = "cut.so", .data = start[0..got] });
    try dir.dir.writeFile(.{ .sub_path = "text.so", .data = "not a library at all, just words\n" });
    var buffer: [std.fs.max_path_bytes]u8 = undefined;
    const cut = try dir.dir.realpath("cut.so", &buffer);
    var cut_z: [std.fs.max_path_bytes + 1]u8 = undefined;
    @memcpy(cut_z[0..cut.len], cut);
    cut_z[cut.len] = 0;
    try std.testing.expectEqualStrings("it is truncated or damaged: a segment it loads reaches past its end", fileProblem(cut_z[0..cut.len :0]).?);
    const text = try dir.dir.realpath("text.so", &buffer);
    @memcpy(cut_z[0..text.len], text);
    cut_z[text.len] = 0;
    try std.testing.expectEqualStrings("it is not a shared library (no ELF header)", fileProblem(cut_z[0..text.len :0]).?);
    try std.testing.expectEqualStrings("it is not a regular file", fileProblem("/dev/null").?);
}

test "searchedFileProblem: the first file of the name on LD_LIBRARY_PATH for this CPU is the one looked at" {
    var dir = std.testing.tmpDir(.{});
    defer dir.cleanup();
    var start: [4096]u8 = undefined;
    const got = try readStartOfSelf(&start);
    try dir.dir.makePath("other");
    try dir.dir.makePath("cut");
    var other = start;
    other[18] +%= 1; // another CPU's library: passed over
    try dir.dir.writeFile(.{ .sub_path = "other/libx.so.1", .data = other[0..got] });
    try dir.dir.writeFile(.{ .sub_path = "cut/libx.so.1", .data = start[0..got] });
    var buffer: [std.fs.max_path_bytes]u8 = undefined;
    const root = try dir.dir.realpath(".", &buffer);
    var value: [std.fs.max_path_bytes + 64]u8 = undefined;
    const folders = try std.fmt.bufPrintZ(&value, "{s}/none:{s}/other:{s}/cut", .{ root, root, root });
    const saved = std.posix.getenv("LD_LIBRARY_PATH");
    try std.testing.expectEqual(@as(c_int, 0), setenv("LD_LIBRARY_PATH", folders, 1));
    defer _ = if (saved) |was| setenv("LD_LIBRARY_PATH", @ptrCast(was.ptr), 1) else unsetenv("LD_LIBRARY_PATH");
    var path: [std.fs.max_path_bytes]u8 = undefined;
    const found = searchedFileProblem("libx.so.1", &path).?;
    try std.testing.expect(std.mem.endsWith(u8, found.path, "/cut/libx.so.1"));
    try std.testing.expectEqualStrings("it is truncated or damaged: a segment it loads reaches past its end", found.problem);
    try std.testing.expect(searchedFileProblem("liby.so.1", &path) == null);
    // loadProblem: a bare name is searched for as above, a path is looked at itself.
    try std.testing.expect(std.mem.endsWith(u8, loadProblem("libx.so.1", &path).?.path, "/cut/libx.so.1"));
    const cut_path = try std.fmt.bufPrintZ(&value, "{s}/cut/libx.so.1", .{root});
    const named = loadProblem(cut_path, &path).?;
    try std.testing.expectEqual(cut_path.ptr, named.path.ptr);
    try std.testing.expectEqualStrings("it is truncated or damaged: a segment it loads reaches past its end", named.problem);
    try std.testing.expect(loadProblem("/proc/self/exe", &path) == null);
}

test "searchedFileProblem: an empty entry of LD_LIBRARY_PATH is the current folder, as to the loader; an empty value and a name with a slash search nothing" {
    var dir = std.testing.tmpDir(.{});
    defer dir.cleanup();
    var start: [4096]u8 = undefined;
    const got = try readStartOfSelf(&start);
    try dir.dir.writeFile(.{ .sub_path = "libx.so.1", .data = start[0..got] }); // cut: dlopen would SIGBUS on it
    var buffer: [std.fs.max_path_bytes]u8 = undefined;
    const root = try dir.dir.realpath(".", &buffer);
    var value: [std.fs.max_path_bytes + 64]u8 = undefined;
    const saved = std.posix.getenv("LD_LIBRARY_PATH");
    defer _ = if (saved) |was| setenv("LD_LIBRARY_PATH", @ptrCast(was.ptr), 1) else unsetenv("LD_LIBRARY_PATH");
    var here = try std.fs.cwd().openDir(".", .{});
    defer here.close();
    try std.posix.fchdir(dir.dir.fd);
    defer std.posix.fchdir(here.fd) catch unreachable;
    var path: [std.fs.max_path_bytes]u8 = undefined;
    const CUT = "it is truncated or damaged: a segment it loads reaches past its end";
    inline for (.{ "{s}/none:", ":{s}/none", "{s}/none::{s}/none", "{s}/none;;{s}/none" }) |form| {
        const folders = if (comptime std.mem.count(u8, form, "{s}") == 2) try std.fmt.bufPrintZ(&value, form, .{ root, root }) else try std.fmt.bufPrintZ(&value, form, .{root});
        try std.testing.expectEqual(@as(c_int, 0), setenv("LD_LIBRARY_PATH", folders, 1));
        const found = searchedFileProblem("libx.so.1", &path) orelse return error.TestExpectedEqual;
        try std.testing.expectEqualStrings("./libx.so.1", found.path);
        try std.testing.expectEqualStrings(CUT, found.problem);
    }
    try std.testing.expectEqual(@as(c_int, 0), setenv("LD_LIBRARY_PATH", "", 1));
    try std.testing.expect(searchedFileProblem("libx.so.1", &path) == null);
    try std.testing.expectEqual(@as(c_int, 0), setenv("LD_LIBRARY_PATH", ":", 1));
    try std.testing.expect(searchedFileProblem("./libx.so.1", &path) == null); // a path: fileProblem's to look at
}

test "expandTokens: $ORIGIN and $PLATFORM, braced or before a slash or the end, as the loader reads them; $LIB is left to the loader" {
    var out: [std.fs.max_path_bytes]u8 = undefined;
    var exe: [std.fs.max_path_bytes]u8 = undefined;
    const folder = std.fs.path.dirname(try std.posix.readlinkZ("/proc/self/exe", &exe)).?;
    try std.testing.expectEqualStrings("/opt/lib", expandTokens("/opt/lib", &out).?);
    try std.testing.expectEqualStrings(folder, expandTokens("$ORIGIN", &out).?);
    const below = try std.fmt.allocPrint(std.testing.allocator, "{s}/lib/{s}", .{ folder, folder });
    defer std.testing.allocator.free(below);
    try std.testing.expectEqualStrings(below, expandTokens("${ORIGIN}/lib/$ORIGIN", &out).?);
    try std.testing.expectEqualStrings("/x/$ORIGINAL/$HOME", expandTokens("/x/$ORIGINAL/$HOME", &out).?); // not tokens: literal
    const platform = std.mem.span(@as([*:0]const u8, @ptrFromInt(std.c.getauxval(std.elf.AT_PLATFORM))));
    const with_platform = try std.fmt.allocPrint(std.testing.allocator, "/p/{s}", .{platform});
    defer std.testing.allocator.free(with_platform);
    try std.testing.expectEqualStrings(with_platform, expandTokens("/p/$PLATFORM", &out).?);
    try std.testing.expect(expandTokens("/usr/$LIB", &out) == null);
    try std.testing.expect(expandTokens("/usr/${LIB}/x", &out) == null);
    var small: [4]u8 = undefined;
    try std.testing.expect(expandTokens("$ORIGIN", &small) == null); // does not fit
}

extern "c" fn setenv(name: [*:0]const u8, value: [*:0]const u8, overwrite: c_int) c_int;
extern "c" fn unsetenv(name: [*:0]const u8) c_int;
