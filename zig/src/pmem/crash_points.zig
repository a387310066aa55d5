//! The crash test mode, off unless the process starts with MEMORY_POOL_CRASH_AT set (read once,
//! when the first PMEM pool opens; Bun's process.env does not reach getenv afterwards).
//!
//! MEMORY_POOL_CRASH_AT=N: the core kills its own process with SIGKILL at the N-th persist barrier,
//! before that barrier drains, so a test can sweep N over every barrier of a fixed workload and check
//! what recovery finds each time. N=0 only counts barriers (`count()`, mp_pmem_barrier_count).
//!
//! MEMORY_POOL_CRASH_MODE=power simulates a power failure rather than a kill: a kill keeps every store
//! (the page cache survives the process), so it cannot find a missing flush. In power mode each open
//! pool file has a shadow copy holding only what was flushed and then drained; at the crash point the
//! files are rolled back to their shadows, so whatever was not flushed, or flushed but not drained, is lost.
const std = @import("std");
const assert = std.debug.assert;

pub const Mode = enum { kill, power };

const line_bytes = 64;

const Tracked = struct { base: usize, len: usize, shadow: []u8 };
const Range = struct { start: usize, end: usize };

var once = std.once(load);
var enabled_flag: bool = false;
var mode: Mode = .kill;
var crash_at: u64 = 0;
var barrier_count: u64 = 0;
var mutex: std.Thread.Mutex = .{};
var tracked: std.ArrayList(Tracked) = .empty;
var pending: std.ArrayList(Range) = .empty;
const gpa = std.heap.c_allocator;

fn load() void {
    const at = std.c.getenv("MEMORY_POOL_CRASH_AT") orelse return;
    crash_at = std.fmt.parseInt(u64, std.mem.span(at), 10) catch 0;
    if (std.c.getenv("MEMORY_POOL_CRASH_MODE")) |value| {
        if (std.mem.eql(u8, std.mem.span(value), "power")) mode = .power;
    }
    enabled_flag = true;
}

/// Reads the environment; called when a PMEM pool opens, before any barrier.
pub fn init() void {
    once.call();
}

pub inline fn enabled() bool {
    return enabled_flag;
}

/// Persist barriers passed so far (counted only in the test mode).
pub fn count() u64 {
    mutex.lock();
    defer mutex.unlock();
    return barrier_count;
}

// The hooks below are inline tests of one flag, with the work out of line: they run at every
// persist, flush and drain, where the crash test mode is off.

/// Called at every persist barrier, after its flushes and before its drain.
pub inline fn barrier() void {
    if (enabled_flag) countBarrier();
}

fn countBarrier() void {
    mutex.lock();
    barrier_count += 1;
    const now = barrier_count == crash_at;
    mutex.unlock();
    if (now) crash();
}

/// Power mode: the lines of [address, address + len) were flushed; they survive once drained.
pub inline fn noteFlush(address: usize, len: usize) void {
    if (enabled_flag) notePending(address, len);
}

fn notePending(address: usize, len: usize) void {
    if (mode != .power or len == 0) return;
    mutex.lock();
    defer mutex.unlock();
    const range: Range = .{ .start = std.mem.alignBackward(usize, address, line_bytes), .end = std.mem.alignForward(usize, address + len, line_bytes) };
    pending.append(gpa, range) catch @panic("crash test mode: out of memory for pending flushes");
}

/// Power mode: every flushed line is now durable; copy it into its file's shadow.
pub inline fn noteDrain() void {
    if (enabled_flag) copyDrained();
}

fn copyDrained() void {
    if (mode != .power) return;
    mutex.lock();
    defer mutex.unlock();
    for (pending.items) |range| {
        for (tracked.items) |file| {
            const start = @max(range.start, file.base);
            const end = @min(range.end, file.base + file.len);
            if (start >= end) continue;
            const source: [*]const u8 = @ptrFromInt(start);
            @memcpy(file.shadow[start - file.base .. end - file.base], source[0 .. end - start]);
        }
    }
    pending.clearRetainingCapacity();
}

/// Power mode: a pool file was mapped at `base`; its contents now are what survived so far.
pub fn track(base: usize, len: usize) void {
    if (!enabled_flag or mode != .power) return;
    mutex.lock();
    defer mutex.unlock();
    const shadow = gpa.alloc(u8, len) catch @panic("crash test mode: out of memory for a shadow copy");
    const source: [*]const u8 = @ptrFromInt(base);
    @memcpy(shadow, source[0..len]);
    tracked.append(gpa, .{ .base = base, .len = len, .shadow = shadow }) catch @panic("crash test mode: out of memory");
}

pub fn untrack(base: usize) void {
    if (!enabled_flag or mode != .power) return;
    mutex.lock();
    defer mutex.unlock();
    for (tracked.items, 0..) |file, index| {
        if (file.base != base) continue;
        gpa.free(file.shadow);
        _ = tracked.swapRemove(index);
        return;
    }
}

fn crash() noreturn {
    if (mode == .power) {
        mutex.lock();
        for (tracked.items) |file| {
            const target: [*]u8 = @ptrFromInt(file.base);
            @memcpy(target[0..file.len], file.shadow);
        }
        // Left locked: nothing runs after this.
    }
    _ = std.c.kill(std.c.getpid(), std.c.SIG.KILL);
    std.c._exit(137);
}
