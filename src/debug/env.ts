/**
 * MEMORY_POOL_DEBUG: debugging for every pool without a change to the code.
 *
 *   MEMORY_POOL_DEBUG=1                      every switch on (what PoolConfig.DebugCPU() turns on)
 *   MEMORY_POOL_DEBUG=canaries,leakReport    just those switches
 *   MEMORY_POOL_DEBUG=sampled                guard pages on one allocation in 5000 (SampledGuardsCPU)
 *   MEMORY_POOL_DEBUG=guardPages,guardSampleRate=100,quarantineBytes=1048576
 *   MEMORY_POOL_DEBUG=0 (or off, false, no: any case; or unset, or empty) nothing
 *
 * Switches named here are turned on over the pool's own configuration; nothing is turned off.
 */
import { FULL_DEBUG, HOST_SIDE_DEBUG, PoolConfig, SAMPLED_GUARD_RATE } from "../config";
import { ConfigError, describe } from "../errors";
import { switchWord } from "../validate";

export const DEBUG_VARIABLE = "MEMORY_POOL_DEBUG";

type DebugFields = Partial<Pick<PoolConfig, keyof typeof FULL_DEBUG | "guardPagePosition">>;

/** What the variable asks for, or undefined where it asks for nothing. */
export function debugFromEnvironment(value = process.env[DEBUG_VARIABLE]): DebugFields | undefined {
  const text = value?.trim() ?? "";
  const word = switchWord(text);
  if (word === false) return undefined;
  if (word === true || text.toLowerCase() === "all") return { ...FULL_DEBUG };
  const fields: Record<string, unknown> = {};
  // Every refusal in one format: the variable, its value (as describe() shows any value) and the item.
  const refuse = (item: string, reason: string): never => {
    throw new ConfigError(DEBUG_VARIABLE, value, `'${item.trim()}' ${reason}`, "");
  };
  for (const item of text.split(",")) {
    const [name = "", setting, ...extra] = item.split("=").map((part) => part.trim());
    if (setting === "") refuse(item, "needs a value after '='");
    if (extra.length > 0) refuse(item, "has more than one '=': an item is a switch or name=value");
    if (setting !== undefined && SWITCHES.has(name)) refuse(item, "is a switch that takes no value: name it to turn it on (nothing here turns a switch off)");
    const number = setting === undefined ? undefined : Number(setting);
    const before = { ...fields };
    switch (name) {
      case "sampled":
        Object.assign(fields, { guardPages: true, guardSampleRate: number ?? SAMPLED_GUARD_RATE });
        break;
      case "guardPages":
      case "canaries":
      case "safeViews":
      case "trackHistory":
      case "leakReport":
        fields[name] = true;
        break;
      case "underflow":
        Object.assign(fields, { guardPages: true, guardPagePosition: "before" });
        break;
      case "fillOnAlloc":
      case "fillOnFree":
      case "quarantineBytes":
      case "guardSampleRate":
        fields[name] = number ?? FULL_DEBUG[name];
        break;
      case "quarantine":
        fields.quarantineBytes = number ?? FULL_DEBUG.quarantineBytes;
        break;
      default:
        refuse(
          item,
          "is not a debug switch: use 1 (or 0), or a list of guardPages, underflow, sampled[=N], guardSampleRate=N, canaries, fillOnAlloc[=byte], fillOnFree[=byte], quarantine[=bytes], safeViews, trackHistory, leakReport",
        );
    }
    checkItem(item, fields, before, refuse);
  }
  return fields as DebugFields;
}

const SWITCHES = new Set(["guardPages", "canaries", "safeViews", "trackHistory", "leakReport", "underflow"]);

/**
 * The settings one item made, checked as PoolConfig checks them, so a bad value is blamed on the
 * variable and the item that gave it rather than on a PoolConfig field the program never set.
 */
function checkItem(item: string, fields: Record<string, unknown>, before: Record<string, unknown>, refuse: (item: string, reason: string) => never): void {
  const made = Object.fromEntries(Object.entries(fields).filter(([name, setting]) => before[name] !== setting));
  try {
    Object.assign(new PoolConfig(), made).validate();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    refuse(item, `sets ${err.field} to ${describe(err.value)}, which ${err.reason}`);
  }
}

/**
 * What each kind of pool takes from the variable: everything for CPU pools; pinned memory cannot
 * be protected page by page (no guard pages); device memory takes what the debug kernels do
 * (canaries, fills) and the switches that act in TypeScript; PMEM files take only the latter, so
 * MEMORY_POOL_DEBUG=1 never makes their creation fail.
 */
const ACCEPTED: Record<"cpu" | "pinned" | "gpu" | "pmem" | "unlocked", readonly string[]> = {
  cpu: Object.keys(FULL_DEBUG).concat("guardPagePosition"),
  pinned: Object.keys(FULL_DEBUG).filter((name) => name !== "guardPages" && name !== "guardSampleRate"),
  gpu: ["canaries", "fillOnAlloc", "fillOnFree", "trackHistory", "leakReport"],
  pmem: Object.keys(HOST_SIDE_DEBUG),
  /** Pools that allocate without their lock (lockFree, threadLocalCache): the core's checks work under it. */
  unlocked: Object.keys(HOST_SIDE_DEBUG),
};

/** The configuration with the variable's switches turned on (a copy; `config` is left as it is). */
export function withEnvironmentDebug(config: PoolConfig, kind: Exclude<keyof typeof ACCEPTED, "unlocked">): PoolConfig {
  const fields = debugFromEnvironment();
  if (fields === undefined) return config;
  const unlocked = kind !== "gpu" && (config.threadSafety === "lockFree" || config.threadLocalCache);
  const names = ACCEPTED[unlocked ? "unlocked" : kind];
  const accepted = Object.fromEntries(Object.entries(fields).filter(([name]) => names.includes(name)));
  return Object.assign(config.clone(), accepted);
}
