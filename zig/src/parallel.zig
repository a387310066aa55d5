//! Work split across the machine's spare cores: one thread pool for the process, started on
//! first use. Bulk byte work that one core cannot saturate memory with (staging memcpy for GPU
//! copies, cache-line flushes that make a large PMEM range durable) runs here in slices.
const std = @import("std");
const assert = std.debug.assert;

var thread_pool: std.Thread.Pool = undefined;
var thread_pool_once = std.once(startThreads);
var thread_pool_ok = false;

fn startThreads() void {
    const cpus = std.Thread.getCpuCount() catch 1;
    // As many threads as the machine spares: the calling thread works too, and one core is left
    // to the rest of the process.
    thread_pool.init(.{ .allocator = std.heap.c_allocator, .n_jobs = std.math.clamp(cpus -| 2, 1, 14) }) catch return;
    thread_pool_ok = true;
}

/// Calls `work(context, start, len)` over slices that tile `[0, total)`, each at least
/// `slice_min` bytes and a multiple of 64 (a cache line), on the pool and the calling thread;
/// returns when all are done.
pub fn forSlices(total: usize, slice_min: usize, context: anytype, comptime work: fn (@TypeOf(context), usize, usize) void) void {
    assert(total > 0 and slice_min > 0);
    thread_pool_once.call();
    const parts = if (thread_pool_ok) @min(@as(usize, @intCast(thread_pool.threads.len)) + 1, @max(1, total / slice_min)) else 1;
    if (parts <= 1) return work(context, 0, total);
    const part_len = std.mem.alignForward(usize, std.math.divCeil(usize, total, parts) catch unreachable, 64);
    var wait_group: std.Thread.WaitGroup = .{};
    var start: usize = part_len; // the first slice is this thread's
    while (start < total) : (start += part_len) {
        thread_pool.spawnWg(&wait_group, work, .{ context, start, @min(part_len, total - start) });
    }
    work(context, 0, @min(part_len, total));
    thread_pool.waitAndWork(&wait_group);
}

test "slices tile the range exactly once" {
    const Marks = struct {
        bytes: []std.atomic.Value(u8),
        fn mark(self: *const @This(), start: usize, len: usize) void {
            for (self.bytes[start .. start + len]) |*byte| _ = byte.fetchAdd(1, .monotonic);
        }
    };
    const bytes = try std.testing.allocator.alloc(std.atomic.Value(u8), 1 << 20);
    defer std.testing.allocator.free(bytes);
    for (bytes) |*byte| byte.* = .init(0);
    forSlices(bytes.len - 3, 4096, &Marks{ .bytes = bytes }, Marks.mark);
    for (bytes[0 .. bytes.len - 3]) |*byte| try std.testing.expectEqual(@as(u8, 1), byte.load(.monotonic));
    for (bytes[bytes.len - 3 ..]) |*byte| try std.testing.expectEqual(@as(u8, 0), byte.load(.monotonic));
}
