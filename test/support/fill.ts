// Fills a pool to its limit: what a test of maxSize or of running out does first.

/** Calls `allocate` until it throws; returns what it gave and what it threw. */
export function allocateUntilRefused<T>(allocate: () => T): { held: T[]; refused: unknown } {
  const held: T[] = [];
  for (;;) {
    try {
      held.push(allocate());
    } catch (refused) {
      return { held, refused };
    }
  }
}
