//! The process-wide tables of pools. Every thread (every Bun Worker) that opens the library sees
//! the same tables, so a pool created in one Worker is found by name in another. A handle is
//! `generation << slot_bits | slot`: a handle kept after its pool is destroyed no longer
//! matches its slot's generation and is refused, even once the slot is reused.
//!
//! A thread inside a call on a pool holds it with `enter` (sync/pool_guard.zig): `remove` waits
//! until no thread is inside, so a pool destroyed under other Workers fails their next call with
//! PoolNotFound and never frees memory a call is still using.
//!
//! Pools of host and device memory (pool.zig) and PMEM pools (pmem/pool.zig) are different types
//! with tables of their own; one lock and one namespace cover both, so a name names one pool.
const std = @import("std");
const assert = std.debug.assert;
const Pool = @import("pool.zig").Pool;
const PmemPool = @import("pmem/pool.zig").Pool;
const status = @import("status.zig");
const Error = status.Error;
const pool_guard = @import("sync/pool_guard.zig");

const slot_bits = 12;
pub const pools_max = 1 << slot_bits;
const generation_max = (1 << (31 - slot_bits)) - 1;

var mutex: std.Thread.Mutex = .{};

pub fn handleOf(slot: usize, generation: u32) i32 {
    assert(slot < pools_max and generation <= generation_max);
    return @intCast((generation << slot_bits) | slot);
}

fn Table(comptime T: type) type {
    return struct {
        const Slot = struct {
            pool: std.atomic.Value(?*T) = .init(null),
            generation: std.atomic.Value(u32) = .init(1),
            /// The owning thread of a threadSafety "none" pool, 0 for pools any thread may use.
            /// The owner's calls skip the destroy guard: no other thread may destroy such a pool.
            owner: std.atomic.Value(std.Thread.Id) = .init(0),
        };

        slots: [pools_max]Slot = @splat(.{}),

        /// The pool a handle names, or null for a handle that names no live pool.
        inline fn get(self: *@This(), handle: i32) ?*T {
            if (handle < 0) return null;
            const raw: u32 = @intCast(handle);
            const slot = &self.slots[raw & (pools_max - 1)];
            if (slot.generation.load(.acquire) != raw >> slot_bits) return null;
            return slot.pool.load(.acquire);
        }

        /// Like `get`, and the pool stays alive until `leave(which)`, which the caller owes either way.
        inline fn enter(self: *@This(), handle: i32, which: pool_guard.Which, table_key: u32) ?*T {
            if (handle < 0) return null;
            const raw: u32 = @intCast(handle);
            const index = raw & (pools_max - 1);
            const slot = &self.slots[index];
            const owner = slot.owner.load(.monotonic);
            if (owner != 0 and owner == std.Thread.getCurrentId()) return self.get(handle);
            if (!pool_guard.enter(which, table_key | index)) return null;
            if (slot.generation.load(.seq_cst) != raw >> slot_bits) return null;
            return slot.pool.load(.acquire);
        }

        fn add(self: *@This(), create: anytype, name: []const u8, config: anytype) Error!i32 {
            mutex.lock();
            defer mutex.unlock();
            if (nameTakenLocked(name)) return status.fail(error.PoolExists, "a pool named '{s}' already exists", .{name});
            const index = for (&self.slots, 0..) |*slot, index| {
                if (slot.pool.load(.monotonic) == null) break index;
            } else return status.fail(error.TooManyPools, "no room for another pool: {d} pools exist", .{pools_max});
            const pool = try create(std.heap.c_allocator, name, config);
            const handle = handleOf(index, self.slots[index].generation.load(.monotonic));
            if (@hasDecl(T, "published")) pool.published(handle);
            const single_threaded = @hasField(T, "owner_thread") and pool.config.thread_safety == .none;
            self.slots[index].owner.store(if (single_threaded) pool.owner_thread else 0, .monotonic);
            self.slots[index].pool.store(pool, .release);
            return handle;
        }

        fn findLocked(self: *@This(), name: []const u8) ?i32 {
            for (&self.slots, 0..) |*slot, index| {
                const pool = slot.pool.load(.monotonic) orelse continue;
                if (std.mem.eql(u8, pool.name, name)) return handleOf(index, slot.generation.load(.monotonic));
            }
            return null;
        }

        /// Unpublishes the pool, then waits out every call still inside it (under the registry's
        /// lock, so the slot is not reused meanwhile; pool calls never take that lock).
        fn remove(self: *@This(), handle: i32, table_key: u32) Error!*T {
            mutex.lock();
            defer mutex.unlock();
            const pool = self.get(handle) orelse return status.fail(error.PoolNotFound, "pool handle {d} names no live pool (destroyed?)", .{handle});
            const index = @as(u32, @intCast(handle)) & (pools_max - 1);
            const slot = &self.slots[index];
            const owner = slot.owner.load(.monotonic);
            if (owner != 0 and owner != std.Thread.getCurrentId()) {
                // Its owner's calls take no guard, so only the owner may destroy it.
                return status.fail(error.ThreadMisuse, "pool '{s}' has threadSafety \"none\" and belongs to thread {d}; only that thread may destroy it", .{ pool.name, owner });
            }
            slot.owner.store(0, .monotonic);
            slot.pool.store(null, .release);
            const next = slot.generation.load(.monotonic) + 1;
            slot.generation.store(if (next > generation_max) 1 else next, .seq_cst);
            pool_guard.waitUntilUnused(table_key | index);
            assert(slot.pool.load(.monotonic) == null);
            return pool;
        }

        fn list(self: *@This(), out: []i32) u32 {
            mutex.lock();
            defer mutex.unlock();
            var count: u32 = 0;
            for (&self.slots, 0..) |*slot, index| {
                if (slot.pool.load(.monotonic) == null) continue;
                if (count < out.len) out[count] = handleOf(index, slot.generation.load(.monotonic));
                count += 1;
            }
            return count;
        }
    };
}

/// Guard keys: the slot, with a bit saying which table (both tables use the same slot numbers).
const pools_key: u32 = 0;
const pmem_key: u32 = pools_max;

var pools: Table(Pool) = .{};
var pmem_pools: Table(PmemPool) = .{};

fn nameTakenLocked(name: []const u8) bool {
    return pools.findLocked(name) != null or pmem_pools.findLocked(name) != null;
}

/// The pool a handle names, or null for a handle that names no live pool.
pub inline fn get(handle: i32) ?*Pool {
    return pools.get(handle);
}

/// The pool in `slot`, or null. Takes no lock: the fault handler reads the table with it.
pub fn poolAt(slot: usize) ?*Pool {
    assert(slot < pools_max);
    return pools.slots[slot].pool.load(.acquire);
}

/// The pool a handle names, held alive until `leave(which)` (owed also when this returns null).
pub inline fn enter(handle: i32, which: pool_guard.Which) ?*Pool {
    return pools.enter(handle, which, pools_key);
}

pub inline fn leave(which: pool_guard.Which) void {
    pool_guard.leave(which);
}

pub fn add(create: anytype, name: []const u8, config: anytype) Error!i32 {
    return pools.add(create, name, config);
}

pub fn find(name: []const u8) ?i32 {
    mutex.lock();
    defer mutex.unlock();
    return pools.findLocked(name);
}

/// Unpublishes the pool and returns it for the caller to destroy.
pub fn remove(handle: i32) Error!*Pool {
    return pools.remove(handle, pools_key);
}

/// Writes the handles of every live pool into `out`; returns how many there are.
pub fn list(out: []i32) u32 {
    return pools.list(out);
}

/// PMEM pools: the same operations over their own table, behind the same guard and owner rule.
pub const pmem = struct {
    /// Like `registry.enter`: the pool stays alive until `leave(which)`, owed also on null.
    pub inline fn enter(handle: i32, which: pool_guard.Which) ?*PmemPool {
        return pmem_pools.enter(handle, which, pmem_key);
    }

    pub fn add(name: []const u8, config: anytype) Error!i32 {
        return pmem_pools.add(PmemPool.create, name, config);
    }

    pub fn find(name: []const u8) ?i32 {
        mutex.lock();
        defer mutex.unlock();
        return pmem_pools.findLocked(name);
    }

    pub fn remove(handle: i32) Error!*PmemPool {
        return pmem_pools.remove(handle, pmem_key);
    }

    pub fn list(out: []i32) u32 {
        return pmem_pools.list(out);
    }
};
