// Statistical functions the metric engines need, in double precision:
// survival functions of the chi-squared and Kolmogorov distributions, the
// Wilson score interval and multiple-testing corrections.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_SUMMARY_STATISTICS_H_
#define AIMS_COMMON_SUMMARY_STATISTICS_H_

#include <cstdint>
#include <vector>

namespace aims {

// z of a two-sided 95 % interval.
inline constexpr double kZ95 = 1.959963984540054;

// P(X > x) for X ~ chi-squared with `dof` degrees of freedom
// (scipy.stats.chi2.sf).
double ChiSquaredSurvival(double x, double dof);

// P(K > x) for the Kolmogorov distribution (scipy.stats.kstwobign.sf), the
// asymptotic law of sqrt(n m / (n + m)) D for the two-sample KS statistic.
double KolmogorovSurvival(double x);

struct Interval {
  double low = 0;
  double high = 0;
};

// Wilson score interval of a proportion successes / n (n > 0).
Interval WilsonInterval(uint64_t successes, uint64_t n, double z = kZ95);

// Newcombe's hybrid score interval for p1 - p2 from the two Wilson intervals.
Interval NewcombeDifference(double p1, Interval ci1, double p2, Interval ci2);

// Adjusted p-values: Bonferroni (min(1, p * m)) and Benjamini-Hochberg
// (step-up, monotone; as statsmodels' fdr_bh), in input order.
std::vector<double> BonferroniAdjust(const std::vector<double>& p);
std::vector<double> BenjaminiHochbergAdjust(const std::vector<double>& p);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_STATISTICS_H_
