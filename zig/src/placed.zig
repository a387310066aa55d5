//! An allocation as a pool hands it out, whichever layer placed it: where (granules from the
//! arena's base), which allocation (its id), and what the debug layer did to it.
const std = @import("std");

/// `flags`: `flag_guarded` where the debug layer gave the allocation guard pages. A whole
/// word, not a bool: the C ABI ORs it into the id, and a byte stored then read as a word
/// stalls the load (the plain path paid 10 ns for it).
pub const Placed = struct { g: u32, id: u32, flags: u32 = 0 };
pub const flag_guarded: u32 = 1 << 31;

/// Allocation ids stay below this: the C ABI flags a guarded allocation in the id's top bit.
pub const id_max: u32 = std.math.maxInt(u31);

comptime {
    std.debug.assert(flag_guarded > id_max and flag_guarded & id_max == 0);
}
