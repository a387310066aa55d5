//! Backends give an arena its address space and nothing else: reserve a range, commit and
//! decommit parts of it, release it. Strategies never see which backend serves them.
const std = @import("std");
const host = @import("backend/host.zig");

/// The kinds of pool the core serves; TypeScript names them (src/native.ts mirrors the values).
pub const Kind = enum(u32) { cpu = 0 };

pub const Backend = union(enum) {
    host: void,

    pub fn forKind(kind: Kind) Backend {
        return switch (kind) {
            .cpu => .host,
        };
    }

    pub fn reserve(self: Backend, len: u64) ?u64 {
        return switch (self) {
            .host => host.reserve(len),
        };
    }

    pub fn release(self: Backend, base: u64, len: u64) void {
        switch (self) {
            .host => host.release(base, len),
        }
    }

    pub fn commit(self: Backend, base: u64, offset: u64, len: u64) bool {
        return switch (self) {
            .host => host.commit(base, offset, len),
        };
    }

    pub fn decommit(self: Backend, base: u64, offset: u64, len: u64) void {
        switch (self) {
            .host => host.decommit(base, offset, len),
        }
    }

    /// Whether pages can be made inaccessible, so that a stray access faults (guard pages).
    pub fn canProtect(self: Backend) bool {
        return switch (self) {
            .host => true,
        };
    }

    /// Makes committed pages inaccessible; `commit` makes them accessible again.
    pub fn protectNone(self: Backend, base: u64, offset: u64, len: u64) bool {
        return switch (self) {
            .host => host.protectNone(base + offset, len),
        };
    }
};
