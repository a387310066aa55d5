// Suites whose cases hold for CPU and GPU pools alike (allocate, free, statistics; no views): one
// body run on each kind, the GPU kind skipped with the reason printed where no CUDA device is.
import { afterAll } from "bun:test";
import { type CPUMemoryPool, type GPUMemoryPool, MemoryPoolManager, type PinnedMemoryPool, PoolConfig } from "../../src/index";
import { gpuUnavailableReason } from "../../src/native";

export type AnyPool = CPUMemoryPool | GPUMemoryPool;
/** An allocation of either kind, as the kind-blind cases see it. */
export type Block = { ptr: number; size: number; free(): void };
export interface PoolKind {
  kind: "CPU" | "GPU";
  /** Why this kind's cases are skipped here, or undefined. */
  skip: string | undefined;
  make(name: string, fields: Partial<PoolConfig>): AnyPool;
}

/**
 * Registers the calling test file's cleanup and returns the kinds, and a namer whose pools the
 * cleanup destroys. `file` names the test file in the message of a skipped GPU kind.
 */
export function poolKinds(file: string): { kinds: PoolKind[]; named: (label: string) => string } {
  const manager = MemoryPoolManager.getInstance();
  const whyNotGpu = gpuUnavailableReason();
  if (whyNotGpu !== undefined) console.log(`[${file}] GPU cases skipped: ${whyNotGpu}`);
  const made: string[] = [];
  afterAll(() => {
    for (const name of made) if (manager.hasPool(name)) manager.destroyPool(name);
  });
  const named = (label: string): string => {
    const name = `${label}-${made.length}`;
    made.push(name);
    return name;
  };
  return {
    named,
    kinds: [
      { kind: "CPU", skip: undefined, make: (name, fields) => manager.createCPUPool(name, Object.assign(new PoolConfig(), fields)) },
      { kind: "GPU", skip: whyNotGpu, make: (name, fields) => manager.createGPUPool(name, Object.assign(new PoolConfig(), fields)) },
    ],
  };
}

export function allocateBlock(pool: AnyPool | PinnedMemoryPool, size: number): Block {
  const block = pool.allocate(size);
  return { ptr: block.ptr as number, size: block.size, free: () => block.free() };
}

/** Throws where two blocks overlap, or (given) one is not aligned to `alignment`. */
export function noOverlap(blocks: Block[], alignment = 1): void {
  const sorted = [...blocks].sort((a, b) => a.ptr - b.ptr);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.ptr % alignment !== 0) throw new Error(`block at ${sorted[i]!.ptr} is not aligned to ${alignment}`);
    if (i > 0 && sorted[i - 1]!.ptr + sorted[i - 1]!.size > sorted[i]!.ptr) throw new Error(`blocks at ${sorted[i - 1]!.ptr} (${sorted[i - 1]!.size} B) and ${sorted[i]!.ptr} overlap`);
  }
}
