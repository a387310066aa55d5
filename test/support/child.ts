// Child Bun processes of a test: risky cases run there, so a crash is a failed test, not a lost run.
import { join } from "node:path";

export interface ChildResult {
  exitCode: number | null;
  signalCode: string | number | null;
  stdout: string;
  stderr: string;
}

export interface ChildOptions {
  /** The child's whole environment (default: this process's). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Milliseconds before the child is killed (Bun.spawn's `timeout`). */
  timeout?: number;
}

/** A fixture of the attack tests (test/fixtures/attack/). */
export const attackFixture = (name: string) => join(import.meta.dir, "..", "fixtures", "attack", name);

/**
 * Runs `bun <script> ...args`; resolves when it exits, with what it wrote. Both pipes are read as
 * the child writes, so it never blocks on a full one.
 */
export function runBun(script: string, args: string[] = [], options: ChildOptions = {}): Promise<ChildResult> {
  return runCommand([process.execPath, script, ...args], options);
}

/** Runs `command` (a program and its arguments) as runBun runs Bun. */
export async function runCommand(command: string[], options: ChildOptions = {}): Promise<ChildResult> {
  const child = Bun.spawn(command, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    timeout: options.timeout,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return { exitCode: child.exitCode, signalCode: child.signalCode, stdout, stderr };
}
