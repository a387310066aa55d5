//! How many pools a process holds at once: the registry's slots (registry.zig), and so what keeps
//! one of something for each pool (pmem/truncation.zig's watches). A file of its own, importing
//! nothing, so either can read it without importing the other.
const std = @import("std");

/// A handle's low bits name its registry slot.
pub const slot_bits = 12;
pub const pools_max = 1 << slot_bits;

comptime {
    std.debug.assert(pools_max > 0 and std.math.isPowerOfTwo(pools_max));
}
