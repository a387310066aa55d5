//! Page-locked host memory for an arena: host address space reserved and committed as for CPU
//! pools, each committed region registered with the driver (cuMemHostRegister, portable to every
//! context), so copies to and from it run at full DMA speed and need no staging.
const std = @import("std");
const assert = std.debug.assert;
const host = @import("host.zig");
const driver = @import("cuda_driver.zig");
const Device = @import("../gpu/device.zig").Device;

/// Pinned regions line up with 2 MiB huge pages: the DMA engine then walks a few large pages
/// instead of many small ones (cuMemHostAlloc's own memory is laid out so too).
pub const granularity: u64 = 2 * 1024 * 1024;

pub fn reserve(len: u64) ?u64 {
    return host.reserveAligned(len, granularity);
}

pub fn commit(device: *Device, base: u64, offset: u64, len: u64) bool {
    assert((base + offset) % granularity == 0 and len % granularity == 0);
    if (!host.commit(base, offset, len)) return false;
    host.adviseHugePages(base + offset, len);
    const api = device.enter() catch return false;
    const address: *anyopaque = @ptrFromInt(base + offset);
    if (api.cuMemHostRegister_v2(address, len, driver.mem_host_register_portable) != driver.success) {
        host.decommit(base, offset, len);
        return false;
    }
    return true;
}

pub fn decommit(device: *Device, base: u64, offset: u64, len: u64) void {
    assert(len > 0);
    if (device.enter()) |api| {
        _ = api.cuCtxSynchronize(); // no DMA may still be reading or writing these pages
        _ = api.cuMemHostUnregister(@ptrFromInt(base + offset));
    } else |_| {}
    host.decommit(base, offset, len);
}
