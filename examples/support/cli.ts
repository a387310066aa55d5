/**
 * The examples' command lines, read with node:util's parseArgs: `--help` (or `-h`) prints the
 * usage and exits 0; an unknown or malformed argument prints what is wrong and the usage on stderr,
 * and exits 2. Each example passes its usage text and its options, `help` among them.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export function exampleArgs<T extends ParseArgsConfig & { options: { help: { type: "boolean"; short: "h" } } }>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}
