//! Pool files on disk: open an existing one without changing it, or create a new one atomically,
//! then lock and map it.
//!
//! Creation builds the whole file as an unnamed inode (O_TMPFILE; a hidden temporary name where the
//! file system lacks it), persists it, and only then links it at its path: a crash while creating
//! leaves no half-made pool behind, and two processes creating one path race safely (the loser opens
//! the winner's file). Opening never uses pmem_map_file's PMEM_FILE_CREATE, which would resize a file.
//! An exclusive flock keeps a second process (or a second pool in this one) out of an open pool.
const std = @import("std");
const assert = std.debug.assert;
const c = std.c;
const format = @import("format.zig");
const libpmem = @import("libpmem.zig");
const crash_points = @import("crash_points.zig");
const truncation = @import("truncation.zig");
const descriptor_limit = @import("../backend/descriptor_limit.zig");

extern "c" fn posix_fallocate(fd: c.fd_t, offset: c.off_t, len: c.off_t) c_int;
extern "c" fn strerror(errnum: c_int) [*:0]const u8;

pub const path_bytes_max = 4095;

pub const Mapped = struct {
    fd: c.fd_t,
    /// The file's device and inode, in the process's set of held pool files while it is mapped.
    identity: Identity,
    base: [*]align(std.heap.page_size_min) u8,
    len: usize,
    is_pmem: bool,
    /// Whether the file was found cut short under the mapping (truncation.zig).
    watch: truncation.Watch = .{ .slot = null },

    pub fn bytes(self: *const Mapped) []u8 {
        return self.base[0..self.len];
    }

    pub fn close(self: *Mapped) void {
        self.watch.end(); // before the range can be mapped to anything else
        _ = c.munmap(self.base, self.len);
        _ = c.close(self.fd); // also drops the lock
        forget(self.identity);
        self.* = undefined;
    }

    /// Lets the file go but keeps its address range mapped, as private zero pages that take no
    /// memory until touched: for a pool that JavaScript views in other threads may still reach
    /// (the closing thread cannot detach them), so such a view reads zeros instead of faulting,
    /// and nothing it writes reaches the file. The range's address space stays taken for the life
    /// of the process. Where the kernel refuses the new mapping the file's stays (views then
    /// still see the file), which is still no fault.
    pub fn retire(self: *Mapped) void {
        const address = c.mmap(self.base, self.len, c.PROT.READ | c.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .FIXED = true, .NORESERVE = true }, -1, 0);
        assert(address == c.MAP_FAILED or address == @as(*anyopaque, @ptrCast(self.base)));
        self.watch.end();
        _ = c.close(self.fd); // also drops the lock
        forget(self.identity);
        self.* = undefined;
    }
};

/// A pool file by device and inode: what the lock below is about, whatever path named it.
const Identity = struct { device: u64, inode: u64 };

/// The pool files this process holds locked. A second open of one from this process is refused at
/// once. A file another process holds is waited for a moment (lock_wait_ms) before it is refused,
/// because a process that has just exited can still hold its lock: the kernel lets the file go with
/// the process's mappings, and a driver that keeps the address space alive a little longer (seen
/// with NVIDIA's driver: about 100 ms after exit) keeps the lock too.
var held_mutex: std.Thread.Mutex = .{};
var held: std.ArrayListUnmanaged(Identity) = .empty;
const lock_wait_ms = 1000;
const lock_poll_ms = 5;

fn isHeld(identity: Identity) bool {
    for (held.items) |item| if (std.meta.eql(item, identity)) return true;
    return false;
}

fn forget(identity: Identity) void {
    held_mutex.lock();
    defer held_mutex.unlock();
    for (held.items, 0..) |item, index| {
        if (std.meta.eql(item, identity)) {
            _ = held.swapRemove(index);
            return;
        }
    }
    unreachable; // every mapped pool file was added by lock()
}

/// Why a file could not be used; `message` says what and what to do.
pub const Failure = struct {
    kind: enum { file, format, config },
    reason: format.Reason = .none,
    message_buffer: [400]u8 = undefined,
    message_len: usize = 0,

    pub fn message(self: *const Failure) []const u8 {
        return self.message_buffer[0..self.message_len];
    }
};

fn fileFailure(comptime fmt: []const u8, args: anytype) Failure {
    var result: Failure = .{ .kind = .file };
    result.message_len = (std.fmt.bufPrint(&result.message_buffer, fmt, args) catch blk: {
        // A long path: the message says it was cut, as the core's messages do (status.zig).
        const marker = "...";
        @memcpy(result.message_buffer[result.message_buffer.len - marker.len ..], marker);
        break :blk result.message_buffer[0..];
    }).len;
    return result;
}

fn errnoText() []const u8 {
    return std.mem.span(strerror(@intFromEnum(std.posix.errno(@as(c_int, -1)))));
}

fn lastErrno() c.E {
    return std.posix.errno(@as(c_int, -1));
}

pub const Opened = struct { mapped: Mapped, created: bool };

/// Opens the pool file at `path`, or creates it from `header` (a planned new file) where none exists;
/// `header` is null where the configuration is too small to plan one.
pub fn openOrCreate(path: [:0]const u8, header: ?*const format.Header, failure: *Failure) ?Opened {
    // The pool keeps its file's descriptor while it lives (its lock): never the runtime's last ones.
    var descriptors: descriptor_limit.Count = undefined;
    if (!descriptor_limit.roomForOne(&descriptors)) {
        failure.* = fileFailure("cannot open '{s}': the process holds {d} file descriptors of its limit of {d} (ulimit -n), and each open PMEM pool keeps one; a quarter of the limit stays for the rest of the process: raise the limit, or destroy some pools", .{ path, descriptors.open, descriptors.limit });
        return null;
    }
    // Two rounds at most: a file another process links between our open and our create is opened.
    for (0..2) |_| {
        const fd = c.open(path, .{ .ACCMODE = .RDWR, .CLOEXEC = true });
        if (fd >= 0) {
            const mapped = openExisting(fd, path, failure) orelse return null;
            return .{ .mapped = mapped, .created = false };
        }
        switch (lastErrno()) {
            .NOENT => if (danglingLink(path, failure)) return null,
            .ACCES, .PERM => {
                failure.* = fileFailure("cannot open '{s}': permission denied (a PMEM pool file must be readable and writable)", .{path});
                return null;
            },
            .ISDIR => {
                failure.* = fileFailure("'{s}' is a directory: pmemPoolPath names the pool's file", .{path});
                return null;
            },
            else => {
                failure.* = fileFailure("cannot open '{s}': {s}", .{ path, errnoText() });
                return null;
            },
        }
        const planned = header orelse {
            failure.* = fileFailure("initialSize is too small for a new pool file at '{s}': it needs {d} bytes for its header, log, roots and table, and room for one block", .{ path, format.file_bytes_min });
            failure.kind = .config;
            return null;
        };
        switch (create(path, planned, failure)) {
            .created => |mapped| return .{ .mapped = mapped, .created = true },
            .exists => continue,
            .failed => return null,
        }
    }
    failure.* = fileFailure("'{s}' keeps appearing and disappearing: another process is creating and deleting it", .{path});
    return null;
}

/// Whether `path`, which open() found missing, is a symbolic link to nothing: creating the pool
/// there would fail (the link's name exists), so it is refused with what to do.
fn danglingLink(path: [:0]const u8, failure: *Failure) bool {
    var target: [path_bytes_max]u8 = undefined;
    const len = c.readlink(path, &target, target.len);
    if (len < 0) return false; // not a link (or gone): create the file
    failure.* = fileFailure("'{s}' is a symbolic link to '{s}', which does not exist: point pmemPoolPath at the pool's file, or remove the link", .{ path, target[0..@intCast(len)] });
    return true;
}

/// Takes the file's exclusive lock and adds it to the files this process holds; null (with
/// `failure` saying why) where another pool or process has it.
fn lock(fd: c.fd_t, path: []const u8, failure: *Failure) ?Identity {
    var stat: c.Stat = undefined;
    if (c.fstat(fd, &stat) != 0) {
        failure.* = fileFailure("cannot stat '{s}': {s}", .{ path, errnoText() });
        return null;
    }
    const identity: Identity = .{ .device = @intCast(stat.dev), .inode = @intCast(stat.ino) };
    held_mutex.lock();
    defer held_mutex.unlock();
    if (isHeld(identity)) {
        failure.* = fileFailure("'{s}' is in use: another pool of this process has it open; close that pool first", .{path});
        return null;
    }
    var waited_ms: u32 = 0;
    while (c.flock(fd, c.LOCK.EX | c.LOCK.NB) != 0) {
        if (lastErrno() != .AGAIN) {
            failure.* = fileFailure("cannot lock '{s}': {s}", .{ path, errnoText() });
            return null;
        }
        if (waited_ms >= lock_wait_ms) {
            failure.* = fileFailure("'{s}' is in use: another process has it open; close that pool first", .{path});
            return null;
        }
        std.Thread.sleep(lock_poll_ms * std.time.ns_per_ms);
        waited_ms += lock_poll_ms;
    }
    held.append(std.heap.c_allocator, identity) catch {
        _ = c.flock(fd, c.LOCK.UN);
        failure.* = fileFailure("cannot open '{s}': out of memory", .{path});
        return null;
    };
    return identity;
}

fn openExisting(fd: c.fd_t, path: [:0]const u8, failure: *Failure) ?Mapped {
    var keep = false;
    defer if (!keep) {
        _ = c.close(fd);
    };
    const identity = lock(fd, path, failure) orelse return null;
    var mapped_keep = false;
    defer if (!mapped_keep) forget(identity);
    var stat: c.Stat = undefined;
    if (c.fstat(fd, &stat) != 0) {
        failure.* = fileFailure("cannot stat '{s}': {s}", .{ path, errnoText() });
        return null;
    }
    if (!c.S.ISREG(stat.mode)) {
        failure.* = fileFailure("'{s}' is not a regular file ({s}): pmemPoolPath names the pool's file", .{ path, kindOf(stat.mode) });
        return null;
    }
    if (kernelInterface(fd)) |file_system| {
        failure.* = fileFailure("'{s}' is a file of the kernel's {s} file system, an interface to the kernel rather than stored bytes: pmemPoolPath names the pool's own file, on a file system that stores it (a DAX mount on persistent memory; a disk or /dev/shm to emulate it)", .{ path, file_system });
        return null;
    }
    const file_bytes: u64 = @intCast(stat.size);
    var page: [format.header_bytes]u8 = undefined;
    const want: usize = @intCast(@min(file_bytes, format.header_bytes));
    const got = c.pread(fd, &page, want, 0);
    if (got != want) {
        failure.* = fileFailure("cannot read the header of '{s}': {s}", .{ path, if (got < 0) errnoText() else "short read" });
        return null;
    }
    if (format.validate(page[0..want], file_bytes, path)) |found| {
        failure.* = .{ .kind = .format, .reason = found.reason };
        const text = found.message();
        @memcpy(failure.message_buffer[0..text.len], text);
        failure.message_len = text.len;
        return null;
    }
    // A sparse file (copied with cp --sparse, or a hole punched in it) has pages with no blocks yet:
    // reserved here as a new file's are, so a full file system is an error now, not a SIGBUS at a write.
    if (!reserve(fd, file_bytes, path, failure)) return null;
    const mapped = map(fd, identity, @intCast(file_bytes), path, failure) orelse return null;
    keep = true;
    mapped_keep = true;
    return mapped;
}

/// Gives every page of the file's `bytes` its blocks on the file system now (posix_fallocate): a file
/// system that ran out later, when a page of the mapping is first written, would kill the process
/// with SIGBUS. False, with `failure` saying why, where it has no room; a file system without
/// fallocate is let be.
fn reserve(fd: c.fd_t, bytes: u64, path: []const u8, failure: *Failure) bool {
    assert(bytes > 0);
    const reserved = posix_fallocate(fd, 0, @intCast(bytes));
    if (reserved == 0 or reserved == @intFromEnum(c.E.OPNOTSUPP) or reserved == @intFromEnum(c.E.INVAL)) return true;
    failure.* = fileFailure("cannot reserve {d} bytes for '{s}': {s}", .{ bytes, path, std.mem.span(strerror(reserved)) });
    return false;
}

/// What a file that is not a regular one is, in words.
fn kindOf(mode: c.mode_t) []const u8 {
    if (c.S.ISCHR(mode)) return "a character device";
    if (c.S.ISBLK(mode)) return "a block device";
    if (c.S.ISFIFO(mode)) return "a named pipe";
    if (c.S.ISSOCK(mode)) return "a socket";
    if (c.S.ISDIR(mode)) return "a directory";
    return "not a file that holds bytes";
}

/// glibc's struct statfs on 64-bit Linux (x86-64 and arm64): the file system's type comes first.
const StatFs = extern struct { type: c_long, rest: [14]c_long };
extern "c" fn fstatfs(fd: c.fd_t, buf: *StatFs) c_int;

/// The name of the file system of `fd` where it is one of the kernel's interfaces (procfs, sysfs
/// and their kind): their files say they are regular, report sizes that are not their contents
/// (0 bytes for /proc's), and are no place for a pool. Read as one, a /proc file was "empty: delete
/// it". Null for any other file system, or where it cannot be told.
fn kernelInterface(fd: c.fd_t) ?[]const u8 {
    var info: StatFs = undefined;
    if (fstatfs(fd, &info) != 0) return null;
    const Known = struct { magic: u32, name: []const u8 };
    const known = [_]Known{
        .{ .magic = 0x9fa0, .name = "proc" },
        .{ .magic = 0x62656572, .name = "sysfs" },
        .{ .magic = 0x64626720, .name = "debugfs" },
        .{ .magic = 0x74726163, .name = "tracefs" },
        .{ .magic = 0x73636673, .name = "securityfs" },
        .{ .magic = 0x27e0eb, .name = "cgroup" },
        .{ .magic = 0x63677270, .name = "cgroup2" },
        .{ .magic = 0x62656570, .name = "configfs" },
        .{ .magic = 0xcafe4a11, .name = "bpf" },
        .{ .magic = 0x6165676c, .name = "pstore" },
        .{ .magic = 0xde5e81e4, .name = "efivarfs" },
        .{ .magic = 0xf97cff8c, .name = "selinuxfs" },
        .{ .magic = 0x65735543, .name = "fusectl" },
        .{ .magic = 0x42494e4d, .name = "binfmt_misc" },
    };
    const magic: u32 = @truncate(@as(c_ulong, @bitCast(info.type)));
    for (known) |entry| if (entry.magic == magic) return entry.name;
    return null;
}

test "files of the kernel's interfaces are told apart from stored files" {
    const proc = c.open("/proc/self/status", .{ .ACCMODE = .RDONLY, .CLOEXEC = true });
    if (proc >= 0) {
        defer _ = c.close(proc);
        try std.testing.expectEqualStrings("proc", kernelInterface(proc).?);
    }
    const stored = c.open("/tmp", .{ .ACCMODE = .RDONLY, .DIRECTORY = true, .CLOEXEC = true });
    if (stored >= 0) {
        defer _ = c.close(stored);
        try std.testing.expect(kernelInterface(stored) == null);
    }
}

const Created = union(enum) { created: Mapped, exists, failed };

fn create(path: [:0]const u8, header: *const format.Header, failure: *Failure) Created {
    var directory_buffer: [path_bytes_max + 1]u8 = undefined;
    const directory = directoryOf(path, &directory_buffer);
    var temporary_buffer: [path_bytes_max + 64]u8 = undefined;
    var temporary: ?[:0]const u8 = null;
    // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Zig's flag is only the first half.
    var fd = c.open(directory, .{ .ACCMODE = .RDWR, .TMPFILE = true, .DIRECTORY = true, .CLOEXEC = true }, @as(c.mode_t, 0o666));
    if (fd < 0) {
        switch (lastErrno()) {
            .NOENT, .NOTDIR => {
                failure.* = fileFailure("cannot create '{s}': the directory '{s}' does not exist", .{ path, directory });
                return .failed;
            },
            .ACCES, .PERM, .ROFS => {
                failure.* = fileFailure("cannot create '{s}': {s} (the directory '{s}' must be writable)", .{ path, errnoText(), directory });
                return .failed;
            },
            else => {}, // no O_TMPFILE here: fall back to a hidden temporary name
        }
        const name = std.fmt.bufPrintZ(&temporary_buffer, "{s}.{d}.creating", .{ path, c.getpid() }) catch {
            failure.* = fileFailure("path too long: '{s}'", .{path});
            return .failed;
        };
        fd = c.open(name, .{ .ACCMODE = .RDWR, .CREAT = true, .TRUNC = true, .CLOEXEC = true }, @as(c.mode_t, 0o666));
        if (fd < 0) {
            failure.* = fileFailure("cannot create '{s}': {s}", .{ path, errnoText() });
            return .failed;
        }
        temporary = name;
    }
    var keep = false;
    defer if (!keep) {
        _ = c.close(fd);
        if (temporary) |name| _ = c.unlink(name);
    };
    if (c.ftruncate(fd, @intCast(header.file_bytes)) != 0) {
        failure.* = fileFailure("cannot size '{s}' to {d} bytes: {s}", .{ path, header.file_bytes, errnoText() });
        return .failed;
    }
    if (!reserve(fd, header.file_bytes, path, failure)) return .failed;
    const identity = lock(fd, path, failure) orelse return .failed;
    var locked_keep = false;
    defer if (!locked_keep) forget(identity);
    var mapped = map(fd, identity, @intCast(header.file_bytes), path, failure) orelse return .failed;
    initialize(&mapped, header);
    crash_points.barrier(); // a crash here leaves no file: the new inode has no name yet
    const linked = if (temporary) |name| c.link(name, path) else blk: {
        var proc_buffer: [64]u8 = undefined;
        const proc_path = std.fmt.bufPrintZ(&proc_buffer, "/proc/self/fd/{d}", .{fd}) catch unreachable;
        break :blk c.linkat(c.AT.FDCWD, proc_path, c.AT.FDCWD, path, c.AT.SYMLINK_FOLLOW);
    };
    if (linked != 0) {
        const err = lastErrno();
        mapped.watch.end(); // before the range can be mapped to anything else
        _ = c.munmap(mapped.base, mapped.len);
        if (err == .EXIST) return .exists;
        failure.* = fileFailure("cannot create '{s}': {s}", .{ path, errnoText() });
        return .failed;
    }
    if (temporary) |name| _ = c.unlink(name);
    syncDirectory(directory);
    keep = true;
    locked_keep = true;
    return .{ .created = mapped };
}

/// Writes the header over a new (zero-filled) file and makes the metadata durable.
fn initialize(mapped: *Mapped, header: *const format.Header) void {
    assert(mapped.len == header.file_bytes);
    const api = libpmem.loaded();
    @memcpy(mapped.base[0..@sizeOf(format.Header)], std.mem.asBytes(header));
    const metadata_bytes: usize = @intCast(header.heap_offset);
    if (mapped.is_pmem) api.pmem_persist(mapped.base, metadata_bytes) else _ = api.pmem_msync(mapped.base, metadata_bytes);
    _ = c.fsync(mapped.fd);
}

fn map(fd: c.fd_t, identity: Identity, len: usize, path: []const u8, failure: *Failure) ?Mapped {
    const protection = c.PROT.READ | c.PROT.WRITE;
    // MAP_SYNC works only on DAX file systems (real persistent memory): there, flushing the CPU
    // cache is enough. Anywhere else the mapping is a plain shared one.
    var is_sync = true;
    var address = c.mmap(null, len, protection, .{ .TYPE = .SHARED_VALIDATE, .SYNC = true }, fd, 0);
    if (address == c.MAP_FAILED) {
        is_sync = false;
        address = c.mmap(null, len, protection, .{ .TYPE = .SHARED }, fd, 0);
    }
    if (address == c.MAP_FAILED) {
        failure.* = fileFailure("cannot map '{s}' ({d} bytes): {s}", .{ path, len, errnoText() });
        return null;
    }
    const base: [*]align(std.heap.page_size_min) u8 = @ptrCast(@alignCast(address));
    // pmem_is_pmem honours PMEM_IS_PMEM_FORCE, which is how a machine without PMEM emulates it.
    const is_pmem = is_sync or libpmem.loaded().pmem_is_pmem(base, len) != 0;
    return .{ .fd = fd, .identity = identity, .base = base, .len = len, .is_pmem = is_pmem, .watch = truncation.watch(base, len) };
}

fn directoryOf(path: [:0]const u8, buffer: []u8) [:0]const u8 {
    const slash = std.mem.lastIndexOfScalar(u8, path, '/') orelse return ".";
    if (slash == 0) return "/";
    @memcpy(buffer[0..slash], path[0..slash]);
    buffer[slash] = 0;
    return buffer[0..slash :0];
}

/// Makes the new name itself durable.
fn syncDirectory(directory: [:0]const u8) void {
    const fd = c.open(directory, .{ .ACCMODE = .RDONLY, .DIRECTORY = true, .CLOEXEC = true });
    if (fd < 0) return;
    _ = c.fsync(fd);
    _ = c.close(fd);
}
