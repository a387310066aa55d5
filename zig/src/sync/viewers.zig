//! Which threads asked for a pool's base address to make JavaScript views over its memory: the
//! first one, and whether there were more. A pool destroyed by the only thread that viewed it
//! may unmap its memory (that thread's JavaScript detaches its views first); one viewed by
//! another thread must keep the range mapped and reading zeros, because the destroying thread
//! cannot detach views that live in other Workers. Every pool (pool.zig), a PMEM pool's mapped
//! file included, decides this here.
const std = @import("std");
const assert = std.debug.assert;

pub const Viewers = struct {
    first: std.atomic.Value(std.Thread.Id) = .init(0),
    many: std.atomic.Value(bool) = .init(false),

    /// Called where a thread asks for the pool's base address to make views over its memory.
    pub fn note(self: *Viewers) void {
        const me = std.Thread.getCurrentId();
        assert(me != 0);
        const first = self.first.cmpxchgStrong(0, me, .acq_rel, .acquire) orelse return;
        if (first != me) self.many.store(true, .release);
    }

    /// Whether a thread other than the caller may hold views over the pool's memory.
    pub fn elsewhere(self: *const Viewers) bool {
        if (self.many.load(.acquire)) return true;
        const first = self.first.load(.acquire);
        return first != 0 and first != std.Thread.getCurrentId();
    }
};

test "views from the calling thread alone are not elsewhere; a second thread's are" {
    var viewers: Viewers = .{};
    try std.testing.expect(!viewers.elsewhere());
    viewers.note();
    viewers.note();
    try std.testing.expect(!viewers.elsewhere());
    const other = try std.Thread.spawn(.{}, Viewers.note, .{&viewers});
    other.join();
    try std.testing.expect(viewers.elsewhere());
}
