//! The CUDA driver API, found at run time (libcuda.so.1 through dlopen) rather than linked, so the
//! core loads on machines without a driver and only GPU pools say what is missing. `load` runs
//! once per process; afterwards `api()` hands out the resolved table or the reason it is absent.
const std = @import("std");
const runtime_library = @import("runtime_library.zig");
const RuntimeLibrary = runtime_library.RuntimeLibrary;

pub const Result = c_int;
pub const success: Result = 0;
pub const error_not_ready: Result = 600;
pub const error_no_device: Result = 100;
pub const error_invalid_device: Result = 101;
pub const Device = c_int;
pub const Context = ?*anyopaque;
pub const Stream = ?*anyopaque;
pub const Event = ?*anyopaque;
pub const Module = ?*anyopaque;
pub const Function = ?*anyopaque;
pub const DevicePtr = u64;
pub const MemHandle = u64;

pub const MemLocation = extern struct { type: c_int, id: c_int };
pub const MemAccessDesc = extern struct { location: MemLocation, flags: c_int };
pub const MemAllocationProp = extern struct {
    type: c_int,
    requested_handle_types: c_int,
    location: MemLocation,
    win32_handle_meta_data: ?*anyopaque = null,
    compression_type: u8 = 0,
    gpu_direct_rdma_capable: u8 = 0,
    usage: u16 = 0,
    reserved: [4]u8 = @splat(0),
};

pub const mem_allocation_type_pinned = 1;
pub const mem_location_type_device = 1;
pub const mem_access_flags_read_write = 3;
pub const mem_alloc_granularity_minimum = 0;
pub const mem_host_register_portable = 1;
pub const stream_non_blocking = 1;
pub const event_disable_timing = 2;
pub const device_attribute_vmm_supported = 102;
pub const device_attribute_posix_fd_supported = 103;
pub const mem_handle_type_posix_fd = 1;

/// Every entry point the core uses, by its versioned symbol name.
pub const Api = struct {
    cuInit: *const fn (c_uint) callconv(.c) Result,
    cuGetErrorName: *const fn (Result, *?[*:0]const u8) callconv(.c) Result,
    cuGetErrorString: *const fn (Result, *?[*:0]const u8) callconv(.c) Result,
    cuDeviceGetCount: *const fn (*c_int) callconv(.c) Result,
    cuDeviceGet: *const fn (*Device, c_int) callconv(.c) Result,
    cuDeviceGetName: *const fn ([*]u8, c_int, Device) callconv(.c) Result,
    cuDeviceGetAttribute: *const fn (*c_int, c_int, Device) callconv(.c) Result,
    cuDeviceTotalMem_v2: *const fn (*usize, Device) callconv(.c) Result,
    cuDevicePrimaryCtxRetain: *const fn (*Context, Device) callconv(.c) Result,
    cuDevicePrimaryCtxRelease_v2: *const fn (Device) callconv(.c) Result,
    cuCtxSetCurrent: *const fn (Context) callconv(.c) Result,
    cuCtxSynchronize: *const fn () callconv(.c) Result,
    cuMemGetInfo_v2: *const fn (*usize, *usize) callconv(.c) Result,
    cuMemAlloc_v2: *const fn (*DevicePtr, usize) callconv(.c) Result,
    cuMemFree_v2: *const fn (DevicePtr) callconv(.c) Result,
    cuMemAddressReserve: *const fn (*DevicePtr, usize, usize, DevicePtr, c_ulonglong) callconv(.c) Result,
    cuMemAddressFree: *const fn (DevicePtr, usize) callconv(.c) Result,
    cuMemCreate: *const fn (*MemHandle, usize, *const MemAllocationProp, c_ulonglong) callconv(.c) Result,
    cuMemRelease: *const fn (MemHandle) callconv(.c) Result,
    cuMemMap: *const fn (DevicePtr, usize, usize, MemHandle, c_ulonglong) callconv(.c) Result,
    cuMemUnmap: *const fn (DevicePtr, usize) callconv(.c) Result,
    cuMemSetAccess: *const fn (DevicePtr, usize, *const MemAccessDesc, usize) callconv(.c) Result,
    cuMemExportToShareableHandle: *const fn (*anyopaque, MemHandle, c_int, c_ulonglong) callconv(.c) Result,
    cuMemImportFromShareableHandle: *const fn (*MemHandle, ?*anyopaque, c_int) callconv(.c) Result,
    cuMemGetAllocationGranularity: *const fn (*usize, *const MemAllocationProp, c_int) callconv(.c) Result,
    cuMemHostAlloc: *const fn (*?*anyopaque, usize, c_uint) callconv(.c) Result,
    cuMemFreeHost: *const fn (?*anyopaque) callconv(.c) Result,
    cuMemHostRegister_v2: *const fn (?*anyopaque, usize, c_uint) callconv(.c) Result,
    cuMemHostUnregister: *const fn (?*anyopaque) callconv(.c) Result,
    cuMemcpyHtoD_v2: *const fn (DevicePtr, ?*const anyopaque, usize) callconv(.c) Result,
    cuMemcpyDtoH_v2: *const fn (?*anyopaque, DevicePtr, usize) callconv(.c) Result,
    cuMemcpyDtoD_v2: *const fn (DevicePtr, DevicePtr, usize) callconv(.c) Result,
    cuMemcpyHtoDAsync_v2: *const fn (DevicePtr, ?*const anyopaque, usize, Stream) callconv(.c) Result,
    cuMemcpyDtoHAsync_v2: *const fn (?*anyopaque, DevicePtr, usize, Stream) callconv(.c) Result,
    cuMemcpyDtoDAsync_v2: *const fn (DevicePtr, DevicePtr, usize, Stream) callconv(.c) Result,
    cuMemsetD8_v2: *const fn (DevicePtr, u8, usize) callconv(.c) Result,
    cuMemsetD8Async: *const fn (DevicePtr, u8, usize, Stream) callconv(.c) Result,
    cuStreamCreate: *const fn (*Stream, c_uint) callconv(.c) Result,
    cuStreamDestroy_v2: *const fn (Stream) callconv(.c) Result,
    cuStreamSynchronize: *const fn (Stream) callconv(.c) Result,
    cuStreamWaitEvent: *const fn (Stream, Event, c_uint) callconv(.c) Result,
    cuEventCreate: *const fn (*Event, c_uint) callconv(.c) Result,
    cuEventDestroy_v2: *const fn (Event) callconv(.c) Result,
    cuEventRecord: *const fn (Event, Stream) callconv(.c) Result,
    cuEventQuery: *const fn (Event) callconv(.c) Result,
    cuEventSynchronize: *const fn (Event) callconv(.c) Result,
    cuModuleLoadData: *const fn (*Module, ?*const anyopaque) callconv(.c) Result,
    cuModuleUnload: *const fn (Module) callconv(.c) Result,
    cuModuleGetFunction: *const fn (*Function, Module, [*:0]const u8) callconv(.c) Result,
    cuLaunchKernel: *const fn (Function, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, Stream, ?[*]?*anyopaque, ?[*]?*anyopaque) callconv(.c) Result,
};

const library_names = [_][:0]const u8{ "libcuda.so.1", "libcuda.so" };

var once = std.once(load);
var library: RuntimeLibrary(Api, 256) = .{};

fn load() void {
    // dlopen's reason for the first name, where it found a file and refused it: a reason of its own.
    var refused: [160]u8 = undefined;
    var refused_len: usize = 0;
    const handle = for (library_names, 0..) |name, index| {
        var path: [std.fs.max_path_bytes]u8 = undefined;
        if (runtime_library.searchedFileProblem(name, &path)) |found| {
            // The path's end, within the reason's room (the problems are short, and ours).
            const shown = found.path[found.path.len -| 120..];
            library.fail("the CUDA driver could not be loaded from {s}{s}, first on LD_LIBRARY_PATH ({s})", .{ if (shown.len < found.path.len) "..." else "", shown, found.problem });
            return;
        }
        if (std.c.dlopen(name, .{ .NOW = true })) |found| break found;
        const detail: []const u8 = if (std.c.dlerror()) |message| std.mem.span(message) else "";
        if (index == 0 and detail.len > 0 and !runtime_library.isMissingFile(detail)) {
            refused_len = @min(detail.len, refused.len);
            @memcpy(refused[0..refused_len], detail[0..refused_len]);
        }
    } else {
        if (refused_len > 0) {
            library.fail("the CUDA driver (libcuda.so.1) could not be loaded: {s}", .{refused[0..refused_len]});
        } else {
            library.fail("the CUDA driver (libcuda.so.1) is not installed or not on the loader's path: GPU and pinned pools need an NVIDIA GPU with its driver (or LD_LIBRARY_PATH naming the folder of libcuda.so.1); CPU and PMEM pools work without it", .{});
        }
        return;
    };
    if (library.resolve(handle)) |missing| {
        library.fail("the CUDA driver is too old: it lacks {s}", .{missing});
        return;
    }
    const result = library.table.cuInit(0);
    if (result != success) {
        library.fail("cuInit failed: {s} ({d}){s}", .{ errorName(result), result, if (result == error_no_device) ": no CUDA device is visible" else "" });
        return;
    }
    library.succeed();
}

/// The driver table, or error.Unavailable with `unavailableReason()` saying why.
pub fn api() error{Unavailable}!*const Api {
    once.call();
    return library.get();
}

pub fn unavailableReason() []const u8 {
    once.call();
    return library.unavailableReason();
}

/// The driver's name for a result code, e.g. CUDA_ERROR_OUT_OF_MEMORY.
pub fn errorName(result: Result) []const u8 {
    var name: ?[*:0]const u8 = null;
    if (library.table.cuGetErrorName(result, &name) != success or name == null) return "CUDA_ERROR_UNKNOWN";
    return std.mem.span(name.?);
}

test "without a driver, api() says why instead of crashing" {
    const table = api() catch {
        try std.testing.expect(unavailableReason().len > 0);
        return;
    };
    _ = table; // a machine with a driver: loading worked
}
