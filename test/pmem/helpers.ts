/**
 * Shared by the PMEM tests: pool files under /dev/shm (PMEM is emulated there), removed afterwards,
 * and child Bun processes started with PMEM_IS_PMEM_FORCE=1 (libpmem reads it with getenv when it
 * loads, so it must be in the environment the process starts with: assigning process.env in Bun
 * does not reach it).
 */
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PoolConfig } from "../../src/index";
import { runBun, type ChildResult } from "../support/child";

export const poolDirectory = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
export const fixture = (name: string) => join(import.meta.dir, "fixtures", name);

const made = new Set<string>();
let counter = 0;

/** A fresh path for a pool file; removed by removePoolFiles(). */
export function poolPath(tag: string): string {
  const path = join(poolDirectory, `memory-pool-test-${process.pid}-${tag}-${counter++}.pool`);
  made.add(path);
  rmSync(path, { force: true });
  return path;
}

export function removePoolFiles(): void {
  for (const path of made) rmSync(path, { force: true });
  made.clear();
}

export function pmemConfig(path: string, overrides: Partial<PoolConfig> = {}): PoolConfig {
  return Object.assign(new PoolConfig(), { pmemPoolPath: path, initialSize: 256 * 1024 }, overrides);
}

/** The word link() writes for the block at granule `g` (zig/src/pmem/links.zig): its check, then g. */
export function linkWord(g: number): bigint {
  let x = (g ^ 0x4c49_4e4b) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb_352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846c_a68b) >>> 0;
  x ^= x >>> 16;
  return (BigInt((x | 1) >>> 0) << 32n) | BigInt(g >>> 0);
}


/** Runs `bun <fixture> ...args` with PMEM forced on (and `env` added); resolves when it exits. */
export function runChild(script: string, args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return runBun(fixture(script), args, { env: { ...process.env, PMEM_IS_PMEM_FORCE: "1", ...env } });
}

/**
 * Runs `bun <fixture> ...args` with PMEM forced on, waits until it prints "ready" (its pool is open),
 * then kills it with SIGKILL at a random instant of the next `windowMs` milliseconds.
 */
export async function killAtRandom(script: string, args: string[], windowMs: number): Promise<ChildResult> {
  const child = Bun.spawn([process.execPath, fixture(script), ...args], {
    env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  // Read as it comes (so the child never blocks on a full pipe) and note when the pool is open.
  let stdout = "";
  let opened: () => void = () => {};
  const ready = new Promise<void>((resolve) => (opened = resolve));
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      if (stdout.includes("ready")) opened();
    }
    opened();
  })();
  const stderr = new Response(child.stderr).text();
  await Promise.race([ready, Bun.sleep(10_000)]);
  await Bun.sleep(Math.floor(Math.random() * windowMs));
  child.kill("SIGKILL");
  await child.exited;
  await reading;
  return { exitCode: child.exitCode, signalCode: child.signalCode, stdout, stderr: await stderr };
}

/** Runs `tasks` with at most `limit` at a time (the machine has few cores). */
export async function inBatches<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
