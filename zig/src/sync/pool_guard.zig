//! Keeps a pool alive while a thread is inside a call on it, so destroying a pool that other
//! Workers are using gives them PoolNotFound instead of a use-after-free.
//!
//! Hazard-pointer style (Michael 2004): every thread that calls into a pool owns a `Record`
//! naming the registry slot it is inside. A caller publishes the slot, then checks that the
//! slot still holds its pool; the destroyer unpublishes the pool, then waits until no record
//! names the slot. Both sides use sequentially consistent operations, so at least one of them
//! sees the other (the Dekker pattern): either the caller sees the pool gone, or the destroyer
//! sees the caller and waits. The hot path is a store and a load on the thread's own cache line;
//! no counter is shared between threads (a shared in-use count would make every call of every
//! Worker fight over one cache line).
//!
//! Invariants: a record is owned by at most one live thread (`claimed`); records are never freed
//! (the list only grows, bounded by the most threads alive at once), so the destroyer may read
//! any record at any time.
const std = @import("std");
const assert = std.debug.assert;
const thread_exit = @import("thread_exit.zig");

/// Two guarded calls at once per thread: a call on one pool may flush a thread cache that holds
/// blocks of a second pool (thread_cache.zig).
pub const Which = enum(u1) { primary, secondary };
const none: u32 = 0;

pub const Record = struct {
    /// What the thread is inside, per `Which`: `key + 1`, or `none`.
    active: [2]std.atomic.Value(u32) align(std.atomic.cache_line) = .{ .init(none), .init(none) },
    claimed: std.atomic.Value(bool) = .init(true),
    next: ?*Record = null,
};

var records_head: std.atomic.Value(?*Record) = .init(null);
threadlocal var current: ?*Record = null;

/// The calling thread's record, claimed from the list (a dead thread's) or made on first use.
/// Null only when no memory is left for one.
fn record() ?*Record {
    if (current) |mine| return mine;
    var it = records_head.load(.acquire);
    const claimed = while (it) |candidate| : (it = candidate.next) {
        if (candidate.claimed.cmpxchgStrong(false, true, .acquire, .monotonic) == null) break candidate;
    } else blk: {
        const fresh = std.heap.c_allocator.create(Record) catch return null;
        fresh.* = .{};
        var head = records_head.load(.monotonic);
        while (true) {
            fresh.next = head;
            head = records_head.cmpxchgWeak(head, fresh, .release, .monotonic) orelse break;
        }
        break :blk fresh;
    };
    assert(claimed.active[0].load(.monotonic) == none and claimed.active[1].load(.monotonic) == none);
    current = claimed;
    thread_exit.hook(.guard_record, releaseRecord);
    thread_exit.register();
    return claimed;
}

/// Marks the calling thread as inside a call on `key`; the caller must then check that what
/// `key` names is still there (and `leave` either way). False when no record could be made.
pub inline fn enter(which: Which, key: u32) bool {
    assert(key != std.math.maxInt(u32));
    const mine = record() orelse return false;
    assert(mine.active[@intFromEnum(which)].load(.monotonic) == none); // calls do not nest
    mine.active[@intFromEnum(which)].store(key + 1, .seq_cst);
    return true;
}

/// Owed after every `enter`, also one that returned false or found the pool gone. Harmless where
/// nothing was entered (the owner of a threadSafety "none" pool calls without the guard).
pub inline fn leave(which: Which) void {
    const mine = current orelse return; // no record: nothing was entered
    mine.active[@intFromEnum(which)].store(none, .release);
}

/// Waits until no thread is inside a call on `key`. The caller has already made `key` name
/// nothing (with a sequentially consistent store), so no new call can get in.
pub fn waitUntilUnused(key: u32) void {
    const wanted = key + 1;
    if (current) |mine| assert(mine.active[0].load(.monotonic) != wanted and mine.active[1].load(.monotonic) != wanted);
    var it = records_head.load(.seq_cst);
    while (it) |candidate| : (it = candidate.next) {
        for (&candidate.active) |*active| {
            // Bounded by the call in flight: a pool call never waits on the registry.
            while (active.load(.seq_cst) == wanted) std.Thread.yield() catch {};
        }
    }
}

/// Called as the thread ends: its record goes back to the list for the next thread.
pub fn releaseRecord() void {
    const mine = current orelse return;
    assert(mine.active[0].load(.monotonic) == none and mine.active[1].load(.monotonic) == none);
    current = null;
    mine.claimed.store(false, .release);
}

test "a key in use is waited out, a free key is not" {
    try std.testing.expect(enter(.primary, 7));
    const waiter = try std.Thread.spawn(.{}, waitUntilUnused, .{@as(u32, 7)});
    std.Thread.sleep(2 * std.time.ns_per_ms);
    leave(.primary);
    waiter.join();
    waitUntilUnused(7);
    releaseRecord();
    try std.testing.expect(enter(.secondary, 3)); // the released record is claimed again
    leave(.secondary);
}
