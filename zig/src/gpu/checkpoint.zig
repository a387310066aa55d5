//! A GPU checkpoint into persistent memory: device bytes DMA'd straight into a PMEM pool's
//! mapping (registered with the driver) and made durable, in a pipeline: while one chunk is
//! being flushed out of the CPU caches, the next is already on the wire, so the whole copy runs
//! at about the slower of DMA and flush instead of their sum.
//!
//! Invariants: a chunk is persisted only after the event recorded behind its DMA completes; the
//! function returns only when every chunk is durable.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const Error = @import("../status.zig").Error;

const chunk_bytes: usize = 64 * 1024 * 1024;
/// Chunks in flight at once: one being persisted, one on the wire.
const depth = 2;

/// Copies `len` bytes from device address `src` to host address `dst` (inside a registered
/// mapping), calling `persist(context, dst_offset, len)` on each chunk once it has landed.
pub fn deviceToDurable(device_id: u32, dst: [*]u8, src: u64, len: usize, context: anytype, comptime persist: fn (@TypeOf(context), usize, usize) void) Error!void {
    assert(len > 0);
    const device = try device_mod.get(device_id);
    const api = try device.enter();
    var stream: driver.Stream = null;
    try device_mod.check(api, api.cuStreamCreate(&stream, 0), "cuStreamCreate (checkpoint)");
    defer _ = api.cuStreamDestroy_v2(stream);
    var events: [depth]driver.Event = @splat(null);
    defer for (events) |event| if (event != null) {
        _ = api.cuEventDestroy_v2(event);
    };
    for (&events) |*event| try device_mod.check(api, api.cuEventCreate(event, driver.event_disable_timing), "cuEventCreate (checkpoint)");
    const chunks = std.math.divCeil(usize, len, chunk_bytes) catch unreachable;
    var issued: usize = 0;
    while (issued < @min(depth, chunks)) : (issued += 1) try issue(api, stream, events[issued % depth], dst, src, len, issued);
    for (0..chunks) |index| {
        const offset = index * chunk_bytes;
        try device_mod.check(api, api.cuEventSynchronize(events[index % depth]), "cuEventSynchronize (checkpoint)");
        // The next chunk goes on the wire before this one is flushed, so the two overlap.
        if (issued < chunks) {
            try issue(api, stream, events[issued % depth], dst, src, len, issued);
            issued += 1;
        }
        persist(context, offset, @min(chunk_bytes, len - offset));
    }
}

fn issue(api: *const driver.Api, stream: driver.Stream, event: driver.Event, dst: [*]u8, src: u64, len: usize, index: usize) Error!void {
    const offset = index * chunk_bytes;
    assert(offset < len);
    try device_mod.check(api, api.cuMemcpyDtoHAsync_v2(dst + offset, src + offset, @min(chunk_bytes, len - offset), stream), "cuMemcpyDtoHAsync (checkpoint)");
    try device_mod.check(api, api.cuEventRecord(event, stream), "cuEventRecord (checkpoint)");
}
