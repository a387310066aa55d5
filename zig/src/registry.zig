//! The process-wide tables of pools. Every thread (every Bun Worker) that opens the library sees
//! the same tables, so a pool created in one Worker is found by name in another. A handle is
//! `generation << slot_bits | slot`: a handle kept after its pool is destroyed no longer
//! matches its slot's generation and is refused, even once the slot is reused. Generations never
//! wrap: a slot whose generation is used up is retired for the life of the process (a wrapped
//! generation would let a stale handle name a later pool), and slots are taken in turn so they
//! wear evenly (4096 slots of 2^19 - 1 generations: two billion pools before the last retires).
//!
//! A thread inside a call on a pool holds it with `enter` (sync/pool_guard.zig): `remove` waits
//! until no thread is inside, so a pool destroyed under other Workers fails their next call with
//! PoolNotFound and never frees memory a call is still using.
//!
//! Pools of every kind (host, device, pinned, PMEM: pool.zig) are in one table, one namespace.
const std = @import("std");
const assert = std.debug.assert;
const Pool = @import("pool.zig").Pool;
const status = @import("status.zig");
const pool_count = @import("pool_count.zig");
const Error = status.Error;
const pool_guard = @import("sync/pool_guard.zig");
const thread_exit = @import("sync/thread_exit.zig");
const thread_cache = @import("sync/thread_cache.zig");
const js_cache = @import("sync/js_cache.zig");
const fault_handler = @import("debug/fault_handler.zig");
const thread_end_report = @import("debug/thread_end_report.zig");

const slot_bits = pool_count.slot_bits;
pub const pools_max = pool_count.pools_max;
/// Bytes of a pool's name, the key of the table.
pub const name_bytes_max = 255;
const generation_max = (1 << (31 - slot_bits)) - 1;
/// The generation of a retired slot: no handle carries it (generations start at 1).
const retired: u32 = 0;

var mutex: std.Thread.Mutex = .{};

pub fn handleOf(slot: usize, generation: u32) i32 {
    assert(slot < pools_max and generation <= generation_max and generation != retired);
    return @intCast((generation << slot_bits) | slot);
}

/// `last_generation`: the generation after which a slot retires (tests make it small).
fn Table(comptime T: type, comptime last_generation: u32) type {
    assert(last_generation >= 1 and last_generation <= generation_max);
    return struct {
        const Slot = struct {
            pool: std.atomic.Value(?*T) = .init(null),
            generation: std.atomic.Value(u32) = .init(1),
            /// The owning thread of a threadSafety "none" pool, 0 for pools any thread may use.
            /// The owner's calls skip the destroy guard: no other thread may destroy such a pool.
            owner: std.atomic.Value(std.Thread.Id) = .init(0),
        };

        slots: [pools_max]Slot = @splat(.{}),
        /// Where the search for a free slot starts: after the slot taken last.
        next_slot: usize = 0,

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
            if (self.findLocked(name) != null) return status.fail(error.PoolExists, "a pool named '{s}' already exists", .{name});
            const index = self.freeSlotLocked() orelse return self.failFull();
            const pool = try create(std.heap.c_allocator, name, config);
            self.next_slot = (index + 1) % pools_max;
            const handle = handleOf(index, self.slots[index].generation.load(.monotonic));
            if (@hasDecl(T, "published")) pool.published(handle);
            if (T == Pool) installHooks();
            const sole_owner: ?std.Thread.Id = if (@hasDecl(T, "soleOwner")) pool.soleOwner() else null;
            const single_threaded = sole_owner != null;
            self.slots[index].owner.store(sole_owner orelse 0, .monotonic);
            // Only its owner may use or destroy such a pool: it goes when the owner ends (destroyOwned).
            if (single_threaded) {
                thread_exit.hook(.owned_pools, destroyOwnedHook);
                thread_exit.register();
            }
            self.slots[index].pool.store(pool, .release);
            return handle;
        }

        /// A slot with no pool that is not retired, from `next_slot` on, in turn.
        fn freeSlotLocked(self: *@This()) ?usize {
            for (0..pools_max) |step| {
                const index = (self.next_slot + step) % pools_max;
                const slot = &self.slots[index];
                if (slot.pool.load(.monotonic) == null and slot.generation.load(.monotonic) != retired) return index;
            }
            return null;
        }

        fn failFull(self: *@This()) Error {
            var live: u32 = 0;
            for (&self.slots) |*slot| live += @intFromBool(slot.pool.load(.monotonic) != null);
            if (live == pools_max) return status.fail(error.TooManyPools, "no room for another pool: {d} pools exist, the most a process may have at once; destroy one first", .{pools_max});
            return status.fail(error.TooManyPools, "no room for another pool: {d} pools exist and the other {d} slots are retired (each served {d} pools, whose handles must stay refused)", .{ live, pools_max - live, last_generation });
        }

        fn findLocked(self: *@This(), name: []const u8) ?i32 {
            for (&self.slots, 0..) |*slot, index| {
                const pool = slot.pool.load(.monotonic) orelse continue;
                if (std.mem.eql(u8, pool.poolName(), name)) return handleOf(index, slot.generation.load(.monotonic));
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
                return status.fail(error.ThreadMisuse, "pool '{s}' has threadSafety \"none\" and belongs to thread {d}; only that thread may destroy it", .{ pool.poolName(), owner });
            }
            slot.owner.store(0, .monotonic);
            slot.pool.store(null, .release);
            const generation = slot.generation.load(.monotonic);
            assert(generation != retired and generation <= last_generation);
            // Past its last generation the slot retires rather than wraps: never reused.
            slot.generation.store(if (generation == last_generation) retired else generation + 1, .seq_cst);
            pool_guard.waitUntilUnused(table_key | index);
            assert(slot.pool.load(.monotonic) == null);
            return pool;
        }

        /// Removes and destroys every pool `thread` owns (threadSafety "none"); returns how many.
        fn destroyOwnedBy(self: *@This(), thread: std.Thread.Id, table_key: u32) u32 {
            var destroyed: u32 = 0;
            for (&self.slots, 0..) |*slot, index| {
                if (slot.owner.load(.monotonic) != thread) continue;
                const owned = slot.pool.load(.acquire) orelse continue;
                // Written while the pool is still listed: another thread that sees it gone (hasPool)
                // knows its report is out, and may end the process without cutting it short.
                if (T == Pool and thread_end_report.wanted(owned)) thread_end_report.write(owned);
                const handle = handleOf(index, slot.generation.load(.monotonic));
                const pool = self.remove(handle, table_key) catch continue; // taken meanwhile: not ours
                pool.destroy();
                destroyed += 1;
            }
            return destroyed;
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

/// Guard keys: the slot (a key is the slot plus what tells tables apart; there is one table).
const pools_key: u32 = 0;

var pools: Table(Pool, generation_max) = .{};

/// The pool a handle names, or null for a handle that names no live pool.
pub inline fn get(handle: i32) ?*Pool {
    return pools.get(handle);
}

/// The slot of the live pool a handle names (what end_counts.zig keeps a word for), or null.
pub fn slotOf(handle: i32) ?u32 {
    if (pools.get(handle) == null) return null;
    assert(handle > 0); // a live pool's handle
    return @as(u32, @intCast(handle)) & (pools_max - 1);
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

/// Destroys the threadSafety "none" pools the calling thread owns, as it ends:
/// no other thread may use or destroy them, so they would otherwise hold their memory, name and
/// slot for the life of the process. Returns how many.
pub fn destroyOwned() u32 {
    const me = std.Thread.getCurrentId();
    return pools.destroyOwnedBy(me, pools_key);
}

/// What other files reach pools through, set as pools are made: a thread's cached blocks find
/// their pool by handle (thread_cache.zig, and js_cache.zig as its thread ends), a fault on a
/// guard page finds its pool (fault_handler.zig). They take these rather than import this file,
/// which imports the pools.
fn installHooks() void {
    thread_cache.setReturn(returnCachedBlocks);
    js_cache.setFlushRecord(flushJsCacheRecord);
    fault_handler.setFinder(findGuardFault);
}

/// Gives a thread's cached blocks back to the pool `owner` names, if it still lives.
fn returnCachedBlocks(owner: thread_cache.Owner, numbers: []const u32) void {
    // Usually called inside a call on another pool: this one is held as the thread's second.
    defer leave(.secondary);
    const pool = pools.enter(owner.handle, .secondary, pools_key) orelse return; // destroyed: dropped with it
    thread_cache.returnTo(pool, owner, numbers);
}

/// Gives a JavaScript cache record's blocks back to the pool its handle names, if it still lives.
fn flushJsCacheRecord(record: *js_cache.Record) void {
    defer leave(.secondary);
    const pool = pools.enter(record.handle, .secondary, pools_key) orelse return; // destroyed: dropped with it
    js_cache.flushRecordTo(pool, record);
}

/// The pool whose guard page `address` lies on, walking the table without a lock (a fault handler runs this).
fn findGuardFault(address: u64) fault_handler.Finding {
    for (0..pools_max) |slot| {
        const pool = poolAt(slot) orelse continue;
        const finding = fault_handler.inspect(pool, address);
        if (finding != .elsewhere) return finding;
    }
    return .elsewhere;
}

fn destroyOwnedHook() void {
    _ = destroyOwned();
}

/// Writes the handles of every live pool into `out`; returns how many there are.
pub fn list(out: []i32) u32 {
    return pools.list(out);
}

test "a slot retires after its last generation: stale handles stay refused, other slots serve" {
    const Fake = struct {
        name: []u8,
        config: Config,
        const Config = struct {};
        fn create(gpa: std.mem.Allocator, name: []const u8, config: Config) Error!*@This() {
            const self = gpa.create(@This()) catch return error.OutOfMemory;
            self.* = .{ .name = gpa.dupe(u8, name) catch return error.OutOfMemory, .config = config };
            return self;
        }
        fn destroy(self: *@This()) void {
            std.heap.c_allocator.free(self.name);
            std.heap.c_allocator.destroy(self);
        }
        fn poolName(self: *const @This()) []const u8 {
            return self.name;
        }
    };
    const last = 3; // a small generation width, so the test drives a slot past it quickly
    const table = try std.testing.allocator.create(Table(Fake, last));
    defer std.testing.allocator.destroy(table);
    table.* = .{};
    // Always the same slot, as if every other slot were busy: its generations run out.
    var stale: std.ArrayList(i32) = .empty;
    defer stale.deinit(std.testing.allocator);
    for (0..last) |_| {
        table.next_slot = 7;
        const handle = try table.add(Fake.create, "fake-pool-under-test", Fake.Config{});
        try std.testing.expectEqual(@as(i32, 7), handle & (pools_max - 1));
        for (stale.items) |old| try std.testing.expect(table.get(old) == null);
        try stale.append(std.testing.allocator, handle);
        (try table.remove(handle, 2 * pools_max)).destroy();
    }
    try std.testing.expectEqual(retired, table.slots[7].generation.load(.monotonic));
    table.next_slot = 7;
    const next = try table.add(Fake.create, "fake-pool-under-test", Fake.Config{});
    defer (table.remove(next, 2 * pools_max) catch unreachable).destroy();
    try std.testing.expectEqual(@as(i32, 8), next & (pools_max - 1)); // slot 7 is never reused
    for (stale.items) |old| {
        try std.testing.expect(table.get(old) == null);
        try std.testing.expectError(error.PoolNotFound, table.remove(old, 2 * pools_max));
    }
}

test "the real table: a slot at its last generation retires, and its stale handle never names a later pool" {
    const pool_mod = @import("pool.zig");
    const config_mod = @import("config.zig");
    // Age one slot to its last generation directly (2^19 real cycles would take seconds).
    mutex.lock();
    const index = pools.freeSlotLocked().?;
    pools.next_slot = index;
    pools.slots[index].generation.store(generation_max, .monotonic);
    mutex.unlock();
    const handle = try add(pool_mod.Pool.create, "registry-wrap-test", config_mod.testConfig(.variable));
    try std.testing.expectEqual(@as(u32, generation_max), @as(u32, @intCast(handle)) >> slot_bits);
    (try remove(handle)).destroy();
    try std.testing.expect(get(handle) == null);
    mutex.lock();
    pools.next_slot = index;
    mutex.unlock();
    const later = try add(pool_mod.Pool.create, "registry-wrap-test", config_mod.testConfig(.variable));
    defer (remove(later) catch unreachable).destroy();
    try std.testing.expect(@as(u32, @intCast(later)) & (pools_max - 1) != index);
    try std.testing.expect(get(handle) == null);
    try std.testing.expect(enter(handle, .primary) == null);
    leave(.primary);
}

test "a threadSafety \"none\" pool goes when the thread that made it ends: no other thread could ever destroy it" {
    const pool_mod = @import("pool.zig");
    const config_mod = @import("config.zig");
    const Maker = struct {
        fn run(handle: *i32) void {
            handle.* = add(pool_mod.Pool.create, "registry-orphan-test", config_mod.testConfig(.variable)) catch -1;
        }
    };
    var handle: i32 = -1;
    const thread = try std.Thread.spawn(.{}, Maker.run, .{&handle});
    thread.join();
    try std.testing.expect(handle >= 0);
    try std.testing.expect(get(handle) == null); // destroyed as its owner ended
    try std.testing.expect(find("registry-orphan-test") == null);
    // A pool this thread owns stays while it lives.
    const mine = try add(pool_mod.Pool.create, "registry-orphan-test", config_mod.testConfig(.variable));
    defer (remove(mine) catch unreachable).destroy();
    try std.testing.expect(get(mine) != null);
}
