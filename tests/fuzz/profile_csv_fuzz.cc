// Fuzz target: `aimsctl profile build` from CSV training data. The first
// byte of the input chooses the build options (task = b % 3: binary,
// multiclass, regression; numeric_bins = b / 3 % 12, where 0 is invalid;
// top_k = b / 36 % 8); the rest is the CSV file, with the label column
// "label", score "score", prediction "prediction", sensitive columns
// "gender" and "region" and an ignored column "id". Never a crash or a
// sanitizer report, and a profile the builder returns must pass the
// collector's ValidateProfile (else `--put` would be refused).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/summary/profile_builder.h"
#include "ctl/profile_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t b = data[0];
  aims::ProfileBuildOptions options;
  const aims::v1::TaskType tasks[] = {aims::v1::TASK_TYPE_BINARY,
                                      aims::v1::TASK_TYPE_MULTICLASS,
                                      aims::v1::TASK_TYPE_REGRESSION};
  options.task = tasks[b % 3];
  options.numeric_bins = b / 3 % 12;
  options.top_k = b / 36 % 8;
  options.max_rows = 1000;  // keeps the fuzzer's memory small
  aims::ProfileBuilder builder(options);
  aims::ctl::ProfileCsvColumns columns;
  columns.sensitive = {"gender", "region"};
  columns.ignore = {"id"};
  std::istringstream in(
      std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::vector<std::string> header;
  if (!aims::ctl::AddCsvRows(in, columns, &builder, &header).ok()) return 0;
  aims::v1::ModelRef model;
  model.set_name("fuzz");
  model.set_version("1");
  model.set_environment("any");
  absl::StatusOr<aims::v1::ReferenceProfile> profile =
      builder.Build(model, aims::v1::PROFILE_SOURCE_TRAINING_DATA, "fuzz");
  if (!profile.ok()) return 0;
  if (absl::Status valid = aims::ValidateProfile(*profile); !valid.ok()) {
    std::fprintf(stderr, "profile_csv_fuzz: built profile is invalid: %s\n",
                 valid.ToString().c_str());
    std::abort();
  }
  return 0;
}
