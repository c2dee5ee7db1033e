// Training data for `aimsctl profile build`: the rows of a CSV file
// (ctl/csv.h) as events for a ProfileBuilder. The columns named
// like `label`, `score` and `prediction` give the outcome (a number where
// the cell parses as one, a class otherwise; the score must be in [0, 1]);
// `sensitive` columns are attributes; `ignore` columns are skipped; every
// other column is a feature (a number, a category, or missing when empty).
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_PROFILE_CSV_H_
#define AIMS_CTL_PROFILE_CSV_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/summary/profile_builder.h"

namespace aims::ctl {

struct ProfileCsvColumns {
  std::string label = "label";
  std::string score = "score";
  std::string prediction = "prediction";
  std::vector<std::string> sensitive;
  std::vector<std::string> ignore;
};

// Adds every data row of `in` to `builder` and returns the header in
// `header`. Fails like ReadCsv, on a feature or attribute column whose name
// is empty or longer than EventLimits::max_name_bytes (128), or on a score
// that is not a number in [0, 1] ("line 3: column score: score must be a
// number in [0, 1], got 'x'").
absl::Status AddCsvRows(std::istream& in, const ProfileCsvColumns& columns,
                        ProfileBuilder* builder,
                        std::vector<std::string>* header);

}  // namespace aims::ctl

#endif  // AIMS_CTL_PROFILE_CSV_H_
