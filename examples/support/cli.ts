/**
 * The examples' command lines, read with node:util's parseArgs: `--help` (or `-h`) prints the
 * usage and exits 0; an unknown or malformed argument prints what is wrong and the usage on stderr,
 * and exits 2. Each example passes its usage text and its options, `help` among them.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * The command line of an example that runs itself again as a second process: [pool file] and the
 * --child flag the first process passes to the second. The pool file defaults to `<name>_<pid>.pool`
 * in /dev/shm (or the temporary folder).
 */
export function twoProcessArgs(usage: string, name: string): { isChild: boolean; path: string } {
  const { values, positionals } = exampleArgs(usage, {
    options: { help: { type: "boolean", short: "h" }, child: { type: "boolean" } }, // --child: the second process (the script runs itself)
    allowPositionals: true,
  });
  return { isChild: values.child === true, path: positionals[0] ?? join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `${name}_${process.pid}.pool`) };
}
