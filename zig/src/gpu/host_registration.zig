//! Host memory that pools did not make page-locked themselves (a PMEM file's mapping) registered
//! with the CUDA driver on first use by a copy, so GPU checkpoints into it and restores from it are
//! one direct DMA rather than a copy through staging buffers. Where the driver refuses (some DAX
//! mappings), the caller keeps the staged path.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");

pub const State = enum(u8) { unknown, registered, refused };

/// Registers `[base, base + len)` for DMA from every context; returns whether it is registered.
pub fn register(state: *State, device_id: u32, base: [*]u8, len: usize) bool {
    assert(len > 0);
    switch (state.*) {
        .registered => return true,
        .refused => return false,
        .unknown => {},
    }
    const device = device_mod.get(device_id) catch return false; // no driver: not a refusal for ever
    const api = device.enter() catch return false;
    const result = api.cuMemHostRegister_v2(base, len, driver.mem_host_register_portable);
    state.* = if (result == driver.success) .registered else .refused;
    return state.* == .registered;
}

/// Undoes `register` before the memory is unmapped; DMA still in flight finishes first.
pub fn unregister(state: *State, base: [*]u8) void {
    if (state.* != .registered) return;
    const api = driver.api() catch return;
    _ = api.cuCtxSynchronize();
    _ = api.cuMemHostUnregister(base);
    state.* = .unknown;
}
