//! CUDA devices as the core sees them: each ordinal's primary context, retained on first use
//! and kept for the life of the process, with the facts pools need (allocation granularity,
//! name, memory). Any thread may use any device: `enter` makes its context current first.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const status = @import("../status.zig");
const Error = status.Error;

pub const devices_max = 64;

pub const Device = struct {
    ordinal: c_int,
    handle: driver.Device,
    context: driver.Context,
    /// cuMemCreate sizes and cuMemMap offsets are multiples of this.
    granularity: u64,
    total_bytes: u64,
    /// Its memory can be exported as a file descriptor, for another process to map (ipc.zig).
    shareable: bool = false,
    name: [96]u8,
    name_len: usize,
    /// Guards what is made lazily on the device: the kernel module and the staging buffers.
    mutex: std.Thread.Mutex = .{},

    /// Makes the device's context current on this thread; returns the driver table.
    pub fn enter(self: *const Device) Error!*const driver.Api {
        const api = try driverApi();
        try check(api, api.cuCtxSetCurrent(self.context), "cuCtxSetCurrent");
        return api;
    }

    pub fn nameSlice(self: *const Device) []const u8 {
        assert(self.name_len <= self.name.len);
        return self.name[0..self.name_len];
    }
};

var devices: [devices_max]?*Device = @splat(null);
var devices_mutex: std.Thread.Mutex = .{};

pub fn driverApi() Error!*const driver.Api {
    return driver.api() catch status.fail(error.Unavailable, "GPU pools are unavailable: {s}", .{driver.unavailableReason()});
}

/// Turns a failed driver call into error.Unavailable with the driver's name for the failure.
pub fn check(api: *const driver.Api, result: driver.Result, comptime call: []const u8) Error!void {
    _ = api;
    if (result == driver.success) return;
    return status.fail(error.Unavailable, call ++ " failed: {s} ({d})", .{ driver.errorName(result), result });
}

pub fn count() Error!u32 {
    const api = try driverApi();
    var n: c_int = 0;
    try check(api, api.cuDeviceGetCount(&n), "cuDeviceGetCount");
    assert(n >= 0);
    return @intCast(n);
}

/// The device with this ordinal, its context retained on first use.
pub fn get(ordinal: u32) Error!*Device {
    const api = try driverApi();
    const visible = try count();
    if (visible == 0) return status.fail(error.Unavailable, "GPU pools are unavailable: the CUDA driver sees no device", .{});
    if (ordinal >= visible or ordinal >= devices_max) {
        return status.failConfig("deviceId", "deviceId {d} names no CUDA device: {d} visible (0 to {d})", .{ ordinal, visible, visible - 1 });
    }
    devices_mutex.lock();
    defer devices_mutex.unlock();
    if (devices[ordinal]) |known| return known;
    const device = std.heap.c_allocator.create(Device) catch return status.fail(error.OutOfMemory, "no memory for the device's bookkeeping", .{});
    errdefer std.heap.c_allocator.destroy(device);
    device.* = .{ .ordinal = @intCast(ordinal), .handle = 0, .context = null, .granularity = 0, .total_bytes = 0, .name = undefined, .name_len = 0 };
    try check(api, api.cuDeviceGet(&device.handle, @intCast(ordinal)), "cuDeviceGet");
    var vmm: c_int = 0;
    try check(api, api.cuDeviceGetAttribute(&vmm, driver.device_attribute_vmm_supported, device.handle), "cuDeviceGetAttribute");
    if (vmm == 0) return status.fail(error.Unavailable, "device {d} lacks virtual memory management (cuMemCreate), which GPU pools need", .{ordinal});
    var posix_fd: c_int = 0;
    device.shareable = api.cuDeviceGetAttribute(&posix_fd, driver.device_attribute_posix_fd_supported, device.handle) == driver.success and posix_fd != 0;
    try check(api, api.cuDevicePrimaryCtxRetain(&device.context, device.handle), "cuDevicePrimaryCtxRetain");
    try check(api, api.cuCtxSetCurrent(device.context), "cuCtxSetCurrent");
    var granularity: usize = 0;
    const prop = allocationProp(device.ordinal, false);
    try check(api, api.cuMemGetAllocationGranularity(&granularity, &prop, driver.mem_alloc_granularity_minimum), "cuMemGetAllocationGranularity");
    assert(granularity > 0 and std.math.isPowerOfTwo(granularity));
    device.granularity = granularity;
    var total: usize = 0;
    try check(api, api.cuDeviceTotalMem_v2(&total, device.handle), "cuDeviceTotalMem");
    device.total_bytes = total;
    try check(api, api.cuDeviceGetName(&device.name, device.name.len, device.handle), "cuDeviceGetName");
    device.name_len = std.mem.indexOfScalar(u8, &device.name, 0) orelse device.name.len;
    devices[ordinal] = device;
    return device;
}

/// What cuMemCreate is asked for: device memory of `ordinal`, exportable as a file descriptor
/// where `shareable`.
pub fn allocationProp(ordinal: c_int, shareable: bool) driver.MemAllocationProp {
    return .{
        .type = driver.mem_allocation_type_pinned,
        .requested_handle_types = if (shareable) driver.mem_handle_type_posix_fd else 0,
        .location = .{ .type = driver.mem_location_type_device, .id = ordinal },
    };
}
