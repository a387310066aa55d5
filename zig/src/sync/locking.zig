//! The pool's lock as a layer, specialised at compile time: for threadSafety "mutex" it takes the
//! pool's mutex around the work of the layers under it; for "none" (the registry lets only the
//! owning thread call) it is empty and compiles to nothing. The layers that run under it (layers.zig
//! `Placing`, debug/entry.zig `Debugged`) take one as a comptime parameter and the pool picks
//! the instance once, when it is made (layers.zig `choose`): no call asks which thread-safety
//! the pool has. Lock-free and sharded placements synchronise themselves (`SelfSynced`).
//!
//! A parameter, not a wrapper around the inner layer: a wrapper either calls the inner layer (a
//! call more per allocation) or inlines it, and an inlined body's result is built in a temporary
//! and copied out with one 16-byte load of what was just stored in 4-byte pieces, a load that
//! waits for the stores (a store-forwarding stall: 5 ns of a 50 ns allocation, measured).
const std = @import("std");
const assert = std.debug.assert;

pub fn Lock(comptime mutex: bool) type {
    return struct {
        pub inline fn acquire(pool: anytype) void {
            assert(mutex == (pool.threadSafety() == .mutex));
            if (mutex) pool.poolMutex().lock();
        }

        pub inline fn release(pool: anytype) void {
            if (mutex) pool.poolMutex().unlock();
        }
    };
}

/// For a layer called by another that already holds the pool's lock (or whose pool has none).
pub const Held = struct {
    pub inline fn acquire(pool: anytype) void {
        _ = pool;
    }

    pub inline fn release(pool: anytype) void {
        _ = pool;
    }
};

/// For placements that synchronise themselves (lock-free, thread-cached and sharded ones): the
/// pool's lock is not theirs to take.
pub const SelfSynced = Held;

test "a mutex pool's lock is held between acquire and release; a \"none\" pool's takes nothing" {
    const Mutex = @import("adaptive_mutex.zig").AdaptiveMutex;
    const FakePool = struct {
        config: struct { thread_safety: enum { none, mutex } },
        mutex: Mutex = .{},

        fn threadSafety(pool: *const @This()) @TypeOf(pool.config.thread_safety) {
            return pool.config.thread_safety;
        }
        fn poolMutex(pool: *@This()) *Mutex {
            return &pool.mutex;
        }

        fn held(pool: *@This()) bool {
            if (!pool.mutex.inner.tryLock()) return true;
            pool.mutex.inner.unlock();
            return false;
        }
    };
    var locked: FakePool = .{ .config = .{ .thread_safety = .mutex } };
    Lock(true).acquire(&locked);
    try std.testing.expect(locked.held());
    Lock(true).release(&locked);
    try std.testing.expect(!locked.held());
    var unlocked: FakePool = .{ .config = .{ .thread_safety = .none } };
    Lock(false).acquire(&unlocked);
    try std.testing.expect(!unlocked.held());
    Lock(false).release(&unlocked);
    Lock(true).acquire(&locked);
    Held.acquire(&locked); // a layer under one that holds it: nothing more to take
    try std.testing.expect(locked.held());
    Held.release(&locked);
    try std.testing.expect(locked.held());
    Lock(true).release(&locked);
}
