//! The pool's lock under threadSafety "mutex": a futex mutex that spins a while before it sleeps.
//! A pool's critical sections last tens of nanoseconds, far less than a futex sleep and wake, so
//! a waiter that parks at once (as std.Thread.Mutex does) turns contention into a convoy of
//! syscalls; spinning with exponential backoff first keeps 16 Workers on one pool moving.
const std = @import("std");
const assert = std.debug.assert;

/// Tries before parking; with backoff doubling to `pause_max`, a few microseconds in all.
const tries_max = 16;
const pause_max = 1024;

pub const AdaptiveMutex = struct {
    inner: std.Thread.Mutex = .{},

    pub inline fn lock(self: *AdaptiveMutex) void {
        if (self.inner.tryLock()) return;
        self.lockContended();
    }

    fn lockContended(self: *AdaptiveMutex) void {
        @branchHint(.cold);
        var pauses: u32 = 16;
        for (0..tries_max) |_| {
            for (0..pauses) |_| std.atomic.spinLoopHint();
            if (self.inner.tryLock()) return;
            pauses = @min(pauses * 2, pause_max);
        }
        self.inner.lock();
    }

    pub inline fn unlock(self: *AdaptiveMutex) void {
        self.inner.unlock();
    }
};

/// Backoff for a compare-and-swap loop that lost a race: waits longer after each loss, so
/// threads hammering one word take turns instead of invalidating each other's cache line.
pub const Backoff = struct {
    pauses: u32 = 1,

    pub inline fn wait(self: *Backoff) void {
        for (0..self.pauses) |_| std.atomic.spinLoopHint();
        self.pauses = @min(self.pauses * 2, pause_max);
    }
};

test "the adaptive mutex excludes: counts from many threads add up" {
    const Shared = struct {
        mutex: AdaptiveMutex = .{},
        count: u64 = 0,
        fn run(shared: *@This()) void {
            for (0..20_000) |_| {
                shared.mutex.lock();
                defer shared.mutex.unlock();
                shared.count += 1;
            }
        }
    };
    var shared: Shared = .{};
    var threads: [4]std.Thread = undefined;
    for (&threads) |*thread| thread.* = try std.Thread.spawn(.{}, Shared.run, .{&shared});
    for (threads) |thread| thread.join();
    try std.testing.expectEqual(@as(u64, 80_000), shared.count);
    var backoff: Backoff = .{};
    for (0..20) |_| backoff.wait();
    assert(backoff.pauses == pause_max);
}
