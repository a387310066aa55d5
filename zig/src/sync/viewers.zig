//! Who asked for a pool's base address to make JavaScript views over its memory: the first
//! thread, and whether there were more asks. Each JavaScript pool object asks once, and a copy of
//! the library keeps one object a pool in a thread: a pool destroyed by the only object that
//! viewed it may unmap its memory (that object detaches its views first); one viewed by another
//! thread, or by a second object in the same thread (a second copy of the library: the dual-
//! package hazard), must keep the range mapped and reading zeros, because the destroying object
//! cannot detach the other's views (unmapped, the range goes to the next pool, and a view the
//! other object still holds writes into that pool's allocations). Every pool (pool.zig), a PMEM
//! pool's mapped file included, decides this here.
const std = @import("std");
const assert = std.debug.assert;

pub const Viewers = struct {
    first: std.atomic.Value(std.Thread.Id) = .init(0),
    many: std.atomic.Value(bool) = .init(false),

    /// Called where a JavaScript pool object asks for the pool's base address to make views over its memory.
    pub fn note(self: *Viewers) void {
        const me = std.Thread.getCurrentId();
        assert(me != 0);
        _ = self.first.cmpxchgStrong(0, me, .acq_rel, .acquire) orelse return;
        self.many.store(true, .release); // a second object, in this thread or another
    }

    /// Whether an object other than the caller's may hold views over the pool's memory.
    pub fn elsewhere(self: *const Viewers) bool {
        if (self.many.load(.acquire)) return true;
        const first = self.first.load(.acquire);
        return first != 0 and first != std.Thread.getCurrentId();
    }
};

test "one object's views in the calling thread are not elsewhere; a second thread's are, and so are a second object's in this thread" {
    var viewers: Viewers = .{};
    try std.testing.expect(!viewers.elsewhere());
    viewers.note();
    try std.testing.expect(!viewers.elsewhere());
    const other = try std.Thread.spawn(.{}, Viewers.note, .{&viewers});
    other.join();
    try std.testing.expect(viewers.elsewhere());
    var twice: Viewers = .{};
    twice.note();
    twice.note(); // a second copy of the library's object for the pool
    try std.testing.expect(twice.elsewhere());
}
