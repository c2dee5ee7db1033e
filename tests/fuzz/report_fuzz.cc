// Fuzz target: what the collector does with the bytes of an ingest message.
// The input is an aims.v1.IngestRequest (binary protobuf): a hello or a gap
// is validated; a report is validated against its own agent id and, when
// valid, goes the way stored reports go - merged into an empty SummaryMerger
// (a query or an evaluation over one window), merged again with itself (a
// rollup of two windows) and turned into metrics without and with a
// reference profile (drift; tests/fuzz/report_fixture.h), and filtered as
// metrics read it (without feature sketches). When the report is the
// message's only field, its bytes (what the ingest stream stores) parse to
// the same report. Never a crash or
// a sanitizer report; and a report that passed validation must merge, or it
// would make every query and evaluation over its window fail.
// The corpus comes from make_report_corpus.cc.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "aims/v1/ingest.pb.h"
#include "collector/evaluation/window_metrics.h"
#include "collector/storage/wire_filter.h"
#include "common/summary/summary_merge.h"
#include "common/summary/validation.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/report_fixture.h"

namespace {

const aims::v1::ReferenceProfile& Profile() {
  static const aims::v1::ReferenceProfile* profile =
      new aims::v1::ReferenceProfile(aims::fuzz::FixtureProfile());
  return *profile;
}

[[noreturn]] void Fail(const absl::Status& status, const char* what) {
  std::fprintf(stderr, "report_fuzz: a valid report %s: %s\n", what,
               status.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in string fields fails the parse with a log line each.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  aims::v1::IngestRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  switch (request.kind_case()) {
    case aims::v1::IngestRequest::kHello:
      (void)aims::ValidateHello(request.hello());
      return 0;
    case aims::v1::IngestRequest::kGap:
      (void)aims::ValidateGap(request.gap(), request.gap().agent_id());
      return 0;
    case aims::v1::IngestRequest::kReport:
      break;
    default:
      return 0;
  }
  const aims::v1::WindowReport& report = request.report();
  // The ingest stream stores a sole report field's bytes as received: they
  // must be the report the message parsed to.
  if (const std::optional<absl::string_view> sole = aims::collector::SoleField(
          absl::string_view(reinterpret_cast<const char*>(data), size),
          aims::v1::IngestRequest::kReportFieldNumber)) {
    static google::protobuf::util::DefaultFieldComparator* const comparator =
        [] {
          auto* c = new google::protobuf::util::DefaultFieldComparator();
          c->set_treat_nan_as_equal(true);  // NaN fields are fuzzer input too
          return c;
        }();
    google::protobuf::util::MessageDifferencer differencer;
    differencer.set_field_comparator(comparator);
    aims::v1::WindowReport stored;
    if (!stored.ParseFromArray(sole->data(), static_cast<int>(sole->size())) ||
        !differencer.Compare(stored, report)) {
      std::fprintf(stderr,
                   "report_fuzz: the bytes SoleField found are not the "
                   "report the message parsed to\n");
      std::abort();
    }
  }
  if (!aims::ValidateReport(report, report.agent_id(), aims::ReportLimits())
           .ok()) {
    return 0;
  }
  aims::SummaryMerger merger;
  if (absl::Status s = merger.Add(report.summary()); !s.ok())
    Fail(s, "does not merge into an empty merger");
  if (absl::Status s = merger.Add(report.summary()); !s.ok())
    Fail(s, "does not merge with itself");
  const absl::Duration span = absl::Minutes(1);
  (void)aims::collector::MetricsOf(merger.result(), nullptr, span);
  aims::v1::ReferenceProfile profile = Profile();
  profile.set_profile_id(report.summary().profile_id());
  (void)aims::collector::MetricsOf(merger.result(), &profile, span);
  // As metrics read it from storage: the stored bytes without the feature
  // sketches (collector/storage/wire_filter.h) must parse and merge.
  std::string lean_bytes;
  if (!aims::collector::CopyWithoutField(
          report.SerializeAsString(),
          {aims::v1::WindowReport::kSummaryFieldNumber,
           aims::v1::WindowSummary::kFeaturesFieldNumber,
           aims::v1::FeatureSummary::kSketchFieldNumber},
          &lean_bytes)) {
    Fail(absl::DataLossError("CopyWithoutField"), "does not filter");
  }
  aims::v1::WindowReport lean;
  if (!lean.ParseFromString(lean_bytes)) {
    Fail(absl::DataLossError("ParseFromString"), "filtered does not parse");
  }
  aims::SummaryMerger without_sketches(
      aims::SummaryMerger::FeatureSketches::kDrop);
  if (absl::Status s = without_sketches.Add(lean.summary()); !s.ok())
    Fail(s, "without feature sketches does not merge");
  return 0;
}
