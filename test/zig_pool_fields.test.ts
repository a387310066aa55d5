/**
 * No core file but zig/src/pool.zig reads a field of Pool (issue 13, "no file knows another's
 * internals"): the others ask the pool through its methods, which say what they need. Read from
 * the source: Pool's fields are the `name: type` lines directly inside `pub const Pool = struct`,
 * and a read is `receiver.field` where the receiver is a pool: a name called `pool`, `self.pool`,
 * or a name declared as a `*Pool` / `*const Pool` in that file. A file's tests (from its first
 * top-level `test` on) may build fake pools with fields of the same names, so there only pools
 * made by `Pool.create` count as receivers.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ZIG_SOURCE, zigFiles } from "./support/zig_sources";

const source = ZIG_SOURCE;

/** The fields of `pub const Pool = struct { ... }` in pool.zig's text: its lines `    name: type` (one level in). */
export function poolFields(text: string): string[] {
  const start = text.indexOf("pub const Pool = struct {");
  if (start < 0) throw new Error("pool.zig has no `pub const Pool = struct {`");
  const body = text.slice(start).split("\n").slice(1);
  const fields: string[] = [];
  for (const line of body) {
    if (/^};/.test(line)) break;
    const match = /^ {4}([a-z_][a-z0-9_]*):\s/.exec(line);
    if (match) fields.push(match[1]!);
  }
  return fields;
}

/** Each `receiver.field` in `text` that reads a field of Pool, as `line: text`. */
export function poolFieldReads(text: string, fields: string[]): string[] {
  const lines = text.split("\n");
  const testsFrom = lines.findIndex((line) => /^test\b/.test(line));
  const codeEnd = testsFrom < 0 ? lines.length : testsFrom;
  const code = lines.slice(0, codeEnd).join("\n");
  const tests = lines.slice(codeEnd).join("\n");
  const typed = [...code.matchAll(/\b([a-z_][a-z0-9_]*):\s*\*(?:const\s+)?(?:pool_mod\.)?Pool\b/g)].map((match) => match[1]!);
  const made = [...tests.matchAll(/\b(?:const|var)\s+([a-z_][a-z0-9_]*)\s*=\s*try\s+(?:pool_mod\.)?Pool\.create(?:Over)?\(/g)].map((match) => match[1]!);
  const readsIn = (part: string, receivers: string[], firstLine: number): string[] => {
    const pattern = new RegExp(`(?<![\\w.])(?:self\\.pool|${[...new Set(receivers)].join("|")})\\.(${fields.join("|")})\\b(?!\\s*\\()`);
    return part.split("\n").flatMap((line, index) => (pattern.test(line) ? [`${firstLine + index + 1}: ${line.trim()}`] : []));
  };
  return [...readsIn(code, ["pool", ...typed], 0), ...(made.length > 0 ? readsIn(tests, made, codeEnd) : [])];
}

describe("Pool's fields", () => {
  const fields = poolFields(readFileSync(join(source, "pool.zig"), "utf8"));

  test("are read from pool.zig's struct, and the reader finds a read, a typed receiver and a made pool, not a call or a fake", () => {
    expect(fields).toContain("arena");
    expect(fields).toContain("gpu");
    expect(fields).toContain("owner_thread");
    expect(fields).not.toContain("alloc"); // a field of Pool.Entry, one level deeper
    const sample = [
      "fn a(pool: anytype) void {",
      "    _ = pool.arena.base;", // read
      "    _ = pool.poolName();", // a method
      "}",
      "fn b(p: *const Pool) u64 {",
      "    return p.size_max;", // read through a typed receiver
      "}",
      "fn c(other: *Thing) void {",
      "    other.arena = 1;", // not a pool
      "}",
      'test "t" {',
      "    var fake: FakePool = .{};",
      "    _ = fake.stats;", // a fake's field
      "    const pool = try Pool.create(a, \"t\", config);",
      "    _ = pool.stats.live_allocations;", // a made pool's field
      "}",
    ].join("\n");
    expect(poolFieldReads(sample, fields)).toEqual(["2: _ = pool.arena.base;", "6: return p.size_max;", "15: _ = pool.stats.live_allocations;"]);
  });

  test("are read by no file under zig/src but pool.zig", () => {
    const reads = zigFiles(source)
      .filter((file) => relative(source, file) !== "pool.zig")
      .flatMap((file) => poolFieldReads(readFileSync(file, "utf8"), fields).map((read) => `${relative(source, file)}:${read}`));
    expect(reads).toEqual([]);
  });
});
