//! GPU and pinned pools as CUDA's tools see them, through NVTX (gpu/nvtx.c over the nvtx3 headers).
//! To the driver a pool region is one allocation, so compute-sanitizer cannot tell a write past
//! one pool allocation into the next from a good one. Here each committed region is registered as
//! an NVTX memory heap and every live allocation as a region of it (named after its pool and id):
//! memcheck then reports accesses outside live allocations, freed blocks included, the moment they
//! happen. Ranges around pool operations and copies (off by default) show in Nsight Systems.
//!
//! Every NVTX call is a no-op unless a tool injected itself (NVTX_INJECTION64_PATH); a pool learns
//! at its first heap whether one did, and without one its allocations and frees cost one test of
//! a bool. Switches, process-wide, read once from the environment and changed by `configure`:
//! MEMORY_POOL_NVTX=0 turns registration off (for pools made afterwards), MEMORY_POOL_NVTX_RANGES=1
//! turns ranges on. Where the core was built without the CUDA headers all of this is compiled out.
//!
//! compute-sanitizer refuses heaps over memory of CUDA's virtual memory management API (seen with
//! CUDA 13 and driver 580 on an H200: "Call to nvtxMemHeapRegister failed: One or more of the
//! parameters is invalid"), which is how GPU pools map their regions, and accepts them over
//! cuMemAlloc'd memory. So where a tool injected itself and registration is on, a GPU pool takes
//! its memory from cuMemAlloc instead (`deviceMemoryForTool`, backend/device_memory.zig).
//!
//! Invariants: a pool's `heaps` holds exactly the regions registered with the tool, each once;
//! `active` implies `enabled`; regions are registered only inside a registered heap.
const std = @import("std");
const assert = std.debug.assert;
const build_options = @import("build_options");

/// Whether this core was built with NVTX (the CUDA toolkit's headers were found).
pub const built: bool = build_options.nvtx;

const Handle = ?*anyopaque;

/// gpu/nvtx.c where built, else calls that do nothing (and name no symbol the library lacks).
const glue = if (built) struct {
    extern fn nvtx_glue_domain_create(name: [*:0]const u8) Handle;
    extern fn nvtx_glue_heap_register(domain: Handle, base: u64, len: u64, name: [*:0]const u8) Handle;
    extern fn nvtx_glue_heap_unregister(domain: Handle, heap: Handle) void;
    extern fn nvtx_glue_heap_reset(domain: Handle, heap: Handle) void;
    extern fn nvtx_glue_region_register(domain: Handle, heap: Handle, address: u64, len: u64) void;
    extern fn nvtx_glue_region_unregister(domain: Handle, address: u64) void;
    extern fn nvtx_glue_region_name(domain: Handle, address: u64, name: [*:0]const u8) void;
    extern fn nvtx_glue_range_push(domain: Handle, message: [*:0]const u8) void;
    extern fn nvtx_glue_range_pop(domain: Handle) void;
    const domainCreate = nvtx_glue_domain_create;
    const heapRegister = nvtx_glue_heap_register;
    const heapUnregister = nvtx_glue_heap_unregister;
    const heapReset = nvtx_glue_heap_reset;
    const regionRegister = nvtx_glue_region_register;
    const regionUnregister = nvtx_glue_region_unregister;
    const regionName = nvtx_glue_region_name;
    const rangePush = nvtx_glue_range_push;
    const rangePop = nvtx_glue_range_pop;
} else struct {
    fn domainCreate(_: [*:0]const u8) Handle {
        return null;
    }
    fn heapRegister(_: Handle, _: u64, _: u64, _: [*:0]const u8) Handle {
        return null;
    }
    fn heapUnregister(_: Handle, _: Handle) void {}
    fn heapReset(_: Handle, _: Handle) void {}
    fn regionRegister(_: Handle, _: Handle, _: u64, _: u64) void {}
    fn regionUnregister(_: Handle, _: u64) void {}
    fn regionName(_: Handle, _: u64, _: [*:0]const u8) void {}
    fn rangePush(_: Handle, _: [*:0]const u8) void {}
    fn rangePop(_: Handle) void {}
};

pub const memory_variable = "MEMORY_POOL_NVTX";
pub const ranges_variable = "MEMORY_POOL_NVTX_RANGES";

var register_memory = std.atomic.Value(bool).init(true);
var ranges_on = std.atomic.Value(bool).init(false);
/// Set once a heap registration was answered: a tool is attached to this process.
var tool_seen = std.atomic.Value(bool).init(false);
var environment_once = std.once(readEnvironment);
/// Whether a tool injected itself into NVTX when the process started, read once: the answer must
/// not change between pools, since it decides where their memory comes from.
var tool_injected: bool = false;
var injection_once = std.once(readInjection);
/// The "memory-pool" domain, made at the first annotation (after a CUDA context exists: the
/// sanitizer wants CUDA initialized before the first NVTX call). Null also means NVTX's default.
var domain: Handle = null;
var domain_once = std.once(createDomain);

fn readEnvironment() void {
    if (std.c.getenv(memory_variable)) |value| register_memory.store(switchValue(std.mem.span(value), true), .monotonic);
    if (std.c.getenv(ranges_variable)) |value| ranges_on.store(switchValue(std.mem.span(value), false), .monotonic);
}

/// What compute-sanitizer and Nsight Systems set for the program they run: NVTX loads the tool from it.
pub const injection_variable = "NVTX_INJECTION64_PATH";

fn readInjection() void {
    tool_injected = injectionNamed(if (std.c.getenv(injection_variable)) |value| std.mem.span(value) else null);
}

/// Whether the injection variable's value names a library (set and not empty).
pub fn injectionNamed(value: ?[]const u8) bool {
    const path = value orelse return false;
    return path.len > 0;
}

/// A tool injected itself into NVTX in this process (decided once, at the first question).
pub fn toolInjected() bool {
    injection_once.call();
    return tool_injected;
}

/// Whether a GPU pool made now takes memory a tool can check (one cuMemAlloc) instead of VMM
/// mappings the tool refuses as heaps: only where it would register, in a core built with NVTX,
/// with a tool injected. Elsewhere pools keep VMM (real growth and trim, IPC export).
pub fn deviceMemoryForTool() bool {
    environment_once.call();
    return checkableDeviceMemory(built, register_memory.load(.monotonic), toolInjected());
}

/// The decision of `deviceMemoryForTool` from its three facts.
pub fn checkableDeviceMemory(nvtx_built: bool, registering: bool, injected: bool) bool {
    return nvtx_built and registering and injected;
}

fn createDomain() void {
    domain = glue.domainCreate("memory-pool");
}

/// "0", "off", "false", "no" (any case, spaces around ignored) turn a switch off, "1", "on",
/// "true", "yes" on; anything else (an empty value too) leaves its default. The words of every
/// MEMORY_POOL_* switch (src/validate.ts switchWord).
pub fn switchValue(raw: []const u8, default: bool) bool {
    const value = std.mem.trim(u8, raw, " \t");
    const off = [_][]const u8{ "0", "off", "false", "no" };
    const on = [_][]const u8{ "1", "on", "true", "yes" };
    for (off) |word| if (std.ascii.eqlIgnoreCase(value, word)) return false;
    for (on) |word| if (std.ascii.eqlIgnoreCase(value, word)) return true;
    return default;
}

/// The bits `mp_nvtx_state` returns (abi.zig describes them to src/nvtx.ts).
pub const state_built: u32 = 1;
pub const state_register_memory: u32 = 2;
pub const state_ranges: u32 = 4;
pub const state_tool_attached: u32 = 8;
pub const state_tool_injected: u32 = 16;

pub fn state() u32 {
    environment_once.call();
    var bits: u32 = 0;
    if (built) bits |= state_built;
    if (register_memory.load(.monotonic)) bits |= state_register_memory;
    if (ranges_on.load(.monotonic)) bits |= state_ranges;
    if (tool_seen.load(.monotonic)) bits |= state_tool_attached;
    if (toolInjected()) bits |= state_tool_injected;
    return bits;
}

/// Sets the switches (null: leave as is). Registration applies to pools made afterwards: a pool
/// keeps what it started with, so every region it registered is unregistered in turn.
pub fn configure(memory: ?bool, ranges: ?bool) void {
    environment_once.call();
    if (memory) |on| register_memory.store(on, .monotonic);
    if (ranges) |on| ranges_on.store(on, .monotonic);
}

/// An NVTX range, open until `end` (a no-op where ranges were off when it began).
pub const Range = struct {
    open: bool,

    pub const none: Range = .{ .open = false };

    pub inline fn end(self: Range) void {
        if (self.open) glue.rangePop(domain);
    }
};

/// Opens a range named `message` where ranges are on (copies and kernels: not tied to a pool).
pub fn beginRange(comptime message: [:0]const u8) Range {
    if (!built or !ranges_on.load(.monotonic)) return .none;
    domain_once.call();
    glue.rangePush(domain, message);
    return .{ .open = true };
}

/// One pool's annotations. A plain field of the pool: CPU pools, and pools made with registration
/// off or without a tool attached, keep it inert.
pub const PoolAnnotations = struct {
    /// Registration was on when the pool was made (a GPU or pinned pool in a core built with NVTX).
    enabled: bool = false,
    /// Enabled, and a tool answered the first heap: only then do allocations and frees call NVTX.
    active: bool = false,
    /// Ranges around this pool's operations (ranges were on when it was made).
    ranges: bool = false,
    gpa: std.mem.Allocator = undefined,
    /// The pool's name (owned by the pool, which outlives this).
    pool_name: []const u8 = "",
    mutex: std.Thread.Mutex = .{},
    heaps: std.ArrayList(Heap) = .empty,
    /// Where the pool's whole address range is one allocation (a GPU pool under a tool): the one
    /// heap, registered with the first region and kept until the pool goes, so that the heap is
    /// exactly the allocation the tool saw made. Else null: a heap per region.
    whole: ?Extent = null,
    /// The whole range's heap was asked for (so it is not asked again after a refusal).
    whole_asked: bool = false,

    const Heap = struct { base: u64, len: u64, handle: Handle };
    pub const Extent = struct { base: u64, len: u64 };

    /// `device_visible`: the pool's memory is reached by kernels (GPU and pinned pools). `whole`:
    /// the pool's address range where it is one allocation, to be one heap (see `whole`).
    pub fn init(gpa: std.mem.Allocator, pool_name: []const u8, device_visible: bool, whole: ?Extent) PoolAnnotations {
        if (!built or !device_visible) return .{};
        environment_once.call();
        const memory = register_memory.load(.monotonic);
        const ranges = ranges_on.load(.monotonic);
        if (memory or ranges) domain_once.call();
        if (whole) |extent| assert(extent.base != 0 and extent.len > 0);
        return .{ .enabled = memory, .ranges = ranges, .gpa = gpa, .pool_name = pool_name, .whole = whole };
    }

    /// A region of `len` bytes at `base` was committed: it becomes a heap (or lies in the whole
    /// range's heap), no byte of it live yet.
    pub fn regionAdded(self: *PoolAnnotations, region_base: u64, region_len: u64) void {
        if (!self.enabled) return;
        assert(region_base != 0 and region_len > 0);
        const base, const len = if (self.whole) |extent| .{ extent.base, extent.len } else .{ region_base, region_len };
        assert(region_base >= base and region_base + region_len <= base + len);
        if (self.whole != null) {
            // Registered with the first region (or refused then: the tool answers the same each time).
            if (self.heaps.items.len > 0 or self.whole_asked) return;
            self.whole_asked = true;
        }
        var buffer: [320]u8 = undefined;
        const name = std.fmt.bufPrintZ(&buffer, "memory-pool '{s}' region 0x{x} ({d} bytes)", .{ self.pool_name, base, len }) catch "memory-pool region";
        const handle = glue.heapRegister(domain, base, len, name.ptr) orelse {
            // No tool answered (NVTX returns null then): nothing of this pool is registered.
            assert(!self.active or self.heaps.items.len > 0);
            return;
        };
        tool_seen.store(true, .monotonic);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.heaps.append(self.gpa, .{ .base = base, .len = len, .handle = handle }) catch {
            // Not kept, so not registered: the tool must not hold a heap no free will clear.
            glue.heapUnregister(domain, handle);
            return;
        };
        // Written once, while the pool is being made: other threads only ever read it afterwards.
        if (!self.active) self.active = true;
    }

    /// The region at `base` is about to be decommitted (trim): its heap and regions go.
    pub fn regionRemoved(self: *PoolAnnotations, base: u64) void {
        // The whole range's heap stays: its memory stays allocated, and the emptied region holds
        // no registered allocation.
        if (!self.active or self.whole != null) return;
        self.mutex.lock();
        defer self.mutex.unlock();
        const index = self.heapIndex(base) orelse return;
        assert(self.heaps.items[index].base == base);
        glue.heapUnregister(domain, self.heaps.items[index].handle);
        _ = self.heaps.swapRemove(index);
    }

    /// A block of `size` bytes at `address` was handed out as allocation `id`.
    pub inline fn allocated(self: *PoolAnnotations, address: u64, size: u64, id: u32) void {
        if (self.active) self.registerRegion(address, size, id);
    }

    /// The allocation at `address` was freed: any access to it is now out of bounds.
    pub inline fn freed(self: *const PoolAnnotations, address: u64) void {
        if (self.active) glue.regionUnregister(domain, address);
    }

    /// Every allocation was freed at once (the pool's reset).
    pub fn reset(self: *PoolAnnotations) void {
        if (!self.active) return;
        self.mutex.lock();
        defer self.mutex.unlock();
        for (self.heaps.items) |heap| glue.heapReset(domain, heap.handle);
    }

    /// Opens a range named `message` around one of this pool's operations, where ranges are on.
    pub inline fn range(self: *const PoolAnnotations, comptime message: [:0]const u8) Range {
        if (!self.ranges) return .none;
        glue.rangePush(domain, message);
        return .{ .open = true };
    }

    /// The pool goes: every heap it registered is unregistered (its regions with it).
    pub fn deinit(self: *PoolAnnotations) void {
        if (!self.enabled) return;
        self.mutex.lock();
        for (self.heaps.items) |heap| glue.heapUnregister(domain, heap.handle);
        self.heaps.deinit(self.gpa);
        self.mutex.unlock();
        self.* = .{};
    }

    fn registerRegion(self: *PoolAnnotations, address: u64, size: u64, id: u32) void {
        @branchHint(.cold);
        assert(size > 0);
        self.mutex.lock();
        const heap = if (self.heapIndex(address)) |index| self.heaps.items[index] else null;
        self.mutex.unlock();
        // A region whose heap the tool refused stays unregistered: the tool checks nothing there.
        const owner = heap orelse return;
        assert(address >= owner.base and address + size <= owner.base + owner.len);
        glue.regionRegister(domain, owner.handle, address, size);
        var buffer: [300]u8 = undefined;
        const name = std.fmt.bufPrintZ(&buffer, "'{s}' #{d} ({d} bytes)", .{ self.pool_name, id, size }) catch return;
        glue.regionName(domain, address, name.ptr);
    }

    /// The heap that holds `address`, under the mutex.
    fn heapIndex(self: *const PoolAnnotations, address: u64) ?usize {
        for (self.heaps.items, 0..) |heap, index| {
            if (address >= heap.base and address - heap.base < heap.len) return index;
        }
        return null;
    }
};

test "switch values: off and on words, anything else keeps the default" {
    try std.testing.expect(!switchValue("0", true));
    try std.testing.expect(!switchValue("OFF", true));
    try std.testing.expect(switchValue("yes", false));
    try std.testing.expect(switchValue("", true));
    try std.testing.expect(!switchValue("maybe", false));
    try std.testing.expect(!switchValue(" 0 ", true)); // as the TypeScript switches read it
}

test "a GPU pool takes checkable memory only where it registers, with NVTX built and a tool injected" {
    try std.testing.expect(checkableDeviceMemory(true, true, true));
    try std.testing.expect(!checkableDeviceMemory(true, false, true)); // MEMORY_POOL_NVTX=0 keeps VMM under a tool
    try std.testing.expect(!checkableDeviceMemory(true, true, false));
    try std.testing.expect(!checkableDeviceMemory(false, true, true));
    try std.testing.expect(injectionNamed("/usr/local/cuda/compute-sanitizer/libsanitizer-collection.so"));
    try std.testing.expect(!injectionNamed(""));
    try std.testing.expect(!injectionNamed(null));
    // The process's own answer follows its environment, and switching registration off turns it off.
    const saved = state();
    defer testing.restoreSwitches(saved);
    const injected = std.c.getenv(injection_variable) != null and std.mem.span(std.c.getenv(injection_variable).?).len > 0;
    try std.testing.expectEqual(injected, toolInjected());
    try std.testing.expectEqual(injected, state() & state_tool_injected != 0);
    configure(true, null);
    try std.testing.expectEqual(built and injected, deviceMemoryForTool());
    configure(false, null);
    try std.testing.expect(!deviceMemoryForTool());
}

test "configure sets the switches a new pool takes; CPU pools stay inert" {
    const saved = state();
    defer testing.restoreSwitches(saved);
    try std.testing.expectEqual(built, state() & state_built != 0);
    configure(false, null);
    try std.testing.expect(state() & state_register_memory == 0);
    var off = PoolAnnotations.init(std.testing.allocator, "p", true, null);
    try std.testing.expect(!off.enabled and !off.active);
    configure(true, false);
    var cpu = PoolAnnotations.init(std.testing.allocator, "p", false, null);
    try std.testing.expect(!cpu.enabled);
    cpu.regionAdded(0x10000, 0x10000);
    try std.testing.expect(!cpu.active);
    off.deinit();
    cpu.deinit();
}

/// For tests here and in other files: the stand-in tool (gpu/nvtx_fake_tool.c, linked into
/// `zig build test` only) and putting the switches back.
pub const testing = struct {
    /// What the stand-in tool recorded.
    pub const FakeTool = extern struct {
        answering: c_int,
        heaps: c_int,
        heaps_unregistered: c_int,
        heap_resets: c_int,
        regions: c_int,
        regions_unregistered: c_int,
        names: c_int,
        bad_descriptors: c_int,
        heap_base: u64,
        heap_len: u64,
        last_heap: ?*const anyopaque,
        region_heap: ?*const anyopaque,
        region_ptr: u64,
        region_len: u64,
        unregistered_ptr: u64,
        named_ptr: u64,
        heap_name: [128]u8,
        region_name: [128]u8,
    };
    const fake = struct {
        extern var nvtx_fake_tool: FakeTool;
    };

    /// The stand-in tool's records, cleared, or a skip where it is not linked or a real tool would answer.
    pub fn fakeTool(answering: bool) error{SkipZigTest}!*FakeTool {
        if (!built or std.c.getenv("NVTX_INJECTION64_PATH") != null) return error.SkipZigTest;
        const tool = &fake.nvtx_fake_tool;
        tool.* = std.mem.zeroes(FakeTool);
        tool.answering = @intFromBool(answering);
        return tool;
    }

    pub fn nameOf(buffer: *const [128]u8) []const u8 {
        return std.mem.sliceTo(buffer, 0);
    }

    /// Puts the switches back as `saved` (a `state()`) had them.
    pub fn restoreSwitches(saved: u32) void {
        configure(saved & state_register_memory != 0, saved & state_ranges != 0);
    }
};

test "with a tool attached: a heap per region, a named region per allocation in its heap, gone on free, reset and trim" {
    const tool = try testing.fakeTool(true);
    defer tool.answering = 0;
    const saved = state();
    defer testing.restoreSwitches(saved);
    configure(true, false);
    var annotations = PoolAnnotations.init(std.testing.allocator, "gpu pool", true, null);
    annotations.regionAdded(0x7000_0000, 0x20_0000);
    try std.testing.expect(annotations.active);
    try std.testing.expect(state() & state_tool_attached != 0);
    try std.testing.expectEqual(@as(u64, 0x7000_0000), tool.heap_base);
    try std.testing.expectEqual(@as(u64, 0x20_0000), tool.heap_len);
    try std.testing.expectEqualStrings("memory-pool 'gpu pool' region 0x70000000 (2097152 bytes)", testing.nameOf(&tool.heap_name));
    const first_heap = tool.last_heap;
    annotations.regionAdded(0x7020_0000, 0x40_0000);
    const second_heap = tool.last_heap;
    try std.testing.expectEqual(@as(c_int, 2), tool.heaps);

    annotations.allocated(0x7020_0100, 100, 7);
    try std.testing.expectEqual(second_heap, tool.region_heap);
    try std.testing.expectEqual(@as(u64, 0x7020_0100), tool.region_ptr);
    try std.testing.expectEqual(@as(u64, 100), tool.region_len);
    try std.testing.expectEqual(@as(u64, 0x7020_0100), tool.named_ptr);
    try std.testing.expectEqualStrings("'gpu pool' #7 (100 bytes)", testing.nameOf(&tool.region_name));
    annotations.allocated(0x7000_0000, 16, 8);
    try std.testing.expectEqual(first_heap, tool.region_heap);

    annotations.freed(0x7000_0000);
    try std.testing.expectEqual(@as(c_int, 1), tool.regions_unregistered);
    try std.testing.expectEqual(@as(u64, 0x7000_0000), tool.unregistered_ptr);
    annotations.reset();
    try std.testing.expectEqual(@as(c_int, 2), tool.heap_resets);
    annotations.regionRemoved(0x7020_0000);
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps_unregistered);
    annotations.allocated(0x7020_0000, 16, 9); // no heap holds it any more: not registered
    try std.testing.expectEqual(@as(c_int, 2), tool.regions);
    annotations.deinit();
    try std.testing.expectEqual(@as(c_int, 2), tool.heaps_unregistered);
    try std.testing.expectEqual(@as(c_int, 0), tool.bad_descriptors);
}

test "registration off: a tool sees nothing of a pool made then" {
    const tool = try testing.fakeTool(true);
    defer tool.answering = 0;
    const saved = state();
    defer testing.restoreSwitches(saved);
    configure(false, false);
    var annotations = PoolAnnotations.init(std.testing.allocator, "quiet", true, null);
    defer annotations.deinit();
    annotations.regionAdded(0x9000_0000, 0x20_0000);
    annotations.allocated(0x9000_0000, 64, 1);
    annotations.freed(0x9000_0000);
    try std.testing.expect(!annotations.active);
    try std.testing.expectEqual(@as(c_int, 0), tool.heaps + tool.regions + tool.regions_unregistered);
}

test "without a tool attached a pool stays inactive: no heap is kept, frees and allocations do nothing" {
    if (std.c.getenv("NVTX_INJECTION64_PATH") != null) return error.SkipZigTest; // a tool would answer
    if (built) _ = try testing.fakeTool(false);
    const saved = state();
    defer testing.restoreSwitches(saved);
    configure(true, true);
    var annotations = PoolAnnotations.init(std.testing.allocator, "pool", true, null);
    defer annotations.deinit();
    try std.testing.expectEqual(built, annotations.enabled);
    annotations.regionAdded(0x20_0000, 0x20_0000);
    try std.testing.expect(!annotations.active);
    try std.testing.expectEqual(@as(usize, 0), annotations.heaps.items.len);
    annotations.allocated(0x20_0000, 100, 1);
    annotations.freed(0x20_0000);
    annotations.reset();
    annotations.regionRemoved(0x20_0000);
    const scope = annotations.range("memory-pool: test");
    scope.end();
    beginRange("memory-pool: test copy").end();
}

test "a pool whose range is one allocation registers that allocation as its one heap, kept through trim" {
    const tool = try testing.fakeTool(true);
    defer tool.answering = 0;
    const saved = state();
    defer testing.restoreSwitches(saved);
    configure(true, false);
    var annotations = PoolAnnotations.init(std.testing.allocator, "sanitized", true, .{ .base = 0x8000_0000, .len = 0x4000_0000 });
    annotations.regionAdded(0x8000_0000, 0x20_0000);
    try std.testing.expect(annotations.active);
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps);
    try std.testing.expectEqual(@as(u64, 0x8000_0000), tool.heap_base);
    try std.testing.expectEqual(@as(u64, 0x4000_0000), tool.heap_len);
    const heap = tool.last_heap;
    annotations.regionAdded(0x8020_0000, 0x40_0000); // growth inside the allocation: no new heap
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps);
    annotations.allocated(0x8020_0040, 64, 3);
    try std.testing.expectEqual(heap, tool.region_heap);
    try std.testing.expectEqual(@as(u64, 0x8020_0040), tool.region_ptr);
    annotations.freed(0x8020_0040);
    annotations.regionRemoved(0x8020_0000); // trim: the memory stays allocated, so does the heap
    try std.testing.expectEqual(@as(c_int, 0), tool.heaps_unregistered);
    annotations.regionAdded(0x8020_0000, 0x40_0000);
    annotations.allocated(0x8020_0000, 32, 4);
    try std.testing.expectEqual(heap, tool.region_heap);
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps);
    annotations.deinit();
    try std.testing.expectEqual(@as(c_int, 1), tool.heaps_unregistered);
    try std.testing.expectEqual(@as(c_int, 0), tool.bad_descriptors);
}

test "a one-allocation pool whose heap the tool refused asks once and registers nothing" {
    const tool = try testing.fakeTool(false);
    const saved = state();
    defer testing.restoreSwitches(saved);
    configure(true, false);
    var annotations = PoolAnnotations.init(std.testing.allocator, "refused", true, .{ .base = 0x8000_0000, .len = 0x4000_0000 });
    defer annotations.deinit();
    annotations.regionAdded(0x8000_0000, 0x20_0000);
    try std.testing.expect(annotations.whole_asked and !annotations.active);
    tool.answering = 1; // a later answer would not be asked for: the first region decided
    defer tool.answering = 0;
    annotations.regionAdded(0x8020_0000, 0x20_0000);
    annotations.allocated(0x8020_0000, 64, 1);
    try std.testing.expect(!annotations.active);
    try std.testing.expectEqual(@as(c_int, 0), tool.heaps + tool.regions);
}
