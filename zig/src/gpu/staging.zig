//! Copies between device memory and ordinary (pageable) host memory, faster than the driver's own
//! pageable path: the bytes go through a ring of page-locked staging buffers, several threads
//! copy each chunk between the JavaScript memory and a staging buffer while the DMA engine moves
//! the previous chunk, so memcpy and DMA overlap.
//!
//! Invariants: a staging buffer is written by the CPU only after the event recorded behind its
//! last DMA has completed; one copy at a time uses a device's ring (`mutex`).
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const Device = device_mod.Device;
const status = @import("../status.zig");
const parallel = @import("../parallel.zig");
const host_copy = @import("../host_copy.zig");
const Error = status.Error;

pub const chunk_bytes: usize = 16 * 1024 * 1024;
const depth = 4;
/// Below this a staged copy gains nothing over the driver's own path.
pub const staging_threshold_bytes: usize = 1024 * 1024;
/// Each thread copies at least this much of a chunk.
const slice_bytes_min: usize = 1024 * 1024;

const Ring = struct {
    mutex: std.Thread.Mutex = .{},
    buffers: [depth][*]u8 = undefined,
    events: [depth]driver.Event = undefined,
    stream: driver.Stream = null,
    ready: bool = false,
};

var rings: [device_mod.devices_max]Ring = @splat(.{});
/// Makes the ring's buffers on first use; the caller holds `ring.mutex`.
fn prepare(ring: *Ring, device: *Device) Error!void {
    if (ring.ready) return;
    const api = try device.enter();
    for (&ring.buffers, &ring.events) |*buffer, *event| {
        var host: ?*anyopaque = null;
        try device_mod.check(api, api.cuMemHostAlloc(&host, chunk_bytes, driver.mem_host_register_portable), "cuMemHostAlloc (staging)");
        buffer.* = @ptrCast(host.?);
        try device_mod.check(api, api.cuEventCreate(event, driver.event_disable_timing), "cuEventCreate (staging)");
    }
    // A blocking stream: it waits for work queued before on the legacy default stream (where
    // fill() and synchronous copies run), as the driver's own synchronous copies do.
    try device_mod.check(api, api.cuStreamCreate(&ring.stream, 0), "cuStreamCreate (staging)");
    ring.ready = true;
}

const Copy = struct { dst: [*]u8, src: [*]const u8 };

fn copySlice(copy: Copy, start: usize, len: usize) void {
    // libc's memmove (host_copy.zig): compiler-rt's, which @memcpy binds to here, is slower from 4 KiB.
    host_copy.copy(copy.dst + start, copy.src + start, len);
}

/// memcpy split across the spare cores (parallel.zig); the calling thread takes a share too.
fn parallelCopy(dst: [*]u8, src: [*]const u8, len: usize) void {
    parallel.forSlices(len, slice_bytes_min, Copy{ .dst = dst, .src = src }, copySlice);
}

pub fn hostToDevice(device: *Device, dst: u64, src: [*]const u8, len: usize) Error!void {
    assert(len > 0);
    const ring = &rings[@intCast(device.ordinal)];
    ring.mutex.lock();
    defer ring.mutex.unlock();
    try prepare(ring, device);
    const api = try device.enter();
    var offset: usize = 0;
    var index: usize = 0;
    while (offset < len) : (index += 1) {
        const slot = index % depth;
        const chunk = @min(chunk_bytes, len - offset);
        if (index >= depth) try device_mod.check(api, api.cuEventSynchronize(ring.events[slot]), "cuEventSynchronize (staging)");
        parallelCopy(ring.buffers[slot], src + offset, chunk);
        try device_mod.check(api, api.cuMemcpyHtoDAsync_v2(dst + offset, ring.buffers[slot], chunk, ring.stream), "cuMemcpyHtoDAsync (staging)");
        try device_mod.check(api, api.cuEventRecord(ring.events[slot], ring.stream), "cuEventRecord (staging)");
        offset += chunk;
    }
    try device_mod.check(api, api.cuStreamSynchronize(ring.stream), "cuStreamSynchronize (staging)");
}

pub fn deviceToHost(device: *Device, dst: [*]u8, src: u64, len: usize) Error!void {
    assert(len > 0);
    const ring = &rings[@intCast(device.ordinal)];
    ring.mutex.lock();
    defer ring.mutex.unlock();
    try prepare(ring, device);
    const api = try device.enter();
    const chunks = std.math.divCeil(usize, len, chunk_bytes) catch unreachable;
    var issued: usize = 0;
    while (issued < @min(depth, chunks)) : (issued += 1) try issueDeviceToStaging(api, ring, src, len, issued);
    for (0..chunks) |index| {
        const slot = index % depth;
        const offset = index * chunk_bytes;
        try device_mod.check(api, api.cuEventSynchronize(ring.events[slot]), "cuEventSynchronize (staging)");
        parallelCopy(dst + offset, ring.buffers[slot], @min(chunk_bytes, len - offset));
        if (issued < chunks) {
            try issueDeviceToStaging(api, ring, src, len, issued);
            issued += 1;
        }
    }
}

fn issueDeviceToStaging(api: *const driver.Api, ring: *Ring, src: u64, len: usize, index: usize) Error!void {
    const slot = index % depth;
    const offset = index * chunk_bytes;
    assert(offset < len);
    try device_mod.check(api, api.cuMemcpyDtoHAsync_v2(ring.buffers[slot], src + offset, @min(chunk_bytes, len - offset), ring.stream), "cuMemcpyDtoHAsync (staging)");
    try device_mod.check(api, api.cuEventRecord(ring.events[slot], ring.stream), "cuEventRecord (staging)");
}
