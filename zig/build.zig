//! Builds the core as a shared library (zig-out/lib/libmemory_pool.so) for bun:ffi,
//! and runs the unit tests of every module with `zig build test`.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // ReleaseSafe by default: the checks that keep bad input from crashing the process stay in.
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default: ReleaseSafe)") orelse .ReleaseSafe;

    // -Ddebug-layer=false leaves the debug layer out of the build, so a benchmark can show that a
    // pool with every debug switch off costs the same as a core without the code.
    const options = b.addOptions();
    options.addOption(bool, "debug_layer", b.option(bool, "debug-layer", "Build the debug layer (default: true)") orelse true);

    const core = b.createModule(.{
        .root_source_file = b.path("src/ffi.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    core.addOptions("build_options", options);
    const lib = b.addLibrary(.{ .name = "memory_pool", .linkage = .dynamic, .root_module = core });
    b.installArtifact(lib);

    const test_module = b.createModule(.{
        .root_source_file = b.path("src/tests.zig"),
        .target = target,
        .optimize = .Debug,
        .link_libc = true,
    });
    test_module.addOptions("build_options", options);
    const tests = b.addTest(.{ .root_module = test_module });
    const run_tests = b.addRunArtifact(tests);
    const test_step = b.step("test", "Run the core's unit tests");
    test_step.dependOn(&run_tests.step);
}
