/**
 * The variable-size ring both CPU suites time: 1000 live blocks of random sizes (16 B..64 KiB from
 * a fixed-seed stream); each step frees the oldest and allocates the next size, in the pool and,
 * as the anchor, with libc malloc/free through bun:ffi.
 */
import type { Pointer } from "bun:ffi";
import { do_not_optimize } from "mitata";
import type { CPUMemoryPool } from "../src/index";
import { free, malloc } from "./anchors";
import { KiB, randomSizes } from "./util";

const RING = 1000;
const SIZE_STREAM = 1 << 16; // sizes are drawn from a pre-generated stream, cycled
const SIZE_MASK = SIZE_STREAM - 1;
const SIZE_SEED = 0x5eed_0001;

export interface Rings {
  poolStep(): void;
  libcStep(): void;
  /** Frees the libc ring (the pool's blocks go with its pool). */
  cleanup(): void;
}

/** Both rings filled; with `warmup`, run that many steps each to a steady state before timing. */
export function makeRings(pool: CPUMemoryPool, warmup = 0): Rings {
  const sizes = randomSizes(SIZE_STREAM, 16, 64 * KiB, SIZE_SEED);
  const poolRing = new Float64Array(RING);
  const libcRing = new Float64Array(RING);
  let poolSlot = 0;
  let poolNext = 0;
  let libcSlot = 0;
  let libcNext = 0;
  for (let i = 0; i < RING; i++) {
    poolRing[i] = pool.allocateRaw(sizes[poolNext++]!);
    libcRing[i] = malloc(sizes[libcNext++]!)!;
  }
  const rings: Rings = {
    poolStep() {
      pool.deallocate(poolRing[poolSlot]!);
      const p = pool.allocateRaw(sizes[poolNext]!);
      poolRing[poolSlot] = p;
      poolNext = (poolNext + 1) & SIZE_MASK;
      poolSlot = poolSlot + 1 === RING ? 0 : poolSlot + 1;
      do_not_optimize(p);
    },
    libcStep() {
      free(libcRing[libcSlot]! as Pointer);
      const p = malloc(sizes[libcNext]!)!;
      libcRing[libcSlot] = p;
      libcNext = (libcNext + 1) & SIZE_MASK;
      libcSlot = libcSlot + 1 === RING ? 0 : libcSlot + 1;
      do_not_optimize(p);
    },
    cleanup() {
      for (let i = 0; i < RING; i++) free(libcRing[i]! as Pointer);
    },
  };
  for (let i = 0; i < warmup; i++) {
    rings.poolStep();
    rings.libcStep();
  }
  return rings;
}
