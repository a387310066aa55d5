//! Device memory for an arena, through CUDA's virtual memory management: one range of device
//! address space reserved up front (cuMemAddressReserve), physical memory created and mapped
//! into it region by region (cuMemCreate + cuMemMap), unmapped and released by trim. So device
//! pointers never move and a device pool is addressed by offset like any other.
//!
//! Invariants: every committed range has exactly one physical handle in `mappings`, mapped at
//! its offset with read-write access for the owning device.
const std = @import("std");
const assert = std.debug.assert;
const driver = @import("cuda_driver.zig");
const device_mod = @import("../gpu/device.zig");
const Device = device_mod.Device;
const status = @import("../status.zig");

const Mapping = struct {
    offset: u64,
    len: u64,
    handle: driver.MemHandle,
    /// The file descriptor it was exported as (ipc), or -1; closed when the mapping goes.
    exported_fd: i32 = -1,
};

pub const DeviceArena = struct {
    device: *Device,
    mappings: std.ArrayList(Mapping) = .empty,

    pub fn create(device: *Device) ?*DeviceArena {
        const self = std.heap.c_allocator.create(DeviceArena) catch return null;
        self.* = .{ .device = device };
        return self;
    }

    pub fn destroy(self: *DeviceArena) void {
        assert(self.mappings.items.len == 0);
        self.mappings.deinit(std.heap.c_allocator);
        std.heap.c_allocator.destroy(self);
    }

    pub fn reserve(self: *DeviceArena, len: u64) ?u64 {
        assert(len % self.device.granularity == 0);
        const api = self.device.enter() catch return null;
        var base: driver.DevicePtr = 0;
        if (api.cuMemAddressReserve(&base, len, self.device.granularity, 0, 0) != driver.success) return null;
        assert(base != 0 and base % self.device.granularity == 0);
        return base;
    }

    pub fn release(self: *DeviceArena, base: u64, len: u64) void {
        while (self.mappings.items.len > 0) {
            const last = self.mappings.items[self.mappings.items.len - 1];
            self.decommit(base, last.offset, last.len);
        }
        const api = self.device.enter() catch return;
        _ = api.cuMemAddressFree(base, len);
    }

    pub fn commit(self: *DeviceArena, base: u64, offset: u64, len: u64) bool {
        assert(offset % self.device.granularity == 0 and len % self.device.granularity == 0);
        const api = self.device.enter() catch return false;
        self.mappings.ensureUnusedCapacity(std.heap.c_allocator, 1) catch return false;
        var handle: driver.MemHandle = 0;
        // Exportable where the device allows it (another process may map it), else plain.
        const shareable = device_mod.allocationProp(self.device.ordinal, self.device.shareable);
        if (api.cuMemCreate(&handle, len, &shareable, 0) != driver.success) {
            const plain = device_mod.allocationProp(self.device.ordinal, false);
            if (!self.device.shareable or api.cuMemCreate(&handle, len, &plain, 0) != driver.success) return false;
        }
        if (api.cuMemMap(base + offset, len, 0, handle, 0) != driver.success) {
            _ = api.cuMemRelease(handle);
            return false;
        }
        const access: driver.MemAccessDesc = .{
            .location = .{ .type = driver.mem_location_type_device, .id = self.device.ordinal },
            .flags = driver.mem_access_flags_read_write,
        };
        if (api.cuMemSetAccess(base + offset, len, &access, 1) != driver.success) {
            _ = api.cuMemUnmap(base + offset, len);
            _ = api.cuMemRelease(handle);
            return false;
        }
        self.mappings.appendAssumeCapacity(.{ .offset = offset, .len = len, .handle = handle });
        return true;
    }

    pub const Export = struct { fd: i32, region_offset: u64, region_len: u64 };

    /// The committed range holding byte `offset`, exported as a file descriptor another process
    /// can map (made once per range, kept until the range is decommitted).
    pub fn exportRange(self: *DeviceArena, offset: u64) status.Error!Export {
        const mapping = for (self.mappings.items) |*mapping| {
            if (offset >= mapping.offset and offset < mapping.offset + mapping.len) break mapping;
        } else return status.fail(error.InvalidPointer, "no device memory is mapped at offset {d}", .{offset});
        if (mapping.exported_fd < 0) {
            const api = try self.device.enter();
            var fd: c_int = -1;
            const result = api.cuMemExportToShareableHandle(@ptrCast(&fd), mapping.handle, driver.mem_handle_type_posix_fd, 0);
            if (result != driver.success) return status.fail(error.Unavailable, "cuMemExportToShareableHandle failed: {s} ({d}); this device's memory cannot be shared with other processes", .{ driver.errorName(result), result });
            mapping.exported_fd = fd;
        }
        return .{ .fd = mapping.exported_fd, .region_offset = mapping.offset, .region_len = mapping.len };
    }

    pub fn decommit(self: *DeviceArena, base: u64, offset: u64, len: u64) void {
        const index = for (self.mappings.items, 0..) |mapping, index| {
            if (mapping.offset == offset) break index;
        } else unreachable; // only committed ranges are decommitted
        const mapping = self.mappings.swapRemove(index);
        assert(mapping.len == len);
        if (mapping.exported_fd >= 0) std.posix.close(mapping.exported_fd);
        const api = self.device.enter() catch return;
        // Work queued on the range must finish before its memory goes back.
        _ = api.cuCtxSynchronize();
        _ = api.cuMemUnmap(base + offset, len);
        _ = api.cuMemRelease(mapping.handle);
    }
};
