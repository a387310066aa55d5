/**
 * The MEMORY_POOL_* variables with hostile values: every switch takes the same words (0, off,
 * false, no / 1, on, true, yes, in any case: MEMORY_POOL_DEBUG=FALSE was refused while
 * MEMORY_POOL_SHOW_STATS=FALSE was off), and every refusal of MEMORY_POOL_DEBUG has one format
 * (`MEMORY_POOL_DEBUG = value: 'item' reason`, the value shown as describe() shows any value: an
 * unknown switch printed the whole value however long, in another format). configureNvtx reads its
 * options as every call does: a hostile object is a ConfigError, never a TypeError from String().
 */
import { expect, test } from "bun:test";
import { ConfigError, configureNvtx } from "../../src/index";
import { debugFromEnvironment } from "../../src/debug/env";
import { showStatsWanted } from "../../src/show_stats";
import { thrown } from "../support/thrown";

test("every switch variable takes the same words for off and on, in any case", () => {
  for (const off of ["0", "off", "OFF", "False", "no", " No ", ""]) {
    expect(debugFromEnvironment(off)).toBeUndefined();
    expect(showStatsWanted(off)).toBe(false);
  }
  for (const on of ["1", "on", "TRUE", "Yes", " yes "]) {
    expect(debugFromEnvironment(on)).toMatchObject({ canaries: true, guardPages: true });
    expect(showStatsWanted(on)).toBe(true);
  }
});

test("MEMORY_POOL_DEBUG refuses hostile values in one format, naming the item", () => {
  const long = "x".repeat(500);
  const cases: [string, string][] = [
    ["sampled=1=2", "'sampled=1=2' has more than one '='"],
    ["2", "'2' is not a debug switch"],
    ["canaries,,", "'' is not a debug switch"],
    ["__proto__", "'__proto__' is not a debug switch"],
    ["hasOwnProperty=1", "'hasOwnProperty=1' is not a debug switch"],
    ["</script>", "'</script>' is not a debug switch"],
    ["fillOnAlloc=256", "'fillOnAlloc=256' sets fillOnAlloc to 256"],
    ["canaries=1", "'canaries=1' is a switch that takes no value"],
    [long, `'${long}' is not a debug switch`],
  ];
  for (const [value, item] of cases) {
    const error = thrown<ConfigError>(() => debugFromEnvironment(value));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe("MEMORY_POOL_DEBUG");
    const shown = value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
    expect(error.message).toStartWith(`MEMORY_POOL_DEBUG = ${shown}: ${item}`);
  }
});

test("configureNvtx refuses hostile options with a ConfigError in the format of every call's options", () => {
  const boom = () => {
    throw new Error("boom");
  };
  const cases: [unknown, RegExp][] = [
    [Object.assign(Object.create(null), { ranges: Object.create(null) }), /NvtxOptions\.ranges = an object: must be true or false/],
    [{ get ranges() { return boom(); } }, /NvtxOptions\.ranges cannot be read: it threw Error: boom/],
    [new Proxy({}, { ownKeys: boom }), /NvtxOptions = an object: its keys cannot be listed/],
    [{ colour: true }, /NvtxOptions has no option 'colour'/],
    [undefined, /NvtxOptions = null: options are a plain object/],
    [Symbol("ranges"), /NvtxOptions = a symbol/],
  ];
  for (const [options, message] of cases) {
    const error = thrown(() => configureNvtx(options as { ranges: boolean }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
  }
});
