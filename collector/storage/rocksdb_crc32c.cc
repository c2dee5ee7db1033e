#include "collector/storage/rocksdb_crc32c.h"

#include <atomic>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// Linked with --wrap for this symbol (collector/CMakeLists.txt): RocksDB's
// calls of rocksdb::crc32c::Extend reach __wrap_..., and __real_... is
// RocksDB's own definition.
extern "C" uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc,
                                                           const char* data,
                                                           size_t size);

namespace aims::collector {
namespace {

using ExtendFunction = uint32_t (*)(uint32_t, const char*, size_t);

std::atomic<uint64_t> calls{0};

#if defined(__x86_64__)
// CRC32C with the same pre- and post-inversion as RocksDB's Extend.
__attribute__((target("sse4.2"))) uint32_t HardwareExtend(uint32_t crc,
                                                          const char* data,
                                                          size_t size) {
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    c = _mm_crc32_u64(c, word);
    data += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size-- > 0) c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*data++));
  return ~c32;
}
#endif

struct Choice {
  ExtendFunction function;
  const char* name;
};

Choice Choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return {HardwareExtend, "sse4.2"};
#endif
  return {__real__ZN7rocksdb6crc32c6ExtendEjPKcm, "rocksdb"};
}

const Choice& Chosen() {
  static const Choice choice = Choose();
  return choice;
}

}  // namespace

const char* RocksDbCrc32cImplementation() { return Chosen().name; }

uint64_t RocksDbCrc32cCalls() { return calls.load(std::memory_order_relaxed); }

}  // namespace aims::collector

// Replaces RocksDB's rocksdb::crc32c::Extend (see rocksdb_crc32c.h).
extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc,
                                                           const char* data,
                                                           size_t size) {
  aims::collector::calls.fetch_add(1, std::memory_order_relaxed);
  return aims::collector::Chosen().function(crc, data, size);
}
