//! The pool's lock as a layer: entry points that take the pool's mutex (threadSafety "mutex")
//! around the layers inside. A "none" pool (the registry lets only its owner call) has no such
//! layer: its entry points are the inner layer's own. The pool picks its set when it is made
//! (pool.zig `chooseEntry`), so no call asks which thread-safety the pool has. Lock-free and
//! sharded placements synchronise themselves and take no such layer.
const std = @import("std");
const assert = std.debug.assert;
const Error = @import("../status.zig").Error;

/// `Inner` has `alloc`, `free` and `lookup` over `*Pool`, run under the lock. They are calls, not
/// inlined: an inlined body's result would be built in a temporary and copied out with one 16-byte
/// load of what was just stored in 4-byte pieces, a load that waits for the stores (a
/// store-forwarding stall, 5 ns of a 50 ns allocation, measured); `Inner` writes it in place.
pub fn Locking(comptime Pool: type, comptime Inner: type, comptime mutex: bool) type {
    return struct {
        pub fn alloc(pool: *Pool, size: u64, stream: Pool.Stream) Error!Pool.Placed {
            assert(mutex == (pool.config.thread_safety == .mutex));
            if (mutex) pool.mutex.lock();
            defer if (mutex) pool.mutex.unlock();
            return Inner.alloc(pool, size, stream);
        }

        pub fn free(pool: *Pool, g: u32, expected_id: u32) Error!bool {
            assert(mutex == (pool.config.thread_safety == .mutex));
            if (mutex) pool.mutex.lock();
            defer if (mutex) pool.mutex.unlock();
            return Inner.free(pool, g, expected_id);
        }

        pub fn lookup(pool: *Pool, g: u32) ?Pool.Live {
            assert(mutex == (pool.config.thread_safety == .mutex));
            if (mutex) pool.mutex.lock();
            defer if (mutex) pool.mutex.unlock();
            return Inner.lookup(pool, g);
        }
    };
}

test "the locked entry points hold the mutex around the layer inside; the unlocked ones take none" {
    const Mutex = @import("adaptive_mutex.zig").AdaptiveMutex;
    const FakePool = struct {
        config: struct { thread_safety: enum { none, mutex } },
        mutex: Mutex = .{},
        pub const Placed = struct { g: u32 };
        pub const Stream = ?*anyopaque;
        pub const Live = struct { id: u32 };
    };
    const Inner = struct {
        fn held(pool: *FakePool) bool {
            if (!pool.mutex.inner.tryLock()) return true;
            pool.mutex.unlock();
            return false;
        }
        pub fn alloc(pool: *FakePool, size: u64, _: FakePool.Stream) Error!FakePool.Placed {
            return .{ .g = @intCast(size + @intFromBool(held(pool))) };
        }
        pub fn free(pool: *FakePool, _: u32, _: u32) Error!bool {
            return held(pool);
        }
        pub fn lookup(pool: *FakePool, g: u32) ?FakePool.Live {
            return .{ .id = g + @intFromBool(held(pool)) };
        }
    };
    var locked: FakePool = .{ .config = .{ .thread_safety = .mutex } };
    try std.testing.expectEqual(@as(u32, 11), (try Locking(FakePool, Inner, true).alloc(&locked, 10, null)).g);
    try std.testing.expect(try Locking(FakePool, Inner, true).free(&locked, 0, 0));
    try std.testing.expectEqual(@as(u32, 6), Locking(FakePool, Inner, true).lookup(&locked, 5).?.id);
    var unlocked: FakePool = .{ .config = .{ .thread_safety = .none } };
    try std.testing.expectEqual(@as(u32, 10), (try Locking(FakePool, Inner, false).alloc(&unlocked, 10, null)).g);
    try std.testing.expect(!try Locking(FakePool, Inner, false).free(&unlocked, 0, 0));
}
