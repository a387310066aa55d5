//! The root of `zig build test`: pulls in every module's tests.
test {
    _ = @import("status.zig");
    _ = @import("backend/host.zig");
    _ = @import("backend/cuda_driver.zig");
    _ = @import("arena.zig");
    _ = @import("strategy/offset_map.zig");
    _ = @import("strategy/tlsf.zig");
    _ = @import("strategy/fixed.zig");
    _ = @import("stats.zig");
    _ = @import("pool.zig");
    _ = @import("snapshot.zig");
    _ = @import("host_copy.zig");
    _ = @import("sync/pool_guard.zig");
    _ = @import("sync/adaptive_mutex.zig");
    _ = @import("parallel.zig");
    _ = @import("sync/sharded_variable.zig");
    _ = @import("gpu/checkpoint.zig");
    _ = @import("gpu/nvtx.zig");
    _ = @import("sync/lockfree_fixed.zig");
    _ = @import("sync/striped_counters.zig");
    _ = @import("sync/viewers.zig");
    _ = @import("ffi.zig");
    _ = @import("debug/canary.zig");
    _ = @import("debug/violation.zig");
    _ = @import("debug/quarantine.zig");
    _ = @import("debug/guard.zig");
    _ = @import("debug/config.zig");
    _ = @import("debug/layer.zig");
    _ = @import("debug/fault_handler.zig");
    _ = @import("pmem/libpmem.zig");
    _ = @import("pmem/media.zig");
    _ = @import("pmem/format.zig");
    _ = @import("pmem/heap.zig");
    _ = @import("pmem/links.zig");
    _ = @import("pmem/dram.zig");
    _ = @import("pmem/pool.zig");
}
