//! What a thread leaves behind when it ends: the blocks in its caches go back to their pools,
//! the threadSafety "none" pools it owns are destroyed (no other thread may use or destroy them),
//! and its pool-guard record goes back for another thread. A pthread key's destructor runs
//! this as the thread exits (thread-local variables are still there then); a Bun Worker's
//! JavaScript side also calls `mp_thread_flush` as it closes, which is the same minus the record.
const std = @import("std");
const assert = std.debug.assert;
const thread_cache = @import("thread_cache.zig");
const js_cache = @import("js_cache.zig");
const pool_guard = @import("pool_guard.zig");

var key: std.c.pthread_key_t = undefined;
var key_made = std.once(makeKey);
var key_ok = false;
threadlocal var registered = false;

fn makeKey() void {
    key_ok = std.c.pthread_key_create(&key, onExit) == .SUCCESS;
}

fn onExit(_: *anyopaque) callconv(.c) void {
    thread_cache.flushAll();
    js_cache.flushThread();
    _ = @import("../registry.zig").destroyOwned();
    pool_guard.releaseRecord();
}

/// Asks for `onExit` when the calling thread ends. Cold: once per thread.
pub fn register() void {
    if (registered) return;
    key_made.call();
    if (!key_ok) return; // no key left: the thread's record and caches stay with it (bounded by threads)
    // Any non-null value: the destructor runs only for threads whose value is not null.
    registered = std.c.pthread_setspecific(key, @ptrFromInt(1)) == 0;
}
