/**
 * A snapshot's details provider whose answer cannot be read. Found by attacking main: the answer's
 * fields were read with no guard, so a getter or a Proxy trap that throws ended snapshot() with
 * the caller's own error (here a TypeError), where every other object a caller hands in (options,
 * configurations) is a ConfigError naming the field when it cannot be read.
 */
import { expect, test } from "bun:test";
import { ConfigError } from "../../src/index";
import { cpuPoolsPerTest } from "../support/pools";
import { thrown } from "../support/thrown";

const pool = cpuPoolsPerTest();

test("an answer whose getter or Proxy trap throws is a ConfigError naming details, and the pool snapshots after", () => {
  const p = pool("attack12-details-answers");
  p.allocate(64);
  const answers: [string, () => object][] = [
    ["a getter that throws", () => ({ get stack(): string { throw new TypeError("no stack here"); } })],
    ["a Proxy whose get trap throws", () => new Proxy({}, { get() { throw new TypeError("trap"); } })],
    ["a revoked Proxy", () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; }],
  ];
  for (const [, answer] of answers) {
    const error = thrown<ConfigError>(() => p.snapshot({ details: () => answer() as never }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe("details");
    expect(error.message).toContain("an object that cannot be read");
  }
  expect(p.snapshot({ details: () => ({ ageMs: 1, stack: "at f" }) }).blocks.find((block) => block.state === "live")?.stack).toBe("at f");
});
