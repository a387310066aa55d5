//! The pool's lock as a layer: entry points that take the pool's mutex (threadSafety "mutex") or
//! no lock at all ("none": the registry lets only the owning thread call) around the layers
//! inside, specialised at compile time. The pool picks one set when it is made (pool.zig
//! `chooseEntry`), so no call asks which thread-safety the pool has. Lock-free and sharded
//! placements synchronise themselves and take no such layer.
const std = @import("std");
const assert = std.debug.assert;
const Error = @import("../status.zig").Error;

/// `Inner` has `alloc`, `free` and `lookup` over `*Pool`, run under the lock.
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
