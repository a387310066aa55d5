//! Names the allocation behind a fault on a guard page before the process dies. Installed once
//! per process (SIGSEGV and SIGBUS) when the first pool with guard pages is made, in front of
//! whatever handlers were there (Bun's crash reporter, the JavaScript engine's own): a fault at
//! an address inside a guard region of a live pool gets a report on stderr (the pool, the
//! allocation's id and size, how far past which edge, the JavaScript stack of its allocation
//! where one was passed down), then the previous handlers are put back and the handler returns,
//! so the faulting access runs again and dies the way it would have without us. Any other fault
//! goes straight to the previous handler.
//!
//! In the handler only async-signal-safe work is done: reads of the pool table and the guard
//! records (no locks), formatting into a buffer on the stack, and write(2). The reading is best
//! effort: a fault while another thread reshapes the same pool's records may go unreported.
const std = @import("std");
const posix = std.posix;
const assert = std.debug.assert;
const arena_mod = @import("../arena.zig");
const guard_mod = @import("guard.zig");

const granule_bytes = arena_mod.granule_bytes;

/// Where a fault's address lies, as one pool sees it (`inspect`).
pub const Finding = union(enum) {
    /// Not in this pool's memory.
    elsewhere,
    /// In this pool's memory, but not on a guard page: not ours to report.
    unguarded,
    /// On a guard page of pool `pool_name`, whose arena starts at `base`: the guarded allocation
    /// whose pages hold it (null where it left quarantine or was never given out).
    guarded: struct { pool_name: []const u8, base: u64, record: ?*const guard_mod.Record },
};

/// Walks every live pool with `inspect` (the registry holds them; it sets this as pools are
/// made, so this file needs no table of its own). Read in the handler: atomic, no lock.
var find_fault = std.atomic.Value(?*const fn (address: u64) Finding).init(null);

pub fn setFinder(finder: *const fn (address: u64) Finding) void {
    const previous = find_fault.swap(finder, .acq_rel);
    assert(previous == null or previous == finder);
}

/// Where `address` lies in `pool` (any pool with an arena, a name and an optional debug layer
/// with guard pages).
pub fn inspect(pool: anytype, address: u64) Finding {
    const layer = pool.debugLayer() orelse return .elsewhere;
    const guard = if (layer.guard) |*guard| guard else return .elsewhere;
    const base = pool.base();
    if (address < base or address >= base + pool.addressSpaceBytes()) return .elsewhere;
    const g = (address - base) / granule_bytes;
    if (!pool.inGuardRegion(@intCast(g))) return .unguarded;
    return .{ .guarded = .{ .pool_name = pool.poolName(), .base = base, .record = guard.containing(g) } };
}

var installed = std.atomic.Value(bool).init(false);
var install_mutex: std.Thread.Mutex = .{};
var previous_segv: posix.Sigaction = undefined;
var previous_bus: posix.Sigaction = undefined;

pub fn install() void {
    if (installed.load(.acquire)) return;
    install_mutex.lock();
    defer install_mutex.unlock();
    if (installed.load(.monotonic)) return;
    const action: posix.Sigaction = .{
        .handler = .{ .sigaction = handle },
        .mask = posix.sigemptyset(),
        // ONSTACK: where the thread has an alternate signal stack, a fault from a stack
        // overflow can still be passed on.
        .flags = posix.SA.SIGINFO | posix.SA.ONSTACK,
    };
    posix.sigaction(posix.SIG.SEGV, &action, &previous_segv);
    posix.sigaction(posix.SIG.BUS, &action, &previous_bus);
    installed.store(true, .release);
}

pub fn isInstalled() bool {
    return installed.load(.acquire);
}

fn restore() void {
    posix.sigaction(posix.SIG.SEGV, &previous_segv, null);
    posix.sigaction(posix.SIG.BUS, &previous_bus, null);
    installed.store(false, .release);
}

fn handle(sig: i32, info: *const posix.siginfo_t, context: ?*anyopaque) callconv(.c) void {
    const address = @intFromPtr(info.fields.sigfault.addr);
    if (reportFault(address, sig)) {
        restore(); // the access runs again and meets the handlers that were there before us
        return;
    }
    const previous = if (sig == posix.SIG.SEGV) &previous_segv else &previous_bus;
    if (previous.flags & posix.SA.SIGINFO != 0) {
        if (previous.handler.sigaction) |chained| return chained(sig, info, context);
    }
    const raw = @intFromPtr(previous.handler.handler);
    if (raw == @intFromPtr(posix.SIG.DFL) or raw == @intFromPtr(posix.SIG.IGN)) {
        restore(); // a fault ignored would repeat for ever: the default action ends it
        return;
    }
    previous.handler.handler.?(sig);
}

/// Writes the report for a fault at `address` if it lies in a guard region; false otherwise.
fn reportFault(address: u64, sig: i32) bool {
    const find = find_fault.load(.acquire) orelse return false;
    switch (find(address)) {
        .elsewhere, .unguarded => return false,
        .guarded => |site| {
            writeReport(site.pool_name, site.base, address, sig, site.record);
            return true;
        },
    }
}

fn writeReport(pool_name: []const u8, base: u64, address: u64, sig: i32, found: ?*const guard_mod.Record) void {
    var buffer: [1024]u8 = undefined;
    const signal_name = if (sig == posix.SIG.BUS) "SIGBUS" else "SIGSEGV";
    say(&buffer, "\nbun-memory-pool: {s} at 0x{x}, on a guard page of pool '{s}'\n", .{ signal_name, address, pool_name });
    const record = found orelse {
        say(&buffer, "  the address lies in freed guarded memory (its allocation has left quarantine, or it was never given out)\n", .{});
        return;
    };
    const user = base + record.userStart();
    const user_end = user + record.size;
    const described = .{ record.id, record.size, user, pool_name };
    const in_data = address >= base + record.dataStart() and address < base + record.dataStart() + record.dataBytes();
    if (record.state == .quarantined and in_data) {
        if (address >= user and address < user_end) {
            say(&buffer, "  use after free: byte {d} of allocation #{d} ({d} bytes at 0x{x}, pool '{s}'), which was freed\n", .{address - user} ++ described);
        } else {
            say(&buffer, "  use after free: next to allocation #{d} ({d} bytes at 0x{x}, pool '{s}'), which was freed\n", described);
        }
    } else if (address >= user_end) {
        const distance = address - user_end + 1;
        say(&buffer, "  heap buffer overflow: {d} byte{s} past the end of allocation #{d} ({d} bytes at 0x{x}, pool '{s}'){s}\n", .{ distance, plural(distance) } ++ described ++ .{freedNote(record)});
    } else if (address < user) {
        const distance = user - address;
        say(&buffer, "  heap buffer underflow: {d} byte{s} before the start of allocation #{d} ({d} bytes at 0x{x}, pool '{s}'){s}\n", .{ distance, plural(distance) } ++ described ++ .{freedNote(record)});
    } else {
        say(&buffer, "  inside allocation #{d} ({d} bytes at 0x{x}, pool '{s}')\n", described);
    }
    writeStack(&buffer, "allocated at", record.stacks[@intFromEnum(guard_mod.StackKind.allocation)]);
    if (record.state == .quarantined) writeStack(&buffer, "freed at", record.stacks[@intFromEnum(guard_mod.StackKind.free)]);
}

fn writeStack(buffer: []u8, label: []const u8, stack: []const u8) void {
    if (stack.len == 0) {
        say(buffer, "  {s}: (not recorded: turn on trackHistory to keep stacks)\n", .{label});
        return;
    }
    say(buffer, "  {s}:\n", .{label});
    writeAll(stack);
    writeAll("\n");
}

fn plural(count: u64) []const u8 {
    return if (count == 1) "" else "s";
}

fn freedNote(record: *const guard_mod.Record) []const u8 {
    return if (record.state == .quarantined) ", which was freed" else "";
}

/// Writes `format` with `args` to stderr (as much of it as `buffer` holds); async-signal-safe.
pub fn say(buffer: []u8, comptime format: []const u8, args: anytype) void {
    const text = std.fmt.bufPrint(buffer, format, args) catch buffer;
    writeAll(text);
}

/// Writes `bytes` to stderr whole, as far as stderr takes them; async-signal-safe.
pub fn writeAll(bytes: []const u8) void {
    var written: usize = 0;
    while (written < bytes.len) {
        const n = posix.write(posix.STDERR_FILENO, bytes[written..]) catch return;
        if (n == 0) return;
        written += n;
    }
}
