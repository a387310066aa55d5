//! What a pool file cut short under its mapping does. A program that truncates or overwrites the
//! file of an open pool (`truncate`, `writeFileSync` of the path) leaves the pages past the new end
//! mapped to nothing: the next access to one, the core's or a JavaScript view's, raised SIGBUS and
//! killed the process.
//!
//! While a pool's mapping is watched, a SIGBUS whose address lies in it (si_code BUS_ADRERR: the
//! page is past the file's end) puts a private zero page where the file's page was and marks the
//! mapping lost; the access then goes on, on memory that is no longer the file's, and the core
//! refuses every later PMEM call of the pool (PMEMFileError) and every call during which the mark
//! was made. A SIGBUS anywhere else, or of another kind (a media error of real persistent memory,
//! BUS_MCEERR_*), goes to the handler that was there before, or kills the process as it would have.
//!
//! What this cannot do: undo what was lost (the bytes past the new end are gone, and whatever the
//! program wrote into the zero pages reaches no file); notice a file rewritten to at least its old
//! size (nothing faults); or act where a handler installed after this one takes SIGBUS without
//! passing it on.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const posix = std.posix;
const linux = std.os.linux;
const pool_count = @import("../pool_count.zig");

/// si_code of a SIGBUS for an address with nothing behind it: a file mapping past the file's end.
const bus_adrerr = 2;
/// Mappings watched at once: one for every pool the process may hold (each PMEM pool's file maps
/// once), so every PMEM pool is watched. With 64, the 65th pool open at once was not, and its file
/// cut short still raised SIGBUS and ended the process. The handler's scan of them all is
/// microseconds, and runs only on a SIGBUS.
const slots_max = pool_count.pools_max;
comptime {
    assert(slots_max - 1 <= std.math.maxInt(u16)); // a Watch names its slot in a u16
}

const Slot = struct {
    /// The mapping's first byte, 0 where the slot is free; set last, cleared first.
    start: std.atomic.Value(usize) = .init(0),
    end: std.atomic.Value(usize) = .init(0),
    lost: std.atomic.Value(bool) = .init(false),
};

var slots: [slots_max]Slot = [_]Slot{.{}} ** slots_max;
var slots_mutex: std.Thread.Mutex = .{};
var install_once = std.once(install);
var installed = false;
var previous: posix.Sigaction = undefined;
/// Read once, before the handler can run: the handler itself calls nothing that may not be called there.
var page_bytes: usize = 0;

/// A watched mapping: `lost()` says whether part of it was found cut from its file.
pub const Watch = struct {
    slot: ?u16,

    /// Stops watching (before the mapping goes).
    pub fn end(self: Watch) void {
        const index = self.slot orelse return;
        slots_mutex.lock();
        defer slots_mutex.unlock();
        const slot = &slots[index];
        assert(slot.start.load(.monotonic) != 0);
        slot.start.store(0, .release);
        slot.end.store(0, .release);
        slot.lost.store(false, .release);
    }

    pub fn lost(self: Watch) bool {
        const index = self.slot orelse return false;
        return slots[index].lost.load(.acquire);
    }
};

/// Watches the `len` bytes at `base` (a pool file's mapping). Not watched (slot null) where every
/// slot is taken.
pub fn watch(base: [*]const u8, len: usize) Watch {
    assert(len > 0);
    install_once.call();
    if (!installed) return .{ .slot = null };
    slots_mutex.lock();
    defer slots_mutex.unlock();
    for (&slots, 0..) |*slot, index| {
        if (slot.start.load(.monotonic) != 0) continue;
        slot.lost.store(false, .release);
        slot.end.store(@intFromPtr(base) + len, .release);
        slot.start.store(@intFromPtr(base), .release);
        return .{ .slot = @intCast(index) };
    }
    return .{ .slot = null };
}

fn install() void {
    if (builtin.os.tag != .linux) return;
    page_bytes = std.heap.pageSize();
    var action: posix.Sigaction = .{
        .handler = .{ .sigaction = onBus },
        .mask = posix.sigemptyset(),
        .flags = posix.SA.SIGINFO | posix.SA.ONSTACK,
    };
    _ = &action;
    posix.sigaction(posix.SIG.BUS, &action, &previous);
    installed = true;
}

fn onBus(signal: i32, info: *const posix.siginfo_t, context: ?*anyopaque) callconv(.c) void {
    if (info.code == bus_adrerr) {
        const address = @intFromPtr(info.fields.sigfault.addr);
        for (&slots) |*slot| {
            const start = slot.start.load(.acquire);
            if (start == 0 or address < start or address >= slot.end.load(.acquire)) continue;
            // A raw system call: no lock or allocation of the C library in a signal handler.
            const page = std.mem.alignBackward(usize, address, page_bytes);
            const placed = linux.mmap(@ptrFromInt(page), page_bytes, linux.PROT.READ | linux.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .FIXED = true }, -1, 0);
            if (linux.E.init(placed) != .SUCCESS) break;
            slot.lost.store(true, .release);
            return; // the access runs again, on the zero page
        }
    }
    passOn(signal, info, context);
}

/// Hands a SIGBUS that is not a watched mapping's to the handler installed before this one. Where
/// that was the default, puts it back and sends the signal again (it is blocked until this handler
/// returns, then ends the process, as it would have without this file: also one sent with kill,
/// which no access would raise again); where it was ignored, puts that back (a fault then raises
/// it again, and the kernel ends the process).
fn passOn(signal: i32, info: *const posix.siginfo_t, context: ?*anyopaque) void {
    if (previous.flags & posix.SA.SIGINFO != 0) {
        if (previous.handler.sigaction) |handler| return handler(signal, info, context);
    } else if (previous.handler.handler != posix.SIG.DFL and previous.handler.handler != posix.SIG.IGN) {
        if (previous.handler.handler) |handler| return handler(signal);
    }
    posix.sigaction(posix.SIG.BUS, &previous, null);
    if (previous.handler.handler == posix.SIG.DFL) _ = linux.tgkill(linux.getpid(), linux.gettid(), posix.SIG.BUS);
}

test "a watched mapping cut short reads zeros past the file's end and is marked lost; others are not" {
    if (builtin.os.tag != .linux) return;
    const path = "/dev/shm/memory-pool-zig-truncation-test";
    const file = try std.fs.createFileAbsolute(path, .{ .read = true, .truncate = true });
    defer std.fs.deleteFileAbsolute(path) catch {};
    defer file.close();
    const page = std.heap.pageSize();
    try file.setEndPos(4 * page);
    const mapping = try posix.mmap(null, 4 * page, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .SHARED }, file.handle, 0);
    defer posix.munmap(mapping);
    @memset(mapping, 7);
    const watched = watch(mapping.ptr, mapping.len);
    defer watched.end();
    try std.testing.expect(watched.slot != null);
    const other = watch(mapping.ptr + page, page); // a second slot: not lost with the first
    defer other.end();
    try std.testing.expect(!watched.lost());
    try file.setEndPos(page); // the last three pages are past the end now
    try std.testing.expectEqual(@as(u8, 7), @as(*volatile u8, &mapping[0]).*);
    try std.testing.expect(!watched.lost());
    try std.testing.expectEqual(@as(u8, 0), @as(*volatile u8, &mapping[3 * page + 5]).*);
    try std.testing.expect(watched.lost());
    try std.testing.expect(!other.lost()); // the fault was at the first watch's address range, found first
    @as(*volatile u8, &mapping[2 * page]).* = 9; // a write goes to a zero page, not to the file
    try std.testing.expectEqual(@as(u8, 9), mapping[2 * page]);
    try std.testing.expectEqual(@as(u64, page), try file.getEndPos());
}

test "every pool the process may hold gets a watch: none is left to SIGBUS" {
    if (builtin.os.tag != .linux) return;
    const page = std.heap.pageSize();
    const mapping = try posix.mmap(null, page, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0);
    defer posix.munmap(mapping);
    var watches: [slots_max]Watch = undefined;
    var taken: usize = 0;
    defer for (watches[0..taken]) |watched| watched.end();
    while (taken < pool_count.pools_max) : (taken += 1) {
        watches[taken] = watch(mapping.ptr, mapping.len);
        if (watches[taken].slot == null) break;
    }
    try std.testing.expectEqual(@as(usize, pool_count.pools_max), taken);
}

