// Test helper: compares two window summaries, doubles approximately (merge
// order changes floating-point sums in the last bits), everything else
// exactly; a difference is a gtest failure listing the fields.
#ifndef AIMS_TESTS_TESTING_SUMMARY_COMPARE_H_
#define AIMS_TESTS_TESTING_SUMMARY_COMPARE_H_

#include "aims/v1/summary.pb.h"

namespace aims::testing {

void ExpectSameSummary(const v1::WindowSummary& a, const v1::WindowSummary& b);

}  // namespace aims::testing

#endif  // AIMS_TESTS_TESTING_SUMMARY_COMPARE_H_
