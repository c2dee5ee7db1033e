// Statistical functions the metric engines need, in double precision:
// survival functions of the chi-squared and Kolmogorov distributions, the
// noncentral chi-squared distribution and the inversion of its
// noncentrality, the Wilson score interval and multiple-testing corrections.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_SUMMARY_STATISTICS_H_
#define AIMS_COMMON_SUMMARY_STATISTICS_H_

#include <cstdint>
#include <vector>

namespace aims {

// z of a two-sided 95 % interval.
inline constexpr double kZ95 = 1.959963984540054;
// z of a two-sided 97.5 % interval: two of them hold together with at least
// 95 % (Bonferroni), as a maximum of two estimates needs.
inline constexpr double kZ975 = 2.241402727604947;
// 95 % quantile of the Kolmogorov distribution (scipy.stats.kstwobign.ppf):
// sqrt(n m / (n + m)) D stays below it in 95 % of two-sample draws from one
// distribution.
inline constexpr double kKolmogorov95 = 1.3580986393225505;

// P(Z <= z) for a standard normal Z.
double NormalCdf(double z);

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

// P(X <= x) for X ~ noncentral chi-squared with `dof` degrees of freedom and
// noncentrality `lambda` (scipy.stats.ncx2.cdf): the Poisson mixture of
// central chi-squared laws up to lambda 100, Sankaran's normal
// approximation above (absolute error below 1e-4 there).
double NoncentralChiSquaredCdf(double x, double dof, double lambda);

// The noncentralities lambda for which an observed x is not in either
// `tail` of noncentral chi-squared(dof, lambda): low solves
// P(X >= x; low) = tail (0 when even lambda 0 reaches x that often), high
// solves P(X <= x; high) = tail. With tail 0.025, a 95 % interval of
// lambda from one draw x.
Interval NoncentralityInterval(double x, double dof, double tail = 0.025);

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
