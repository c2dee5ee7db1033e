// Bins on numeric edges, with under- and overflow bins: a value's bin is the
// number of edges <= it, so `n` edges make n + 1 bins. Reference profiles
// have few edges (10 by default; 100 score bins). A binary search with
// branches mispredicts on every value (perf: a loop of comisd/sbb was 12 %
// of the update path), so neither the search nor the count here branches
// on a comparison.
//
// Thread-safety: pure functions.
#ifndef AIMS_COMMON_SUMMARY_NUMERIC_BINS_H_
#define AIMS_COMMON_SUMMARY_NUMERIC_BINS_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace aims {

// The bin of a finite `v` on `n` increasing edges, by a binary search whose
// loads and compares overlap those of the next value.
inline size_t SearchedBin(const double* edges, size_t n, double v) {
  if (n == 0) return 0;
  const double* base = edges;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] <= v ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - edges) + (*base <= v);
}

// The bin of any `v`; NaN falls past the last edge, as std::upper_bound.
inline size_t NumericBin(const double* edges, size_t n, double v) {
  return std::isnan(v) ? n : SearchedBin(edges, n, v);
}

// Counts each of `values` (all finite) in its bin: ++histogram[bin]. Up to
// 16 edges several values at a time are compared with every edge (SIMD,
// AVX2 where the CPU has it); beyond, each value is searched.
void CountBins(const double* edges, size_t n, const double* values,
               size_t count, uint64_t* histogram);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_NUMERIC_BINS_H_
