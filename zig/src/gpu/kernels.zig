//! The debug kernels (cuda/debug_kernels.cu), embedded at build time as a fatbin and loaded into
//! a device's context on first use. Where the core was built without nvcc the fatbin is empty
//! and every launch says so.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const Device = device_mod.Device;
const status = @import("../status.zig");
const Error = status.Error;
const fatbin = @import("kernels").fatbin;

pub const Kernels = struct {
    module: driver.Module,
    fill: driver.Function,
    check_pattern: driver.Function,
    check_canaries: driver.Function,
    /// One 64-bit word of device memory for a kernel's verdict (first mismatch, or all ones).
    verdict: driver.DevicePtr,
};

var loaded: [device_mod.devices_max]?Kernels = @splat(null);

pub fn available() bool {
    return fatbin.len > 0;
}

/// The kernels in `device`'s context, loaded on first use.
pub fn get(device: *Device) Error!*const Kernels {
    if (!available()) return status.fail(error.Unavailable, "the debug kernels are not built in: nvcc was not found when the core was built", .{});
    device.mutex.lock();
    defer device.mutex.unlock();
    const slot = &loaded[@intCast(device.ordinal)];
    if (slot.*) |*kernels| return kernels;
    const api = try device.enter();
    var kernels: Kernels = undefined;
    try device_mod.check(api, api.cuModuleLoadData(&kernels.module, fatbin.ptr), "cuModuleLoadData (debug kernels)");
    errdefer _ = api.cuModuleUnload(kernels.module);
    try device_mod.check(api, api.cuModuleGetFunction(&kernels.fill, kernels.module, "mp_fill"), "cuModuleGetFunction(mp_fill)");
    try device_mod.check(api, api.cuModuleGetFunction(&kernels.check_pattern, kernels.module, "mp_check_pattern"), "cuModuleGetFunction(mp_check_pattern)");
    try device_mod.check(api, api.cuModuleGetFunction(&kernels.check_canaries, kernels.module, "mp_check_canaries"), "cuModuleGetFunction(mp_check_canaries)");
    // A plain cuMemAlloc word: made once per device, before or without any pool.
    try device_mod.check(api, api.cuMemAlloc_v2(&kernels.verdict, 8), "cuMemAlloc (kernel verdict)");
    slot.* = kernels;
    return &slot.*.?;
}

const threads_per_block = 256;

/// Enough blocks to fill the device several times over, capped by the work there is.
fn blocksFor(work_items: u64) c_uint {
    const wanted = std.math.divCeil(u64, @max(work_items, 1), threads_per_block) catch unreachable;
    return @intCast(@min(wanted, 132 * 32));
}

/// Writes `value` over `[address, address + len)` on `stream` (null: the legacy default stream).
pub fn fill(device: *Device, address: u64, value: u8, len: u64, stream: driver.Stream) Error!void {
    assert(len > 0);
    const kernels = try get(device);
    const api = try device.enter();
    var dst = address;
    var byte: u32 = value;
    var n = len;
    var params = [_]?*anyopaque{ @ptrCast(&dst), @ptrCast(&byte), @ptrCast(&n) };
    try device_mod.check(api, api.cuLaunchKernel(kernels.fill, blocksFor(len / 16), 1, 1, threads_per_block, 1, 1, 0, stream, &params, null), "cuLaunchKernel(mp_fill)");
}

/// The lowest offset in `[address, address + len)` whose byte is not `value`, or null.
pub fn checkPattern(device: *Device, address: u64, value: u8, len: u64) Error!?u64 {
    assert(len > 0);
    const kernels = try get(device);
    device.mutex.lock(); // one verdict word per device
    defer device.mutex.unlock();
    const api = try device.enter();
    try resetVerdict(api, kernels);
    var src = address;
    var byte: u32 = value;
    var n = len;
    var verdict = kernels.verdict;
    var params = [_]?*anyopaque{ @ptrCast(&src), @ptrCast(&byte), @ptrCast(&n), @ptrCast(&verdict) };
    try device_mod.check(api, api.cuLaunchKernel(kernels.check_pattern, blocksFor(len / 16), 1, 1, threads_per_block, 1, 1, 0, null, &params, null), "cuLaunchKernel(mp_check_pattern)");
    const first_bad = try readVerdict(api, kernels);
    return if (first_bad == std.math.maxInt(u64)) null else first_bad;
}

/// What the canary check kernel reads for each live allocation (cuda/debug_kernels.cu: Guarded).
pub const Guarded = extern struct { address: u64, size: u64 };
pub const CanaryViolation = struct { index: u32, after: bool, offset: u32 };

/// Checks the `canary_bytes` before and after every allocation in `table` in one launch.
pub fn checkCanaries(device: *Device, table: []const Guarded, canary_bytes: u32, value: u8) Error!?CanaryViolation {
    if (table.len == 0) return null;
    assert(canary_bytes > 0 and table.len <= std.math.maxInt(u32));
    const kernels = try get(device);
    device.mutex.lock();
    defer device.mutex.unlock();
    const api = try device.enter();
    var table_on_device: driver.DevicePtr = 0;
    const table_bytes = table.len * @sizeOf(Guarded);
    try device_mod.check(api, api.cuMemAlloc_v2(&table_on_device, table_bytes), "cuMemAlloc (canary table)");
    defer _ = api.cuMemFree_v2(table_on_device);
    try device_mod.check(api, api.cuMemcpyHtoD_v2(table_on_device, table.ptr, table_bytes), "cuMemcpyHtoD (canary table)");
    try resetVerdict(api, kernels);
    var count: u32 = @intCast(table.len);
    var canary = canary_bytes;
    var byte: u32 = value;
    var verdict = kernels.verdict;
    var params = [_]?*anyopaque{ @ptrCast(&table_on_device), @ptrCast(&count), @ptrCast(&canary), @ptrCast(&byte), @ptrCast(&verdict) };
    const warps = @as(u64, count) * 2;
    try device_mod.check(api, api.cuLaunchKernel(kernels.check_canaries, blocksFor(warps * 32), 1, 1, threads_per_block, 1, 1, 0, null, &params, null), "cuLaunchKernel(mp_check_canaries)");
    const first_bad = try readVerdict(api, kernels);
    if (first_bad == std.math.maxInt(u64)) return null;
    return .{ .index = @intCast(first_bad >> 32), .after = (first_bad >> 31) & 1 == 1, .offset = @intCast(first_bad & 0x7FFF_FFFF) };
}

fn resetVerdict(api: *const driver.Api, kernels: *const Kernels) Error!void {
    try device_mod.check(api, api.cuMemsetD8_v2(kernels.verdict, 0xFF, 8), "cuMemsetD8 (kernel verdict)");
}

fn readVerdict(api: *const driver.Api, kernels: *const Kernels) Error!u64 {
    var word: u64 = 0;
    // A synchronous copy on the legacy stream waits for the launch before it.
    try device_mod.check(api, api.cuMemcpyDtoH_v2(&word, kernels.verdict, 8), "cuMemcpyDtoH (kernel verdict)");
    return word;
}
