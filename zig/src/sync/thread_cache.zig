//! Per-thread caches of free blocks in front of a shared fixed-size pool, in the manner of
//! tcmalloc's and mimalloc's: a thread allocates from and frees into its own magazine with no
//! atomic read-modify-write on shared memory, and meets the shared pool once per `batch_blocks`
//! operations (one pop batch, or one push of a whole chain, under the pool's lock or lock-free).
//!
//! A block in a magazine is free as far as the pool is concerned: its state word says freed (so a
//! second free of it is a double free) and statistics count it free. Blocks have no owning thread:
//! a block freed by another thread than the one that allocated it simply joins the freeing
//! thread's magazine, so a remote free takes no lock and no message (unlike mimalloc, whose pages
//! belong to threads, there is nothing to hand back).
//!
//! A thread has `ways` magazines, chosen by the pool's registry slot; a magazine that another pool
//! needs is flushed first. Magazines go back to their pools when the thread ends (thread_exit.zig);
//! a destroyed pool's magazines are dropped, since its memory went with it.
const std = @import("std");
const assert = std.debug.assert;
const LockFreeFixed = @import("lockfree_fixed.zig").LockFreeFixed;

pub const magazine_blocks = 64;
pub const batch_blocks = magazine_blocks / 2;
const ways = 8;

/// Which pool a magazine holds blocks of: its handle (to find it again) and its serial (never
/// reused, so a pool that takes the handle's slot later is not mistaken for it).
pub const Owner = struct { handle: i32, serial: u64 };

const Magazine = struct {
    owner: Owner = .{ .handle = -1, .serial = 0 },
    count: u32 = 0,
    numbers: [magazine_blocks]u32 = undefined,
};

threadlocal var magazines: [ways]Magazine = @splat(.{});

fn magazineFor(owner: Owner) *Magazine {
    assert(owner.handle >= 0 and owner.serial != 0);
    const magazine = &magazines[@as(u32, @intCast(owner.handle)) % ways];
    if (magazine.owner.serial != owner.serial) {
        flush(magazine);
        magazine.owner = owner;
    }
    return magazine;
}

/// A free block's number from the thread's magazine, refilled from `fixed` when empty; null when
/// the shared pool has none either.
pub fn take(owner: Owner, fixed: *LockFreeFixed) ?u32 {
    const magazine = magazineFor(owner);
    if (magazine.count == 0) {
        magazine.count = @intCast(fixed.popBatch(magazine.numbers[0..batch_blocks]));
        if (magazine.count == 0) return null;
    }
    magazine.count -= 1;
    return magazine.numbers[magazine.count];
}

/// Keeps a block just marked freed; a full magazine first gives half its blocks back.
pub fn give(owner: Owner, fixed: *LockFreeFixed, number: u32) void {
    const magazine = magazineFor(owner);
    if (magazine.count == magazine_blocks) {
        fixed.pushBatch(magazine.numbers[batch_blocks..magazine_blocks]);
        magazine.count = batch_blocks;
    }
    magazine.numbers[magazine.count] = number;
    magazine.count += 1;
}

/// How a magazine's blocks find their pool by its handle: set by the registry, which holds the
/// pools (this file does not import it: the registry's pools hold magazines of this file).
var return_blocks = std.atomic.Value(?*const fn (owner: Owner, numbers: []const u32) void).init(null);

pub fn setReturn(give_back: *const fn (owner: Owner, numbers: []const u32) void) void {
    const previous = return_blocks.swap(give_back, .acq_rel);
    assert(previous == null or previous == give_back);
}

/// Gives the magazine's blocks back to its pool (if that pool still lives), leaving it empty.
fn flush(magazine: *Magazine) void {
    defer magazine.count = 0;
    if (magazine.count == 0) return;
    // Unset only where no pool was ever registered (a unit test's pool): none to find, dropped.
    const give_back = return_blocks.load(.acquire) orelse return;
    give_back(magazine.owner, magazine.numbers[0..magazine.count]);
}

/// Pushes `numbers`, cached from the pool `owner` named, to `pool` (which now holds the handle)
/// if it is that pool still: a pool of another kind, or a later one, is not ours.
pub fn returnTo(pool: anytype, owner: Owner, numbers: []const u32) void {
    const shared = pool.sharedFixed() orelse return;
    if (shared.serial != owner.serial) return;
    shared.fixed.pushBatch(numbers);
}

/// Gives the calling thread's cached blocks of `owner` back to `fixed`, inside a call on that
/// pool (a run of blocks is gathered from the shared stack); returns how many.
pub fn giveBack(owner: Owner, fixed: *LockFreeFixed) u32 {
    const magazine = &magazines[@as(u32, @intCast(owner.handle)) % ways];
    if (magazine.owner.serial != owner.serial or magazine.count == 0) return 0;
    const count = magazine.count;
    fixed.pushBatch(magazine.numbers[0..count]);
    magazine.count = 0;
    return count;
}

/// Gives every magazine of the calling thread back to its pool.
pub fn flushAll() void {
    for (&magazines) |*magazine| flush(magazine);
}
