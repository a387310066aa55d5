//! Builds the core as a shared library (zig-out/lib/libmemory_pool.so) for bun:ffi,
//! and runs the unit tests of every module with `zig build test`.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // ReleaseSafe by default: the checks that keep bad input from crashing the process stay in.
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default: ReleaseSafe)") orelse .ReleaseSafe;

    const core = b.createModule(.{
        .root_source_file = b.path("src/ffi.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const lib = b.addLibrary(.{ .name = "memory_pool", .linkage = .dynamic, .root_module = core });
    b.installArtifact(lib);

    const tests = b.addTest(.{
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/tests.zig"),
            .target = target,
            .optimize = .Debug,
            .link_libc = true,
        }),
        // LLVM: Zig's own x86 backend (the Debug default) cannot assemble movnti (pmem/media.zig).
        .use_llvm = true,
    });
    const run_tests = b.addRunArtifact(tests);
    const test_step = b.step("test", "Run the core's unit tests");
    test_step.dependOn(&run_tests.step);
}
