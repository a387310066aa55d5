//! Page-locked host memory for an arena: host address space reserved and committed as for CPU
//! pools, each committed region registered with the driver (cuMemHostRegister, portable to every
//! context), so copies to and from it run at full DMA speed and need no staging.
const std = @import("std");
const assert = std.debug.assert;
const host = @import("host.zig");
const driver = @import("cuda_driver.zig");
const Device = @import("../gpu/device.zig").Device;

pub fn commit(device: *Device, base: u64, offset: u64, len: u64) bool {
    if (!host.commit(base, offset, len)) return false;
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
