//! Device memory for an arena, through CUDA's virtual memory management: one range of device
//! address space reserved up front (cuMemAddressReserve), physical memory created and mapped
//! into it region by region (cuMemCreate + cuMemMap), unmapped and released by trim. So device
//! pointers never move and a device pool is addressed by offset like any other.
//!
//! Under a tool (compute-sanitizer, with NVTX registration on: gpu/nvtx.zig `deviceMemoryForTool`)
//! the arena is backed by one cuMemAlloc instead, chosen once when its pool is made: the sanitizer
//! refuses NVTX heaps over VMM mappings and accepts them over memory it saw allocated. The whole
//! reservation is then committed up front (so it is sized to what the pool can use, see
//! `allocatedReservationBytes`); commit and decommit only keep the arena's books, the pool's trim
//! does nothing (backend.zig `wholeAllocation`), and export is refused (cuMemAlloc memory has no
//! shareable handle). Its pool registers the allocation as one NVTX heap.
//!
//! Invariants: with `.mapped` backing every committed range has exactly one physical handle in
//! `mappings`, mapped at its offset with read-write access for the owning device; with
//! `.allocated` backing `mappings` stays empty and every committed range lies inside `allocation`.
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

/// Where a device arena's memory comes from.
pub const Backing = enum {
    /// Address space reserved, physical memory mapped region by region (cuMemCreate + cuMemMap):
    /// growth and trim are real, regions can be exported to other processes.
    mapped,
    /// One cuMemAlloc of the whole reservation, made by `reserve`: memory compute-sanitizer knows,
    /// so the pool's NVTX heaps over it are accepted.
    allocated,
};

/// Without maxSize, a growing pool under a tool reserves (and so allocates) at most this much, or
/// half the device's free memory where that is less, and never less than its first region.
pub const allocated_default_cap: u64 = 1024 * 1024 * 1024;

/// The bytes a pool's arena reserves with `.allocated` backing, where all of it is allocated at
/// once: `wanted` (the maxSize, or the most an arena may reserve where `limited` is false) where
/// the pool sets a limit, only its first region where it never grows, else the default cap.
/// A multiple of `granularity` whenever its inputs are.
pub fn allocatedReservationBytes(wanted: u64, first_region: u64, grows: bool, limited: bool, free_bytes: u64, granularity: u64) u64 {
    assert(granularity > 0 and wanted % granularity == 0 and first_region % granularity == 0);
    assert(first_region > 0 and wanted > 0);
    const bytes = if (!grows)
        @min(wanted, first_region)
    else if (limited)
        wanted
    else
        @min(wanted, @max(first_region, @min(allocated_default_cap, free_bytes / 2 / granularity * granularity)));
    assert(bytes % granularity == 0 and bytes <= wanted);
    return bytes;
}

test "allocated backing reserves the pool's limit, its first region where it never grows, else a capped share" {
    const mib: u64 = 1024 * 1024;
    const gib: u64 = 1024 * mib;
    const most = 64 * gib - 2 * mib;
    // maxSize set and growing: all of it.
    try std.testing.expectEqual(@as(u64, 512 * mib), allocatedReservationBytes(512 * mib, 2 * mib, true, true, 100 * gib, 2 * mib));
    // Never grows: the first region, with or without maxSize.
    try std.testing.expectEqual(@as(u64, 4 * mib), allocatedReservationBytes(most, 4 * mib, false, false, 100 * gib, 2 * mib));
    try std.testing.expectEqual(@as(u64, 4 * mib), allocatedReservationBytes(512 * mib, 4 * mib, false, true, 100 * gib, 2 * mib));
    // Grows without maxSize: the cap, or half the free memory (rounded down) where less, at least the first region.
    try std.testing.expectEqual(allocated_default_cap, allocatedReservationBytes(most, 2 * mib, true, false, 100 * gib, 2 * mib));
    try std.testing.expectEqual(@as(u64, 300 * mib), allocatedReservationBytes(most, 2 * mib, true, false, 601 * mib, 2 * mib));
    try std.testing.expectEqual(@as(u64, 2 * gib), allocatedReservationBytes(most, 2 * gib, true, false, 601 * mib, 2 * mib));
    // Never more than wanted.
    try std.testing.expectEqual(@as(u64, 64 * mib), allocatedReservationBytes(64 * mib, 2 * mib, true, false, 100 * gib, 2 * mib));
}

pub const DeviceArena = struct {
    device: *Device,
    backing: Backing,
    mappings: std.ArrayList(Mapping) = .empty,
    /// `.allocated` backing: what cuMemAlloc returned (0 before `reserve`), and its length. The
    /// arena's base is it rounded up to the granularity.
    allocation: driver.DevicePtr = 0,
    allocation_len: u64 = 0,

    pub fn create(device: *Device, backing: Backing) ?*DeviceArena {
        const self = std.heap.c_allocator.create(DeviceArena) catch return null;
        self.* = .{ .device = device, .backing = backing };
        return self;
    }

    /// What a pool reserves (see `allocatedReservationBytes`): `wanted` with mapped backing.
    /// `granularity`: what the arena's regions are multiples of (a multiple of the device's).
    pub fn reservationBytes(self: *const DeviceArena, wanted: u64, first_region: u64, grows: bool, limited: bool, granularity: u64) u64 {
        assert(granularity % self.device.granularity == 0);
        if (self.backing == .mapped) return wanted;
        var free_bytes: usize = 0;
        var total_bytes: usize = 0;
        // Free memory unknown: the pool gets its first region (and reuses it as it frees).
        const api = self.device.enter() catch return @min(wanted, first_region);
        if (api.cuMemGetInfo_v2(&free_bytes, &total_bytes) != driver.success) free_bytes = 0;
        return allocatedReservationBytes(wanted, first_region, grows, limited, free_bytes, granularity);
    }

    pub fn destroy(self: *DeviceArena) void {
        assert(self.mappings.items.len == 0 and self.allocation == 0);
        self.mappings.deinit(std.heap.c_allocator);
        std.heap.c_allocator.destroy(self);
    }

    pub fn reserve(self: *DeviceArena, len: u64) ?u64 {
        assert(len % self.device.granularity == 0);
        const api = self.device.enter() catch return null;
        if (self.backing == .allocated) return self.allocate(api, len);
        var base: driver.DevicePtr = 0;
        if (api.cuMemAddressReserve(&base, len, self.device.granularity, 0, 0) != driver.success) return null;
        assert(base != 0 and base % self.device.granularity == 0);
        return base;
    }

    /// `.allocated` backing's reserve: one allocation holding `len` bytes from a granularity
    /// boundary (cuMemAlloc's are in practice; where not, it is made again a granule longer).
    fn allocate(self: *DeviceArena, api: *const driver.Api, len: u64) ?u64 {
        assert(self.allocation == 0 and self.mappings.items.len == 0);
        const granularity = self.device.granularity;
        var pointer: driver.DevicePtr = 0;
        if (api.cuMemAlloc_v2(&pointer, len) != driver.success) return null;
        var allocated_len = len;
        if (pointer % granularity != 0) {
            _ = api.cuMemFree_v2(pointer);
            allocated_len = len + granularity;
            if (api.cuMemAlloc_v2(&pointer, allocated_len) != driver.success) return null;
        }
        assert(pointer != 0);
        self.allocation = pointer;
        self.allocation_len = allocated_len;
        const base = std.mem.alignForward(u64, pointer, granularity);
        assert(base + len <= pointer + allocated_len);
        return base;
    }

    pub fn release(self: *DeviceArena, base: u64, len: u64) void {
        if (self.backing == .allocated) {
            assert(self.allocation != 0 and base >= self.allocation and base + len <= self.allocation + self.allocation_len);
            const allocation = self.allocation;
            self.allocation = 0;
            self.allocation_len = 0;
            const api = self.device.enter() catch return;
            // Work queued on the memory must finish before it goes back.
            _ = api.cuCtxSynchronize();
            _ = api.cuMemFree_v2(allocation);
            return;
        }
        while (self.mappings.items.len > 0) {
            const last = self.mappings.items[self.mappings.items.len - 1];
            self.decommit(base, last.offset, last.len);
        }
        const api = self.device.enter() catch return;
        _ = api.cuMemAddressFree(base, len);
    }

    pub fn commit(self: *DeviceArena, base: u64, offset: u64, len: u64) bool {
        assert(offset % self.device.granularity == 0 and len % self.device.granularity == 0);
        if (self.backing == .allocated) {
            // Allocated when reserved: the range is the arena's to hand out.
            assert(base + offset + len <= self.allocation + self.allocation_len);
            return true;
        }
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
        if (self.backing == .allocated) return status.fail(error.Unsupported, "this GPU pool's memory is one cuMemAlloc (made so while an NVTX tool such as compute-sanitizer is attached, so the tool can check it), which cannot be exported to another process; make the pool with MEMORY_POOL_NVTX=0 or configureNvtx({{ registerMemory: false }}) to share it", .{});
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
        if (self.backing == .allocated) {
            // The memory stays allocated until the arena is released (the pool never trims it).
            assert(base + offset + len <= self.allocation + self.allocation_len);
            return;
        }
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
