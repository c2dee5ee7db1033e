#include "ctl/profile_csv.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ctl/csv.h"

namespace aims::ctl {
namespace {

Outcome CellOutcome(const std::string& cell) {
  Outcome o;
  double number = 0;
  if (cell.empty()) return o;
  if (absl::SimpleAtod(cell, &number)) {
    o.kind = Outcome::Kind::kNumber;
    o.number = number;
  } else {
    o.kind = Outcome::Kind::kClass;
    o.class_label = cell;
  }
  return o;
}

}  // namespace

absl::Status AddCsvRows(std::istream& in, const ProfileCsvColumns& columns,
                        ProfileBuilder* builder,
                        std::vector<std::string>* header) {
  int label = -1, score = -1, prediction = -1;
  std::vector<int> role;  // 0 feature, 1 attribute, 2 ignored/special
  return ReadCsv(
      in, header, [&](const std::vector<std::string>& fields, size_t line) {
        if (role.empty()) {
          const size_t max_name = EventLimits().max_name_bytes;
          for (size_t i = 0; i < header->size(); ++i) {
            const std::string& name = (*header)[i];
            int r = 0;
            if (name == columns.label) label = i, r = 2;
            if (name == columns.score) score = i, r = 2;
            if (name == columns.prediction) prediction = i, r = 2;
            for (const auto& s : columns.sensitive)
              if (s == name) r = 1;
            for (const auto& s : columns.ignore)
              if (s == name) r = 2;
            // Feature and attribute names go into the profile, whose names
            // the collector limits as it limits events'.
            if (r != 2 && (name.empty() || name.size() > max_name)) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "line 1: column ", i + 1, ": the name is ", name.size(),
                  " bytes; feature and attribute names are 1..", max_name,
                  " bytes (or --ignore the column)"));
            }
            role.push_back(r);
          }
        }
        Event e;
        for (size_t i = 0; i < fields.size(); ++i) {
          const std::string& cell = fields[i];
          if (role[i] == 1) {
            if (!cell.empty()) e.attributes.emplace_back((*header)[i], cell);
          } else if (role[i] == 0) {
            FeatureValue v;
            double number = 0;
            if (cell.empty()) {
              v.kind = FeatureValue::Kind::kMissing;
            } else if (absl::SimpleAtod(cell, &number)) {
              v.kind = FeatureValue::Kind::kNumber;
              v.number = number;
            } else {
              v.kind = FeatureValue::Kind::kCategory;
              v.category = cell;
            }
            e.features.emplace_back((*header)[i], std::move(v));
          }
        }
        if (label >= 0) e.label = CellOutcome(fields[label]);
        if (prediction >= 0) e.prediction = CellOutcome(fields[prediction]);
        if (score >= 0 && !fields[score].empty()) {
          double s = 0;
          if (!absl::SimpleAtod(fields[score], &s) || !(s >= 0 && s <= 1)) {
            return absl::InvalidArgumentError(
                absl::StrCat("line ", line, ": column ", columns.score,
                             ": score must be a number in [0, 1], got '",
                             fields[score], "'"));
          }
          e.score = s;
        }
        builder->Add(e);
        return absl::OkStatus();
      });
}

}  // namespace aims::ctl
