// Debug kernels of bun-memory-pool, built by nvcc at build time into a fatbin that the Zig core
// embeds and loads with the driver's module API (zig/src/gpu/kernels.zig).
//   mp_fill            writes one byte value over a range (poison on allocate / free)
//   mp_check_pattern   finds the first byte of a range that differs from a value
//   mp_check_canaries  checks the canaries around every live allocation in one launch
// Mismatches are reported with atomicMin on a 64-bit word, so the lowest one wins whatever
// the order threads run in; the host reads it once after the launch.
#include <stdint.h>

namespace {

__device__ __forceinline__ uint64_t thread_index() { return blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; }
__device__ __forceinline__ uint64_t thread_count() { return (uint64_t)gridDim.x * blockDim.x; }

__device__ __forceinline__ uint4 splat(uint8_t value) {
  const uint32_t word = value * 0x01010101u;
  return make_uint4(word, word, word, word);
}

// The range [begin, begin + n) as unaligned head bytes, 16-byte words, and tail bytes.
struct Split {
  uint64_t head, words, tail_start;
};

__device__ __forceinline__ Split split(uintptr_t begin, uint64_t n) {
  uint64_t head = (16 - (begin & 15)) & 15;
  if (head > n) head = n;
  const uint64_t words = (n - head) / 16;
  return {head, words, head + words * 16};
}

}  // namespace

extern "C" __global__ void mp_fill(uint8_t* dst, uint32_t value, uint64_t n) {
  const uint8_t byte = (uint8_t)value;
  const Split s = split((uintptr_t)dst, n);
  const uint64_t tid = thread_index(), stride = thread_count();
  if (tid < s.head) dst[tid] = byte;
  uint4* words = (uint4*)(dst + s.head);
  const uint4 pattern = splat(byte);
  for (uint64_t i = tid; i < s.words; i += stride) words[i] = pattern;
  if (tid < n - s.tail_start) dst[s.tail_start + tid] = byte;
}

// first_bad receives the lowest offset whose byte is not `value` (it starts at ~0).
extern "C" __global__ void mp_check_pattern(const uint8_t* src, uint32_t value, uint64_t n, unsigned long long* first_bad) {
  const uint8_t byte = (uint8_t)value;
  const Split s = split((uintptr_t)src, n);
  const uint64_t tid = thread_index(), stride = thread_count();
  if (tid < s.head && src[tid] != byte) atomicMin(first_bad, tid);
  const uint4* words = (const uint4*)(src + s.head);
  const uint4 pattern = splat(byte);
  for (uint64_t i = tid; i < s.words; i += stride) {
    const uint4 w = words[i];
    if (w.x != pattern.x || w.y != pattern.y || w.z != pattern.z || w.w != pattern.w) {
      // Find the byte inside the word; rare, so plain byte reads are fine.
      const uint8_t* bytes = (const uint8_t*)&words[i];
      for (int b = 0; b < 16; b++)
        if (bytes[b] != byte) {
          atomicMin(first_bad, s.head + i * 16 + b);
          break;
        }
    }
  }
  const uint64_t t = s.tail_start + tid;
  if (t < n && src[t] != byte) atomicMin(first_bad, t);
}

// One live allocation: its user bytes start at `address` and span `size`; `canary_bytes` before
// and after them hold `value`.
struct Guarded {
  uint64_t address;
  uint64_t size;
};

// One warp per (allocation, side). first_bad receives (index << 32) | (side << 31) | offset of
// the lowest damaged canary byte: side 0 is before the allocation, 1 after it.
extern "C" __global__ void mp_check_canaries(const Guarded* table, uint32_t count, uint32_t canary_bytes, uint32_t value,
                                             unsigned long long* first_bad) {
  const uint8_t byte = (uint8_t)value;
  const uint64_t warp = thread_index() / 32, warps = thread_count() / 32;
  const uint32_t lane = threadIdx.x % 32;
  for (uint64_t pair = warp; pair < 2ull * count; pair += warps) {
    const uint64_t index = pair / 2, side = pair % 2;
    const Guarded g = table[index];
    const uint8_t* begin = side == 0 ? (const uint8_t*)(g.address - canary_bytes) : (const uint8_t*)(g.address + g.size);
    for (uint32_t offset = lane; offset < canary_bytes; offset += 32) {
      if (begin[offset] != byte) {
        atomicMin(first_bad, (index << 32) | (side << 31) | offset);
        break;
      }
    }
  }
}
