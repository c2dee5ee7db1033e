#include "agent/agent_options.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/cli.h"
#include "common/net/bearer_token.h"
#include "common/summary/validation.h"

namespace aims::agent {
namespace {

// The first of `checks` that failed, or OK; all are cheap.
absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckModel(const v1::ModelRef& model) {
  if (model.name().empty()) {
    return absl::InvalidArgumentError("--model_name is required");
  }
  if (model.version().empty()) {
    return absl::InvalidArgumentError("--model_version is required");
  }
  absl::Status valid = ValidateModelRef(model, "model");
  if (valid.ok()) return valid;
  // "model.version: ..." names the field of the Hello; say which flag.
  absl::string_view message = valid.message();
  for (const auto& [field, flag] :
       {std::pair{"model.name", "--model_name"},
        std::pair{"model.version", "--model_version"},
        std::pair{"model.environment", "--environment"}}) {
    if (absl::ConsumePrefix(&message, field)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, message));
    }
  }
  return valid;
}

absl::Status CheckIntake(const AgentOptions& o) {
  if (!o.intake_token_sha256.empty() && !IsSha256Hex(o.intake_token_sha256)) {
    return absl::InvalidArgumentError(
        "--intake_token_sha256: expected 64 lowercase hex digits (the "
        "SHA-256 of the token)");
  }
  const EventLimits& e = o.intake.event;
  return FirstError({
      CheckRange("--intake_threads", o.intake_threads, 1, 64),
      CheckRange("--intake_queue_capacity", o.intake_queue_capacity, 1,
                 100'000),
      CheckRange("--grpc_max_in_flight", o.grpc_max_in_flight, 1, 10'000),
      CheckRange("--max_body_bytes", o.max_body_bytes, 1024, int64_t{1} << 30),
      CheckRange("--max_events_per_batch", o.intake.max_events_per_batch, 1,
                 1'000'000),
      CheckRange("--max_features_per_event", e.max_features, 1, 100'000),
      CheckRange("--max_attributes_per_event", e.max_attributes, 1, 10'000),
      CheckRange("--max_probabilities_per_event", e.max_probabilities, 1,
                 100'000),
      CheckRange("--max_name_bytes", e.max_name_bytes, 1, 65536),
      CheckRange("--max_string_bytes", e.max_string_bytes, 1, 1 << 20),
      CheckRange("--max_prediction_id_bytes", e.max_prediction_id_bytes, 1,
                 65536),
      CheckAtLeast("--max_clock_skew", e.max_clock_skew, absl::ZeroDuration()),
      CheckAtLeast("--max_event_age", e.max_event_age, absl::Seconds(1)),
  });
}

// At most 8 keys (each costs about one more fold of every event), named
// like attributes, none twice.
absl::Status CheckSliceKeys(const std::vector<std::string>& keys) {
  if (keys.size() > 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--slice_keys: ", keys.size(), " keys, must be at most 8"));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty() || keys[i].size() > 128) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--slice_keys: '", keys[i], "', a key must be 1..128 bytes"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (keys[j] == keys[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat("--slice_keys: '", keys[i], "' given twice"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWindows(const AgentOptions& o) {
  const SummaryConfig& w = o.summary;
  return FirstError({
      CheckRange("--window", o.window, absl::Seconds(1), absl::Hours(1)),
      CheckRange("--allowed_lateness", o.allowed_lateness, absl::ZeroDuration(),
                 absl::Hours(24)),
      CheckRange("--max_open_windows", static_cast<int64_t>(o.max_open_windows),
                 2, 100'000),
      CheckRange("--max_features_per_window", w.max_features, 1, 100'000),
      CheckRange("--max_attributes_per_window", w.max_attributes, 1, 10'000),
      CheckRange("--max_classes_per_window", w.max_classes, 2, 10'000),
      CheckRange("--max_groups_per_attribute", w.max_groups_per_attribute, 2,
                 100'000),
      CheckRange("--max_categories_per_feature", o.max_categories_per_feature,
                 1, 10'000'000),
      CheckRange("--reference_events", o.reference_events, 0, 1'000'000),
      CheckRange("--max_slice_values", w.max_slice_values, 1, 1000),
      CheckSliceKeys(w.slice_keys),
  });
}

// 0 (a sixteenth of the intake log) or 4 KiB up to that.
absl::Status CheckJoinBytes(absl::string_view flag, int64_t value, int64_t min,
                            int64_t max) {
  return value == 0 ? absl::OkStatus() : CheckRange(flag, value, min, max);
}

absl::Status CheckStores(const AgentOptions& o) {
  return FirstError({
      CheckAtLeast("--spool_max_bytes", o.spool_max_bytes, 64 << 10),
      CheckAtLeast("--intake_log_max_bytes", o.intake_log_max_bytes, 1 << 20),
      CheckJoinBytes("--max_pending_prediction_bytes",
                     static_cast<int64_t>(o.join.max_pending_bytes), 4 << 10,
                     static_cast<int64_t>(o.intake_log_max_bytes / 16)),
      CheckRange("--max_forwarded_labels",
                 static_cast<int64_t>(o.join.max_forwarded_labels), 1,
                 10'000'000),
      CheckJoinBytes("--max_forwarded_label_bytes",
                     static_cast<int64_t>(o.join.max_forwarded_bytes), 4 << 10,
                     static_cast<int64_t>(o.intake_log_max_bytes / 16)),
  });
}

}  // namespace

absl::Status AgentOptions::Validate() const {
  return FirstError({CheckModel(model), ValidateHttpLimits(http),
                     CheckIntake(*this), CheckWindows(*this),
                     CheckStores(*this)});
}

}  // namespace aims::agent
