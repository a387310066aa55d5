//! The journal of a PMEM pool: what makes the one Pool (pool.zig) persistent. It holds the
//! allocation table (table.zig), the named roots (roots.zig), the redo log (redo_log.zig) and the
//! links (links.zig), over the file the PMEM backend mapped (backend/pmem_file.zig).
//!
//! It meets the pool at the place/release seam every layer uses: before a placement (`reserve`),
//! after it (`notePlaced`), before a release (`beforeRelease`) and after it (`released`), and at a
//! reset. Its own operations (roots, links, durable copies) are handed the pool and use only what
//! the pool offers every layer: its lock, the live block at an offset, an allocation and a free
//! under the lock, the list of live blocks. Recovery (`recover`) rebuilds the pool's placement
//! from the table.
//!
//! Commit protocol (table.zig): an allocation is placed in DRAM only ("unpublished"); it becomes
//! durable when a root or link publishes it, its record written in the same crash-atomic step
//! (the redo log), or when the caller commits it on its own (`commitUnpublished`). A crash before
//! leaves it free: nothing leaks.
const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const Error = status.Error;
const host_registration = @import("../gpu/host_registration.zig");
const checkpoint = @import("../gpu/checkpoint.zig");
const Placement = @import("../strategy/placement.zig").Placement;
const Tlsf = @import("../strategy/tlsf.zig").Tlsf;
const Live = Tlsf.Live;
const Region = @import("../arena.zig").Region;
const PmemFile = @import("../backend/pmem_file.zig").PmemFile;
const crash_points = @import("crash_points.zig");
const format = @import("format.zig");
const Media = @import("media.zig").Media;
const table_mod = @import("table.zig");
const Table = table_mod.Table;
const redo_log = @import("redo_log.zig");
const roots_mod = @import("roots.zig");
const Roots = roots_mod.Roots;
const links = @import("links.zig");

const granule_bytes = format.granule_bytes;

/// Why the last open on this thread was refused as a format problem (mp_pmem_last_reason).
pub threadlocal var last_reason: format.Reason = .none;

pub const Journal = struct {
    /// For the journal itself and the temporaries of its walks.
    gpa: std.mem.Allocator,
    file: *PmemFile,
    media: *Media,
    header: format.Header,
    table: Table,
    roots: Roots,
    /// The mapping's registration with the CUDA driver, made by the first GPU copy that wants it.
    dma: host_registration.State = .unknown,
    /// Which blocks a link word may name (links.zig Named): what keeps a linked block from being
    /// freed while a link still names it.
    named: links.Named = .{},
    /// Small ranges persisted or flushed whose link words are noted in `named` only when it is
    /// next read (links.zig Unscanned); under the pool's lock.
    unscanned: links.Unscanned = .{},
    /// Which heap pages may hold a link word (links.zig Pages): what a free reads of its block.
    pages: links.Pages = .{},

    /// A journal over `file`, whose first bytes hold `header` (validated); `table_gpa` holds the
    /// table's DRAM maps (pmem/dram.zig: huge pages, for recovery's speed).
    pub fn create(gpa: std.mem.Allocator, table_gpa: std.mem.Allocator, file: *PmemFile, header: format.Header) ?*Journal {
        assert(header.file_bytes == file.mapped.len);
        const self = gpa.create(Journal) catch return null;
        self.* = .{ .gpa = gpa, .file = file, .media = &file.media, .header = header, .table = undefined, .roots = Roots.init(&file.media) };
        // A file just made is zeros; an opened one may hold link words anywhere, in free space too
        // (a free's clearing of them is not persisted, and a crash keeps what a lost block held).
        self.pages = links.Pages.init(gpa, header.heap_offset, header.heap_bytes, !file.created) catch {
            gpa.destroy(self);
            return null;
        };
        self.table = Table.init(table_gpa, self.media, &self.header);
        return self;
    }

    /// Makes what is deferred durable and lets the file's registrations go: before the mapping goes.
    pub fn finish(self: *Journal) void {
        crash_points.untrack(@intFromPtr(self.file.mapped.base));
        host_registration.unregister(&self.dma, self.file.mapped.base);
        // Unpublished allocations never reached the file: they are free when it is opened again.
        // What is deferred (the redo log's emptied count word) becomes durable before the file goes.
        self.media.drain();
    }

    pub fn destroy(self: *Journal) void {
        self.named.deinit(self.gpa);
        self.pages.deinit(self.gpa);
        self.table.deinit();
        self.gpa.destroy(self);
    }

    pub fn sizeMax(self: *const Journal) u64 {
        return self.table.sizeMax();
    }

    /// The heap's part that placement uses, in bytes from the file's start: the arena's one region.
    pub fn regionBytes(self: *const Journal) struct { u64, u64 } {
        const heap = self.table.region();
        return .{ @as(u64, heap.start) * granule_bytes, @as(u64, heap.len) * granule_bytes };
    }

    // ---- recovery ----

    /// Finishes a committed redo log, rebuilds `placement` (empty) over `heap` (the arena's region)
    /// from the table, and loads the roots. Validates before it writes: a damaged file is refused
    /// as it was. `next_id` numbers the live allocations found.
    pub fn recover(self: *Journal, placement: *Placement, heap: Region, next_id: *u32) Error!Table.Restored {
        var problem: format.Problem = undefined;
        const targets: redo_log.Targets = .{ .header = &self.header };
        const pending = redo_log.pending(self.media, targets, &problem) catch return self.refuse(&problem);
        // Apply the log in place (not yet durable) so the checks below see its result; undone on failure.
        var previous: [redo_log.entries_max]u64 = undefined;
        if (pending) |entries| {
            for (entries, previous[0..entries.len]) |entry, *old| {
                const word: *u64 = @ptrCast(@alignCast(self.media.base + entry.offset));
                old.* = word.*;
                word.* = entry.value;
            }
        }
        const restored = self.table.restore(placement, heap, next_id, &problem) catch |err| {
            self.undo(pending, &previous);
            return if (err == error.OutOfMemory) outOfMemory() else self.refuse(&problem);
        };
        const LiveCheck = struct {
            table: *const Table,
            placement: *const Placement,
            pub fn check(live: @This(), g: u32) bool {
                return live.table.lookup(live.placement, g) != null;
            }
        };
        self.roots.load(LiveCheck{ .table = &self.table, .placement = placement }, &problem) catch {
            self.undo(pending, &previous);
            return self.refuse(&problem);
        };
        if (pending) |entries| redo_log.replay(self.media, entries);
        crash_points.track(@intFromPtr(self.file.mapped.base), self.file.mapped.len);
        return restored;
    }

    fn undo(self: *Journal, pending: ?[]const redo_log.Entry, previous: []const u64) void {
        const entries = pending orelse return;
        // Backwards, so a word named twice gets its first value back.
        var index = entries.len;
        while (index > 0) {
            index -= 1;
            const word: *u64 = @ptrCast(@alignCast(self.media.base + entries[index].offset));
            word.* = previous[index];
        }
    }

    fn refuse(self: *Journal, problem: *const format.Problem) Error {
        last_reason = problem.reason;
        return status.fail(error.PmemFormat, "'{s}': {s}", .{ self.file.path, problem.message() });
    }

    // ---- the place/release seam (the pool calls these under its lock) ----

    /// Before the pool places `size` bytes: a record will be there for the block.
    pub fn reserve(self: *Journal, placement: *const Placement, pool_name: []const u8) Error!void {
        self.table.reserve(placement) catch |err| return self.failReserve(err, pool_name);
    }

    /// `reserve` for a Variable pool placed without the pool's lock, under the lock of the shard
    /// whose TLSF, `tlsf`, is about to place (pmem/shared_journal.zig).
    pub fn reserveIn(self: *Journal, tlsf: *const Tlsf, pool_name: []const u8) Error!void {
        self.table.reserveIn(tlsf) catch |err| return self.failReserve(err, pool_name);
    }

    fn failReserve(self: *const Journal, err: Table.ReserveError, pool_name: []const u8) Error {
        return switch (err) {
            error.OutOfMemory => outOfMemory(),
            error.TableFull => status.fail(error.OutOfMemory, "PMEM pool '{s}' holds {d} allocations, all its table has room for (one per {d} heap bytes): free some, or use a FixedSize pool for many small blocks", .{ pool_name, self.header.table_capacity, format.heap_bytes_per_record }),
        };
    }

    /// The pool placed a block at `g` (unpublished until a root or link names it).
    pub fn notePlaced(self: *Journal, placement: *const Placement, g: u32) void {
        self.table.notePlaced(placement, g);
    }

    /// Why nothing could be placed: a PMEM pool's size is its file's.
    pub fn failNoRoom(self: *const Journal, pool_name: []const u8, size: u64, free_bytes: u64) Error {
        return status.fail(error.OutOfMemory, "PMEM pool '{s}' cannot place {d} bytes: {d} of its {d} heap bytes are free, none in one piece large enough (a PMEM pool's size is its file's: make it with a larger initialSize)", .{ pool_name, size, free_bytes, self.header.heap_bytes });
    }

    /// Before the pool releases the block at `g` of `pool` (under its lock): refused where a root
    /// publishes it, or a link names it. Only a published block can be published by a root (its
    /// record is written in the root's step) or named by a link (link() publishes its child), so
    /// an unpublished one's free (every free of a block nothing published) reads nothing more.
    pub fn beforeRelease(self: *Journal, pool: anytype, g: u32) Error!void {
        const published = self.publishedLocked(pool, g) orelse return; // no live block: the placement says what g is
        try self.checkFile(pool); // the record was read from the file: where it was cut short, a zero page's word
        if (!published) return;
        if (self.roots.publishing(g)) |index| {
            return status.fail(error.PmemRoot, "the allocation at offset {d} of PMEM pool '{s}' is published as root '{s}': remove the root first (setRoot(\"{s}\", null)), or free it with setRoot(\"{s}\", null, {{ freePrevious: true }})", .{ @as(u64, g) * granule_bytes, pool.poolName(), self.roots.name(index), self.roots.name(index), self.roots.name(index) });
        }
        try self.refuseIfLinked(pool, g, null, "cannot free");
    }

    /// Whether the live block at `g` of `pool` is published (its record is in the file), or null
    /// where no live block starts there; under the pool's lock. One lookup and one load: what a
    /// cache of freed blocks asks before it keeps one (an unpublished block's free touches no
    /// file state; a published one's must reach the journal, which zeroes its record durably).
    pub fn publishedLocked(self: *const Journal, pool: anytype, g: u32) ?bool {
        const slot = self.liveSlot(pool, g) orelse return null;
        return self.table.isPublished(slot);
    }

    /// The record slot of the live block at `g` of `pool`, or null where none starts there. A
    /// fixed-size block's record is its own slot, so the pool says only whether the block is live
    /// (whichever placement it has: its own under its lock, or the shared one, shared_journal.zig);
    /// a Variable pool's is where the table put it.
    pub fn liveSlot(self: *const Journal, pool: anytype, g: u32) ?u32 {
        if (self.table.kind == .fixed_size) {
            _ = pool.liveLocked(g) orelse return null;
            return self.table.fixedSlot(g);
        }
        // Placed without the pool's lock: the slots are kept under the home shard's (shared_journal.zig).
        if (pool.shardedVariable()) |sharded| return sharded.readLive(g, SlotReader{ .table = &self.table }) orelse null;
        return self.table.slotOf(pool.placementLocked(), g);
    }

    /// The record slot of the live block at a granule, read under its shard's lock.
    const SlotReader = struct {
        table: *const Table,
        pub const Result = ?u32;
        pub fn read(reader: SlotReader, tlsf: *const Tlsf, g: u32) ?u32 {
            return reader.table.slotIn(tlsf, g);
        }
    };

    /// Before a publication of the live block at `g` (allocation `expected_id`, 0: any) writes
    /// its record, under the pool's lock: in a Variable pool placed without that lock, the block
    /// is claimed under its shard's lock (table.zig `pinned`), so that its free, from here on,
    /// waits for the pool's lock instead of giving its slot and space back under the publication
    /// (pmem/shared_journal.zig). Refused where the block was freed since the caller found it
    /// live: nothing is published then. Other pools need nothing: their frees of an unpublished
    /// block take the pool's lock, or (FixedSize, placed without it) find its record in its own
    /// slot, which no other block shares.
    pub fn claim(self: *Journal, pool: anytype, g: u32, expected_id: u32, comptime action: []const u8) Error!void {
        const sharded = pool.shardedVariable() orelse return;
        assert(self.table.kind == .variable and g != 0);
        const Claim = struct {
            table: *Table,
            id: u32,
            pub const Result = bool;
            pub fn read(claiming: @This(), tlsf: *const Tlsf, at: u32) bool {
                const live = tlsf.lookup(at) orelse return false;
                if (claiming.id != 0 and live.id != claiming.id) return false;
                claiming.table.pin(claiming.table.slotIn(tlsf, at).?);
                return true;
            }
        };
        if (sharded.readLive(g, Claim{ .table = &self.table, .id = expected_id }) orelse false) return;
        return status.fail(error.UseAfterFree, "cannot " ++ action ++ " the allocation at offset {d} of PMEM pool '{s}': another thread freed it meanwhile", .{ @as(u64, g) * granule_bytes, pool.poolName() });
    }

    /// Bytes of a block whose words a lock-free free reads for link words where its pages may
    /// hold some (every page of a file opened again): reading them costs less than the lock.
    const quiet_scan_bytes_max = 4096;

    /// Whether the free of the block at `g` of a FixedSize pool placed without the pool's lock
    /// (shared_journal.zig) needs nothing of the journal, read without the lock: the block is
    /// unpublished (its record is 0: the free touches no durable state) and holds no link word
    /// (none of its pages is marked, or, for a block of up to `quiet_scan_bytes_max`, none of its
    /// words is one), so there is nothing to refuse, zero or clear. True too where no live block
    /// starts at `g`: the placement then says why.
    pub fn freesQuietly(self: *const Journal, pool: anytype, g: u32) bool {
        const slot = self.table.fixedSlot(g) orelse return true;
        if (self.table.isPublished(slot)) return false;
        const live = pool.liveLocked(g) orelse return true;
        return self.holdsNoLinkWord(g, live.requested_bytes);
    }

    /// Whether the `requested_bytes` of the block at `g` are known to hold no link word without
    /// the pool's lock: none of their pages is marked, or, for a block of up to
    /// `quiet_scan_bytes_max`, none of their words is one.
    pub fn holdsNoLinkWord(self: *const Journal, g: u32, requested_bytes: u64) bool {
        const start = @as(usize, g) * granule_bytes;
        const bytes: usize = @intCast(requested_bytes / links.word_bytes * links.word_bytes);
        if (!self.pages.anyMarked(start, bytes)) return true;
        if (bytes > quiet_scan_bytes_max) return false;
        const words: [*]const u64 = @ptrCast(@alignCast(self.media.base + start));
        return links.firstLinkInto(words[0 .. bytes / links.word_bytes], self.linkTargets()) == null;
    }

    /// The pool released the live block at `g` (`record`: FreeResult.freed.record), still under
    /// its lock: where the block was published its record is zeroed, durably, before the space
    /// can be placed again; an unpublished block's free never touches the file.
    pub fn released(self: *Journal, g: u32, record: u32) void {
        self.table.released(g, record);
    }

    /// Zeroes the link words in the `requested_bytes` at `g`, a block the pool has just freed (its
    /// free durable, under the lock still, so no one has placed anything there yet). Freed space
    /// keeps its bytes: a block placed there later would carry the old words until its new owner
    /// overwrote them, and as every live block's words are read when a free asks whether a link
    /// names its block (wordNaming), a free of what they named would be refused meanwhile, though
    /// nothing links to it (Workers building lists on one pool saw this). Only the block's pages
    /// that may hold a link word are read (links.zig Pages): the cost is the pages that held links,
    /// not the block's size. Not persisted: a free block's bytes are no one's, and recovery reads
    /// live blocks only. After the free, never before: a crash between would have left a live
    /// block without its links.
    pub fn dropLinkWords(self: *Journal, g: u32, requested_bytes: u64) void {
        assert(g != 0);
        const start = @as(usize, g) * granule_bytes;
        const bytes: usize = @intCast(requested_bytes / links.word_bytes * links.word_bytes);
        if (bytes == 0) return;
        var parts = self.pages.marked(start, bytes);
        while (parts.next()) |part| {
            const from, const to = part;
            const words: [*]u64 = @ptrCast(@alignCast(self.media.base + from));
            const some = words[0 .. (to - from) / links.word_bytes];
            var found = links.linkWords(some, self.linkTargets());
            while (found.next()) |at| some[at] = 0;
        }
        self.pages.clearInside(start, bytes);
    }

    /// Before the pool resets its placement: every root and record goes, durably (roots first, so
    /// none is left dangling).
    pub fn reset(self: *Journal) void {
        self.named.forget(self.gpa);
        self.unscanned.clear();
        self.roots.clear(self.media);
        self.table.reset();
    }

    /// Refuses (PmemFile) once the file was found cut short under the mapping: what the pool
    /// writes no longer reaches it (pmem/truncation.zig). Checked when a PMEM call starts and
    /// before it says it succeeded.
    pub fn checkFile(self: *const Journal, pool: anytype) Error!void {
        if (!self.file.lost()) return;
        return status.fail(error.PmemFile, "the file of PMEM pool '{s}' ('{s}') was cut short while the pool was open (truncated or overwritten): what lay past its new end is lost, and nothing written since reaches the file; close the pool (opening the file again says what is left of it)", .{ pool.poolName(), self.file.path });
    }

    // ---- durability of user data ----

    fn checkRange(self: *const Journal, pool_name: []const u8, offset: f64, len: f64) Error!struct { usize, usize } {
        const heap_start: f64 = @floatFromInt(self.header.heap_offset);
        const file_end: f64 = @floatFromInt(self.header.file_bytes);
        if (!(offset >= heap_start and len >= 0 and offset == @floor(offset) and len == @floor(len) and offset + len <= file_end)) {
            return status.fail(error.InvalidPointer, "the range of {d} bytes at offset {d} is not inside the heap of PMEM pool '{s}' (offsets {d} to {d})", .{ len, offset, pool_name, heap_start, file_end });
        }
        return .{ @intFromFloat(offset), @intFromFloat(len) };
    }

    /// What a write-back of a range does: `persist` waits until it is durable; `flush` only starts
    /// writing it back (a drain waits).
    pub const WriteBack = enum { persist, flush };

    /// Writes `len` bytes at byte `offset` of the file back (a view's range: checked against the
    /// heap, which never moves). Takes the pool's lock only for noteLaterLocked.
    pub fn writeBack(self: *Journal, pool: anytype, comptime how: WriteBack, offset: f64, len: f64) Error!void {
        const start, const bytes = try self.checkRange(pool.poolName(), offset, len);
        if (pool.placesWithoutLock()) return self.writeBackRange(pool, how, start, bytes, false, 0); // see allocationRangeNotingLater
        pool.lock();
        const links_noted = self.noteLaterLocked(pool, start, bytes);
        pool.unlock();
        self.writeBackRange(pool, how, start, bytes, links_noted, 0);
    }

    /// Writes the `bytes` at `start` of the file back, noting the link words in them first unless
    /// `links_noted` (they are, or will be, noted otherwise: allocationRangeNotingLater). `block`:
    /// the live block the range lies in (0: a range of the file, its block not known).
    fn writeBackRange(self: *Journal, pool: anytype, comptime how: WriteBack, start: usize, bytes: usize, links_noted: bool, block: u32) void {
        switch (how) {
            .persist => if (links_noted) self.media.persist(start, bytes) else self.persistNotingLinks(pool, start, bytes, block),
            .flush => {
                if (!links_noted) self.noteWrittenLinks(pool, start, bytes, block);
                self.media.flush(start, bytes);
            },
        }
    }

    pub fn drain(self: *Journal) void {
        self.media.drain();
    }

    /// Copies `len` bytes from `source` to byte `offset` of the file and makes them durable: for
    /// copy(), whose caller has bounded the range by its destination; this checks the heap.
    pub fn memcpyPersist(self: *Journal, pool: anytype, offset: f64, source: [*]const u8, len: f64) Error!void {
        const start, const bytes = try self.checkRange(pool.poolName(), offset, len);
        self.media.memcpyPersist(start, source[0..bytes]);
        self.noteWrittenLinks(pool, start, bytes, 0);
    }

    /// Notes in `named` each live block that a link word in the `bytes` at `start` of the file
    /// names. Bytes written from outside the pool and persisted (memcpyPersist, copy(), a view then
    /// persist(), a device checkpoint) may hold link words no link() wrote: a node copied from a
    /// replica pool, or bytes saved before the file was reopened. Unnoted, such a word let its
    /// target be freed and then named the block's next allocation. Runs at every persist, so the
    /// scan costs next to nothing for other data (links.firstLinkInto); it takes the pool's lock
    /// only where a word is a link into the heap (one chance in 2^32 for other data). A persist
    /// scans before it flushes: the bytes are then still in the cache.
    fn noteWrittenLinks(self: *Journal, pool: anytype, start: usize, bytes: usize, block: u32) void {
        const words = self.wordsWritten(start, bytes);
        const first = links.firstLinkInto(words, self.linkTargets()) orelse return;
        pool.lock();
        defer pool.unlock();
        _ = self.noteLinksLocked(pool, words[first..]); // it holds one: firstLinkInto found it
        self.linksWrittenLocked(pool, block, start, bytes);
    }

    /// Makes the `bytes` at `start` of the file durable, noting the link words in them as
    /// noteWrittenLinks does. Each part of the range is scanned just before it is flushed, by the
    /// thread that flushes it: the bytes are still in the cache (a flush evicts them), and a large
    /// range is scanned on as many cores as it is flushed (read after its flush, one thread
    /// scanning 64 MiB took 10 to 20 times the persist). Where a part holds a link word, the words
    /// are noted under the lock after the persist.
    fn persistNotingLinks(self: *Journal, pool: anytype, start: usize, bytes: usize, block: u32) void {
        var scan: LinkScan = .{ .journal = self, .start = start, .bytes = bytes };
        self.media.persistVisiting(start, bytes, &scan, LinkScan.part);
        if (!scan.found.load(.monotonic)) return;
        pool.lock();
        defer pool.unlock();
        if (self.noteWrittenLinksLocked(pool, start, bytes)) self.linksWrittenLocked(pool, block, start, bytes);
    }

    /// Looks for a link word in the parts of a range being persisted (persistVisiting's visitor).
    const LinkScan = struct {
        journal: *const Journal,
        start: usize,
        bytes: usize,
        found: std.atomic.Value(bool) = .init(false),

        fn part(scan: *LinkScan, offset: usize, len: usize) void {
            const words = scan.journal.wordsBeginningIn(scan.start, scan.bytes, offset, offset + len);
            if (links.firstLinkInto(words, scan.journal.linkTargets()) != null) scan.found.store(true, .monotonic);
        }
    };

    /// noteWrittenLinks for a caller that holds the pool's lock: whether the range holds a link word.
    fn noteWrittenLinksLocked(self: *Journal, pool: anytype, start: usize, bytes: usize) bool {
        return self.noteLinksLocked(pool, self.wordsWritten(start, bytes));
    }

    /// Link words were written into the `bytes` at `start`, in the live block at `block` (0: not
    /// known: a view's range, or a range noted late), under the pool's lock. A block JavaScript's
    /// bins manage would be freed into them and handed out again with its words (its free never
    /// reaches the journal, which clears them: dropLinkWords), and its next owner would carry
    /// them: a free of what they name refused under it, a stale link honoured by linked(). So a
    /// live block holding them leaves the bins (its free comes here), and a word in a block the
    /// bins hold freed is cleared now (the block is no one's).
    ///
    /// Not covered: a small range noted late (`unscanned`) whose block was freed into the bins and
    /// taken again from them before the range was read, with no call into the core between: its
    /// words are then in its new owner's block, which leaves the bins when the range is read.
    /// Reading a small range at its persist would close this, at the cost of a line read from
    /// memory in every persist of a block the bins manage (clwb evicted it): 30-40 ns, the
    /// allocate + persist + free goal's margin (bench/RESULTS.md, session 5 pmemone).
    fn linksWrittenLocked(self: *Journal, pool: anytype, block: u32, start: usize, bytes: usize) void {
        if (!pool.hasBins()) return;
        if (block != 0) return pool.leaveBinsLocked(block);
        const first, const end = links.wordsOfPart(start, bytes, start, start + bytes);
        const words: [*]u64 = @ptrCast(@alignCast(self.media.base + first));
        const some = words[0 .. (end - first) / links.word_bytes];
        var found = links.linkWords(some, self.linkTargets());
        while (found.next()) |at| {
            const granule: u32 = @intCast((first + at * links.word_bytes) / granule_bytes);
            const holder = pool.binsHolderLocked(granule) orelse continue;
            if (holder.binned) some[at] = 0 else pool.leaveBinsLocked(holder.g);
        }
    }

    /// Notes in `named` each live block a link word of `words` (words of the file) names, and
    /// marks the pages that hold them (under the pool's lock): whether `words` hold one.
    fn noteLinksLocked(self: *Journal, pool: anytype, words: []const u64) bool {
        var found = links.linkWords(words, self.linkTargets());
        var any = false;
        while (found.next()) |at| {
            any = true;
            self.pages.mark(@intFromPtr(&words[at]) - @intFromPtr(self.media.base), links.word_bytes);
            if (!self.named.known) continue; // the scan at the first need will find the words
            const target: u32 = @truncate(words[at]);
            if (self.liveSlot(pool, target)) |slot| self.named.noteKnown(slot);
        }
        return any;
    }

    /// The granules a link word can name: the heap's.
    fn linkTargets(self: *const Journal) links.Targets {
        return .{ .start = self.table.heap_start, .end = self.table.heap_end };
    }

    /// The 8-byte words (where link words lie) that the `bytes` at `start` of the file touch: a
    /// word of which the range holds only a part is one too. A link word can be made durable by
    /// persists that each hold only part of it (two halves, or ranges that start or end inside it),
    /// and such a word, left out, let its target be freed under a durable link.
    fn wordsWritten(self: *const Journal, start: usize, bytes: usize) []const u64 {
        return self.wordsBeginningIn(start, bytes, start, start + bytes);
    }

    /// The words that the `bytes` at `start` of the file touch (wordsWritten) and that begin in
    /// [from, to), where the range's first part (from = start) also takes the word the range starts
    /// inside: parts of the range, however it is split, each take every word once (one that
    /// crosses into the next part is the part's where it begins).
    fn wordsBeginningIn(self: *const Journal, start: usize, bytes: usize, from: usize, to: usize) []const u64 {
        assert(start >= self.header.heap_offset and start + bytes <= self.header.file_bytes);
        assert(start <= from and from <= to and to <= start + bytes);
        // The heap and the file end on whole words: a touched word never reaches past either.
        assert(self.header.heap_offset % links.word_bytes == 0 and self.header.file_bytes % links.word_bytes == 0);
        const first, const end = links.wordsOfPart(start, bytes, from, to);
        if (end <= first) return &.{};
        assert(first >= self.header.heap_offset and end <= self.header.file_bytes);
        const words: [*]const u64 = @ptrCast(@alignCast(self.media.base + first));
        return words[0 .. (end - first) / links.word_bytes];
    }

    /// Writes `len` bytes at byte `at` of the live allocation at `g` of `pool` back (with
    /// `expected_id` not 0: only while it holds that allocation): the check and the write-back in
    /// one call, so a handle freed through its pointer or by another thread never persists into
    /// the block's next allocation.
    pub fn writeBackAllocation(self: *Journal, pool: anytype, comptime how: WriteBack, g: u32, expected_id: u32, at: f64, len: f64) Error!void {
        const start, const bytes, const links_noted = try self.allocationRangeNotingLater(pool, @tagName(how), g, expected_id, at, len);
        self.writeBackRange(pool, how, start, bytes, links_noted, g);
    }

    /// Copies `len` bytes from `source` to byte `at` of the live allocation at `g` of `pool` (with
    /// `expected_id` not 0: only while it holds that allocation) and makes them durable. The copy
    /// must fit the allocation: it never reaches a neighbour. The copy holds the pool's lock, as
    /// the check does: a free in another thread between the two let it write into the block's next
    /// allocation (a flush or persist of such a range changes no byte, and takes the lock only to check).
    pub fn memcpyPersistInto(self: *Journal, pool: anytype, g: u32, expected_id: u32, at: f64, source: [*]const u8, len: f64) Error!void {
        pool.lock();
        defer pool.unlock();
        const start, const bytes = try self.allocationRange(pool, "memcpyPersist", g, expected_id, at, len);
        self.media.memcpyPersist(start, source[0..bytes]);
        if (self.noteWrittenLinksLocked(pool, start, bytes)) self.linksWrittenLocked(pool, g, start, bytes);
    }

    /// allocationRange, taking the pool's lock for the check and for noteLaterLocked (the third result).
    /// A pool placed without the lock (shared_journal.zig) takes none here: its check of the
    /// allocation is a lock-free lookup (a free racing the write-back is the caller's race, which
    /// the lock would not order either: unpublished blocks' frees take none), and the range is
    /// scanned for link words as it is written back (writeBackRange with `links_noted` false),
    /// which takes the lock only where a word is one, so a persist serialises nothing.
    fn allocationRangeNotingLater(self: *Journal, pool: anytype, comptime action: []const u8, g: u32, expected_id: u32, at: f64, len: f64) Error!struct { usize, usize, bool } {
        if (pool.placesWithoutLock()) {
            const start, const bytes = try self.allocationRange(pool, action, g, expected_id, at, len);
            return .{ start, bytes, false };
        }
        pool.lock();
        defer pool.unlock();
        const start, const bytes = try self.allocationRange(pool, action, g, expected_id, at, len);
        return .{ start, bytes, self.noteLaterLocked(pool, start, bytes) };
    }

    /// Whether the link words of the `bytes` at `start`, about to be written back, need not be
    /// read now (under the pool's lock): a small range's pages are marked as may holding link
    /// words (a free reads them); until `named` is started, the scan that starts it reads every
    /// live block as it is then; after, the range waits in `unscanned` for the next read of
    /// `named`. Either reads the words after the caller of this write-back wrote them: its stores
    /// come before its call, and the lock orders the call before the read. A large range (false)
    /// is scanned by its write-back, while its bytes are in the cache, which marks the pages
    /// that hold a link word (marking all of them would make its free read it whole).
    fn noteLaterLocked(self: *Journal, pool: anytype, start: usize, bytes: usize) bool {
        if (bytes > links.Unscanned.range_bytes_max) return false;
        // Its words are read later: until then its pages may hold link words (a free reads them).
        self.pages.mark(start, bytes);
        if (!self.named.known) return true;
        if (!self.unscanned.add(start, bytes)) {
            self.noteUnscannedLocked(pool);
            assert(self.unscanned.add(start, bytes));
        }
        return true;
    }

    /// Notes in `named` what the link words of the ranges waiting in `unscanned` name, as they are
    /// now, and empties it (under the pool's lock).
    fn noteUnscannedLocked(self: *Journal, pool: anytype) void {
        assert(self.named.known);
        for (0..self.unscanned.len) |index| {
            const start, const bytes = self.unscanned.range(index);
            if (self.noteWrittenLinksLocked(pool, start, bytes)) self.linksWrittenLocked(pool, 0, start, bytes);
        }
        self.unscanned.clear();
    }

    /// The file range of `len` bytes at byte `at` of the live allocation at `g`: InvalidPointer
    /// where no live allocation starts there, UseAfterFree where it is not allocation
    /// `expected_id` (not 0) any more, InvalidSize where the range does not fit it. The check
    /// is checked under the pool's lock, which the caller holds.
    fn allocationRange(self: *const Journal, pool: anytype, comptime action: []const u8, g: u32, expected_id: u32, at: f64, len: f64) Error!struct { usize, usize } {
        const live = pool.liveLocked(g); // the caller holds the pool's lock
        if (live == null or (expected_id != 0 and live.?.id != expected_id)) {
            if (expected_id != 0) return status.fail(error.UseAfterFree, action ++ ": allocation #{d} of PMEM pool '{s}' was freed", .{ expected_id, pool.poolName() });
            return status.fail(error.InvalidPointer, action ++ ": no live allocation of PMEM pool '{s}' starts at offset {d}", .{ pool.poolName(), @as(u64, g) * granule_bytes });
        }
        const size: f64 = @floatFromInt(live.?.requested_bytes);
        if (!(at >= 0 and len >= 0 and at == @floor(at) and len == @floor(len) and at + len <= size)) {
            return status.fail(error.InvalidSize, action ++ ": {d} bytes at offset {d} do not fit allocation #{d} of PMEM pool '{s}' ({d} bytes)", .{ len, at, live.?.id, pool.poolName(), live.?.requested_bytes });
        }
        const start = @as(usize, g) * granule_bytes + @as(usize, @intFromFloat(at));
        const bytes: usize = @intFromFloat(len);
        assert(start >= self.header.heap_offset and start + bytes <= self.header.file_bytes);
        return .{ start, bytes };
    }

    /// Registers the whole mapping for direct DMA with device `device_id`; false where the driver refuses.
    pub fn registerForDma(self: *Journal, pool: anytype, device_id: u32) bool {
        pool.lock();
        defer pool.unlock();
        return host_registration.register(&self.dma, device_id, self.file.mapped.base, self.file.mapped.len);
    }

    /// Device bytes at `src` into the file at `offset`, durable on return, by direct DMA pipelined
    /// with the flushes. False (nothing copied) where the driver refuses to register the mapping.
    pub fn checkpointFromDevice(self: *Journal, pool: anytype, device_id: u32, offset: f64, src: u64, len: f64) Error!bool {
        const start, const bytes = try self.checkRange(pool.poolName(), offset, len);
        if (!self.registerForDma(pool, device_id)) return false;
        const Chunks = struct {
            fn land(scan: *LinkScan, chunk_offset: usize, chunk_len: usize) void {
                scan.journal.media.persistVisiting(scan.start + chunk_offset, chunk_len, scan, LinkScan.part);
            }
        };
        var scan: LinkScan = .{ .journal = self, .start = start, .bytes = bytes };
        try checkpoint.deviceToDurable(device_id, self.file.mapped.base + start, src, bytes, &scan, Chunks.land);
        if (scan.found.load(.monotonic)) {
            pool.lock();
            defer pool.unlock();
            if (self.noteWrittenLinksLocked(pool, start, bytes)) self.linksWrittenLocked(pool, 0, start, bytes);
        }
        return true;
    }

    // ---- roots and links (each under the pool's lock) ----

    fn checkName(pool_name: []const u8, name: []const u8) Error!void {
        if (name.len == 0 or name.len > roots_mod.name_bytes_max) {
            return status.fail(error.PmemRoot, "a root's name is 1 to {d} bytes of UTF-8, got {d} bytes (PMEM pool '{s}')", .{ roots_mod.name_bytes_max, name.len, pool_name });
        }
    }

    fn noRootSlot(pool_name: []const u8) Error {
        return status.fail(error.PmemRoot, "PMEM pool '{s}' has {d} roots, all it holds: remove one (setRoot(name, null)) or publish a table of your own through one root", .{ pool_name, roots_mod.capacity });
    }

    /// The live allocation at `g`, while it is the one with `expected_id` (0: any); `action` says
    /// what was refused. Claimed (`claim`): under the pool's lock, which the caller holds, it
    /// stays live, and its record slot stays its own.
    /// A handle's allocation (`expected_id` not 0) that is no longer there is a use after free, as in
    /// allocationRange, whether its block is free or holds another allocation by now.
    fn liveBlock(self: *Journal, pool: anytype, g: u32, expected_id: u32, comptime action: []const u8) Error!Live {
        const found = pool.liveLocked(g);
        if (expected_id != 0 and (found == null or found.?.id != expected_id)) return status.fail(error.UseAfterFree, "cannot " ++ action ++ " allocation #{d} of PMEM pool '{s}': it was freed", .{ expected_id, pool.poolName() });
        const live = found orelse return status.fail(error.InvalidPointer, "cannot " ++ action ++ " offset {d}: no live allocation of PMEM pool '{s}' starts there", .{ @as(u64, g) * granule_bytes, pool.poolName() });
        assert(expected_id == 0 or live.id == expected_id);
        try self.claim(pool, g, live.id, action);
        return live;
    }

    /// The record slot of the block at `g`, found live by the caller. A fixed-size block's is its
    /// own, whatever has happened to the block since: in a pool placed without the lock
    /// (shared_journal.zig) another thread's free of an unpublished block may race the caller
    /// (the caller's race, which must not crash the process).
    fn slotOf(self: *const Journal, pool: anytype, g: u32) u32 {
        if (self.table.kind == .fixed_size) return self.table.fixedSlot(g).?;
        return self.liveSlot(pool, g).?;
    }

    /// Adds to `change` the record that publishes `live`, the live block at `g` (as the caller
    /// found it), where it is not published yet.
    fn publishInto(self: *const Journal, pool: anytype, change: *Change, g: u32, live: Live) void {
        pool.leaveBinsLocked(g); // published: its free must reach this journal, never JavaScript's bins
        const slot = self.slotOf(pool, g);
        if (!self.table.isPublished(slot)) change.add(self.table.recordOffset(slot), Table.recordOf(g, (pool.liveLocked(g) orelse live).requested_bytes));
    }

    /// The live blocks' offsets (`items()`; the caller frees `buffer`), under the pool's lock. A
    /// pool placed without the lock (shared_journal.zig) may allocate and free unpublished blocks
    /// meanwhile, so it is the list of a moment: a block listed may be gone by the time it is read
    /// (readers take `blockWords`, which reads none of it then), one made since may be missing.
    /// Published blocks, whose frees take the lock, are all there.
    fn liveList(self: *const Journal, pool: anytype) Error!LiveList {
        const buffer = self.gpa.alloc(u32, pool.listLiveLocked(&.{}) + live_list_slack) catch return outOfMemory();
        return .{ .buffer = buffer, .len = @min(buffer.len, pool.listLiveLocked(buffer)) };
    }

    /// Room for blocks allocated between the count and the list, by threads that take no lock.
    const live_list_slack = 64;

    const LiveList = struct {
        buffer: []u32,
        len: usize,
        fn items(list: LiveList) []const u32 {
            return list.buffer[0..list.len];
        }
    };

    /// Adds to `change` the zeroed record that frees the published block at `g` (the pool frees
    /// it in DRAM once the change is durable: `released` then finds its record 0).
    fn freeInto(self: *const Journal, pool: anytype, change: *Change, g: u32) void {
        const slot = self.slotOf(pool, g);
        if (self.table.isPublished(slot)) change.add(self.table.recordOffset(slot), 0);
    }

    fn commitChange(self: *Journal, change: *const Change) void {
        redo_log.commit(self.media, change.entries[0..change.len], .{ .header = &self.header });
    }

    /// Publishes the live block at `g` as `name` (g = 0: removes the root). An unpublished block's
    /// record is written in the same crash-atomic step as the root. With `free_previous` the block
    /// the root published before is freed in that step too.
    pub fn setRoot(self: *Journal, pool: anytype, name: []const u8, g: u32, expected_id: u32, free_previous: bool) Error!void {
        try checkName(pool.poolName(), name);
        pool.lock();
        defer pool.unlock();
        const live: ?Live = if (g != 0) try self.liveBlock(pool, g, expected_id, "publish as a root") else null;
        const existing = self.roots.find(name);
        const previous: u32 = if (existing) |index| self.roots.target(index) else 0;
        if (previous == g) return; // already so
        if (g != 0) {
            if (self.roots.publishing(g)) |other| {
                return status.fail(error.PmemRoot, "the allocation at offset {d} is already published as root '{s}': a block has one root at most", .{ @as(u64, g) * granule_bytes, self.roots.name(other) });
            }
        }
        const frees_previous = free_previous and previous != 0;
        if (frees_previous) try self.refuseIfLinked(pool, previous, null, "freePrevious: cannot free");
        const index = existing orelse (if (g == 0) return else (self.roots.prepare(self.media, name) orelse return noRootSlot(pool.poolName())));
        var change: Change = .{};
        change.add(self.roots.targetOffset(index), self.roots.targetWord(index, g));
        if (g != 0) self.publishInto(pool, &change, g, live.?);
        if (frees_previous) self.freeInto(pool, &change, previous);
        self.commitChange(&change);
        self.roots.noteTarget(index, g);
        if (frees_previous) freeReleased(pool, previous);
    }

    /// Refuses (PmemRoot) where a link word other than the one at byte `skip` of the file names
    /// the live block at `g`: freeing it would leave that link naming free space, and later
    /// whatever allocation takes it (a stale link). Scans every live block only where `g` may be
    /// named (links.Named); where none names it any longer, it is marked so.
    fn refuseIfLinked(self: *Journal, pool: anytype, g: u32, skip: ?usize, comptime action: []const u8) Error!void {
        try self.knowNamed(pool);
        const slot = self.slotOf(pool, g);
        if (!self.named.may(slot)) return;
        if (try self.wordNaming(pool, g, skip)) |at| {
            const parent = at.parent;
            return status.fail(error.PmemRoot, action ++ " the allocation at offset {d} of PMEM pool '{s}': the link at byte {d} of the allocation at offset {d} names it (or bytes copied from a link do): unlink it first (link(parent, {d}, null)), or free it through that link with link(parent, {d}, null, {{ freePrevious: true }}); nothing was changed", .{ @as(u64, g) * granule_bytes, pool.poolName(), at.byte, @as(u64, parent) * granule_bytes, at.byte, at.byte });
        }
        self.named.clear(slot);
    }

    /// Brings `named` up to date before it is read: where it does not yet cover the words written
    /// before this process opened the file, one scan of every live block marks what their link
    /// words name; after, the ranges waiting in `unscanned` are scanned.
    fn knowNamed(self: *Journal, pool: anytype) Error!void {
        if (self.named.known) return self.noteUnscannedLocked(pool);
        assert(self.unscanned.len == 0); // nothing waits until the set is started
        self.named.start(self.gpa, self.table.words.len) catch return outOfMemory();
        const live = try self.liveList(pool);
        defer self.gpa.free(live.buffer);
        for (live.items()) |parent| _ = self.noteLinksLocked(pool, self.blockWords(pool, parent));
    }

    fn blockWords(self: *const Journal, pool: anytype, g: u32) []const u64 {
        const live = pool.liveLocked(g) orelse return &.{}; // freed since it was listed (liveList)
        const words: [*]const u64 = @ptrCast(@alignCast(self.media.base + @as(usize, g) * granule_bytes));
        return words[0 .. live.requested_bytes / links.word_bytes];
    }

    /// The first link word (other than the one at byte `skip` of the file) in a live block that
    /// names `g`: its block and byte in it.
    fn wordNaming(self: *const Journal, pool: anytype, g: u32, skip: ?usize) Error!?struct { parent: u32, byte: usize } {
        const wanted = links.word(g);
        const live = try self.liveList(pool);
        defer self.gpa.free(live.buffer);
        for (live.items()) |parent| {
            if (parent == g) continue; // its own words go with it
            for (self.blockWords(pool, parent), 0..) |stored, index| {
                if (stored != wanted) continue;
                const byte = index * links.word_bytes;
                if (skip != null and @as(usize, parent) * granule_bytes + byte == skip.?) continue;
                return .{ .parent = parent, .byte = byte };
            }
        }
        return null;
    }

    /// The byte offset in the file of the 8-byte word at byte `at` of the live allocation at `g`.
    fn linkWordOffset(self: *Journal, pool: anytype, g: u32, expected_id: u32, at: f64) Error!usize {
        const live = try self.liveBlock(pool, g, expected_id, "link from");
        const size: f64 = @floatFromInt(live.requested_bytes);
        if (!(at >= 0 and at == @floor(at) and @mod(at, links.word_bytes) == 0 and at + links.word_bytes <= size)) {
            return status.fail(error.InvalidSize, "a link is an 8-byte word at a multiple of 8 inside its allocation: byte {d} of allocation #{d} of PMEM pool '{s}' ({d} bytes) is not one", .{ at, live.id, pool.poolName(), live.requested_bytes });
        }
        const offset = @as(usize, g) * granule_bytes + @as(usize, @intFromFloat(at));
        assert(offset % links.word_bytes == 0 and offset >= self.header.heap_offset and offset + links.word_bytes <= self.header.file_bytes);
        return offset;
    }

    fn linkWord(self: *const Journal, offset: usize) *u64 {
        return @ptrCast(@alignCast(self.media.base + offset));
    }

    /// Writes a link to the live block at `child` (0: no link) into the 8-byte word at byte `at` of
    /// the live block at `parent`. Where the parent is published and the child is not, the link and
    /// the child's record are written in one crash-atomic step: the child is published by the link.
    /// With `free_previous`, the block the word linked to before is freed in that step too.
    pub fn link(self: *Journal, pool: anytype, parent: u32, parent_id: u32, at: f64, child: u32, child_id: u32, free_previous: bool) Error!void {
        pool.lock();
        defer pool.unlock();
        const offset = try self.linkWordOffset(pool, parent, parent_id, at);
        const child_live: ?Live = if (child != 0) try self.liveBlock(pool, child, child_id, "link to") else null;
        const parent_published = self.table.isPublished(self.slotOf(pool, parent));
        const child_published = child == 0 or self.table.isPublished(self.slotOf(pool, child));
        if (!parent_published and !child_published) {
            return status.fail(error.PmemRoot, "cannot link unpublished allocation #{d} from allocation #{d} of PMEM pool '{s}', which is unpublished too: publish the parent first (setRoot, link it from a published block, or commitUnpublished), then link the child", .{ child_id, parent_id, pool.poolName() });
        }
        const previous: u32 = if (free_previous) try self.previousLink(pool, offset, parent, child) else 0;
        var change: Change = .{};
        change.add(offset, links.word(child));
        if (!child_published) self.publishInto(pool, &change, child, child_live.?);
        if (previous != 0) self.freeInto(pool, &change, previous);
        if (child != 0) {
            self.named.note(self.slotOf(pool, child));
            self.pages.mark(offset, links.word_bytes);
            // Its free must reach the journal, which clears its link words: JavaScript's bins
            // would hand the block out again with the word in it.
            pool.leaveBinsLocked(parent);
        }
        self.commitChange(&change);
        if (previous != 0) freeReleased(pool, previous);
    }

    /// The live block the link word at `offset` names, to be freed as it is replaced (0: none).
    fn previousLink(self: *Journal, pool: anytype, offset: usize, parent: u32, child: u32) Error!u32 {
        const stored = Media.load(self.linkWord(offset));
        const previous = links.decode(stored) orelse return status.fail(error.InvalidPointer, "freePrevious: the word at offset {d} of PMEM pool '{s}' (0x{x:0>16}) is not a link: nothing was changed", .{ offset, pool.poolName(), stored });
        // Linking the block the word names already replaces nothing, so nothing is freed (as setRoot
        // does for the block a root already publishes).
        if (previous == 0 or previous == child) return 0;
        const previous_slot = self.liveSlot(pool, previous) orelse return status.fail(error.InvalidPointer, "freePrevious: the word at offset {d} of PMEM pool '{s}' links to offset {d}, {s}: nothing was changed", .{ offset, pool.poolName(), @as(u64, previous) * granule_bytes, self.whyNoBlock(previous) });
        // Dangling (see linked()): the block holds an allocation the link never named; freeing it would free another's.
        if (!self.table.isPublished(previous_slot)) return status.fail(error.InvalidPointer, "freePrevious: the word at offset {d} of PMEM pool '{s}' links to offset {d}, where the allocation it linked to was freed without unlinking (the block now holds an allocation nothing published): nothing was changed", .{ offset, pool.poolName(), @as(u64, previous) * granule_bytes });
        if (previous == parent) return status.fail(error.InvalidPointer, "freePrevious would free the block the link is written into: nothing was changed", .{});
        if (self.roots.publishing(previous)) |index| {
            return status.fail(error.PmemRoot, "freePrevious: the block the link named is published as root '{s}': remove the root first", .{self.roots.name(index)});
        }
        try self.refuseIfLinked(pool, previous, offset, "freePrevious: cannot free");
        return previous;
    }

    /// Why a link's target `g` is no live block: outside the heap only a damaged word can point.
    fn whyNoBlock(self: *const Journal, g: u32) []const u8 {
        if (g < self.table.heap_start or g >= self.table.heap_end) return "outside the pool's heap (the word is damaged)";
        return "where no allocation starts (freed without unlinking?)";
    }

    /// The offset of the block the link word at byte `at` of the block at `parent` names (0: none).
    pub fn linked(self: *Journal, pool: anytype, parent: u32, parent_id: u32, at: f64) Error!u32 {
        pool.lock();
        defer pool.unlock();
        const offset = try self.linkWordOffset(pool, parent, parent_id, at);
        const stored = Media.load(self.linkWord(offset));
        const target = links.decode(stored) orelse return status.fail(error.InvalidPointer, "the word at byte {d} of allocation #{d} of PMEM pool '{s}' (0x{x:0>16}) is not a link written by link()", .{ at, parent_id, pool.poolName(), stored });
        if (target == 0) return 0;
        const target_slot = self.liveSlot(pool, target) orelse {
            return status.fail(error.InvalidPointer, "the link at byte {d} of allocation #{d} of PMEM pool '{s}' names offset {d}, {s}", .{ at, parent_id, pool.poolName(), @as(u64, target) * granule_bytes, self.whyNoBlock(target) });
        };
        // link() published its target: an unpublished block there is a later allocation in the
        // block of one freed without unlinking (links.zig markReachable), not what was linked.
        if (!self.table.isPublished(target_slot)) {
            return status.fail(error.InvalidPointer, "the link at byte {d} of allocation #{d} of PMEM pool '{s}' names offset {d}, where the allocation it linked to was freed without unlinking: the block now holds an allocation nothing published", .{ at, parent_id, pool.poolName(), @as(u64, target) * granule_bytes });
        }
        return target;
    }

    /// Makes the live block at `g` durable without a root or link: only the caller's own records
    /// can find it again (what no root reaches is listed by `unreachableOffsets`).
    pub fn commitUnpublished(self: *Journal, pool: anytype, g: u32, expected_id: u32) Error!void {
        pool.lock();
        defer pool.unlock();
        const live = try self.liveBlock(pool, g, expected_id, "commit");
        pool.leaveBinsLocked(g); // published: its free must reach this journal, never JavaScript's bins
        self.table.commitRecord(self.slotOf(pool, g), Table.recordOf(g, live.requested_bytes));
    }

    /// The offset of the block published as `name`, or 0 where there is no such root.
    pub fn getRoot(self: *Journal, pool: anytype, name: []const u8) Error!u32 {
        try checkName(pool.poolName(), name);
        pool.lock();
        defer pool.unlock();
        const index = self.roots.find(name) orelse return 0;
        return self.roots.target(index);
    }

    /// The block published as `name`; where there is none, a new zero-filled block of `size` bytes
    /// is allocated and published, durably together (like pmemobj_root). Where the root has fewer
    /// bytes than `size`, it grows (growRoot).
    pub fn root(self: *Journal, pool: anytype, name: []const u8, size: u64) Error!u32 {
        try checkName(pool.poolName(), name);
        pool.lock();
        defer pool.unlock();
        if (self.roots.find(name)) |index| {
            const existing = self.roots.target(index);
            if (pool.liveLocked(existing).?.requested_bytes >= size) return existing;
            return self.growRoot(pool, index, existing, size);
        }
        if (std.mem.indexOfScalar(u32, &self.roots.targets, 0) == null) return noRootSlot(pool.poolName());
        const placed = try pool.allocLocked(size);
        try self.claim(pool, placed.g, placed.id, "publish as a root");
        const live = pool.liveLocked(placed.g) orelse unreachable; // claimed: its free waits for the pool's lock
        self.media.zeroPersist(@as(usize, placed.g) * granule_bytes, @as(usize, live.granules) * granule_bytes);
        const index = self.roots.prepare(self.media, name).?;
        redo_log.commit(self.media, &.{
            .{ .offset = self.table.recordOffset(self.slotOf(pool, placed.g)), .value = Table.recordOf(placed.g, size) },
            .{ .offset = self.roots.targetOffset(index), .value = self.roots.targetWord(index, placed.g) },
        }, .{ .header = &self.header });
        self.roots.noteTarget(index, placed.g);
        return placed.g;
    }

    /// Replaces the block `old` that root `index` publishes with a copy of `size` bytes, zero-filled
    /// past its old end (its link words stay valid links): the copy's record, the root and the old
    /// block's free in one crash-atomic step, under the lock, so no other thread sees the root
    /// between the two blocks, or hands out a copy that another grow then frees. Refused, before
    /// anything is allocated, where a link names the old block (the link would be left naming free space).
    fn growRoot(self: *Journal, pool: anytype, index: usize, old: u32, size: u64) Error!u32 {
        const old_bytes = pool.liveLocked(old).?.requested_bytes;
        assert(old_bytes < size and self.roots.publishing(old) == index);
        try self.refuseIfLinked(pool, old, null, "root() cannot grow");
        const placed = try pool.allocLocked(size);
        try self.claim(pool, placed.g, placed.id, "publish as a root");
        const live = pool.liveLocked(placed.g) orelse unreachable; // claimed: its free waits for the pool's lock
        const start = @as(usize, placed.g) * granule_bytes;
        self.media.zeroPersist(start, @as(usize, live.granules) * granule_bytes);
        self.media.memcpyPersist(start, (self.media.base + @as(usize, old) * granule_bytes)[0..old_bytes]);
        var change: Change = .{};
        change.add(self.table.recordOffset(self.slotOf(pool, placed.g)), Table.recordOf(placed.g, size));
        change.add(self.roots.targetOffset(index), self.roots.targetWord(index, placed.g));
        self.freeInto(pool, &change, old);
        self.commitChange(&change);
        self.roots.noteTarget(index, placed.g);
        freeReleased(pool, old);
        return placed.g;
    }

    /// The name of the `index`-th root in slot order, or null past the last.
    pub fn rootName(self: *Journal, pool: anytype, index: usize) ?[]const u8 {
        pool.lock();
        defer pool.unlock();
        var seen: usize = 0;
        for (self.roots.targets, 0..) |target, slot| {
            if (target == 0) continue;
            if (seen == index) return self.roots.name(slot);
            seen += 1;
        }
        return null;
    }

    /// Like the pool's list of live blocks, for the live blocks no root reaches, directly or through links.
    pub fn unreachableOffsets(self: *Journal, pool: anytype, out: []u32) Error!usize {
        pool.lock();
        defer pool.unlock();
        const Blocks = struct {
            journal: *const Journal,
            pool: @TypeOf(pool),
            pub fn lookup(blocks: @This(), g: u32) ?Live {
                const table = &blocks.journal.table;
                if (table.kind == .variable and blocks.pool.shardedVariable() == null) return table.lookup(blocks.pool.placementLocked(), g);
                if (g < table.heap_start or g >= table.heap_end) return null;
                return blocks.pool.liveLocked(g); // its own placement's, or the shared or sharded one's (shared_journal.zig)
            }
            pub fn slotOf(blocks: @This(), g: u32) ?u32 {
                // A fixed-size block's record is its own slot (a block listed live may be freed meanwhile: liveList).
                if (blocks.journal.table.kind == .fixed_size) return blocks.journal.table.fixedSlot(g);
                return blocks.journal.liveSlot(blocks.pool, g);
            }
            pub fn isPublished(blocks: @This(), g: u32) bool {
                const slot = blocks.slotOf(g) orelse return false; // freed since it was found (an unpublished block, placed without the lock)
                return blocks.journal.table.isPublished(slot);
            }
        };
        const blocks: Blocks = .{ .journal = self, .pool = pool };
        var reached = std.DynamicBitSetUnmanaged.initEmpty(self.gpa, self.table.words.len) catch return outOfMemory();
        defer reached.deinit(self.gpa);
        links.markReachable(self.gpa, blocks, self.media.base, &self.roots.targets, &reached) catch return outOfMemory();
        const live = try self.liveList(pool);
        defer self.gpa.free(live.buffer);
        var count: usize = 0;
        for (live.items()) |g| {
            if (reached.isSet(blocks.slotOf(g) orelse continue)) continue; // freed since it was listed
            if (count < out.len) out[count] = g;
            count += 1;
        }
        return count;
    }
};

/// Words that must change together, durably: a root or link, the record that publishes a block,
/// the record that frees one (redo_log.zig).
const Change = struct {
    entries: [redo_log.entries_max]redo_log.Entry = undefined,
    len: usize = 0,

    fn add(self: *Change, offset: u64, value: u64) void {
        assert(self.len < redo_log.entries_max);
        self.entries[self.len] = .{ .offset = offset, .value = value };
        self.len += 1;
    }
};

/// Frees the block at `g` of `pool`, whose record a change just zeroed (live, and no root
/// publishes it now), under the pool's lock. In a pool placed without the lock (shared_journal.zig)
/// another thread's free of the same block (the caller's race: a free of what this call frees) may
/// come first once its record is 0; that free wins, and the block is free either way.
fn freeReleased(pool: anytype, g: u32) void {
    pool.freeLockedAt(g) catch |err| assert(err == error.DoubleFree or err == error.InvalidPointer);
}

fn outOfMemory() Error {
    return status.fail(error.OutOfMemory, "no memory for a PMEM pool's bookkeeping", .{});
}

test "a change holds the words of one crash-atomic step, in order" {
    var change: Change = .{};
    change.add(64, 1);
    change.add(128, 0);
    try std.testing.expectEqual(@as(usize, 2), change.len);
    try std.testing.expectEqual(@as(u64, 128), change.entries[1].offset);
    try std.testing.expectEqual(@as(u64, 0), change.entries[1].value);
}
