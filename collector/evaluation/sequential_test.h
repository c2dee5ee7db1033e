// The sequential test of a series: Page's one-sided CUSUM (Biometrika 41,
// 1954) on standardized step statistics z, with its threshold h set from a
// false-alarm budget by Siegmund's approximation of the average run length
// (D. Siegmund, Sequential Analysis, Springer 1985: the boundary corrected
// by 2 x 0.583 = 1.166); docs/metrics.md, "Decisions".
//
// Each step (one window of data) gives z, about N(0, 1) when the metric's
// true value sits exactly at the objective's threshold and larger beyond it.
// The statistic accumulates the excess over a reference k:
//
//   S_0 = 0,  S_n = min(2h, max(0, S_{n-1} + z_n - k))
//
// and shows a breach when S > h. Without a shift, S drifts to 0 and crosses
// h on average once in ARL0(h) steps; a persistent excess d > k crosses
// after about h / (d - k) steps. Capping S at 2h bounds how long a firing
// series takes to recover once the excess is gone (about 3h / (2k) steps
// to fall below h / 2).
//
// Thread-safety: pure functions.
#ifndef AIMS_COLLECTOR_EVALUATION_SEQUENTIAL_TEST_H_
#define AIMS_COLLECTOR_EVALUATION_SEQUENTIAL_TEST_H_

#include "absl/time/time.h"

namespace aims::collector {

// k: the CUSUM is tuned to detect an excess of one standard error (2k)
// fastest.
inline constexpr double kCusumReference = 0.5;

// Siegmund's approximation of the in-control average run length of a CUSUM
// with reference k and threshold h on N(0, 1) steps, in steps:
// (exp(2 k b) - 2 k b - 1) / (2 k^2) with b = h + 1.166.
double CusumRunLength(double h, double k = kCusumReference);

// The threshold h whose CusumRunLength is `run_length` steps (bisection to
// 1e-9); 0 when even h = 0 runs that long.
double CusumThreshold(double run_length, double k = kCusumReference);

// The in-control run length a budget of one false alarm per `period` asks
// of each of `series` series judged every `step` (Bonferroni: each series
// gets an equal share of the budget): (period / step) * series steps.
double BudgetRunLength(absl::Duration period, absl::Duration step, int series);

// One step of the statistic: min(2h, max(0, s + z - k)).
double CusumStep(double s, double z, double h, double k = kCusumReference);

// What the statistic shows.
enum class CusumSignal {
  kNone,      // s <= h / 2
  kPossible,  // h / 2 < s <= h: evidence is growing, not yet enough
  kBreach,    // s > h
};
CusumSignal CusumSignalOf(double s, double h);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_SEQUENTIAL_TEST_H_
