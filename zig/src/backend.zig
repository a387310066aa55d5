//! Backends give an arena its address space and nothing else: reserve a range, commit and
//! decommit parts of it, release it. Strategies never see which backend serves them.
const std = @import("std");
const assert = std.debug.assert;
const host = @import("backend/host.zig");
const pinned = @import("backend/pinned.zig");
const device_memory = @import("backend/device_memory.zig");
const PmemFile = @import("backend/pmem_file.zig").PmemFile;
const DeviceArena = device_memory.DeviceArena;
const nvtx = @import("gpu/nvtx.zig");
const device_mod = @import("gpu/device.zig");
const status = @import("status.zig");

/// The kinds of pool the core serves; TypeScript names them (abi.zig describes the values to it).
pub const Kind = enum(u32) { cpu = 0, gpu = 1, pinned = 2, pmem = 3 };

/// Host regions are made of 64 KiB units (arena.unit_bytes); device regions of the driver's granularity.
const host_granularity: u64 = 64 * 1024;

pub const Backend = union(enum) {
    host: void,
    device: *DeviceArena,
    pinned: *device_mod.Device,
    /// A PMEM pool's mapped file (made by pmem/open.zig, which has its path): one region, no growth.
    pmem: *PmemFile,

    /// The backend for a pool of `kind`; GPU kinds fail where no driver or no such device is. A GPU
    /// pool made while a tool would check it takes memory the tool accepts (device_memory.zig).
    pub fn forKind(kind: Kind, device_id: u32) status.Error!Backend {
        return switch (kind) {
            .cpu => .host,
            .gpu => .{ .device = DeviceArena.create(try device_mod.get(device_id), if (nvtx.deviceMemoryForTool()) .allocated else .mapped) orelse
                return status.fail(error.OutOfMemory, "no memory for the device arena's bookkeeping", .{}) },
            .pinned => .{ .pinned = try device_mod.get(device_id) },
            .pmem => status.failConfig("kind", "a PMEM pool is opened over its file (createPMEMPool), not created as a pool of kind {d}", .{@intFromEnum(kind)}),
        };
    }

    pub fn deinit(self: Backend) void {
        switch (self) {
            .device => |arena| arena.destroy(),
            .pmem => |mapped| mapped.destroy(),
            .host, .pinned => {},
        }
    }

    /// Regions start and end on multiples of this.
    pub fn granularity(self: Backend) u64 {
        return switch (self) {
            .host => host_granularity,
            .pmem => std.heap.page_size_min,
            .pinned => pinned.granularity,
            .device => |arena| @max(host_granularity, arena.device.granularity),
        };
    }

    /// Where the whole reserved range lies in one allocation of the driver's (a device arena with
    /// `.allocated` backing, once reserved), that allocation: a tool knows it, so its pool
    /// registers it as one NVTX heap. Else null.
    pub fn wholeAllocation(self: Backend) ?nvtx.PoolAnnotations.Extent {
        return switch (self) {
            .device => |arena| if (arena.backing == .allocated and arena.allocation != 0) .{ .base = arena.allocation, .len = arena.allocation_len } else null,
            .host, .pinned, .pmem => null,
        };
    }

    /// Where the backend's address space exists already (a mapped file), its length: the arena
    /// reserves exactly that. Else null.
    pub fn mappedBytes(self: Backend) ?u64 {
        return switch (self) {
            .pmem => |mapped| mapped.mapped.len,
            .host, .pinned, .device => null,
        };
    }

    pub fn hostAccessible(self: Backend) bool {
        return self != .device;
    }

    /// The CUDA device of GPU and pinned memory; null for host and PMEM memory.
    pub fn cudaDevice(self: Backend) ?*device_mod.Device {
        return switch (self) {
            .device => |arena| arena.device,
            .pinned => |dev| dev,
            .host, .pmem => null,
        };
    }

    /// The device memory of a GPU pool (backend/device_memory.zig); null for memory of another kind.
    pub fn deviceMemory(self: Backend) ?*DeviceArena {
        return switch (self) {
            .device => |device_arena| device_arena,
            .host, .pinned, .pmem => null,
        };
    }

    /// The address space a pool's arena reserves: `wanted` (its maxSize, or the most an arena may
    /// reserve where `limited` is false), except where the backend commits all it reserves at once
    /// (a device arena backed by one allocation), which reserves only what the pool can use given
    /// its `first_region` and whether it `grows`.
    pub fn reservationBytes(self: Backend, wanted: u64, first_region: u64, grows: bool, limited: bool) u64 {
        assert(wanted % self.granularity() == 0 and first_region % self.granularity() == 0);
        const bytes = switch (self) {
            .host, .pinned, .pmem => wanted,
            .device => |arena| arena.reservationBytes(wanted, first_region, grows, limited, self.granularity()),
        };
        assert(bytes > 0 and bytes <= wanted and bytes % self.granularity() == 0);
        return bytes;
    }

    pub fn reserve(self: Backend, len: u64) ?u64 {
        assert(len % self.granularity() == 0);
        return switch (self) {
            .host => host.reserve(len),
            .pinned => pinned.reserve(len),
            .device => |arena| arena.reserve(len),
            .pmem => |mapped| mapped.reserve(len),
        };
    }

    pub fn release(self: Backend, base: u64, len: u64) void {
        switch (self) {
            .host, .pinned => host.release(base, len),
            .device => |arena| arena.release(base, len),
            .pmem => |mapped| mapped.close(base, len),
        }
    }

    /// Gives back what the arena never used of its reservation, past `used_bytes`, while the used
    /// range stays mapped for JavaScript views in other threads (Arena.retireMapped). A mapped
    /// file is let go as a whole, its range kept as zero pages.
    pub fn retire(self: Backend, base: u64, used_bytes: u64, reserved_bytes: u64) void {
        assert(self.hostAccessible() and used_bytes <= reserved_bytes);
        switch (self) {
            .host, .pinned => if (used_bytes < reserved_bytes) host.release(base + used_bytes, reserved_bytes - used_bytes),
            .pmem => |mapped| mapped.retire(),
            .device => unreachable,
        }
    }

    pub fn commit(self: Backend, base: u64, offset: u64, len: u64) bool {
        return switch (self) {
            .host => host.commit(base, offset, len),
            .pinned => |device| pinned.commit(device, base, offset, len),
            .device => |arena| arena.commit(base, offset, len),
            .pmem => true, // mapped already
        };
    }

    pub fn decommit(self: Backend, base: u64, offset: u64, len: u64) void {
        switch (self) {
            .host => host.decommit(base, offset, len),
            .pinned => |device| pinned.decommit(device, base, offset, len),
            .device => |arena| arena.decommit(base, offset, len),
            .pmem => {}, // the file keeps its pages
        }
    }

    /// Whether pages can be made inaccessible, so that a stray access faults (guard pages), and
    /// accessible again by `commit`. Pinned memory cannot: its commit registers it with the driver.
    pub fn canProtect(self: Backend) bool {
        return self == .host;
    }

    /// Makes committed pages inaccessible (where `canProtect`); `commit` makes them accessible again.
    pub fn protectNone(self: Backend, base: u64, offset: u64, len: u64) bool {
        assert(self.canProtect());
        return host.protectNone(base + offset, len);
    }
};
