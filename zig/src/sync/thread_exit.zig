//! What a thread leaves behind when it ends: the blocks in its caches go back to their pools,
//! the threadSafety "none" pools it owns are destroyed (no other thread may use or destroy them),
//! and its pool-guard record goes back for another thread. A pthread key's destructor runs
//! this as the thread exits (thread-local variables are still there then); a Bun Worker's
//! JavaScript side also calls `mp_thread_flush` as it closes, which is the same minus the record.
//!
//! This file knows none of them: each module that leaves something behind sets its hook (`hook`)
//! before the first thread can need it (the caches when a pool that has them is made, the
//! registry when it hands out a "none" pool, the pool guard when it makes a thread's record),
//! and the hooks run in the order of `Hook`: caches first (their blocks go back to live pools),
//! then owned pools, then the guard record (destroying a pool needs none, but a flush enters one).
const std = @import("std");
const assert = std.debug.assert;

pub const Hook = enum { core_caches, js_caches, owned_pools, guard_record };

var hooks: [@typeInfo(Hook).@"enum".fields.len]std.atomic.Value(?*const fn () void) = @splat(.init(null));

var key: std.c.pthread_key_t = undefined;
var key_made = std.once(makeKey);
var key_ok = false;
threadlocal var registered = false;

fn makeKey() void {
    key_ok = std.c.pthread_key_create(&key, onExit) == .SUCCESS;
}

fn onExit(_: *anyopaque) callconv(.c) void {
    for (&hooks) |*slot| {
        if (slot.load(.acquire)) |run| run();
    }
}

/// Sets what `which` runs as a thread ends (the same function each time it is set: a hook is
/// one module's, set where that module first has something to leave behind).
pub fn hook(which: Hook, run: *const fn () void) void {
    const previous = hooks[@intFromEnum(which)].swap(run, .acq_rel);
    assert(previous == null or previous == run);
}

/// Asks for the hooks when the calling thread ends. Cold: once per thread.
pub fn register() void {
    if (registered) return;
    key_made.call();
    if (!key_ok) return; // no key left: the thread's record and caches stay with it (bounded by threads)
    // Any non-null value: the destructor runs only for threads whose value is not null.
    registered = std.c.pthread_setspecific(key, @ptrFromInt(1)) == 0;
}

test "the hooks run in their order as a registered thread ends, each once" {
    const Seen = struct {
        var order: [4]u8 = undefined;
        var count: usize = 0;
        fn note(comptime tag: u8) *const fn () void {
            return &struct {
                fn run() void {
                    order[count] = tag;
                    count += 1;
                }
            }.run;
        }
    };
    const saved = hooks;
    defer hooks = saved;
    hooks = @splat(.init(null));
    hook(.guard_record, Seen.note('g'));
    hook(.core_caches, Seen.note('c'));
    hook(.guard_record, Seen.note('g')); // set again: the same hook
    const thread = try std.Thread.spawn(.{}, register, .{});
    thread.join();
    try std.testing.expectEqualStrings("cg", Seen.order[0..Seen.count]);
}
