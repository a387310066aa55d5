//! GPU memory shared between processes. The exporting process hands out a range of a device pool
//! as a file descriptor (device_memory.zig exportRange); the importing process takes a copy of that
//! descriptor straight from the exporter (pidfd_getfd: no socket needed) and maps the same physical
//! memory into its own address space. The driver keeps the memory alive while either side maps
//! it, so a free or destroy on one side never pulls memory from under the other.
//!
//! Invariants: every open import is in `imports` until closed; its descriptors are closed once
//! the memory is mapped (the mapping holds the memory, not the descriptor).
const std = @import("std");
const assert = std.debug.assert;
const linux = std.os.linux;
const driver = @import("../backend/cuda_driver.zig");
const device_mod = @import("device.zig");
const status = @import("../status.zig");
const Error = status.Error;
const DeviceArena = @import("../backend/device_memory.zig").DeviceArena;
const granule_bytes = @import("../arena.zig").granule_bytes;

const Import = struct { device_id: u32, base: u64, len: u64, handle: driver.MemHandle };

var imports: std.ArrayList(Import) = .empty;
var imports_mutex: std.Thread.Mutex = .{};

/// Exports the device range that holds the live block at `g` of `pool` (pool.zig: its arena,
/// lookup and lock) for another process: only a GPU pool's memory is shared between processes.
pub fn exportBlock(pool: anytype, g: u32) Error!DeviceArena.Export {
    const arena = pool.deviceArena() orelse
        return status.fail(error.InvalidPointer, "pool '{s}' is not a GPU pool: only device memory is shared between processes", .{pool.poolName()});
    if (pool.lookup(g) == null) return status.fail(error.InvalidPointer, "pool '{s}' has no live allocation at offset {d}", .{ pool.poolName(), @as(u64, g) * granule_bytes });
    pool.lock();
    defer pool.unlock();
    return arena.exportRange(@as(u64, g) * granule_bytes);
}

/// A copy, in this process, of descriptor `fd` of process `pid`.
fn fetchDescriptor(pid: i32, fd: i32) Error!i32 {
    const pidfd_rc = linux.pidfd_open(pid, 0);
    if (linux.E.init(pidfd_rc) != .SUCCESS) {
        return status.fail(error.InvalidPointer, "cannot reach process {d} (pidfd_open: {s}): it has exited, or is not this machine's", .{ pid, @tagName(linux.E.init(pidfd_rc)) });
    }
    const pidfd: i32 = @intCast(pidfd_rc);
    defer std.posix.close(pidfd);
    const local_rc = linux.pidfd_getfd(pidfd, fd, 0);
    if (linux.E.init(local_rc) != .SUCCESS) {
        return status.fail(error.InvalidPointer, "cannot take descriptor {d} of process {d} (pidfd_getfd: {s}): the export is gone, or this process may not read the other's descriptors", .{ fd, pid, @tagName(linux.E.init(local_rc)) });
    }
    return @intCast(local_rc);
}

/// Maps the `len` bytes exported by process `pid` as descriptor `fd`; returns their address here.
pub fn open(device_id: u32, pid: i32, fd: i32, len: u64) Error!u64 {
    assert(len > 0);
    const device = try device_mod.get(device_id);
    if (len % device.granularity != 0) return status.fail(error.InvalidSize, "an exported range is whole multiples of {d} bytes, got {d}", .{ device.granularity, len });
    const api = try device.enter();
    const local_fd = try fetchDescriptor(pid, fd);
    defer std.posix.close(local_fd);
    var handle: driver.MemHandle = 0;
    const imported = api.cuMemImportFromShareableHandle(&handle, @ptrFromInt(@as(usize, @intCast(local_fd))), driver.mem_handle_type_posix_fd);
    if (imported != driver.success) {
        // The number may since name another descriptor of the exporter: its export is gone.
        return status.fail(error.InvalidPointer, "descriptor {d} of process {d} is not exported GPU memory (any more): {s}", .{ fd, pid, driver.errorName(imported) });
    }
    errdefer _ = api.cuMemRelease(handle);
    var base: driver.DevicePtr = 0;
    try device_mod.check(api, api.cuMemAddressReserve(&base, len, device.granularity, 0, 0), "cuMemAddressReserve (import)");
    errdefer _ = api.cuMemAddressFree(base, len);
    try device_mod.check(api, api.cuMemMap(base, len, 0, handle, 0), "cuMemMap (import)");
    errdefer _ = api.cuMemUnmap(base, len);
    const access: driver.MemAccessDesc = .{ .location = .{ .type = driver.mem_location_type_device, .id = device.ordinal }, .flags = driver.mem_access_flags_read_write };
    try device_mod.check(api, api.cuMemSetAccess(base, len, &access, 1), "cuMemSetAccess (import)");
    imports_mutex.lock();
    defer imports_mutex.unlock();
    imports.append(std.heap.c_allocator, .{ .device_id = device_id, .base = base, .len = len, .handle = handle }) catch
        return status.fail(error.OutOfMemory, "no memory to record the import", .{});
    return base;
}

/// Unmaps an import made by `open`; the memory goes once no process maps it.
pub fn close(base: u64) Error!void {
    imports_mutex.lock();
    defer imports_mutex.unlock();
    const index = for (imports.items, 0..) |item, index| {
        if (item.base == base) break index;
    } else return status.fail(error.InvalidPointer, "no imported GPU memory at 0x{x} (closed already?)", .{base});
    const item = imports.swapRemove(index);
    const device = try device_mod.get(item.device_id);
    const api = try device.enter();
    _ = api.cuCtxSynchronize(); // work still reading or writing the range finishes first
    _ = api.cuMemUnmap(item.base, item.len);
    _ = api.cuMemRelease(item.handle);
    _ = api.cuMemAddressFree(item.base, item.len);
}
