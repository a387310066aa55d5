//! The process-wide table of pools. Every thread (every Bun Worker) that opens the library sees
//! the same table, so a pool created in one Worker is found by name in another. A handle is
//! `generation << slot_bits | slot`: a handle kept after its pool is destroyed no longer
//! matches its slot's generation and is refused, even once the slot is reused.
const std = @import("std");
const assert = std.debug.assert;
const Pool = @import("pool.zig").Pool;
const status = @import("status.zig");
const Error = status.Error;

const slot_bits = 12;
pub const pools_max = 1 << slot_bits;
const generation_max = (1 << (31 - slot_bits)) - 1;

const Slot = struct {
    pool: std.atomic.Value(?*Pool) = .init(null),
    generation: std.atomic.Value(u32) = .init(1),
};

var slots: [pools_max]Slot = @splat(.{});
var mutex: std.Thread.Mutex = .{};

pub fn handleOf(slot: usize, generation: u32) i32 {
    assert(slot < pools_max and generation <= generation_max);
    return @intCast((generation << slot_bits) | slot);
}

/// The pool a handle names, or null for a handle that names no live pool.
pub inline fn get(handle: i32) ?*Pool {
    if (handle < 0) return null;
    const raw: u32 = @intCast(handle);
    const slot = &slots[raw & (pools_max - 1)];
    if (slot.generation.load(.acquire) != raw >> slot_bits) return null;
    return slot.pool.load(.acquire);
}

/// The pool in `slot`, or null. Takes no lock: the fault handler reads the table with it.
pub fn poolAt(slot: usize) ?*Pool {
    assert(slot < pools_max);
    return slots[slot].pool.load(.acquire);
}

pub fn add(create: anytype, name: []const u8, config: anytype) Error!i32 {
    mutex.lock();
    defer mutex.unlock();
    if (findLocked(name) != null) return status.fail(error.PoolExists, "a pool named '{s}' already exists", .{name});
    const index = for (&slots, 0..) |*slot, index| {
        if (slot.pool.load(.monotonic) == null) break index;
    } else return status.fail(error.TooManyPools, "no room for another pool: {d} pools exist", .{pools_max});
    const pool = try create(std.heap.c_allocator, name, config);
    slots[index].pool.store(pool, .release);
    return handleOf(index, slots[index].generation.load(.monotonic));
}

pub fn find(name: []const u8) ?i32 {
    mutex.lock();
    defer mutex.unlock();
    return findLocked(name);
}

fn findLocked(name: []const u8) ?i32 {
    for (&slots, 0..) |*slot, index| {
        const pool = slot.pool.load(.monotonic) orelse continue;
        if (std.mem.eql(u8, pool.name, name)) return handleOf(index, slot.generation.load(.monotonic));
    }
    return null;
}

/// Unpublishes the pool and returns it for the caller to destroy.
pub fn remove(handle: i32) ?*Pool {
    mutex.lock();
    defer mutex.unlock();
    const pool = get(handle) orelse return null;
    const slot = &slots[@as(u32, @intCast(handle)) & (pools_max - 1)];
    slot.pool.store(null, .release);
    const next = slot.generation.load(.monotonic) + 1;
    slot.generation.store(if (next > generation_max) 1 else next, .release);
    return pool;
}

/// Writes the handles of every live pool into `out`; returns how many there are.
pub fn list(out: []i32) u32 {
    mutex.lock();
    defer mutex.unlock();
    var count: u32 = 0;
    for (&slots, 0..) |*slot, index| {
        if (slot.pool.load(.monotonic) == null) continue;
        if (count < out.len) out[count] = handleOf(index, slot.generation.load(.monotonic));
        count += 1;
    }
    return count;
}
