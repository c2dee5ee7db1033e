#include "common/summary/validation.h"

#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
#include "common/summary/quantile_sketch.h"

namespace aims {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// A field's name, built only when a check fails: every report is validated
// at ingest, and most of its fields are in repeated messages (100 features,
// four checks each).
class Field {
 public:
  Field(const char* name) : prefix_(name) {}         // NOLINT: implicit
  Field(const std::string& name) : prefix_(name) {}  // NOLINT: implicit
  // "<prefix>[<index>]<suffix>"
  Field(absl::string_view prefix, int index, absl::string_view suffix)
      : prefix_(prefix), index_(index), suffix_(suffix) {}
  std::string str() const {
    if (index_ < 0) return std::string(prefix_);
    return absl::StrCat(prefix_, "[", index_, "]", suffix_);
  }

 private:
  absl::string_view prefix_;
  int index_ = -1;
  absl::string_view suffix_;
};

// [A-Za-z0-9] plus `extra`, 1..max bytes.
absl::Status CheckToken(absl::string_view field, const std::string& value,
                        size_t max, absl::string_view extra) {
  if (value.empty()) return Invalid(field, "required");
  if (value.size() > max) {
    return Invalid(field, absl::StrCat(value.size(), " bytes, limit ", max));
  }
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') ||
                    extra.find(c) != absl::string_view::npos;
    if (!ok) {
      return Invalid(
          field, absl::StrCat("character '", std::string(1, c),
                              "' not allowed (use [A-Za-z0-9", extra, "])"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckName(const Field& field, const std::string& value,
                       size_t max) {
  if (value.empty()) return Invalid(field.str(), "required");
  if (value.size() > max) {
    return LimitError(field.str(), absl::StrCat(value.size(), " bytes"),
                      absl::StrCat(max), "--max_report_name_bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckFinite(const Field& field,
                         std::initializer_list<double> values) {
  for (double v : values) {
    if (!std::isfinite(v)) {
      return Invalid(field.str(), absl::StrCat("must be finite, got ", v));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSketch(const Field& field, const v1::QuantileSketch& sketch) {
  if (absl::Status valid = QuantileSketch::Validate(sketch); !valid.ok()) {
    return Invalid(field.str(), valid.message());
  }
  return absl::OkStatus();
}

absl::Status CheckBins(const Field& field, const v1::BinnedCounts& bins,
                       const ReportLimits& limits) {
  if (static_cast<size_t>(bins.counts_size()) > limits.max_bins) {
    return LimitError(field.str(), absl::StrCat(bins.counts_size(), " bins"),
                      absl::StrCat(limits.max_bins), "--max_report_bins");
  }
  return absl::OkStatus();
}

// ValidateReport's parts, in the order it checks them (the first error is
// the one reported).

// Agent, sequence, window and parts.
absl::Status CheckEnvelope(const v1::WindowReport& report,
                           absl::string_view agent_id,
                           const ReportLimits& limits) {
  if (report.agent_id() != agent_id) {
    return Invalid(
        "report.agent_id",
        absl::StrCat("'", report.agent_id(),
                     "' differs from the stream's agent '", agent_id, "'"));
  }
  if (report.sequence() == 0) return Invalid("report.sequence", "must be >= 1");
  if (!report.has_window_start() || !report.has_window_end()) {
    return Invalid("report.window_start",
                   "window_start and window_end required");
  }
  const int64_t start = report.window_start().seconds();
  const int64_t end = report.window_end().seconds();
  const bool end_after =
      end > start || (end == start && report.window_end().nanos() >
                                          report.window_start().nanos());
  if (!end_after)
    return Invalid("report.window_end", "must be after window_start");
  if (end - start > limits.max_window_seconds) {
    return LimitError(
        "report.window_end", absl::StrCat("window spans ", end - start, " s"),
        absl::StrCat(limits.max_window_seconds, " s"), "--max_report_window");
  }
  if (report.part_count() > 64) {
    return Invalid("report.part_count",
                   absl::StrCat(report.part_count(), " parts, limit 64"));
  }
  if (report.part_count() > 1 && report.part_index() >= report.part_count()) {
    return Invalid("report.part_index",
                   absl::StrCat(report.part_index(), " not below part_count ",
                                report.part_count()));
  }
  return absl::OkStatus();
}

absl::Status CheckConfusion(const v1::ConfusionMatrix& cm,
                            const ReportLimits& limits) {
  if (static_cast<size_t>(cm.classes_size()) > limits.max_classes) {
    return LimitError("report.summary.performance.confusion.classes",
                      absl::StrCat(cm.classes_size(), " classes"),
                      absl::StrCat(limits.max_classes), "--max_report_classes");
  }
  for (int c = 0; c < cm.classes_size(); ++c) {
    if (auto st = CheckName(
            absl::StrCat("report.summary.performance.confusion.classes[", c,
                         "]"),
            cm.classes(c), limits.max_name_bytes);
        !st.ok()) {
      return st;
    }
  }
  if (cm.counts_size() != cm.classes_size() * cm.classes_size()) {
    return Invalid("report.summary.performance.confusion.counts",
                   absl::StrCat(cm.counts_size(), " counts for ",
                                cm.classes_size(), " classes (need n*n)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRejectionReasons(const v1::OperationalSummary& operational,
                                   const ReportLimits& limits) {
  const auto& reasons = operational.rejected_by_reason();
  if (reasons.size() > kMaxRejectionReasons) {
    return Invalid(
        "report.summary.operational.rejected_by_reason",
        absl::StrCat(reasons.size(), " reasons, limit ", kMaxRejectionReasons));
  }
  for (const auto& [reason, n] : reasons) {
    if (auto st = CheckName("report.summary.operational.rejected_by_reason",
                            reason, limits.max_name_bytes);
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

// Score histograms by label, and the probability and regression sums.
absl::Status CheckScoreHistogramsAndSums(
    const v1::PerformanceSummary& performance, const ReportLimits& limits) {
  if (performance.score_by_label_size() > 2) {
    return Invalid("report.summary.performance.score_by_label",
                   absl::StrCat(performance.score_by_label_size(),
                                " histograms, one per label (2) expected"));
  }
  for (int i = 0; i < performance.score_by_label_size(); ++i) {
    if (auto st = CheckBins(
            absl::StrCat("report.summary.performance.score_by_label[", i, "]"),
            performance.score_by_label(i), limits);
        !st.ok()) {
      return st;
    }
  }
  const v1::ProbabilitySums& prob = performance.probability();
  if (auto st = CheckFinite("report.summary.performance.probability",
                            {prob.sum_log_loss(), prob.sum_brier()});
      !st.ok()) {
    return st;
  }
  const v1::RegressionSums& reg = performance.regression();
  return CheckFinite("report.summary.performance.regression",
                     {reg.sum_error(), reg.sum_abs_error(),
                      reg.sum_squared_error(), reg.sum_label(),
                      reg.sum_label_squared(), reg.sum_abs_percentage_error()});
}

absl::Status CheckFeatures(const v1::WindowSummary& s,
                           const ReportLimits& limits) {
  if (static_cast<size_t>(s.features_size()) > limits.max_features) {
    return LimitError(
        "report.summary.features", absl::StrCat(s.features_size(), " features"),
        absl::StrCat(limits.max_features), "--max_report_features");
  }
  for (int i = 0; i < s.features_size(); ++i) {
    const v1::FeatureSummary& f = s.features(i);
    auto field = [i](absl::string_view suffix) {
      return Field("report.summary.features", i, suffix);
    };
    if (auto st = CheckName(field(".name"), f.name(), limits.max_name_bytes);
        !st.ok()) {
      return st;
    }
    if (i > 0 && !(s.features(i - 1).name() < f.name())) {
      return Invalid(field(".name").str(),
                     "features must be sorted and unique");
    }
    if (auto st = CheckBins(field(".histogram"), f.histogram(), limits);
        !st.ok()) {
      return st;
    }
    if (auto st = CheckSketch(field(".sketch"), f.sketch()); !st.ok())
      return st;
    if (auto st = CheckFinite(field(".sum"), {f.sum(), f.sum_squares()});
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAttributes(const v1::WindowSummary& s,
                             const ReportLimits& limits) {
  if (static_cast<size_t>(s.attributes_size()) > limits.max_attributes) {
    return LimitError("report.summary.attributes",
                      absl::StrCat(s.attributes_size(), " attributes"),
                      absl::StrCat(limits.max_attributes),
                      "--max_report_attributes");
  }
  for (int i = 0; i < s.attributes_size(); ++i) {
    const v1::AttributeSummary& a = s.attributes(i);
    const std::string field =
        absl::StrCat("report.summary.attributes[", i, "]");
    if (auto st = CheckName(field + ".attribute", a.attribute(),
                            limits.max_name_bytes);
        !st.ok()) {
      return st;
    }
    if (static_cast<size_t>(a.groups_size()) >
        limits.max_groups_per_attribute) {
      return LimitError(field + ".groups",
                        absl::StrCat(a.groups_size(), " groups"),
                        absl::StrCat(limits.max_groups_per_attribute),
                        "--max_report_groups_per_attribute");
    }
    for (int g = 0; g < a.groups_size(); ++g) {
      const std::string& group = a.groups(g).group();
      if (group.size() > limits.max_value_bytes) {
        return LimitError(absl::StrCat(field, ".groups[", g, "].group"),
                          absl::StrCat(group.size(), " bytes"),
                          absl::StrCat(limits.max_value_bytes),
                          "--max_report_value_bytes");
      }
    }
  }
  return absl::OkStatus();
}

// `status` of a check on a slice value's summary, its message prefixed with
// the value's field; the payloads (the limit of a LimitError) kept.
absl::Status Within(const std::string& field, const absl::Status& status) {
  absl::Status out(status.code(), absl::StrCat(field, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// Slice keys and values; each value's summary is checked as a summary of
// its own (without attributes or slices of its own).
absl::Status CheckSlices(const v1::WindowSummary& s,
                         const ReportLimits& limits) {
  if (static_cast<size_t>(s.slices_size()) > limits.max_attributes) {
    return LimitError(
        "report.summary.slices", absl::StrCat(s.slices_size(), " slice keys"),
        absl::StrCat(limits.max_attributes), "--max_report_attributes");
  }
  for (int i = 0; i < s.slices_size(); ++i) {
    const v1::SliceKeySummary& k = s.slices(i);
    const std::string field = absl::StrCat("report.summary.slices[", i, "]");
    if (auto st = CheckName(field + ".key", k.key(), limits.max_name_bytes);
        !st.ok()) {
      return st;
    }
    size_t named = 0;
    for (int v = 0; v < k.values_size(); ++v) {
      const v1::SliceValueSummary& value = k.values(v);
      const std::string vfield = absl::StrCat(field, ".values[", v, "]");
      if (value.value() != "__other__") ++named;
      if (value.value().size() > limits.max_value_bytes) {
        return LimitError(
            vfield + ".value", absl::StrCat(value.value().size(), " bytes"),
            absl::StrCat(limits.max_value_bytes), "--max_report_value_bytes");
      }
      const v1::WindowSummary& sub = value.summary();
      if (sub.slices_size() > 0 || sub.attributes_size() > 0) {
        return Invalid(vfield + ".summary",
                       "a slice value carries no attributes or slices");
      }
      if (auto st = CheckConfusion(sub.performance().confusion(), limits);
          !st.ok()) {
        return Within(vfield, st);
      }
      if (auto st = CheckScoreHistogramsAndSums(sub.performance(), limits);
          !st.ok()) {
        return Within(vfield, st);
      }
      if (auto st = CheckFeatures(sub, limits); !st.ok())
        return Within(vfield, st);
    }
    if (named > limits.max_slice_values) {
      return LimitError(field + ".values", absl::StrCat(named, " values"),
                        absl::StrCat(limits.max_slice_values),
                        "--max_report_slice_values");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModelRef(const v1::ModelRef& model,
                              absl::string_view field) {
  if (auto s =
          CheckToken(absl::StrCat(field, ".name"), model.name(), 128, "._-");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckToken(absl::StrCat(field, ".version"), model.version(), 128,
                          "._+-");
      !s.ok()) {
    return s;
  }
  return CheckToken(absl::StrCat(field, ".environment"), model.environment(),
                    64, "._-");
}

absl::Status ValidateAgentRef(const v1::AgentRef& agent,
                              absl::string_view field) {
  const std::string id_field = absl::StrCat(field, ".agent_id");
  if (agent.agent_id().empty()) return Invalid(id_field, "required");
  if (agent.agent_id().size() > 256) {
    return Invalid(id_field,
                   absl::StrCat(agent.agent_id().size(), " bytes, limit 256"));
  }
  for (char c : agent.agent_id()) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(id_field, "must be printable ASCII without spaces");
    }
  }
  for (const auto* s : {&agent.pod(), &agent.namespace_(), &agent.host(),
                        &agent.agent_version()}) {
    if (s->size() > 256) {
      return Invalid(field, absl::StrCat("a text field is ", s->size(),
                                         " bytes, limit 256"));
    }
  }
  if (agent.labels_size() > 16) {
    return Invalid(absl::StrCat(field, ".labels"),
                   absl::StrCat(agent.labels_size(), " labels, limit 16"));
  }
  for (const auto& [k, v] : agent.labels()) {
    if (k.size() > 128 || v.size() > 128) {
      return Invalid(absl::StrCat(field, ".labels"),
                     "keys and values are limited to 128 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateHello(const v1::Hello& hello) {
  if (auto s = ValidateAgentRef(hello.agent(), "hello.agent"); !s.ok())
    return s;
  if (auto s = ValidateModelRef(hello.model(), "hello.model"); !s.ok())
    return s;
  if (hello.protocol_version() != 1) {
    return Invalid(
        "hello.protocol_version",
        absl::StrCat("unsupported version ", hello.protocol_version(),
                     "; this collector speaks 1"));
  }
  return absl::OkStatus();
}

absl::Status ValidateGap(const v1::GapNotice& gap, absl::string_view agent_id) {
  if (gap.agent_id() != agent_id) {
    return Invalid(
        "gap.agent_id",
        absl::StrCat("'", gap.agent_id(), "' differs from the stream's agent '",
                     agent_id, "'"));
  }
  if (gap.first_sequence() == 0)
    return Invalid("gap.first_sequence", "must be >= 1");
  if (gap.last_sequence() < gap.first_sequence()) {
    return Invalid("gap.last_sequence", "must be >= first_sequence");
  }
  if (gap.last_sequence() - gap.first_sequence() >= kMaxGapSequences) {
    return Invalid("gap.last_sequence",
                   absl::StrCat("range of ",
                                gap.last_sequence() - gap.first_sequence() + 1,
                                " sequences, limit ", kMaxGapSequences));
  }
  if (gap.reason().size() > 256) {
    return Invalid("gap.reason",
                   absl::StrCat(gap.reason().size(), " bytes, limit 256"));
  }
  return absl::OkStatus();
}

absl::Status ValidateReport(const v1::WindowReport& report,
                            absl::string_view agent_id,
                            const ReportLimits& limits) {
  if (absl::Status st = CheckEnvelope(report, agent_id, limits); !st.ok())
    return st;
  const v1::WindowSummary& s = report.summary();
  if (auto st = CheckSketch("report.summary.operational.latency_seconds",
                            s.operational().latency_seconds());
      !st.ok()) {
    return st;
  }
  if (auto st = CheckConfusion(s.performance().confusion(), limits); !st.ok())
    return st;
  if (auto st = CheckRejectionReasons(s.operational(), limits); !st.ok())
    return st;
  if (auto st = CheckScoreHistogramsAndSums(s.performance(), limits);
      !st.ok()) {
    return st;
  }
  if (auto st = CheckFeatures(s, limits); !st.ok()) return st;
  if (auto st = CheckAttributes(s, limits); !st.ok()) return st;
  return CheckSlices(s, limits);
}

}  // namespace aims
