#include "common/summary/numeric_bins.h"

namespace aims {
namespace {

// Four values at a time (GCC/Clang vector extensions: two SSE2 registers,
// or one AVX2 register in the clone for CPUs that have it): each edge is
// compared with all four, and a true compare, all ones, is -1 as an int64.
using Doubles = double __attribute__((vector_size(32)));
using Counts = int64_t __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AIMS_BIN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AIMS_BIN_CLONES
#endif

AIMS_BIN_CLONES
size_t CountFewEdges(const double* edges, size_t n, const double* values,
                     size_t count, uint64_t* histogram) {
  Doubles broadcast[16];
  for (size_t k = 0; k < n; ++k) {
    broadcast[k] = Doubles{edges[k], edges[k], edges[k], edges[k]};
  }
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    Doubles v;
    __builtin_memcpy(&v, values + i, sizeof(v));
    Counts bin = {0, 0, 0, 0};
    for (size_t k = 0; k < n; ++k) bin -= broadcast[k] <= v;
    ++histogram[bin[0]];
    ++histogram[bin[1]];
    ++histogram[bin[2]];
    ++histogram[bin[3]];
  }
  return i;
}

}  // namespace

void CountBins(const double* edges, size_t n, const double* values,
               size_t count, uint64_t* histogram) {
  size_t i = n <= 16 ? CountFewEdges(edges, n, values, count, histogram) : 0;
  for (; i < count; ++i) ++histogram[SearchedBin(edges, n, values[i])];
}

}  // namespace aims
