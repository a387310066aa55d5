/*
 * Instructions per allocate + free pair through the core's C ABI (mp_alloc, mp_free), one pool
 * kind at a time: a load-independent check that a change to the core's layers (zig/src/layers.zig,
 * counting.zig, strategy/placement.zig) keeps the hot path's cost, for a machine too loaded for
 * mitata's times. Not a speed figure: it counts instructions, not cycles or cache misses.
 *
 * Build a core valgrind can run (no AVX-512), and this probe:
 *   (cd zig && python3 -m ziglang build -Dcpu=x86_64_v3 -p /tmp/core_v3)   # PYTHONPATH=.tools/zig
 *   gcc -O2 -o /tmp/core_instructions bench/core_instructions.c -ldl
 * Then, per kind, the instructions of N pairs less those of none, over N:
 *   ir() { valgrind --tool=callgrind --callgrind-out-file=/tmp/ci.out /tmp/core_instructions \
 *          /tmp/core_v3/lib/libmemory_pool.so $1 $2 2>&1 | awk '/Collected/ {print $4}'; }
 *   for k in none mutex sharded lockfree fixedmutex ring; do
 *     echo "$k $(( ($(ir $k 50000) - $(ir $k 0)) / 50000 ))"; done
 * Kinds: none / mutex (Variable, threadSafety "none" / "mutex": the pool's own TLSF under its
 * lock layer), nostats (none without collectStats), sharded (Variable "lockFree"), lockfree and
 * fixedmutex (FixedSize 64 B "lockFree" / "mutex"), ring (Variable, 1000 live blocks of 16 B..64 KiB,
 * free the oldest and allocate one, as bench/ring.ts).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t (*create_fn)(const char *, uint32_t, const double *);
typedef uint32_t (*alloc_fn)(int32_t, double);
typedef int32_t (*free_fn)(int32_t, uint32_t, uint32_t);

/* zig/src/status.zig offset_error_base: offsets from here up are errors. */
#define OFFSET_ERROR_BASE 0xFFFFFF00u

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <core.so> <kind> <pairs>\n", argv[0]);
    return 2;
  }
  void *core = dlopen(argv[1], RTLD_NOW);
  if (core == NULL) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  create_fn create = (create_fn)dlsym(core, "mp_pool_create");
  alloc_fn alloc = (alloc_fn)dlsym(core, "mp_alloc");
  free_fn release = (free_fn)dlsym(core, "mp_free");
  const char *kind = argv[2];
  const long pairs = atol(argv[3]);
  /* The config record in zig/src/config.zig ConfigField order: kind, allocatorType, blockSize,
   * alignment, initialSize, maxSize (bounded: valgrind refuses a 64 GiB reservation), growth,
   * threadSafety, collectStats, deviceId, threadLocalCache, then the debug switches, all off. */
  double config[21] = {0, 1, 0, 16, 64 << 20, 256 << 20, 2, 0, 1, 0, 0, 0, 0, 1, -1, -1, 0, 0, 0, 0, 0};
  if (!strcmp(kind, "mutex")) config[7] = 1;
  else if (!strcmp(kind, "nostats")) config[8] = 0;
  else if (!strcmp(kind, "sharded")) config[7] = 2;
  else if (!strcmp(kind, "lockfree")) config[1] = 0, config[2] = 64, config[7] = 2;
  else if (!strcmp(kind, "fixedmutex")) config[1] = 0, config[2] = 64, config[7] = 1;
  else if (strcmp(kind, "none") && strcmp(kind, "ring")) {
    fprintf(stderr, "unknown kind %s\n", kind);
    return 2;
  }
  const int32_t pool = create(kind, (uint32_t)strlen(kind), config);
  if (pool < 0) {
    fprintf(stderr, "mp_pool_create failed: %d\n", pool);
    return 1;
  }
  if (!strcmp(kind, "ring")) {
    uint32_t ring[1000];
    uint32_t seed = 12345;
    for (int i = 0; i < 1000; i++) {
      seed = seed * 1103515245u + 12345u;
      ring[i] = alloc(pool, 16 + (seed >> 8) % 65520);
    }
    for (long i = 0; i < pairs; i++) {
      const int slot = (int)(i % 1000);
      release(pool, ring[slot], 0);
      seed = seed * 1103515245u + 12345u;
      ring[slot] = alloc(pool, 16 + (seed >> 8) % 65520);
      if (ring[slot] >= OFFSET_ERROR_BASE) {
        fprintf(stderr, "allocation failed\n");
        return 1;
      }
    }
    return 0;
  }
  for (long i = 0; i < pairs; i++) {
    const uint32_t g = alloc(pool, 64);
    if (g >= OFFSET_ERROR_BASE) {
      fprintf(stderr, "allocation failed: %u\n", g);
      return 1;
    }
    release(pool, g, 0);
  }
  return 0;
}
