// CSV reading for `aimsctl profile build`: RFC 4180 fields (quotes, doubled
// quotes, separators and newlines inside quotes), a header row naming the
// columns. Errors name the line.
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_CSV_H_
#define AIMS_CTL_CSV_H_

#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace aims::ctl {

// Calls `row` for every data row with the header's column count; fails on a
// row with another number of fields or an unterminated quote. Limits: 10,000
// columns, 1 MiB per field.
absl::Status ReadCsv(std::istream& in, std::vector<std::string>* header,
                     const std::function<absl::Status(
                         const std::vector<std::string>&, size_t line)>& row);

}  // namespace aims::ctl

#endif  // AIMS_CTL_CSV_H_
