//! Copies that touch device memory. Direct driver copies where the host side is page-locked
//! (a pinned pool's memory), the staged pipeline (staging.zig) where it is ordinary pageable
//! memory and large; on a stream where one is given. Bounds are checked by the caller
//! (src/gpu.ts), which knows the allocations; here only the addresses and length arrive.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const staging = @import("staging.zig");
const Error = @import("../status.zig").Error;

pub const HostMemory = enum(u32) { pageable = 0, pinned = 1 };

pub fn hostToDevice(device_id: u32, dst: u64, src: [*]const u8, len: usize, host: HostMemory, stream: driver.Stream) Error!void {
    assert(len > 0);
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    if (host == .pinned and stream != null) {
        return device_mod.check(api, api.cuMemcpyHtoDAsync_v2(dst, src, len, stream), "cuMemcpyHtoDAsync");
    }
    // Pageable memory is copied before this returns; work already queued on the stream that may
    // touch `dst` must finish first.
    if (stream != null) try device_mod.check(api, api.cuStreamSynchronize(stream), "cuStreamSynchronize");
    if (host == .pageable and len >= staging.staging_threshold_bytes) return staging.hostToDevice(device, dst, src, len);
    return device_mod.check(api, api.cuMemcpyHtoD_v2(dst, src, len), "cuMemcpyHtoD");
}

pub fn deviceToHost(device_id: u32, dst: [*]u8, src: u64, len: usize, host: HostMemory, stream: driver.Stream) Error!void {
    assert(len > 0);
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    if (host == .pinned and stream != null) {
        return device_mod.check(api, api.cuMemcpyDtoHAsync_v2(dst, src, len, stream), "cuMemcpyDtoHAsync");
    }
    if (stream != null) try device_mod.check(api, api.cuStreamSynchronize(stream), "cuStreamSynchronize");
    if (host == .pageable and len >= staging.staging_threshold_bytes) return staging.deviceToHost(device, dst, src, len);
    return device_mod.check(api, api.cuMemcpyDtoH_v2(dst, src, len), "cuMemcpyDtoH");
}

pub fn deviceToDevice(device_id: u32, dst: u64, src: u64, len: usize, stream: driver.Stream) Error!void {
    assert(len > 0);
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    if (stream != null) return device_mod.check(api, api.cuMemcpyDtoDAsync_v2(dst, src, len, stream), "cuMemcpyDtoDAsync");
    try device_mod.check(api, api.cuMemcpyDtoD_v2(dst, src, len), "cuMemcpyDtoD");
    // cuMemcpyDtoD may return before the copy ends; a synchronous API must not.
    try device_mod.check(api, api.cuCtxSynchronize(), "cuCtxSynchronize");
}

pub fn streamCreate(device_id: u32) Error!driver.Stream {
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    var stream: driver.Stream = null;
    try device_mod.check(api, api.cuStreamCreate(&stream, driver.stream_non_blocking), "cuStreamCreate");
    return stream;
}

pub fn streamSynchronize(device_id: u32, stream: driver.Stream) Error!void {
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    try device_mod.check(api, api.cuStreamSynchronize(stream), "cuStreamSynchronize");
}

pub fn streamDestroy(device_id: u32, stream: driver.Stream) Error!void {
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    try device_mod.check(api, api.cuStreamDestroy_v2(stream), "cuStreamDestroy");
}
