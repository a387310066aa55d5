//! A word per pool slot on which JavaScript counts the ends of a pool's allocations (src/pool.ts
//! HostPool #ended), so that every copy of the library in a thread counts on the same one. A
//! threadSafety "none" pool's handles take an unmoved count as proof that they live, with no call
//! into the core (src/allocation.ts knownAlive); a second copy of the library in the pool's thread
//! (a second install of the package, loading the same core) ends allocations too, and a count
//! private to each copy never heard of them: a copy through a handle the other copy had freed wrote
//! into the block's next allocation. The core only holds the words: JavaScript writes them, in the
//! pool's owner thread (other pools' counts prove nothing, and may be written by any).
const std = @import("std");
const assert = std.debug.assert;
const pools_max = @import("pool_count.zig").pools_max;

/// A count on a cache line of its own: pools of different Workers in neighbouring slots count
/// without taking each other's line away.
const Word = extern struct { ends: f64 align(std.atomic.cache_line), _: [std.atomic.cache_line - 8]u8 = undefined };

/// Never reset: a slot's next pool counts on from where the last one stopped, so a handle of the
/// last one (whose pool's destroy counted an end) never reads the count it was known alive at again.
var words: [pools_max]Word = @splat(.{ .ends = 0 });

/// The address of the count of pool slot `slot`, for JavaScript to view as one f64.
pub fn address(slot: u32) usize {
    assert(slot < pools_max);
    const at = @intFromPtr(&words[slot].ends);
    assert(at % std.atomic.cache_line == 0);
    return at;
}

test "each slot's count lies on a cache line of its own, and counts start at 0" {
    try std.testing.expectEqual(@as(usize, std.atomic.cache_line), address(1) - address(0));
    try std.testing.expectEqual(@as(f64, 0), @as(*const f64, @ptrFromInt(address(pools_max - 1))).*);
}
